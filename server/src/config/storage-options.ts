/**
 * Which storage backend a start (or `nekoconnect data`) uses, from the
 * command line, the environment and the config file:
 *
 * 1. `--storage <url|dir>`: a `postgres://` or `postgresql://` URL selects
 *    PostgreSQL; anything else is a nedb data directory (as `--data-dir`).
 * 2. `NEKOCONNECT_DATABASE_URL`: the same meaning as `--storage`.
 * 3. The config's `storage`: `{ backend: 'postgres', url }` or `{ backend: 'nedb', dir }`.
 * 4. nedb in `--data-dir`, else the config's `dataDir`, else `.nekoconnect/data`.
 *
 * The data directory is decided either way: on nedb it holds the data
 * files; on PostgreSQL it only holds the bundle cache (`<data-dir>/cache`),
 * and no lock is taken on it, so several servers may share it.
 */
import path from 'node:path';
import { NekoError } from '../errors.js';
import { DEFAULT_DATA_DIR } from '../storage/nedb/storage.js';
import { shownUrl } from '../shown-url.js';
import { parsePostgresUrl } from '../storage/postgres/url.js';
import type { StorageOptions } from '../storage/select.js';
import type { NekoStorageConfig } from './define-config.js';

/** The environment variable that gives the storage as `--storage` does. */
export const DATABASE_URL_ENV = 'NEKOCONNECT_DATABASE_URL';

/** Whether a `--storage` value (or `NEKOCONNECT_DATABASE_URL`) names PostgreSQL rather than a data directory. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/** What the storage is resolved from. Paths of flags and the environment are relative to `cwd`, those of the config to `base`. */
export interface StorageSources {
  /** `--storage <url|dir>`. */
  storage?: string;
  /** `--data-dir <dir>`. */
  dataDir?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The config's `storage` and `dataDir`, when there is a config. */
  config?: { storage?: NekoStorageConfig; dataDir?: string };
  /** The config file's folder (its relative paths start there); `cwd` without a config. */
  base: string;
  /** The config file as messages name it. */
  configFile?: string;
}

/** The storage a start uses. */
export interface ResolvedStorage {
  /** For `createServer({ storage })`. */
  selection: Extract<StorageOptions, { backend: 'nedb' } | { backend: 'postgres' }>;
  /** Where the data lives, safe to print: the URL with its password as `***`, or the absolute data directory. */
  shown: string;
  /** The data directory, absolute: the data files on nedb; on PostgreSQL only the cache's parent. */
  dataDir: string;
  /** What chose it, for messages: `--storage`, `NEKOCONNECT_DATABASE_URL`, `storage in <file>`, … */
  source: string;
}

/**
 * Decides the storage (see the module comment for the order).
 * `NEKOCONNECT_DATABASE_URL` is removed from `sources.env` as it is read
 * (whether it wins or not), so that plugins and the child processes of the
 * server do not get the URL's password; {@link storageEnv} gives it back for
 * a reload.
 * @throws NekoError `NEKO_ERR_CLI_USAGE` for `--storage <dir>` with
 *   `--data-dir`; `NEKO_ERR_CONFIG_INVALID` for a malformed PostgreSQL URL
 *   (shown without its password) or a bad config `storage`
 */
export function resolveStorage(sources: StorageSources): ResolvedStorage {
  const { cwd, base, config } = sources;
  const flagDataDir = sources.dataDir === undefined ? undefined : path.resolve(cwd, sources.dataDir);
  /** The data directory when the data is elsewhere: the flag, the config's dataDir, the default. */
  const cacheParent = (): string => flagDataDir ?? path.resolve(base, config?.dataDir ?? DEFAULT_DATA_DIR);
  const postgres = (url: string, source: string): ResolvedStorage => {
    parsePostgresUrl(url);
    return { selection: { backend: 'postgres', url }, shown: shownUrl(url), dataDir: cacheParent(), source };
  };
  const nedb = (dir: string, source: string): ResolvedStorage => ({
    selection: { backend: 'nedb', dir },
    shown: dir,
    dataDir: dir,
    source,
  });

  const fromEnv = sources.env[DATABASE_URL_ENV];
  // Read once, then gone, as the secret is: plugins and the processes they spawn do not see the URL's password.
  delete sources.env[DATABASE_URL_ENV];

  if (sources.storage !== undefined) {
    const given = sources.storage;
    if (given === '') {
      throw new NekoError('NEKO_ERR_CLI_USAGE', '--storage needs a postgres:// URL or a data directory', {
        hint: 'Give --storage postgres://user:password@host:5432/database, or --storage <dir>.',
      });
    }
    if (isPostgresUrl(given)) return postgres(given, '--storage');
    if (flagDataDir !== undefined) {
      throw new NekoError(
        'NEKO_ERR_CLI_USAGE',
        '--storage <dir> and --data-dir both name the nedb data directory',
        { hint: 'Keep one of them: --data-dir <dir> (or --storage <dir>), not both.' },
      );
    }
    return nedb(path.resolve(cwd, given), '--storage');
  }

  if (fromEnv !== undefined && fromEnv !== '') {
    if (isPostgresUrl(fromEnv)) return postgres(fromEnv, DATABASE_URL_ENV);
    // A flag beats the environment.
    if (flagDataDir !== undefined) return nedb(flagDataDir, '--data-dir');
    return nedb(path.resolve(cwd, fromEnv), DATABASE_URL_ENV);
  }

  const configured = config?.storage;
  const inConfig = `storage in ${sources.configFile ?? 'the config'}`;
  if (configured !== undefined) {
    if (configured.backend === 'postgres') {
      if (!isPostgresUrl(configured.url)) {
        throw new NekoError(
          'NEKO_ERR_CONFIG_INVALID',
          `storage.url ${shownUrl(configured.url)} (${inConfig}) is not a postgres:// or postgresql:// URL`,
          {
            hint: "Write storage: { backend: 'postgres', url: 'postgres://user:password@host:5432/database' }.",
          },
        );
      }
      return postgres(configured.url, inConfig);
    }
    if (flagDataDir !== undefined) return nedb(flagDataDir, '--data-dir');
    return nedb(path.resolve(base, configured.dir ?? config?.dataDir ?? DEFAULT_DATA_DIR), inConfig);
  }
  return nedb(
    cacheParent(),
    flagDataDir !== undefined ? '--data-dir' : config?.dataDir !== undefined ? 'dataDir' : 'default',
  );
}

/** The environment that resolves to `storage` again: `NEKOCONNECT_DATABASE_URL` when it chose it. */
export function storageEnv(storage: ResolvedStorage): NodeJS.ProcessEnv {
  if (storage.source !== DATABASE_URL_ENV) return {};
  const { selection } = storage;
  return { [DATABASE_URL_ENV]: selection.backend === 'postgres' ? selection.url : selection.dir };
}

/** The storage as the start-up report names it: `PostgreSQL at <url without password>`, or `nedb files in <dir>`. */
export function describeStorage(storage: ResolvedStorage, showDir: (dir: string) => string): string {
  return storage.selection.backend === 'postgres'
    ? `PostgreSQL at ${storage.shown}`
    : `nedb files in ${showDir(storage.dataDir)}`;
}
