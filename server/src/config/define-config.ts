import type { Limits } from '../server/limits.js';

/**
 * The contents of `nekoconnect.config.ts` (or `.js`, `.mjs`, `.json`). Every
 * key is optional; command-line flags beat the file, and the file beats the
 * defaults. Relative paths are resolved against the config file's folder.
 *
 * There is no `secret` key on purpose: the shared secret comes only from
 * `NEKOCONNECT_SECRET` or `--secret-file`, never from a file that may be committed.
 */
export interface NekoConfig {
  /** TCP port; 0 picks a free one. Default 10390. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** A plugins directory, or one plugin folder. Default: the current directory. */
  plugins?: string;
  /** Where plugins keep their data. Default `.nekoconnect/data`. */
  dataDir?: string;
  /**
   * Which storage backend holds plugin data: `{ backend: 'postgres', url }`
   * (a PostgreSQL server that several servers may share; `dataDir` then only
   * holds the cache) or `{ backend: 'nedb', dir }` (files, the default, in
   * `dir` or else `dataDir`). `--storage` and `NEKOCONNECT_DATABASE_URL` beat it.
   */
  storage?: NekoStorageConfig;
  /** Where TypeScript plugins are bundled to, so plugin folders may be read-only. Default `<dataDir>/cache`. */
  cacheDir?: string;
  /** The limits of protocol §9; each one not given keeps its default. */
  limits?: Partial<Limits>;
  /** Serve TLS with these PEM files, read at start. */
  tls?: NekoTlsConfig;
  /** The web dashboard: where it listens, or `false` for none. Default: on, `127.0.0.1:10391`. */
  dashboard?: NekoDashboardConfig | false;
  /** Also accept WebSocket clients (browsers): the same frames, one per binary message. Default: off. */
  websocket?: NekoWebSocketConfig;
  /** Stop instead of starting when a plugin fails to load (deployments that would rather fail fast). Default false. */
  requirePlugins?: boolean;
  /**
   * `nekoconnect start` serves with this many worker processes under a
   * primary (`'auto'`: one per core), sharing the port; more than one needs
   * PostgreSQL storage. Default: no workers, one process (`--workers`).
   */
  workers?: number | 'auto';
  /**
   * A small HTTP server with only `/healthz`, `/readyz` and `/metrics` (no
   * token), with the dashboard on or off. Default: off (the dashboard's port
   * serves the same three paths while the dashboard is on).
   */
  metrics?: NekoMetricsConfig;
  /** What the server prints: `{ format: 'pretty' | 'json', level: 'debug' | 'info' | 'warn' | 'error' }`. Default pretty, info. */
  log?: NekoLogConfig;
  /**
   * Run as one process of a cluster that meets on a Redis server (docs/cluster.md).
   * `--cluster` and `NEKOCONNECT_REDIS_URL` beat `redis`; `--cluster-name` beats `name`.
   * Default: off, one process on its own.
   */
  cluster?: NekoClusterConfig;
}

/** The config's `cluster` key. */
export interface NekoClusterConfig {
  /**
   * The Redis URL, `redis://:password@host:6379` (`rediss://` for TLS); the password is never printed.
   * May be left out when `--cluster` or `NEKOCONNECT_REDIS_URL` gives it, so that the file holds no password.
   */
  redis?: string;
  /** The cluster's name: its Redis keys and channels start with `nc:<name>:`, so clusters can share one Redis. Default `default`. */
  name?: string;
  /** How long a process's heartbeat lives in Redis, in ms: a process that died leaves presence within twice this. Default 5000. */
  heartbeatTtlMs?: number;
  /** How long `sendTo` waits for another process to acknowledge, in ms, before it answers `'gone'`. Default 2000. */
  sendToTimeoutMs?: number;
}

/** The server's output (`--log-format`, `--log-level` beat these). */
export interface NekoLogConfig {
  /** `pretty` text for a terminal, or `json`: every line one JSON record, for a log shipper. Default `pretty`. */
  format?: 'pretty' | 'json';
  /** The least severe level printed; `debug` adds each connection's accept, authentication and close. Default `info`. */
  level?: 'debug' | 'info' | 'warn' | 'error';
}

/** The WebSocket listener (`ws://`, or `wss://` with `tls`). */
export interface NekoWebSocketConfig {
  /** Port; 0 picks a free one. Required to turn it on. */
  port: number;
  /** Interface to listen on. Default: the server's `host`. */
  host?: string;
  /** The URL path clients connect to. Default `/`. */
  path?: string;
  /** Browser origins allowed, e.g. `["https://game.example"]`. Default: any origin. */
  origins?: string[];
}

/** Where the dashboard listens, and who may use it. */
export interface NekoDashboardConfig {
  /** HTTP port; 0 picks a free one. Default 10391. */
  port?: number;
  /**
   * Interface to listen on. Default `127.0.0.1`. Wherever it listens, every
   * request needs the access token printed at start (unless `open`).
   */
  host?: string;
  /**
   * Serve without the access token: allowed on a loopback `host` only, and
   * warned about at start, since any local user or process can then read the
   * logs and data and close sessions. Default false.
   */
  open?: boolean;
  /**
   * A file holding a stable access token (16 or more printable characters,
   * no spaces), so a monitoring system keeps working across restarts; it is
   * never printed. Beats `NEKOCONNECT_DASHBOARD_TOKEN`. Default: a new
   * random token at each start, printed in the dashboard's URL.
   */
  tokenFile?: string;
}

/** The metrics port: health checks and Prometheus. */
export interface NekoMetricsConfig {
  /** HTTP port; 0 picks a free one. Required to turn it on. */
  port: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
}

/** The storage backend of the config's `storage` key. */
export type NekoStorageConfig =
  | {
      backend: 'postgres';
      /** `postgres://user:password@host:5432/database`; the password is never printed. */
      url: string;
    }
  | {
      backend: 'nedb';
      /** The data directory, relative to the config file's folder. Default: `dataDir`. */
      dir?: string;
    };

/** PEM files for TLS: give both. */
export interface NekoTlsConfig {
  /** The private key file. */
  key: string;
  /** The certificate file. */
  cert: string;
}

/**
 * Types a config object and returns it unchanged:
 *
 * ```ts
 * // nekoconnect.config.ts
 * import { defineConfig } from 'nekoconnect';
 *
 * export default defineConfig({ port: 4000, plugins: 'plugins' });
 * ```
 */
export function defineConfig(config: NekoConfig): NekoConfig {
  return config;
}
