/**
 * Connecting to the Redis server of a cluster URL, and proving it answers.
 * `ioredis` is loaded here, on first use, so a server that is not in a
 * cluster never loads it.
 *
 * A connection made here never queues a command while Redis is away: a
 * command sent then fails at once (`enableOfflineQueue: false`), so a
 * caller sees a coded error instead of a promise that waits for the
 * outage to end; the connection itself keeps trying to reconnect, with a
 * backoff capped at 2 s, for as long as it lives.
 */
import type { Redis } from 'ioredis';
import { NekoError } from '../errors.js';
import { errorMessage } from '../format.js';
import { shownUrl } from '../shown-url.js';

export interface RedisConnectOptions {
  /** The name the connection has in `CLIENT LIST`, e.g. `nekoconnect:<process id>:bus`. */
  name?: string;
  /** How long connecting (TCP and AUTH) may take, in ms. Default 5000. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;

/** The host and port of a `redis://` / `rediss://` URL, for messages (never the password). */
export interface RedisPlace {
  host: string;
  port: number;
  /** The URL with its password shown as `***`. */
  shown: string;
}

/**
 * Where a Redis URL points.
 * @throws NekoError `NEKO_ERR_CONFIG_INVALID` for a URL that is not `redis://` or `rediss://`
 */
export function redisPlace(url: string): RedisPlace {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidUrl(url, 'is not a URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw invalidUrl(url, `has the scheme ${parsed.protocol.slice(0, -1)}, not redis or rediss`);
  }
  if (parsed.hostname === '') throw invalidUrl(url, 'names no host');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    shown: shownUrl(url),
  };
}

/**
 * A connected `ioredis` client on the URL's server, after a `PING` went
 * through it.
 * @throws NekoError `NEKO_ERR_CONFIG_INVALID` for a malformed URL;
 *   `NEKO_ERR_CLUSTER_UNREACHABLE`, naming host and port but never the
 *   password, when the server cannot be reached or refuses the password
 */
export async function connectRedis(url: string, options: RedisConnectOptions = {}): Promise<Redis> {
  const place = redisPlace(url);
  const { Redis: RedisClient } = await import('ioredis');
  const client = new RedisClient(url, {
    lazyConnect: true,
    connectTimeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
    ...(options.name === undefined ? {} : { connectionName: options.name }),
  });
  // Errors of a connection that broke are reported to its commands; without a listener the process would crash.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (err) {
    client.disconnect();
    throw unreachable(place, err);
  }
}

/** `NEKO_ERR_CLUSTER_UNREACHABLE` for `err` at `place`, without the URL's password. */
export function unreachable(place: RedisPlace, err: unknown, doing = 'connect to'): NekoError {
  return new NekoError(
    'NEKO_ERR_CLUSTER_UNREACHABLE',
    `cannot ${doing} Redis at ${place.host}:${place.port} (${place.shown}): ${errorMessage(err)}`,
    {
      cause: err,
      hint:
        `Is redis-server running on ${place.host}:${place.port} and accepting connections from this machine? ` +
        'Check the password of the URL.',
    },
  );
}

function invalidUrl(url: string, problem: string): NekoError {
  return new NekoError('NEKO_ERR_CONFIG_INVALID', `the Redis URL ${shownUrl(url)} ${problem}`, {
    hint: 'Write it as redis://:password@host:6379 (rediss:// for TLS; percent-encode @, :, / and % in the password).',
  });
}
