/**
 * Presence: the shared, short-lived state of a plugin (`ctx.presence`):
 * keys with a TTL, counters, hashes, sets and publish/subscribe on the
 * plugin's own channels. One process keeps it in memory
 * ({@link MemoryPresenceStore}); a cluster keeps it in Redis
 * ({@link RedisPresenceStore}), with the same results for the same calls
 * (one conformance suite runs on both).
 *
 * This file holds the contract and what both stores check and encode the
 * same way: names, values, TTLs, the keys' layout and the records of what a
 * session owns.
 */
import { NekoError } from '../errors.js';

/** A value presence keeps: what survives `JSON.stringify` and `JSON.parse` unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Options of {@link Presence.set} and {@link Presence.setnx}. */
export interface PresenceSetOptions {
  /** The key expires after this many ms (a whole number from 1). Without it the key does not expire. */
  ttlMs?: number;
  /**
   * `'session'`: the entry belongs to the session of the context, and is
   * removed when that session leaves the plugin or its process dies (unless
   * a later write replaced it). Only from a context that has a session.
   */
  owner?: 'session';
}

/** Options of the writes of one hash field or set member. */
export interface PresenceOwnerOptions {
  /** `'session'`: see {@link PresenceSetOptions.owner}. */
  owner?: 'session';
}

/** What a subscriber gets: each value published on its channel, from any process of the cluster. */
export type PresenceHandler = (value: JsonValue) => void | Promise<void>;

/**
 * A plugin's presence (`ctx.presence`). Every name is the plugin's own: two
 * plugins (and two clusters) never see each other's keys or channels. Values
 * are JSON values ({@link JsonValue}), checked at each call (anything else is
 * refused with `NEKO_ERR_PRESENCE_VALUE`: typed `unknown` so that objects of
 * your own interfaces can be passed), stored as JSON: what `get` returns is a
 * copy; its type argument is not checked. Each key
 * holds one kind of thing (a value, a hash or a set); using it as another
 * kind is refused (`NEKO_ERR_PRESENCE_TYPE`), except by `set`, which
 * replaces whatever the key held, and by `del` and `expire`.
 *
 * In a cluster every call goes to Redis: while Redis is away it rejects with
 * `NEKO_ERR_CLUSTER_UNREACHABLE`, and works again once Redis is back.
 */
export interface Presence {
  /** Stores a value under `key`, replacing what it held (and its TTL). */
  set(key: string, value: unknown, options?: PresenceSetOptions): Promise<void>;
  /** Stores a value under `key` only if the key does not exist, atomically. @returns whether it stored it. */
  setnx(key: string, value: unknown, options?: PresenceSetOptions): Promise<boolean>;
  /** The value under `key`, or undefined when there is none (never set, deleted or expired). */
  get<T = JsonValue>(key: string): Promise<T | undefined>;
  /** Deletes a key of any kind. @returns whether it existed. */
  del(key: string): Promise<boolean>;
  /** Makes a key of any kind expire `ttlMs` from now. @returns false when the key does not exist. */
  expire(key: string, ttlMs: number): Promise<boolean>;
  /**
   * Adds `by` (a whole number, default 1) to the whole number under `key`,
   * atomically, keeping its TTL; a missing key counts as 0.
   * @returns the new value.
   */
  incr(key: string, by?: number): Promise<number>;

  /** Sets a field of the hash `key`. @returns true when the field is new. */
  hset(key: string, field: string, value: unknown, options?: PresenceOwnerOptions): Promise<boolean>;
  /** Sets a field of the hash `key` only if the field does not exist, atomically. @returns whether it set it. */
  hsetnx(key: string, field: string, value: unknown, options?: PresenceOwnerOptions): Promise<boolean>;
  /** A field of the hash `key`, or undefined. */
  hget<T = JsonValue>(key: string, field: string): Promise<T | undefined>;
  /** Deletes a field of the hash `key` (the hash goes with its last field). @returns whether it existed. */
  hdel(key: string, field: string): Promise<boolean>;
  /** Every field of the hash `key` with its value; `{}` for a missing key. */
  hgetall<T = JsonValue>(key: string): Promise<Record<string, T>>;
  /** The field names of the hash `key`. */
  hkeys(key: string): Promise<string[]>;
  /** How many fields the hash `key` has. */
  hlen(key: string): Promise<number>;

