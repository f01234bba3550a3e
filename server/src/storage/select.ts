/**
 * Choosing the storage backend of a server from `ServerOptions.storage`:
 * each backend is named by `backend`, never guessed from the object's shape.
 *
 * ```ts
 * createServer({ secret, storage: { backend: 'nedb', dir: '/var/lib/neko' } }); // files (the default)
 * createServer({ secret, storage: { backend: 'memory' } }); // nothing on disk, as tests want
 * createServer({ secret, storage: { backend: 'postgres', url: 'postgres://neko:pw@db:5432/neko' } }); // shared
 * createServer({ secret, storage: { backend: myBackend } }); // a StorageBackend of your own
 * ```
 *
 * A new backend is one more member of
 * {@link StorageOptions} and one more case in {@link selectStorageBackend}.
 */
import { NekoError } from '../errors.js';
import type { StorageBackend } from './database.js';
import { DEFAULT_DATA_DIR, NedbStorage, type StorageWarning } from './nedb/storage.js';
import { shownUrl } from '../shown-url.js';
import { parsePostgresUrl } from './postgres/url.js';
import { PostgresStorage } from './postgres/storage.js';

/** nedb data files, one per plugin: the default backend. */
export interface NedbStorageSelection {
  backend: 'nedb';
  /** The data directory, resolved against the working directory. Default `.nekoconnect/data`; created when missing. */
  dir?: string;
  /**
   * Milliseconds between scheduled compactions of each data file. Default
   * 10 minutes; 0 turns the schedule off (compaction still happens on open
   * and on close); values below 5000 count as 5000.
   */
  compactionIntervalMs?: number;
}

/** Every database in memory only (nedb, no files): lost when the server stops. */
export interface MemoryStorageSelection {
  backend: 'memory';
}

/**
 * A PostgreSQL server, which several NekoConnect servers may share. The
 * URL's password is never shown: messages and `location` show `***`.
 */
export interface PostgresStorageSelection {
  backend: 'postgres';
  /** `postgres://user:password@host:5432/database` (or `postgresql://`). */
  url: string;
  /** The most connections the pool opens at once. */
  maxConnections?: number;
  /** How long connecting may take, in ms. */
  connectTimeoutMs?: number;
}

/** A backend of your own, used as it is; the server calls its `closeAll()` last at shutdown. */
export interface CustomStorageSelection {
  backend: StorageBackend;
}

/** Where plugin databases live: `ServerOptions.storage`. Default `{ backend: 'nedb' }`. */
export type StorageOptions =
  NedbStorageSelection | MemoryStorageSelection | PostgresStorageSelection | CustomStorageSelection;

/** The names `backend` may take besides a backend instance. */
export const STORAGE_BACKENDS = ['nedb', 'memory', 'postgres'] as const;

const OPTION_FIELDS: Record<(typeof STORAGE_BACKENDS)[number], readonly string[]> = {
  nedb: ['backend', 'dir', 'compactionIntervalMs'],
  memory: ['backend'],
  postgres: ['backend', 'url', 'maxConnections', 'connectTimeoutMs'],
};

/**
 * The backend `options` select.
 * @param onWarning what the backend reports for the log (a repaired data file, a failed scheduled compaction)
 * @throws NekoError `NEKO_ERR_CONFIG_INVALID` naming the option: no or an
 *   unknown `backend`, a field the backend does not take, a bad value
 */
export function selectStorageBackend(
  options: StorageOptions | undefined,
  onWarning: (warning: StorageWarning) => void,
): StorageBackend {
  if (options === undefined) return new NedbStorage({ onWarning });
  if (typeof options !== 'object' || options === null) {
    throw invalid(`storage must be an object with a backend, not ${String(options)}`);
  }
  const backend: unknown = (options as { backend?: unknown }).backend;
  if (typeof backend === 'object' && backend !== null) {
    const custom = backend as Partial<StorageBackend>;
    if (typeof custom.open !== 'function' || typeof custom.closeAll !== 'function') {
      throw invalid('storage.backend, when an object, must be a StorageBackend with open() and closeAll()');
    }
    checkFields(options, ['backend'], 'a backend object');
    return backend as StorageBackend;
  }
  if (backend !== 'nedb' && backend !== 'memory' && backend !== 'postgres') {
    const old = 'inMemory' in options || 'dataDir' in options;
    throw invalid(
      backend === undefined
        ? 'storage needs a backend'
        : `storage.backend ${JSON.stringify(backend) ?? String(backend)} is not one of ${STORAGE_BACKENDS.join(', ')} or a StorageBackend`,
      old
        ? "Write storage: { backend: 'nedb', dir } for files, { backend: 'memory' } for memory."
        : `Name one: ${STORAGE_BACKENDS.map((name) => `{ backend: '${name}' }`).join(', ')}, or { backend: yourBackend }.`,
    );
  }
  checkFields(options, OPTION_FIELDS[backend], `backend '${backend}'`);
  if (backend === 'memory') return new NedbStorage({ inMemory: true, onWarning });
  if (backend === 'postgres') return selectPostgres(options as PostgresStorageSelection, onWarning);
  const { dir, compactionIntervalMs } = options as NedbStorageSelection;
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) {
    throw invalid(`storage.dir must be a non-empty path, not ${JSON.stringify(dir) ?? String(dir)}`);
  }
  return new NedbStorage({
    dataDir: dir ?? DEFAULT_DATA_DIR,
    ...(compactionIntervalMs === undefined ? {} : { compactionIntervalMs }),
    onWarning,
  });
}

/** @throws NekoError `NEKO_ERR_CONFIG_INVALID` naming the field; a URL is shown without its password */
function selectPostgres(
  options: PostgresStorageSelection,
  onWarning: (warning: StorageWarning) => void,
): StorageBackend {
  const { url, maxConnections, connectTimeoutMs } = options;
  if (typeof url !== 'string' || url === '') {
    throw invalid(
      `storage.url must be a postgres:// URL, not ${typeof url === 'string' ? 'empty' : String(url)}`,
      "Write storage: { backend: 'postgres', url: 'postgres://user:password@host:5432/database' }.",
    );
  }
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw invalid(
      `storage.url ${shownUrl(url)} is not a postgres:// or postgresql:// URL`,
      "Write it as postgres://user:password@host:5432/database; for nedb files use { backend: 'nedb', dir }.",
    );
  }
  parsePostgresUrl(url);
  const positive = (value: unknown, name: string): void => {
    if (value !== undefined && !(Number.isInteger(value) && (value as number) > 0)) {
      throw invalid(`storage.${name} must be a whole number from 1, not ${String(value)}`);
    }
  };
  positive(maxConnections, 'maxConnections');
  positive(connectTimeoutMs, 'connectTimeoutMs');
  return new PostgresStorage({
    url,
    ...(maxConnections === undefined ? {} : { maxConnections }),
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    onWarning,
  });
}

function checkFields(options: object, allowed: readonly string[], what: string): void {
  const extra = Object.keys(options).filter((key) => !allowed.includes(key));
  if (extra.length > 0) {
    throw invalid(
      `storage.${extra[0]} is not an option of ${what}; it takes ${allowed.map((key) => `storage.${key}`).join(', ')}`,
    );
  }
}

function invalid(message: string, hint?: string): NekoError {
  return new NekoError('NEKO_ERR_CONFIG_INVALID', message, hint === undefined ? {} : { hint });
}
