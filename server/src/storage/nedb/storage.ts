/**
 * The embedded storage backend: one nedb datastore per plugin, in a file
 * under the data directory (or in memory).
 *
 * ```ts
 * const storage = new NedbStorage({ dataDir: '.nekoconnect/data', onWarning: (w) => logger.warn(w.message) });
 * const db = await storage.open('chat'); // .nekoconnect/data/chat.db
 * await db.insert({ text: 'hi' });
 * await db.close();
 * ```
 *
 * Loading is strict: a data file with a line nedb cannot read is refused
 * (`NEKO_ERR_STORAGE_CORRUPT`, naming the file and line) and left untouched,
 * instead of nedb's default of dropping up to 10% of the lines and rewriting
 * the file. The one exception is a torn last line after a crash, which is
 * cut after the file is backed up (see `prepare-file.ts`), and reported
 * through `onWarning`.
 */
import { constants } from 'node:fs';
import type { Dirent } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import Datastore from 'nedb-promises';
import { NekoError } from '../../errors.js';
import { CELL_FIELD } from '../cells.js';
import { escapeLineBreaks } from './data-file.js';
import type { StorageBackend } from '../database.js';
import { DATA_FILE_EXTENSION, dataFileName, greeterOfFileName } from './file-name.js';
import { NedbDatabase, type NedbDatastore } from './database.js';
import { DATA_DIR_MODE, DATA_FILE_MODE, prepareDataFile } from './prepare-file.js';
import { loadError } from '../storage-errors.js';
import { errorMessage } from '../../format.js';
import { lockDataDir, type HeldLock } from './lock.js';
import { OpenDatabases } from '../open-databases.js';

/** The default data directory, resolved against the working directory. */
export const DEFAULT_DATA_DIR = '.nekoconnect/data';

/** The default time between scheduled compactions: 10 minutes. */
export const DEFAULT_COMPACTION_INTERVAL_MS = 10 * 60 * 1000;

/** The `location` of an in-memory database. */
export const MEMORY_LOCATION = 'memory';

/** Something the server should log about a plugin database; nothing was lost. */
export interface StorageWarning {
  /** The plugin's greeter. */
  greeter: string;
  /** The data file (or `memory`). */
  location: string;
  /** A sentence for the log, naming the file. */
  message: string;
  /** When the file was repaired: the copy of its bytes from before. */
  backup?: string;
  /** When an operation in the background failed (a scheduled compaction): the error. */
  error?: NekoError;
}

/** Options of {@link NedbStorage}. */
export interface NedbStorageOptions {
  /** Where the data files go, resolved against `process.cwd()`. Default `.nekoconnect/data`; created when missing. */
  dataDir?: string;
  /** Keep every database in memory only: no files at all. Default false. */
  inMemory?: boolean;
  /**
   * Milliseconds between scheduled compactions of each data file. Default
   * 10 minutes; 0 turns the schedule off (compaction still happens on open
   * and on close). Values from 1 to 4999 count as 5000, nedb's minimum.
   */
  compactionIntervalMs?: number;
  /**
   * Receives what the server should log: a torn last line cut from a data
   * file after a crash (with the backup's path), a data file restored from
   * nedb's compaction temp file, a scheduled compaction that failed.
   * Default: `process.emitWarning`.
   */
  onWarning?: (warning: StorageWarning) => void;
}

/**
 * {@link StorageBackend} over nedb: `open(greeter)` gives the plugin's
 * database in `<dataDir>/<greeter>.db`, its name encoded to be safe on any
 * file system (`a/b` → `a%2Fb.db`, `Chat` → `^chat.db`; see `file-name.ts`).
 */
export class NedbStorage implements StorageBackend {
  /** The absolute data directory (unused when in memory). */
  readonly dataDir: string;
  readonly inMemory: boolean;
  readonly compactionIntervalMs: number;
  readonly #onWarning: (warning: StorageWarning) => void;
  /** Open (or opening) databases by greeter. */
  readonly #open = new OpenDatabases((greeter) => this.#openNew(greeter));
  /** The data directory's lock, once {@link prepare} took it. */
  #lock: HeldLock | undefined;

