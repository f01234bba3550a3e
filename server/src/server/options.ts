import nodeCluster from 'node:cluster';
import { NekoError } from '../errors.js';
import { DEFAULT_HOST, DEFAULT_PORT } from '../protocol/constants.js';
import { DEFAULT_LIMITS, LIMIT_KEYS, LIMIT_RANGES, PORT_RANGE, inRange, type Limits } from './limits.js';
import path from 'node:path';
import type { StorageOptions } from '../storage/select.js';
import { DEFAULT_DATA_DIR } from '../storage/nedb/storage.js';

export { DEFAULT_LIMITS, type Limits } from './limits.js';

/** The interface a server (and its dashboard) listens on by default: this machine only. */
export { DEFAULT_HOST } from '../protocol/constants.js';

/** TLS material: PEM text or buffers. */
export interface TlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
}

/** The WebSocket listener of a server (`websocket` of {@link ServerOptions}). */
export interface WebSocketOptions {
  /** Port; 0 picks a free one. */
  port: number;
  /** Interface to listen on. Default: the server's `host`. */
  host?: string;
  /** The URL path clients connect to, e.g. `/neko`. Default `/`; other paths are refused (404). */
  path?: string;
  /**
   * Browser origins allowed to connect, e.g. `['https://game.example']`
   * (compared with the request's `Origin` header, exactly). Default: any.
   * A request without an `Origin` header (not from a browser) is always
   * let through: only browsers are bound by it.
   */
  origins?: readonly string[];
}

export interface ResolvedWebSocketOptions {
  port: number;
  host: string;
  path: string;
  origins: readonly string[] | undefined;
}

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The shared secret clients authenticate with. Required, non-empty. */
  secret: string;
  /** A plugins directory to load before listening. */
  plugins?: string;
  /** TCP port; 0 picks a free one. Default 10390. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Serve TLS instead of plain TCP (and `wss://` instead of `ws://`). */
  tls?: TlsOptions;
  /**
   * Also accept WebSocket connections (`ws://`, or `wss://` with `tls`):
   * one binary message carries one frame, with the same chain and limits
   * as TCP. Off by default.
   */
  websocket?: WebSocketOptions;
  limits?: Partial<Limits>;
  /**
   * Where plugin databases live, by backend: `{ backend: 'nedb', dir?,
   * compactionIntervalMs? }` (the default: files under `.nekoconnect/data`),
   * `{ backend: 'memory' }` (no files, as tests want), or `{ backend: b }`
   * with a `StorageBackend` of your own. See `storage/select.ts`.
   */
  storage?: StorageOptions;
  /**
   * Where TypeScript plugins are bundled to (one folder per plugin folder),
   * so that plugin folders may be read-only; resolved against the working
   * directory. Default: `cache` in the nedb data directory, or, with another
   * backend, a folder of the server's own in `<os temp dir>/nekoconnect-<uid>/`,
   * removed when it closes.
   */
  cacheDir?: string;
  /**
   * Run as one process of a cluster whose processes meet on a Redis server:
   * broadcasts, `sendTo` and groups reach sessions of every process, and
   * presence lives in Redis (see docs/plugins.md, "In a cluster").
   * Off by default: one process, nothing loaded for it. `{ ipc: true }`:
   * a worker of `nekoconnect start --workers` whose bus and presence are
   * the primary process's, reached over IPC (only in a forked worker).
   */
  cluster?: ClusterOptions | IpcClusterOptions;
}

/** The `cluster` option of a worker under `--workers` without Redis: the bus and presence run in the primary. */
export interface IpcClusterOptions {
  ipc: true;
  /** The cluster's name, in log lines. Default `workers`. */
  name?: string;
}

/** The `cluster` option of {@link ServerOptions}. */
export interface ClusterOptions {
  /** The Redis server's URL, `redis://:password@host:6379` (`rediss://` for TLS). */
  redis: string;
  /** The cluster's name: every Redis key and channel starts with `nc:<name>:`, so clusters can share one Redis. Default `default`. */
  name?: string;
  /** How long a process's heartbeat lives in Redis, in ms; it is renewed every third of it. Default 5000. */
  heartbeatTtlMs?: number;
  /** How long `sendTo` waits for the acknowledgement of another process, in ms, before it answers `'gone'`. Default 2000. */
  sendToTimeoutMs?: number;
}

export interface ResolvedClusterOptions {
  redis: string;
  name: string;
  heartbeatTtlMs: number;
  sendToTimeoutMs: number;
}

export interface ResolvedServerOptions {
  secret: string;
  plugins: string | undefined;
  port: number;
  host: string;
  tls: TlsOptions | undefined;
  websocket: ResolvedWebSocketOptions | undefined;
  limits: Limits;
  /** The cache dir, absolute; undefined: a temporary one of the server's own, removed when it closes. */
  cacheDir: string | undefined;
  cluster: ResolvedClusterOptions | Required<IpcClusterOptions> | undefined;
}

