/**
 * One plugin's database over one loaded nedb datastore: the document API
 * and the key-value cells, errors as `NEKO_ERR_STORAGE_*`, compaction on a
 * schedule and on close. Opening (checking and loading the file) is
 * `NedbStorage`'s job; this class gets a datastore that is already loaded.
 */
import type Datastore from 'nedb-promises';
import { NekoError } from '../../errors.js';
import {
  CELL_FIELD,
  CELL_VALUE_FIELD,
  checkCellName,
  checkIncrement,
  decodeCellValue,
  encodeCellValue,
  incremented,
} from '../cells.js';
import type {
  Cell,
  Document,
  FindOptions,
  ManagedDatabase,
  Query,
  RemoveOptions,
  Update,
  UpdateOptions,
} from '../database.js';
import { checkDocument, checkDocumentQuery, checkFindOptions, checkUpdate } from '../documents.js';
import { nedbQuery } from './query.js';
import { operationError } from '../storage-errors.js';

/** A nedb-promises datastore, as `Datastore.create()` returns it. */
export type NedbDatastore = ReturnType<typeof Datastore.create>;

/**
 * The promise API of compaction in @seald-io/nedb 4, which nedb-promises
 * does not declare but passes through (`Datastore.create` returns a proxy
 * to the original datastore's members). Resolves once the file is rewritten
 * (after nedb's `compaction.done` event), rejects when the write fails.
 */
interface CompactionApi {
  compactDatafileAsync(): Promise<void>;
}

/** The smallest compaction interval; nedb enforces the same minimum. */
export const MIN_COMPACTION_INTERVAL_MS = 5_000;

/** How a {@link NedbDatabase} is run. */
export interface NedbDatabaseOptions {
  /** The data file, or `memory`. */
  location: string;
  /** Milliseconds between scheduled compactions; 0 for none. Below 5 s counts as 5 s. */
  compactionIntervalMs: number;
  /** Called when a scheduled compaction fails (a disk error: the data stays in the file as appended). */
  onCompactionError(error: NekoError): void;
  /** Called when close() starts, with its outcome. */
  onClose?(closed: Promise<void>): void;
}

/**
 * {@link ManagedDatabase} over a loaded nedb datastore.
 *
 * Documents and cells share the datastore: a cell is a document carrying
 * the reserved field `__nekoCell` (see `../cells.ts`), and every document
 * query is narrowed to documents without it (see `../documents.ts`).
 *
 * A write's promise resolves after nedb appended its line to the data file
 * (`fs.appendFile` has returned: the bytes are in the file, and survive the
 * process being killed; they are not fsynced, so a power cut can lose the
 * last ones, as nedb documents). Compaction rewrites the file crash-safely
 * (temp file, fsync, rename).
 */
export class NedbDatabase implements ManagedDatabase {
  readonly location: string;
  readonly #store: NedbDatastore;
  readonly #compaction: CompactionApi;
  readonly #onCompactionError: (error: NekoError) => void;
  readonly #onClose: ((closed: Promise<void>) => void) | undefined;
  readonly #pending = new Set<Promise<unknown>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #scheduled: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  /** The last increment queued: the next one waits for it. */
  #increments: Promise<unknown> = Promise.resolve();

  /**
   * @param store a datastore that has been loaded
   * @throws Error when the installed nedb has no `compactDatafileAsync`
   */
  constructor(store: NedbDatastore, options: NedbDatabaseOptions) {
    this.#store = store;
    this.#compaction = compactionApi(store);
    this.location = options.location;
    this.#onCompactionError = options.onCompactionError;
    this.#onClose = options.onClose;
    if (options.compactionIntervalMs > 0) {
      const every = Math.max(options.compactionIntervalMs, MIN_COMPACTION_INTERVAL_MS);
      this.#timer = setInterval(() => this.#compactOnSchedule(), every);
      this.#timer.unref();
    }
  }

  insert<T extends object>(doc: T): Promise<T & { _id: string }> {
    return this.#run('insert', () => this.#store.insert<T>(checkDocument(doc, 'insert') as T));
  }