  /** @throws NekoError `NEKO_ERR_CONFIG_INVALID` for a negative or non-finite `compactionIntervalMs` */
  constructor(options: NedbStorageOptions = {}) {
    const interval = options.compactionIntervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval < 0) {
      throw new NekoError(
        'NEKO_ERR_CONFIG_INVALID',
        `compactionIntervalMs must be 0 (off) or a number of milliseconds, not ${String(interval)}`,
      );
    }
    this.dataDir = path.resolve(process.cwd(), options.dataDir ?? DEFAULT_DATA_DIR);
    this.inMemory = options.inMemory === true;
    this.compactionIntervalMs = interval;
    this.#onWarning =
      options.onWarning ?? ((warning) => process.emitWarning(warning.message, 'NekoConnectStorageWarning'));
  }

  /** The data file of a greeter: `<dataDir>/<encoded greeter>.db`. */
  fileOf(greeter: string): string {
    return path.join(this.dataDir, dataFileName(greeter));
  }

  /**
   * Opens the database of the plugin with this greeter: checks its data file
   * (creating it and the data directory when missing), loads it and compacts
   * it. Opening a greeter that is already open returns the same database, so
   * a plugin reload keeps it; after its close() a new one is opened.
   * @throws NekoError `NEKO_ERR_STORAGE_CORRUPT` (a bad line: the file is
   *   left untouched), `NEKO_ERR_STORAGE_UNREADABLE` (a directory in its
   *   place, no permission), `NEKO_ERR_STORAGE_WRITE` (the directory or the
   *   file cannot be created or written); each names the path.
   *   `NEKO_ERR_SPEC_BAD_GREETER` for an empty greeter.
   */
  open(greeter: string): Promise<NedbDatabase> {
    return this.#open.open(greeter);
  }

  /**
   * Takes the data directory's lock (see `lock.ts`), creating the directory
   * when missing; nothing for an in-memory storage. Without it, nothing
   * stops two servers from writing the same files: a server calls it before
   * opening any database, and `closeAll()` releases the lock.
   * @throws NekoError `NEKO_ERR_STORAGE_LOCKED` naming the server that holds the directory
   */
  async prepare(): Promise<void> {
    if (this.inMemory || this.#lock !== undefined) return;
    this.#lock = await lockDataDir(this.dataDir);
  }

  /** Checks that the data directory can be written (in memory: always). */
  async ping(): Promise<void> {
    if (this.inMemory) return;
    try {
      await access(this.dataDir, constants.W_OK);
    } catch (err) {
      throw new NekoError(
        'NEKO_ERR_STORAGE_WRITE',
        `the data directory ${this.dataDir} cannot be written: ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * The greeters that have data, sorted: those of the data files in the
   * data directory that hold a document or a cell (each file is loaded to
   * know; one not open before is closed again), or in memory, the open
   * databases that do. A file whose name was cut (a greeter
   * longer than 200 characters encoded) cannot be named: it is reported
   * through `onWarning` and left out.
   * @throws NekoError `NEKO_ERR_STORAGE_UNREADABLE` when the directory cannot be listed
   */
  async greeters(): Promise<string[]> {
    const found: string[] = [];
    if (this.inMemory) {
      for (const [greeter, opening] of this.#open.entries()) {
        const db = await opening.catch(() => undefined);
        if (db === undefined) continue;
        if ((await db.count()) > 0 || (await db.cells()).length > 0) found.push(greeter);
      }
      return found.sort();
    }
    let entries: Dirent[];
    try {
      entries = await readdir(this.dataDir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new NekoError(
        'NEKO_ERR_STORAGE_UNREADABLE',
        `cannot list the data directory ${this.dataDir}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith(DATA_FILE_EXTENSION)) continue;
      const file = path.join(this.dataDir, entry.name);
      const greeter = greeterOfFileName(entry.name);
      if (greeter === undefined) {
        if (entry.name.includes('^_')) {
          this.#onWarning({
            greeter: entry.name,
            location: file,
            message: `${file} belongs to a greeter too long to be read from its file name: export it by its greeter`,
          });
        }
        continue;
      }
      // A file may hold only nedb's index lines, or removed documents: only loading it tells.
      const wasOpen = this.#open.has(greeter);
      const db = await this.open(greeter);
      if ((await db.count()) > 0 || (await db.cells()).length > 0) found.push(greeter);
      if (!wasOpen) await db.close();
    }
    return found.sort();
  }

  /**
   * Closes every open database (see {@link NedbDatabase.close}), then
   * releases the data directory's lock if {@link prepare} took it; rejects
   * with the first failure after all are done.
   */
  async closeAll(): Promise<void> {
    const results = await this.#open.closeEach();
    const lock = this.#lock;
    this.#lock = undefined;
    await lock?.release();
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  async #openNew(greeter: string): Promise<NedbDatabase> {
    const location = this.inMemory ? MEMORY_LOCATION : this.fileOf(greeter);
    let store: NedbDatastore;
    if (this.inMemory) {
      store = Datastore.create({ inMemoryOnly: true });
    } else {
      const notes = await prepareDataFile(location);
      for (const note of notes) this.#onWarning({ greeter, location, ...note });
      const options = {
        filename: location,
        // Any line nedb cannot read fails the load: prepareDataFile() has
        // checked them all, so this only guards against a gap between the two.
        corruptAlertThreshold: 0,
        // Data files are this user's only, also those nedb rewrites when it
        // compacts (an option of nedb that nedb-promises passes on untyped).
        modes: { fileMode: DATA_FILE_MODE, dirMode: DATA_DIR_MODE },
        afterSerialization: escapeLineBreaks,
        beforeDeserialization: (line: string) => line,
      };
      store = Datastore.create(options);
    }
    try {
      await store.load();
      await store.ensureIndex({ fieldName: CELL_FIELD, unique: true, sparse: true });
    } catch (err) {
      throw loadError(err, location);
    }
    return new NedbDatabase(store, {
      location,
      compactionIntervalMs: this.compactionIntervalMs,
      onCompactionError: (error) => this.#onWarning({ greeter, location, message: error.message, error }),
      onClose: (closed) => this.#open.closing(greeter, closed),
    });
  }
}
