/**
 * Presence in Redis: the store of a server that is one process of a
 * cluster. Every process's store reads and writes the same keys, so a
 * plugin's presence is one for the whole cluster; the conformance suite
 * holds it to the same results as the memory store.
 *
 * Layout (`<cluster>` the cluster's name, `<greeter>` %-encoded):
 * - a plugin's key `k`: `nc:<cluster>:p:<greeter>:k` (a string, a hash or a
 *   set); its channel `c`: the same name on the pub/sub side;
 * - a value or hash field is stored as `<owner tag>|<JSON>`, the tag empty
 *   for an entry nobody owns, `<process id>/<session id>` for one that a
 *   session owns (`{ owner: 'session' }`);
 * - what a session owns: the set `nc:<cluster>:owned:<owner tag>` of
 *   records (`["k", key]`, `["h", key, field]`, `["s", key, member]`),
 *   written by the same script as the entry. Dropping the session removes
 *   an entry only while it still carries the session's tag, so an entry a
 *   later write replaced stays.
 *
 * Writes and drops are Lua scripts, each atomic in Redis. Two connections
 * per process, made on first use: one for commands, one for subscriptions.
 * While Redis is away every call rejects at once with
 * `NEKO_ERR_CLUSTER_UNREACHABLE`; the connections reconnect by themselves,
 * and the subscriber subscribes again to its channels.
 */
import type { Redis } from 'ioredis';
import { NekoError } from '../errors.js';
import {
  checkIncrement,
  checkName,
  checkOwner,
  checkTtl,
  counterOverflow,
  encodeValue,
  notInteger,
  ownedRecord,
  ownerTag,
  pluginPrefix,
  wrongType,
  type DropSessionOptions,
  type JsonValue,
  type OwnedRecord,
  type Presence,
  type PresenceErrorReporter,
  type PresenceCounters,
  type PresenceHandler,
  type PresenceOwnerOptions,
  type PresenceSetOptions,
  type PresenceStore,
} from './presence.js';
import { connectRedis, redisPlace, unreachable, type RedisPlace } from './redis.js';

export interface RedisPresenceOptions {
  /** The Redis server's URL. */
  redis: string;
  /** The cluster's name (keys start with `nc:<name>:`). Default `default`. */
  name?: string;
  /** This process's id (owner tags, connection names). */
  processId: string;
  /** Where a subscriber that throws or rejects is reported. */
  onHandlerError?: PresenceErrorReporter;
  /** How long connecting may take, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * How long a call may wait for Redis's answer, in ms, before it rejects
   * with `NEKO_ERR_CLUSTER_UNREACHABLE` (a connection that broke with the
   * command on it). Default 5000. A call that timed out may still take
   * effect, once Redis gets it.
   */
  commandTimeoutMs?: number;
}

/** How often a drop that failed while Redis was away is tried again, in ms. */
const RETRY_MS = 1000;

/** SET (NX, PX) of a stored value; with a record, the record joins the owner's set. → 1 stored, 0 not. */
const SET_SCRIPT = `
local r
if ARGV[2] ~= '' then
  if ARGV[3] == '1' then r = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
  else r = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
else
  if ARGV[3] == '1' then r = redis.call('SET', KEYS[1], ARGV[1], 'NX')
  else r = redis.call('SET', KEYS[1], ARGV[1]) end
end
if not r then return 0 end
if ARGV[4] ~= '' then redis.call('SADD', KEYS[2], ARGV[4]) end
return 1`;

/** HSET or HSETNX of a stored value, and its owner record. → 1 a new field, 0 not (for HSETNX: not set). */
const HSET_SCRIPT = `
local r
if ARGV[3] == '1' then r = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
else r = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
if ARGV[3] == '1' and r == 0 then return 0 end
if ARGV[4] ~= '' then redis.call('SADD', KEYS[2], ARGV[4]) end
return r`;

/** SADD, and its owner record. → 1 added, 0 it was a member. */
const SADD_SCRIPT = `
local r = redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('SADD', KEYS[2], ARGV[2]) end
return r`;