  /** Adds a string to the set `key`. @returns true when it was not in it. */
  sadd(key: string, member: string, options?: PresenceOwnerOptions): Promise<boolean>;
  /** Removes a string from the set `key` (the set goes with its last member). @returns whether it was in it. */
  srem(key: string, member: string): Promise<boolean>;
  /** The members of the set `key`, in no particular order. */
  smembers(key: string): Promise<string[]>;
  /** Whether `member` is in the set `key`. */
  sismember(key: string, member: string): Promise<boolean>;
  /** How many members the set `key` has. */
  scard(key: string): Promise<number>;

  /**
   * Sends a JSON value to every subscriber of the plugin's `channel`, in
   * every process of the cluster (this one too).
   * @returns how many processes had a subscriber on the channel.
   */
  publish(channel: string, value: unknown): Promise<number>;
  /**
   * Calls `handler` with every value published on the plugin's `channel`
   * from now on, until the returned function is called or the plugin
   * unloads (a reload too: subscribe again in `onLoad`). A handler that
   * throws or rejects is logged; the others still get the value.
   * @returns a function that ends this subscription.
   */
  subscribe(channel: string, handler: PresenceHandler): Promise<() => Promise<void>>;
}

/** Reports a subscriber that threw or rejected, with its plugin. */
export type PresenceErrorReporter = (greeter: string, channel: string, err: unknown) => void;

/** Options of {@link PresenceStore.dropSession}. */
export interface DropSessionOptions {
  /** Only what the session owns in this plugin's presence (it left one plugin); default every plugin's. */
  greeter?: string;
  /** The process the session was on; default this store's process. */
  processId?: string;
}

/** What a presence store has done since it was made, for the metrics. */
export interface PresenceCounters {
  /** Presence calls (and session drops) that failed for Redis (unreachable, or no answer in time): always 0 in memory. */
  failures: number;
  /** Values published by this process. */
  published: number;
  /** Values handed to this process's subscribers (one per subscriber). */
  delivered: number;
  /** Session drops that failed while Redis was away and wait to be tried again. */
  pendingDrops: number;
}

/** The server's side of presence: one per process, shared by every plugin. */
export interface PresenceStore {
  /** `'memory'`, `'redis'`, or `'ipc'` (a worker of `--workers`: the primary's memory, over IPC). */
  readonly kind: string;
  /** What the store has done since it was made (a fresh object each call). */
  counters(): PresenceCounters;
  /**
   * The presence of the plugin `greeter`, as a context sees it: with
   * `sessionId`, `{ owner: 'session' }` gives the entry to that session;
   * without, it is refused (`NEKO_ERR_PRESENCE_OWNER`).
   */
  forPlugin(greeter: string, sessionId?: string): Presence;
  /**
   * Removes what a session owns (`{ owner: 'session' }`) and still holds:
   * an entry a later write replaced (another session's claim, a write
   * without owner) stays. Calling it again, or for a session that owns
   * nothing, does nothing.
   */
  dropSession(sessionId: string, options?: DropSessionOptions): Promise<void>;
  /**
   * A session moved from one process of the cluster to another (its client
   * resumed there): called on both. On the process it left (`from` is this
   * one), it is forgotten locally; on the one it moved to, what it owns and
   * still holds passes to it there (of the plugins `greeters`), so that it
   * goes when the session leaves there, or when that process dies. Stores
   * shared by processes have it; a store of one process has no use for it.
   */
  moveSession?(sessionId: string, from: string, greeters: readonly string[]): Promise<void>;
  /** Ends every subscription of the plugin `greeter` (it unloads or reloads). */
  endSubscriptions(greeter: string): Promise<void>;
  /** Ends every subscription and lets go of the store's resources (Redis connections). */
  close(): Promise<void>;
}