  insertMany<T extends object>(docs: readonly T[]): Promise<(T & { _id: string })[]> {
    return this.#run('insertMany', () => {
      if (!Array.isArray(docs)) {
        throw new NekoError('NEKO_ERR_STORAGE_QUERY', 'insertMany refused: it takes an array of documents');
      }
      return this.#store.insert<T>(docs.map((doc) => checkDocument(doc, 'insertMany') as T));
    });
  }

  find<T extends object = Document>(
    query?: Query,
    options: FindOptions = {},
  ): Promise<(T & { _id: string })[]> {
    return this.#run('find', () => {
      checkFindOptions(options, 'find');
      const cursor = this.#store.find<T>(nedbQuery(checkDocumentQuery(query, 'find')), options.projection);
      if (options.sort !== undefined) cursor.sort(options.sort);
      if (options.skip !== undefined) cursor.skip(options.skip);
      if (options.limit !== undefined) cursor.limit(options.limit);
      return cursor.exec();
    });
  }

  findOne<T extends object = Document>(
    query?: Query,
    options: Pick<FindOptions, 'projection'> = {},
  ): Promise<(T & { _id: string }) | null> {
    return this.#run('findOne', () => {
      checkFindOptions({ projection: options.projection }, 'findOne');
      return this.#store
        .findOne<T>(nedbQuery(checkDocumentQuery(query, 'findOne')), options.projection)
        .exec();
    });
  }

  update(query: Query, update: Update, options: UpdateOptions = {}): Promise<number> {
    return this.#run('update', () =>
      this.#store.update(nedbQuery(checkDocumentQuery(query, 'update')), checkUpdate(update, 'update'), {
        multi: options.multi === true,
        upsert: options.upsert === true,
      }),
    );
  }

  remove(query: Query, options: RemoveOptions = {}): Promise<number> {
    return this.#run('remove', () =>
      this.#store.remove(nedbQuery(checkDocumentQuery(query, 'remove')), { multi: options.multi === true }),
    );
  }

  count(query?: Query): Promise<number> {
    return this.#run('count', () => this.#store.count(nedbQuery(checkDocumentQuery(query, 'count'))));
  }

  get<T = unknown>(cell: string): Promise<T | undefined> {
    return this.#run('get', async () => {
      const name = checkCellName(cell);
      const doc = await this.#store.findOne<Record<string, unknown>>({ [CELL_FIELD]: name }).exec();
      return doc === null ? undefined : (decodeCellValue(name, doc[CELL_VALUE_FIELD], this.location) as T);
    });
  }

  set(cell: string, value: unknown): Promise<void> {
    return this.#run('set', async () => {
      const name = checkCellName(cell);
      const json = encodeCellValue(name, value);
      await this.#store.update(
        { [CELL_FIELD]: name },
        { [CELL_FIELD]: name, [CELL_VALUE_FIELD]: json },
        { upsert: true },
      );
    });
  }

  incr(cell: string, by = 1): Promise<number> {
    return this.#run('incr', () => {
      const name = checkCellName(cell);
      const amount = checkIncrement(name, by);
      // Increments of one database run one at a time, so none reads a value another is replacing.
      const next = this.#increments.then(async () => {
        const doc = await this.#store.findOne<Record<string, unknown>>({ [CELL_FIELD]: name }).exec();
        const current =
          doc === null ? undefined : decodeCellValue(name, doc[CELL_VALUE_FIELD], this.location);
        const value = incremented(name, current, amount);
        await this.#store.update(
          { [CELL_FIELD]: name },
          { [CELL_FIELD]: name, [CELL_VALUE_FIELD]: JSON.stringify(value) },
          { upsert: true },
        );
        return value;
      });
      this.#increments = next.catch(() => undefined);
      return next;
    });
  }

  cells(): Promise<Cell[]> {
    return this.#run('cells', async () => {
      const docs = await this.#store
        .find<Record<string, unknown>>({ [CELL_FIELD]: { $exists: true } })
        .exec();
      const cells: Cell[] = docs.map((doc) => {
        const name = String(doc[CELL_FIELD]);
        return { name, value: decodeCellValue(name, doc[CELL_VALUE_FIELD], this.location) };
      });
      return cells.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  /**
   * Rewrites the data file to one line per document (a no-op in memory).
   * nedb's own upkeep, not part of the storage contract: it runs on a
   * schedule and on close.
   */
  compact(): Promise<void> {
    return this.#run('compact', () => this.#compaction.compactDatafileAsync());
  }

  /**
   * Refuses new operations (`NEKO_ERR_STORAGE_CLOSED`), stops the scheduled
   * compaction, waits for the operations under way, then compacts. Calling
   * it again returns the same promise.
   * @throws NekoError `NEKO_ERR_STORAGE_WRITE` when the last compaction
   *   fails; the data is still in the file as appended, and loads next time.
   */
  close(): Promise<void> {
    if (this.#closed === undefined) {
      this.#closed = this.#shutDown();
      this.#onClose?.(this.#closed);
    }
    return this.#closed;
  }

  async #shutDown(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#pending, this.#scheduled]);
    try {
      await this.#compaction.compactDatafileAsync();
    } catch (err) {
      throw operationError(err, 'close', this.location);
    }
  }

  #compactOnSchedule(): void {
    if (this.#scheduled !== undefined || this.#closed !== undefined) return;
    this.#scheduled = this.compact()
      .catch((err: unknown) =>
        this.#onCompactionError(operationError(err, 'scheduled compaction', this.location)),
      )
      .finally(() => {
        this.#scheduled = undefined;
      });
  }

  /** Runs one operation: refused once closed, tracked until it settles, its errors as NekoErrors. */
  async #run<R>(operation: string, task: () => Promise<R> | R): Promise<R> {
    if (this.#closed !== undefined) {
      throw new NekoError(
        'NEKO_ERR_STORAGE_CLOSED',
        `${operation} refused: the database ${this.location} is closed`,
        {
          hint: 'The server has shut the plugin database; do not use ctx.db after the plugin is unloaded.',
        },
      );
    }
    const running = (async () => task())();
    this.#pending.add(running);
    try {
      return await running;
    } catch (err) {
      throw operationError(err, operation, this.location);
    } finally {
      this.#pending.delete(running);
    }
  }
}

function compactionApi(store: NedbDatastore): CompactionApi {
  const api = store as unknown as Partial<CompactionApi>;
  if (typeof api.compactDatafileAsync !== 'function') {
    throw new Error('the installed nedb has no compactDatafileAsync(): @seald-io/nedb 3 or later is needed');
  }
  return { compactDatafileAsync: () => (api as CompactionApi).compactDatafileAsync() };
}