/** Adds a whole number to a stored whole number (missing: 0), keeping the TTL; the result is nobody's. */
const INCR_SCRIPT = `
local v = redis.call('GET', KEYS[1])
local n = 0
local max = 9007199254740991
if v then
  local j = string.sub(v, string.find(v, '|', 1, true) + 1)
  if not string.match(j, '^%-?%d+$') then return redis.error_reply('NEKO_NOT_INTEGER') end
  n = tonumber(j)
  if n > max or n < -max then return redis.error_reply('NEKO_NOT_INTEGER') end
end
local r = n + tonumber(ARGV[1])
if r > max or r < -max then return redis.error_reply('NEKO_OVERFLOW') end
local text = string.format('%.0f', r)
redis.call('SET', KEYS[1], '|' .. text, 'KEEPTTL')
return text`;

/**
 * Drops what an owner tag owns (only under a key prefix, when given): an
 * entry still carrying the tag goes; the records go either way.
 */
const DROP_SCRIPT = `
local mine = ARGV[1] .. '|'
local prefix = ARGV[2]
for _, text in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local r = cjson.decode(text)
  local key = r[2]
  if prefix == '' or string.sub(key, 1, #prefix) == prefix then
    redis.call('SREM', KEYS[1], text)
    if r[1] == 'k' then
      local v = redis.pcall('GET', key)
      if type(v) == 'string' and string.sub(v, 1, #mine) == mine then redis.call('DEL', key) end
    elseif r[1] == 'h' then
      local v = redis.pcall('HGET', key, r[3])
      if type(v) == 'string' and string.sub(v, 1, #mine) == mine then redis.call('HDEL', key, r[3]) end
    else
      redis.pcall('SREM', key, r[3])
    end
  end
end
return 0`;

/**
 * Passes what one owner tag owns to another (a session that moved between
 * processes): each entry still carrying the old tag is written again with
 * the new one (TTL kept), and its record joins the new owner's set.
 */
const MOVE_SCRIPT = `
local old = ARGV[1] .. '|'
local new = ARGV[2] .. '|'
for _, text in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local r = cjson.decode(text)
  local key = r[2]
  local held = false
  if r[1] == 'k' then
    local v = redis.pcall('GET', key)
    if type(v) == 'string' and string.sub(v, 1, #old) == old then
      redis.call('SET', key, new .. string.sub(v, #old + 1), 'KEEPTTL')
      held = true
    end
  elseif r[1] == 'h' then
    local v = redis.pcall('HGET', key, r[3])
    if type(v) == 'string' and string.sub(v, 1, #old) == old then
      redis.call('HSET', key, r[3], new .. string.sub(v, #old + 1))
      held = true
    end
  else
    held = redis.pcall('SISMEMBER', key, r[3]) == 1
  end
  if held then redis.call('SADD', KEYS[2], text) end
end
redis.call('DEL', KEYS[1])
return 0`;

interface Scripted {
  ncSet(key: string, owned: string, stored: string, ttl: string, nx: string, record: string): Promise<number>;
  ncHset(
    key: string,
    owned: string,
    field: string,
    stored: string,
    nx: string,
    record: string,
  ): Promise<number>;
  ncSadd(key: string, owned: string, member: string, record: string): Promise<number>;
  ncIncr(key: string, by: string): Promise<string>;
  ncDrop(owned: string, tag: string, prefix: string): Promise<number>;
  ncMove(from: string, to: string, fromTag: string, toTag: string): Promise<number>;
}

type Commands = Redis & Scripted;

/** A subscribed channel: its handlers (with their plugins), and its SUBSCRIBE. */
interface Channel {
  readonly handlers: Map<PresenceHandler, string>;
  subscribed: Promise<void>;
}