/** The longest key, field, member or channel name, in UTF-16 units. */
export const MAX_PRESENCE_NAME = 1024;
/** The longest value, as JSON, in UTF-16 units (1 MiB). */
export const MAX_PRESENCE_VALUE = 1024 * 1024;
/** The longest TTL: 100 days in ms (past that a TTL is most likely a unit mistake). */
export const MAX_PRESENCE_TTL_MS = 100 * 24 * 3600 * 1000;

/** Refuses a key, field, member or channel name that is not a non-empty string of at most {@link MAX_PRESENCE_NAME}. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_PRESENCE_NAME) {
    const shown = typeof name === 'string' ? `a string of ${name.length} characters` : describe(name);
    throw new NekoError(
      'NEKO_ERR_PRESENCE_KEY',
      `presence: the ${what} must be a string of 1 to ${MAX_PRESENCE_NAME} characters, not ${shown}`,
    );
  }
  if (LONE_SURROGATE.test(name)) {
    throw new NekoError(
      'NEKO_ERR_PRESENCE_KEY',
      `presence: the ${what} ${JSON.stringify(name)} holds half of a UTF-16 surrogate pair, which UTF-8 (and Redis) cannot keep`,
    );
  }
  return name;
}

/** Half of a surrogate pair, alone: not text that UTF-8 can carry. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Refuses a TTL that is not a whole number of ms from 1 to {@link MAX_PRESENCE_TTL_MS}. */
export function checkTtl(ttlMs: unknown, where: string): number {
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_PRESENCE_TTL_MS) {
    throw new NekoError(
      'NEKO_ERR_PRESENCE_TTL',
      `presence ${where}: ttlMs must be a whole number of ms from 1 to ${MAX_PRESENCE_TTL_MS}, not ${describe(ttlMs)}`,
      { hint: 'TTLs are in milliseconds: { ttlMs: 30_000 } is 30 s.' },
    );
  }
  return ttlMs;
}

/** Refuses an increment that is not a safe whole number. */
export function checkIncrement(by: unknown, key: string): number {
  if (typeof by !== 'number' || !Number.isSafeInteger(by)) {
    throw new NekoError(
      'NEKO_ERR_PRESENCE_VALUE',
      `presence incr("${key}"): the increment must be a whole number, not ${describe(by)}`,
    );
  }
  return by;
}

/** Refuses an owner other than `'session'`, and `'session'` where there is no session. @returns whether the entry is owned. */
export function checkOwner(owner: unknown, sessionId: string | undefined, where: string): boolean {
  if (owner === undefined) return false;
  if (owner !== 'session') {
    throw new NekoError(
      'NEKO_ERR_PRESENCE_OWNER',
      `presence ${where}: owner must be 'session' or left out, not ${describe(owner)}`,
    );
  }
  if (sessionId === undefined) {
    throw new NekoError(
      'NEKO_ERR_PRESENCE_OWNER',
      `presence ${where}: { owner: 'session' } needs a session, and this context has none (onLoad, onUnload or a timer's plugin context)`,
      { hint: "Write owned entries from recv, onJoin or another hook that gets a session's context." },
    );
  }
  return true;
}

/**
 * A JSON value as the JSON text both stores keep.
 * @throws NekoError `NEKO_ERR_PRESENCE_VALUE` for anything JSON would change or drop
 *   (undefined, functions, NaN, Infinity, bigints, class instances, cycles) or a value over 1 MiB
 */
