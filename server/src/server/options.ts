import { NekoError } from '../errors.js';
import { DEFAULT_PORT } from '../protocol/constants.js';
import type { StorageBackend } from '../storage/database.js';
import type { NedbStorageOptions } from '../storage/nedb-store.js';

/** The limits of protocol §6. Every one is configurable. */
export interface Limits {
  /** Largest `packet_len` accepted, in bytes. Default 1 MiB. */
  maxPacketBytes: number;
  /** Time to complete the handshake, in ms. Default 10 s. */
  handshakeTimeoutMs: number;
  /** Close a session after this long without a byte from the client, in ms; 0 is off. Default off. */
  idleTimeoutMs: number;
  /** Connections at once; further ones are refused by the listener. Default 10,000. */
  maxConnections: number;
  /** Unused server randoms kept per session. Default 64. */
  nonceWindow: number;
  /** Default wait of `ctx.recv()`, in ms. Default 30 s. */
  recvTimeoutMs: number;
  /** On shutdown, how long running handlers may take before connections are cut, in ms. Default 10 s. */
  shutdownTimeoutMs: number;
  /**
   * Bytes that may wait to be sent to one client. A client that stops
   * reading lets them pile up; past this, its session is closed (slow
   * reader). Default 4 MiB.
   */
  maxPendingBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxPacketBytes: 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 0,
  maxConnections: 10_000,
  nonceWindow: 64,
  recvTimeoutMs: 30_000,
  shutdownTimeoutMs: 10_000,
  maxPendingBytes: 4 * 1024 * 1024,
});

/** TLS material: PEM text or buffers. */
export interface TlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
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
  /** Serve TLS instead of plain TCP. */
  tls?: TlsOptions;
  limits?: Partial<Limits>;
  /**
   * Where plugin databases live: options for the embedded nedb store
   * (default: files under `.nekoconnect/data`; `{ inMemory: true }` keeps
   * them in memory, as tests want), or a storage backend of your own.
   */
  storage?: NedbStorageOptions | StorageBackend;
}

export interface ResolvedServerOptions {
  secret: string;
  plugins: string | undefined;
  port: number;
  host: string;
  tls: TlsOptions | undefined;
  limits: Limits;
}

const MIN_PACKET = 16;

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
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new NekoError(
        'NEKO_ERR_CONFIG_INVALID',
        `limits.${key} must be a whole number ≥ 0, got ${String(value)}`,
      );
    }
  }
  if (limits.maxPacketBytes < MIN_PACKET || limits.maxPacketBytes > 0xffff_ffff) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `limits.maxPacketBytes must be from ${MIN_PACKET} to 4294967295, got ${limits.maxPacketBytes}`,
    );
  }
  for (const key of [
    'handshakeTimeoutMs',
    'nonceWindow',
    'recvTimeoutMs',
    'maxConnections',
    'maxPendingBytes',
  ] as const) {
    if (limits[key] === 0) {
      throw new NekoError('NEKO_ERR_CONFIG_INVALID', `limits.${key} must be at least 1`);
    }
  }
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NekoError('NEKO_ERR_CONFIG_INVALID', `port must be from 0 to 65535, got ${String(port)}`);
  }
  return {
    secret: options.secret,
    plugins: options.plugins,
    port,
    host: options.host ?? '127.0.0.1',
    tls: options.tls,
    limits,
  };
}