/** {@link PresenceStore} in Redis, shared by every process of the cluster. */
export class RedisPresenceStore implements PresenceStore {
  readonly kind = 'redis';
  readonly processId: string;
  readonly cluster: string;
  readonly place: RedisPlace;
  readonly #url: string;
  readonly #timeoutMs: number | undefined;
  readonly #commandTimeoutMs: number;
  readonly #onHandlerError: PresenceErrorReporter | undefined;
  #commands: Promise<Commands> | undefined;
  #subscriber: Promise<Redis> | undefined;
  readonly #channels = new Map<string, Channel>();
  /** Channels whose last handler ended while Redis was away: unsubscribed when the connection is back. */
  readonly #stale = new Set<string>();
  /** Local owning sessions (owner tag → greeters they own entries in): a drop of a local session that owns nothing costs no round trip. */
  readonly #owners = new Map<string, Set<string>>();
  /** Drops to try again (Redis was away), by owner tag and prefix. */
  readonly #retries = new Map<string, { tag: string; prefix: string }>();
  #retryTimer: NodeJS.Timeout | undefined;
  #retrying = false;
  readonly #counters = { failures: 0, published: 0, delivered: 0 };
  #closed = false;

  constructor(options: RedisPresenceOptions) {
    this.#url = options.redis;
    this.place = redisPlace(options.redis);
    this.cluster = options.name ?? 'default';
    this.processId = options.processId;
    this.#timeoutMs = options.connectTimeoutMs;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    this.#onHandlerError = options.onHandlerError;
  }

  forPlugin(greeter: string, sessionId?: string): Presence {
    return new RedisPresence(this, greeter, sessionId);
  }