export function encodeValue(value: unknown, where: string): string {
  const problem = jsonProblem(value, '', new Set());
  if (problem !== undefined) {
    throw new NekoError(
      'NEKO_ERR_PRESENCE_VALUE',
      `presence ${where}: the value is not a JSON value: ${problem}`,
      { hint: 'Presence keeps plain objects, arrays, strings, finite numbers, booleans and null.' },
    );
  }
  const json = JSON.stringify(value);
  if (json.length > MAX_PRESENCE_VALUE) {
    throw new NekoError(
      'NEKO_ERR_PRESENCE_VALUE',
      `presence ${where}: the value is ${json.length} characters of JSON, over the limit of ${MAX_PRESENCE_VALUE}`,
      { hint: 'Keep large data in the plugin database (ctx.db) and its id in presence.' },
    );
  }
  return json;
}

function jsonProblem(value: unknown, path: string, seen: Set<object>): string | undefined {
  const at = path === '' ? '' : ` at ${path}`;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${String(value)}${at}`;
    case 'object': {
      if (value === null) return undefined;
      if (seen.has(value)) return `a cycle${at}`;
      const proto: unknown = Object.getPrototypeOf(value);
      if (Array.isArray(value)) {
        seen.add(value);
        for (let i = 0; i < value.length; i++) {
          const inner = jsonProblem(value[i], `${path}[${i}]`, seen);
          if (inner !== undefined) return inner;
        }
        seen.delete(value);
        return undefined;
      }
      if (proto !== Object.prototype && proto !== null) {
        const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        return `a ${name}${at}`;
      }
      seen.add(value);
      for (const [key, inner] of Object.entries(value)) {
        const problem = jsonProblem(inner, path === '' ? key : `${path}.${key}`, seen);
        if (problem !== undefined) return problem;
      }
      seen.delete(value);
      return undefined;
    }
    default:
      return `${describe(value)}${at}`;
  }
}

/** `NEKO_ERR_PRESENCE_TYPE`: a key used as another kind of thing than it holds. */
export function wrongType(where: string, key: string, cause?: unknown): NekoError {
  return new NekoError(
    'NEKO_ERR_PRESENCE_TYPE',
    `presence ${where}: the key "${key}" holds another kind of entry (a value, a hash or a set; each key holds one)`,
    { hint: 'Use another key, or del() it first.', ...(cause === undefined ? {} : { cause }) },
  );
}

/** `NEKO_ERR_PRESENCE_TYPE`: incr on a value that is not a whole number. */
export function notInteger(key: string): NekoError {
  return new NekoError(
    'NEKO_ERR_PRESENCE_TYPE',
    `presence incr("${key}"): the key holds a value that is not a whole number`,
    { hint: 'incr() counts on keys that hold a whole number or nothing.' },
  );
}

/** `NEKO_ERR_PRESENCE_VALUE`: a counter past ±(2^53 − 1). */
export function counterOverflow(key: string): NekoError {
  return new NekoError(
    'NEKO_ERR_PRESENCE_VALUE',
    `presence incr("${key}"): the result would be past ±${Number.MAX_SAFE_INTEGER}; the counter is unchanged`,
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  return Array.isArray(value) ? 'an array' : 'an object';
}

// --- The layout of names, shared by both stores ---

/** The prefix of a plugin's keys and channels: `nc:<cluster>:p:<greeter, %-encoded>:`. */
export function pluginPrefix(cluster: string, greeter: string): string {
  return `nc:${cluster}:p:${encodeURIComponent(greeter)}:`;
}

/**
 * The tag of an owning session: `<process id>/<session id>`, %-encoded so
 * that it never holds the `|` that ends it in a stored value.
 */
export function ownerTag(processId: string, sessionId: string): string {
  return `${encodeURIComponent(processId)}/${encodeURIComponent(sessionId)}`;
}

/**
 * What a session owns, one record per entry (a JSON array):
 * `["k", key]` a key, `["h", key, field]` a hash field, `["s", key, member]` a set member.
 */
export type OwnedRecord = ['k', string] | ['h', string, string] | ['s', string, string];

/** The text of an owned record. */
export function ownedRecord(record: OwnedRecord): string {
  return JSON.stringify(record);
}