/** Fills in defaults and refuses values that cannot work, with a coded error naming the option. */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (typeof options.secret !== 'string' || options.secret.length === 0) {
    throw new NekoError('NEKO_ERR_CONFIG_NO_SECRET', 'the server needs a non-empty shared secret', {
      hint: 'Set NEKOCONNECT_SECRET, or pass --secret-file <file>.',
    });
  }
  // A limit given as undefined keeps its default, as an absent one does.
  const given = Object.entries(options.limits ?? {}).filter(([, value]) => value !== undefined);
  const limits: Limits = { ...DEFAULT_LIMITS, ...Object.fromEntries(given) };
  for (const key of LIMIT_KEYS) {
    const range = LIMIT_RANGES[key];
    if (!inRange(limits[key], range)) {
      throw new NekoError(
        'NEKO_ERR_CONFIG_INVALID',
        `limits.${key} must be a whole number from ${range.min} to ${range.max}, got ${String(limits[key])}`,
      );
    }
  }
  const port = options.port ?? DEFAULT_PORT;
  if (!inRange(port, PORT_RANGE)) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `port must be from ${PORT_RANGE.min} to ${PORT_RANGE.max}, got ${String(port)}`,
    );
  }
  const host = options.host ?? DEFAULT_HOST;
  return {
    secret: options.secret,
    plugins: options.plugins,
    port,
    host,
    tls: options.tls,
    websocket: options.websocket && resolveWebSocket(options.websocket, host),
    limits,
    cacheDir: resolveCacheDir(options),
    cluster: options.cluster === undefined ? undefined : resolveCluster(options.cluster),
  };
}

const CLUSTER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** `cluster: { ipc: true }`: only in a worker forked by `node:cluster` (a worker of `--workers`). */
function resolveIpcCluster(cluster: IpcClusterOptions): Required<IpcClusterOptions> {
  if (cluster.ipc !== true || !nodeCluster.isWorker) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      'cluster: { ipc: true } is for a worker of `nekoconnect start --workers`, whose primary process forks it with IPC; this process is not one',
      {
        hint: 'Run `nekoconnect start --workers <n>`, or give cluster: { redis: "redis://…" } to join a cluster on Redis.',
      },
    );
  }
  const name = cluster.name ?? 'workers';
  if (typeof name !== 'string' || !CLUSTER_NAME.test(name)) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `cluster.name must be 1 to 64 letters, digits, "_", "." or "-", got ${JSON.stringify(name) ?? String(name)}`,
    );
  }
  return { ipc: true, name };
}

/** The `cluster` option with its defaults, or a coded error naming the field. */
function resolveCluster(
  cluster: ClusterOptions | IpcClusterOptions,
): ResolvedClusterOptions | Required<IpcClusterOptions> {
  if (typeof cluster !== 'object' || cluster === null) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      'cluster must be an object such as { redis: "redis://host:6379" }',
    );
  }
  if ('ipc' in cluster) return resolveIpcCluster(cluster);
  if (typeof cluster.redis !== 'string' || cluster.redis === '') {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      'cluster.redis must be the Redis URL, e.g. redis://:password@host:6379',
      {
        hint: 'Pass --cluster <redis-url>, or set NEKOCONNECT_REDIS_URL.',
      },
    );
  }
  const name = cluster.name ?? 'default';
  if (typeof name !== 'string' || !CLUSTER_NAME.test(name)) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `cluster.name must be 1 to 64 letters, digits, "_", "." or "-", got ${JSON.stringify(name) ?? String(name)}`,
    );
  }
  const heartbeatTtlMs = cluster.heartbeatTtlMs ?? 5_000;
  if (!inRange(heartbeatTtlMs, { min: 300, max: 600_000 })) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `cluster.heartbeatTtlMs must be a whole number from 300 to 600000, got ${String(heartbeatTtlMs)}`,
    );
  }
  const sendToTimeoutMs = cluster.sendToTimeoutMs ?? 2_000;
  if (!inRange(sendToTimeoutMs, { min: 10, max: 600_000 })) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `cluster.sendToTimeoutMs must be a whole number from 10 to 600000, got ${String(sendToTimeoutMs)}`,
    );
  }
  return { redis: cluster.redis, name, heartbeatTtlMs, sendToTimeoutMs };
}

/** `cacheDir` when given, else `cache` in the nedb data directory; undefined for other backends. */
function resolveCacheDir(options: ServerOptions): string | undefined {
  if (options.cacheDir !== undefined) {
    if (typeof options.cacheDir !== 'string' || options.cacheDir === '') {
      throw new NekoError(
        'NEKO_ERR_CONFIG_INVALID',
        `cacheDir must be a non-empty path, got ${JSON.stringify(options.cacheDir) ?? String(options.cacheDir)}`,
      );
    }
    return path.resolve(options.cacheDir);
  }
  const storage = options.storage ?? { backend: 'nedb' };
  if (storage.backend !== 'nedb') return undefined;
  const dir = (storage as { dir?: unknown }).dir;
  return path.resolve(typeof dir === 'string' && dir !== '' ? dir : DEFAULT_DATA_DIR, 'cache');
}

function resolveWebSocket(ws: WebSocketOptions, host: string): ResolvedWebSocketOptions {
  if (!inRange(ws.port, PORT_RANGE)) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `websocket.port must be from ${PORT_RANGE.min} to ${PORT_RANGE.max}, got ${String(ws.port)}`,
    );
  }
  const path = ws.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `websocket.path must be a URL path starting with "/", without "?" or "#", got ${JSON.stringify(path)}`,
    );
  }
  const origins = ws.origins;
  if (origins !== undefined && (!Array.isArray(origins) || !origins.every((o) => typeof o === 'string'))) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      'websocket.origins must be a list of origins, e.g. ["https://game.example"]',
    );
  }
  return { port: ws.port, host: ws.host ?? host, path, origins };
}