  async dropSession(sessionId: string, options: DropSessionOptions = {}): Promise<void> {
    const processId = options.processId ?? this.processId;
    const tag = ownerTag(processId, sessionId);
    const local = processId === this.processId;
    const greeters = this.#owners.get(tag);
    if (
      local &&
      (greeters === undefined || (options.greeter !== undefined && !greeters.has(options.greeter)))
    ) {
      return;
    }
    const prefix = options.greeter === undefined ? '' : pluginPrefix(this.cluster, options.greeter);
    if (greeters !== undefined) {
      if (options.greeter === undefined) greeters.clear();
      else greeters.delete(options.greeter);
      if (greeters.size === 0) this.#owners.delete(tag);
    }
    try {
      await this.#drop(tag, prefix);
    } catch (err) {
      if (!(err instanceof NekoError) || err.code !== 'NEKO_ERR_CLUSTER_UNREACHABLE' || this.#closed)
        throw err;
      // The entries must not outlive the session for good: the drop is tried again until Redis answers.
      this.#retries.set(`${tag}\u0000${prefix}`, { tag, prefix });
      this.#retryLater();
      throw new NekoError(
        'NEKO_ERR_CLUSTER_UNREACHABLE',
        `${err.message}; tried again every ${RETRY_MS} ms until Redis answers`,
        { cause: err, ...(err.hint === undefined ? {} : { hint: err.hint }) },
      );
    }
  }

  async moveSession(sessionId: string, from: string, greeters: readonly string[]): Promise<void> {
    const fromTag = ownerTag(from, sessionId);
    if (from === this.processId) {
      this.#owners.delete(fromTag);
      return;
    }
    const toTag = ownerTag(this.processId, sessionId);
    await this.call('moveSession', '', (redis) =>
      redis.ncMove(this.#ownedKey(fromTag), this.#ownedKey(toTag), fromTag, toTag),
    );
    for (const greeter of greeters) this.owns(toTag, greeter);
  }

  /** Drops that failed while Redis was away, waiting to be tried again. */
  get pendingDrops(): number {
    return this.#retries.size;
  }

  counters(): PresenceCounters {
    return { ...this.#counters, pendingDrops: this.#retries.size };
  }

  #drop(tag: string, prefix: string): Promise<number> {
    return this.call('dropSession', '', (redis) => redis.ncDrop(this.#ownedKey(tag), tag, prefix));
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setInterval(() => void this.#retry(), RETRY_MS);
    this.#retryTimer.unref();
  }

  async #retry(): Promise<void> {
    if (this.#retrying) return;
    this.#retrying = true;
    try {
      for (const [id, { tag, prefix }] of this.#retries) {
        if (this.#closed) return;
        try {
          await this.#drop(tag, prefix);
          this.#retries.delete(id);
        } catch {
          return; // Still away: the next tick tries again.
        }
      }
    } finally {
      this.#retrying = false;
      if ((this.#retries.size === 0 || this.#closed) && this.#retryTimer !== undefined) {
        clearInterval(this.#retryTimer);
        this.#retryTimer = undefined;
      }
    }
  }

  async endSubscriptions(greeter: string): Promise<void> {
    const ends: Promise<void>[] = [];
    for (const [channel, entry] of this.#channels) {
      for (const [handler, owner] of entry.handlers) {
        if (owner === greeter) ends.push(this.unsubscribe(channel, handler));
      }
    }
    await Promise.all(ends.map((end) => end.catch(() => undefined)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channels.clear();
    if (this.#retryTimer !== undefined) clearInterval(this.#retryTimer);
    this.#retryTimer = undefined;
    const connections = [this.#commands, this.#subscriber];
    this.#commands = this.#subscriber = undefined;
    for (const connection of connections) {
      const redis = await connection?.catch(() => undefined);
      if (redis === undefined) continue;
      // At once, even with Redis away: a call still going (a handler the shutdown cut) rejects with a coded error.
      redis.disconnect();
    }
  }

  /** How many subscriptions the plugin `greeter` has in this process, for tests. */
  subscriptionCount(greeter: string): number {
    let count = 0;
    for (const entry of this.#channels.values()) {
      for (const owner of entry.handlers.values()) if (owner === greeter) count++;
    }
    return count;
  }

  // --- used by RedisPresence ---

  /** Runs a command; Redis's refusals and outages become coded errors. */
  async call<T>(where: string, key: string, command: (redis: Commands) => Promise<T>): Promise<T> {
    let redis: Commands;
    try {
      redis = await this.#connection();
    } catch (err) {
      this.#counters.failures++;
      throw err;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.#commandTimeoutMs} ms`)),
        this.#commandTimeoutMs,
      );
    });
    try {
      return await Promise.race([command(redis), timeout]);
    } catch (err) {
      const failure = this.#failure(err, where, key);
      if (failure.code === 'NEKO_ERR_CLUSTER_UNREACHABLE') this.#counters.failures++;
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  }

  ownedKey(processId: string, sessionId: string): { tag: string; key: string } {
    const tag = ownerTag(processId, sessionId);
    return { tag, key: this.#ownedKey(tag) };
  }

  /** Counts a value this process published. */
  countPublished(): void {
    this.#counters.published++;
  }

  /** Notes that a local session owns entries of a plugin. */
  owns(tag: string, greeter: string): void {
    let greeters = this.#owners.get(tag);
    if (greeters === undefined) {
      greeters = new Set();
      this.#owners.set(tag, greeters);
    }
    greeters.add(greeter);
  }

  async subscribe(
    greeter: string,
    channel: string,
    shown: string,
    handler: PresenceHandler,
  ): Promise<() => Promise<void>> {
    // One subscription per call, even for the same handler twice.
    const own: PresenceHandler = (value) => handler(value);
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      this.#stale.delete(channel);
      const fresh: Channel = { handlers: new Map(), subscribed: Promise.resolve() };
      fresh.subscribed = this.#subscribeChannel(channel, shown).catch((err: unknown) => {
        if (this.#channels.get(channel) === fresh) this.#channels.delete(channel);
        throw err;
      });
      this.#channels.set(channel, fresh);
      entry = fresh;
    }
    entry.handlers.set(own, greeter);
    try {
      await entry.subscribed;
    } catch (err) {
      entry.handlers.delete(own);
      throw err;
    }
    let ended = false;
    return async () => {
      if (ended) return;
      ended = true;
      await this.unsubscribe(channel, own);
    };
  }

  async unsubscribe(channel: string, handler: PresenceHandler): Promise<void> {
    const entry = this.#channels.get(channel);
    if (!entry?.handlers.delete(handler) || entry.handlers.size > 0) return;
    this.#channels.delete(channel);
    const subscriber = await this.#subscriber?.catch(() => undefined);
    // While Redis is away the connection would subscribe to it again when it is back: it is unsubscribed then.
    await subscriber?.unsubscribe(channel).catch(() => this.#stale.add(channel));
  }

  /** After a reconnect: ends the Redis subscriptions whose last handler ended while Redis was away. */
  #unsubscribeStale(subscriber: Redis): void {
    for (const channel of this.#stale) {
      if (this.#channels.has(channel)) {
        this.#stale.delete(channel);
        continue;
      }
      subscriber.unsubscribe(channel).then(
        () => {
          if (!this.#channels.has(channel)) this.#stale.delete(channel);
        },
        () => undefined,
      );
    }
  }

  async #subscribeChannel(channel: string, shown: string): Promise<void> {
    try {
      const subscriber = await this.#subscriberConnection();
      await subscriber.subscribe(channel);
    } catch (err) {
      this.#counters.failures++;
      throw this.#failure(err, `subscribe("${shown}")`, '');
    }
  }

  #deliver(channel: string, message: string): void {
    const entry = this.#channels.get(channel);
    if (entry === undefined) return;
    for (const [handler, greeter] of [...entry.handlers]) {
      const shown = channel.slice(pluginPrefix(this.cluster, greeter).length);
      try {
        const result = handler(JSON.parse(message) as JsonValue);
        if (result instanceof Promise) {
          result.catch((err: unknown) => this.#onHandlerError?.(greeter, shown, err));
        }
      } catch (err) {
        this.#onHandlerError?.(greeter, shown, err);
      }
      this.#counters.delivered++;
    }
  }

  #ownedKey(tag: string): string {
    return `nc:${this.cluster}:owned:${tag}`;
  }

  #connection(): Promise<Commands> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#commands === undefined) {
      const connecting = connectRedis(this.#url, {
        name: `nekoconnect:${this.processId}:presence`,
        ...(this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs }),
      }).then((redis) => defineScripts(redis));
      // A failed connect is tried again by the next call.
      connecting.catch(() => {
        if (this.#commands === connecting) this.#commands = undefined;
      });
      this.#commands = connecting;
    }
    return this.#commands;
  }

  #subscriberConnection(): Promise<Redis> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#subscriber === undefined) {
      const connecting = connectRedis(this.#url, {
        name: `nekoconnect:${this.processId}:presence-sub`,
        ...(this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs }),
      }).then((redis) => {
        redis.on('message', (channel: string, message: string) => this.#deliver(channel, message));
        redis.on('ready', () => this.#unsubscribeStale(redis));
        return redis;
      });
      connecting.catch(() => {
        if (this.#subscriber === connecting) this.#subscriber = undefined;
      });
      this.#subscriber = connecting;
    }
    return this.#subscriber;
  }

  #failure(err: unknown, where: string, key: string): NekoError {
    if (err instanceof NekoError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (message.includes('WRONGTYPE')) return wrongType(where, key, err);
    if (message.includes('NEKO_NOT_INTEGER')) return notInteger(key);
    if (message.includes('NEKO_OVERFLOW')) return counterOverflow(key);
    return unreachable(this.place, err, `run presence ${where} on`);
  }
}

function closedError(): NekoError {
  return new NekoError(
    'NEKO_ERR_CLUSTER_UNREACHABLE',
    'presence: the store was closed (the server is shutting down)',
  );
}

function defineScripts(redis: Redis): Commands {
  redis.defineCommand('ncSet', { numberOfKeys: 2, lua: SET_SCRIPT });
  redis.defineCommand('ncHset', { numberOfKeys: 2, lua: HSET_SCRIPT });
  redis.defineCommand('ncSadd', { numberOfKeys: 2, lua: SADD_SCRIPT });
  redis.defineCommand('ncIncr', { numberOfKeys: 1, lua: INCR_SCRIPT });
  redis.defineCommand('ncDrop', { numberOfKeys: 1, lua: DROP_SCRIPT });
  redis.defineCommand('ncMove', { numberOfKeys: 2, lua: MOVE_SCRIPT });
  return redis as Commands;
}

/** What a stored value or field holds: its JSON, after the owner tag. */
function stored(text: string): string {
  return text.slice(text.indexOf('|') + 1);
}

/** One plugin's (and maybe one session's) view of a {@link RedisPresenceStore}. */
class RedisPresence implements Presence {
  readonly #store: RedisPresenceStore;
  readonly #greeter: string;
  readonly #prefix: string;
  readonly #sessionId: string | undefined;

  constructor(store: RedisPresenceStore, greeter: string, sessionId: string | undefined) {
    this.#store = store;
    this.#greeter = greeter;
    this.#prefix = pluginPrefix(store.cluster, greeter);
    this.#sessionId = sessionId;
  }

  async set(key: string, value: unknown, options?: PresenceSetOptions): Promise<void> {
    await this.#write(key, value, options, 'set', false);
  }

  async setnx(key: string, value: unknown, options?: PresenceSetOptions): Promise<boolean> {
    return this.#write(key, value, options, 'setnx', true);
  }

  async get<T = JsonValue>(key: string): Promise<T | undefined> {
    const full = this.#key(key);
    const text = await this.#store.call(`get("${key}")`, key, (redis) => redis.get(full));
    return text === null ? undefined : (JSON.parse(stored(text)) as T);
  }

  async del(key: string): Promise<boolean> {
    const full = this.#key(key);
    return (await this.#store.call(`del("${key}")`, key, (redis) => redis.del(full))) === 1;
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    const full = this.#key(key);
    checkTtl(ttlMs, `expire("${key}")`);
    return (await this.#store.call(`expire("${key}")`, key, (redis) => redis.pexpire(full, ttlMs))) === 1;
  }

  async incr(key: string, by = 1): Promise<number> {
    const full = this.#key(key);
    checkIncrement(by, key);
    return Number(await this.#store.call(`incr("${key}")`, key, (redis) => redis.ncIncr(full, String(by))));
  }

  async hset(key: string, field: string, value: unknown, options?: PresenceOwnerOptions): Promise<boolean> {
    return this.#hwrite(key, field, value, options, 'hset', false);
  }

  async hsetnx(key: string, field: string, value: unknown, options?: PresenceOwnerOptions): Promise<boolean> {
    return this.#hwrite(key, field, value, options, 'hsetnx', true);
  }

  async hget<T = JsonValue>(key: string, field: string): Promise<T | undefined> {
    const full = this.#key(key);
    checkName(field, 'field');
    const text = await this.#store.call(`hget("${key}")`, key, (redis) => redis.hget(full, field));
    return text === null ? undefined : (JSON.parse(stored(text)) as T);
  }

  async hdel(key: string, field: string): Promise<boolean> {
    const full = this.#key(key);
    checkName(field, 'field');
    return (await this.#store.call(`hdel("${key}")`, key, (redis) => redis.hdel(full, field))) === 1;
  }

  async hgetall<T = JsonValue>(key: string): Promise<Record<string, T>> {
    const full = this.#key(key);
    const flat = await this.#store.call(`hgetall("${key}")`, key, (redis) => redis.call('HGETALL', full));
    const all: Record<string, T> = {};
    const items = flat as string[];
    for (let i = 0; i + 1 < items.length; i += 2) {
      Object.defineProperty(all, items[i]!, {
        value: JSON.parse(stored(items[i + 1]!)) as T,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return all;
  }

  async hkeys(key: string): Promise<string[]> {
    const full = this.#key(key);
    return this.#store.call(`hkeys("${key}")`, key, (redis) => redis.hkeys(full));
  }

  async hlen(key: string): Promise<number> {
    const full = this.#key(key);
    return this.#store.call(`hlen("${key}")`, key, (redis) => redis.hlen(full));
  }

  async sadd(key: string, member: string, options?: PresenceOwnerOptions): Promise<boolean> {
    const full = this.#key(key);
    checkName(member, 'member');
    const where = `sadd("${key}")`;
    const owner = this.#owner(options?.owner, where);
    const record = owner === undefined ? '' : ownedRecord(['s', full, member]);
    const added = await this.#store.call(where, key, (redis) =>
      redis.ncSadd(full, owner?.key ?? full, member, record),
    );
    return added === 1;
  }

  async srem(key: string, member: string): Promise<boolean> {
    const full = this.#key(key);
    checkName(member, 'member');
    return (await this.#store.call(`srem("${key}")`, key, (redis) => redis.srem(full, member))) === 1;
  }

  async smembers(key: string): Promise<string[]> {
    const full = this.#key(key);
    return this.#store.call(`smembers("${key}")`, key, (redis) => redis.smembers(full));
  }

  async sismember(key: string, member: string): Promise<boolean> {
    const full = this.#key(key);
    checkName(member, 'member');
    return (
      (await this.#store.call(`sismember("${key}")`, key, (redis) => redis.sismember(full, member))) === 1
    );
  }

  async scard(key: string): Promise<number> {
    const full = this.#key(key);
    return this.#store.call(`scard("${key}")`, key, (redis) => redis.scard(full));
  }

  async publish(channel: string, value: unknown): Promise<number> {
    const full = this.#key(channel, 'channel');
    const json = encodeValue(value, `publish("${channel}")`);
    const processes = await this.#store.call(`publish("${channel}")`, '', (redis) =>
      redis.publish(full, json),
    );
    this.#store.countPublished();
    return processes;
  }

  async subscribe(channel: string, handler: PresenceHandler): Promise<() => Promise<void>> {
    const full = this.#key(channel, 'channel');
    if (typeof handler !== 'function') {
      throw new TypeError(`presence subscribe("${channel}"): the handler must be a function`);
    }
    return this.#store.subscribe(this.#greeter, full, channel, handler);
  }

  #key(key: string, what = 'key'): string {
    return this.#prefix + checkName(key, what);
  }

  /** The owning session's tag and owned-set key, or undefined for an entry nobody owns. */
  #owner(owner: unknown, where: string): { tag: string; key: string } | undefined {
    if (!checkOwner(owner, this.#sessionId, where)) return undefined;
    const owned = this.#store.ownedKey(this.#store.processId, this.#sessionId!);
    this.#store.owns(owned.tag, this.#greeter);
    return owned;
  }

  async #write(
    key: string,
    value: unknown,
    options: PresenceSetOptions | undefined,
    op: string,
    nx: boolean,
  ): Promise<boolean> {
    const full = this.#key(key);
    const where = `${op}("${key}")`;
    const json = encodeValue(value, where);
    const ttl = options?.ttlMs === undefined ? '' : String(checkTtl(options.ttlMs, where));
    const owner = this.#owner(options?.owner, where);
    const record = owner === undefined ? '' : ownedRecord(['k', full] satisfies OwnedRecord);
    const done = await this.#store.call(where, key, (redis) =>
      redis.ncSet(full, owner?.key ?? full, `${owner?.tag ?? ''}|${json}`, ttl, nx ? '1' : '', record),
    );
    return done === 1;
  }

  async #hwrite(
    key: string,
    field: string,
    value: unknown,
    options: PresenceOwnerOptions | undefined,
    op: string,
    nx: boolean,
  ): Promise<boolean> {
    const full = this.#key(key);
    checkName(field, 'field');
    const where = `${op}("${key}")`;
    const json = encodeValue(value, where);
    const owner = this.#owner(options?.owner, where);
    const record = owner === undefined ? '' : ownedRecord(['h', full, field]);
    const done = await this.#store.call(where, key, (redis) =>
      redis.ncHset(full, owner?.key ?? full, field, `${owner?.tag ?? ''}|${json}`, nx ? '1' : '', record),
    );
    return done === 1;
  }
}
