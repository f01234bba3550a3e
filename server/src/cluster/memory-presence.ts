/**
 * Presence in the memory of one process: the store of a server that is not
 * in a cluster. Same results as the Redis store for the same calls (the
 * conformance suite runs on both): values kept as JSON text, one kind of
 * entry per key, TTLs in ms, atomic claims (trivially: one thread), and
 * publish/subscribe within the process.
 *
 * Expired keys are removed when read, and by a sweep every second (an
 * unref'd timer, running only while some key has a TTL).
 */
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
  type PresenceHandler,
  type PresenceCounters,
  type PresenceOwnerOptions,
  type PresenceSetOptions,
  type PresenceStore,
} from './presence.js';

/** A stored JSON text and the session that owns it, if any. */
interface Held {
  json: string;
  owner: string | undefined;
}

type Entry =
  | { kind: 'value'; held: Held; expiresAt: number | undefined }
  | { kind: 'hash'; fields: Map<string, Held>; expiresAt: number | undefined }
  | { kind: 'set'; members: Set<string>; expiresAt: number | undefined };

export interface MemoryPresenceOptions {
  /** This process's id (owner tags). Default `'local'`. */
  processId?: string;
  /** Where a subscriber that throws or rejects is reported. Default: nowhere. */
  onHandlerError?: PresenceErrorReporter;
  /** How often expired keys are swept, in ms. Default 1000. */
  sweepIntervalMs?: number;
}

const KIND_NAMES = { value: 'a value', hash: 'a hash', set: 'a set' } as const;

/** {@link PresenceStore} in this process's memory. */
export class MemoryPresenceStore implements PresenceStore {
  readonly kind = 'memory';
  readonly processId: string;
  readonly #entries = new Map<string, Entry>();
  /** What each owning session (by owner tag) owns: owned records. */
  readonly #owned = new Map<string, Set<string>>();
  /** Subscribers by full channel name. */
  readonly #channels = new Map<string, Set<PresenceHandler>>();
  /** Each plugin's subscriptions (greeter → their ends). */
  readonly #subscriptions = new Map<string, Set<() => void>>();
  readonly #onHandlerError: PresenceErrorReporter | undefined;
  readonly #sweepIntervalMs: number;
  readonly #counters = { published: 0, delivered: 0 };
  #expiring = 0;
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: MemoryPresenceOptions = {}) {
    this.processId = options.processId ?? 'local';
    this.#onHandlerError = options.onHandlerError;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 1000;
  }

  /**
   * @param processId whose session `sessionId` is, for the entries it owns: this store's process by
   *   default (the primary's store under `--workers` names the worker's)
   */
  forPlugin(greeter: string, sessionId?: string, processId = this.processId): Presence {
    return new MemoryPresence(this, greeter, sessionId, processId);
  }

  dropSession(sessionId: string, options: DropSessionOptions = {}): Promise<void> {
    const tag = ownerTag(options.processId ?? this.processId, sessionId);
    const records = this.#owned.get(tag);
    if (records === undefined) return Promise.resolve();
    const prefix = options.greeter === undefined ? undefined : pluginPrefix('local', options.greeter);
    for (const text of records) {
      const record = JSON.parse(text) as OwnedRecord;
      if (prefix !== undefined && !record[1].startsWith(prefix)) continue;
      records.delete(text);
      this.#dropOwned(record, tag);
    }
    if (records.size === 0) this.#owned.delete(tag);
    return Promise.resolve();
  }

  /**
   * The entries a session owns pass from the tag of one process to that of
   * another (its client resumed on another worker, under `--workers`): they
   * go when the session leaves there, or when that process dies.
   */
  moveOwner(sessionId: string, fromProcessId: string, toProcessId: string): void {
    const from = ownerTag(fromProcessId, sessionId);
    const to = ownerTag(toProcessId, sessionId);
    const records = this.#owned.get(from);
    if (records === undefined || from === to) return;
    this.#owned.delete(from);
    for (const text of records) {
      const record = JSON.parse(text) as OwnedRecord;
      const entry = this.entry(record[1]);
      if (record[0] === 'k' && entry?.kind === 'value' && entry.held.owner === from) entry.held.owner = to;
      if (record[0] === 'h' && entry?.kind === 'hash') {
        const held = entry.fields.get(record[2]);
        if (held?.owner === from) held.owner = to;
      }
      this.own(to, record);
    }
  }

  endSubscriptions(greeter: string): Promise<void> {
    const ends = this.#subscriptions.get(greeter);
    if (ends !== undefined) for (const end of [...ends]) end();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const ends of [...this.#subscriptions.values()]) for (const end of [...ends]) end();
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
    return Promise.resolve();
  }

  /** How many keys are stored (expired ones not yet swept included), for tests. */
  get size(): number {
    return this.#entries.size;
  }

  counters(): PresenceCounters {
    return { ...this.#counters, failures: 0, pendingDrops: 0 };
  }

  // --- used by MemoryPresence ---

  /** Runs one call's synchronous step as a promise: a throw becomes a rejection, as on Redis. */
  run<T>(step: () => T): Promise<T> {
    try {
      return Promise.resolve(step());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** The live entry under a full key, or undefined (an expired one is removed). */
  entry(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  /** The live entry under a full key if it is of `kind`; undefined when missing. */
  typed<K extends Entry['kind']>(
    key: string,
    kind: K,
    where: string,
    shown: string,
  ): Extract<Entry, { kind: K }> | undefined {
    const entry = this.entry(key);
    if (entry === undefined) return undefined;
    if (entry.kind !== kind) throw wrongType(where, shown, new Error(`it holds ${KIND_NAMES[entry.kind]}`));
    return entry as Extract<Entry, { kind: K }>;
  }

  put(key: string, entry: Entry): void {
    const before = this.#entries.get(key);
    if (before?.expiresAt !== undefined) this.#expiring--;
    this.#entries.set(key, entry);
    if (entry.expiresAt !== undefined) this.#expiringAdded();
  }

  remove(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    if (entry.expiresAt !== undefined) this.#expiring--;
    this.#entries.delete(key);
    return true;
  }

  setExpiry(entry: Entry, expiresAt: number): void {
    if (entry.expiresAt === undefined) this.#expiringAdded();
    entry.expiresAt = expiresAt;
  }

  own(tag: string, record: OwnedRecord): void {
    let records = this.#owned.get(tag);
    if (records === undefined) {
      records = new Set();
      this.#owned.set(tag, records);
    }
    records.add(ownedRecord(record));
  }

  subscribe(greeter: string, channel: string, handler: PresenceHandler): () => Promise<void> {
    let handlers = this.#channels.get(channel);
    if (handlers === undefined) {
      handlers = new Set();
      this.#channels.set(channel, handlers);
    }
    // One subscription per call, even for the same handler twice.
    const own: PresenceHandler = (value) => handler(value);
    handlers.add(own);
    let ends = this.#subscriptions.get(greeter);
    if (ends === undefined) {
      ends = new Set();
      this.#subscriptions.set(greeter, ends);
    }
    const end = (): void => {
      const set = this.#channels.get(channel);
      if (set?.delete(own) && set.size === 0) this.#channels.delete(channel);
      const mine = this.#subscriptions.get(greeter);
      if (mine?.delete(end) && mine.size === 0) this.#subscriptions.delete(greeter);
    };
    ends.add(end);
    return () => {
      end();
      return Promise.resolve();
    };
  }

  publish(greeter: string, channel: string, shownChannel: string, json: string): number {
    this.#counters.published++;
    const handlers = this.#channels.get(channel);
    if (handlers === undefined || this.#closed) return 0;
    // Delivered after publish resolves, as from Redis; each subscriber gets its own copy.
    for (const handler of [...handlers]) {
      queueMicrotask(() => {
        if (!handlers.has(handler)) return;
        this.#counters.delivered++;
        try {
          const result = handler(JSON.parse(json) as JsonValue);
          if (result instanceof Promise) {
            result.catch((err: unknown) => this.#onHandlerError?.(greeter, shownChannel, err));
          }
        } catch (err) {
          this.#onHandlerError?.(greeter, shownChannel, err);
        }
      });
    }
    return 1;
  }

  /** How many subscriptions the plugin `greeter` has, for tests. */
  subscriptionCount(greeter: string): number {
    return this.#subscriptions.get(greeter)?.size ?? 0;
  }

  #dropOwned(record: OwnedRecord, tag: string): void {
    const entry = this.entry(record[1]);
    if (entry === undefined) return;
    if (record[0] === 'k') {
      if (entry.kind === 'value' && entry.held.owner === tag) this.remove(record[1]);
    } else if (record[0] === 'h') {
      if (entry.kind === 'hash' && entry.fields.get(record[2])?.owner === tag) {
        entry.fields.delete(record[2]);
        if (entry.fields.size === 0) this.remove(record[1]);
      }
    } else if (entry.kind === 'set' && entry.members.delete(record[2]) && entry.members.size === 0) {
      this.remove(record[1]);
    }
  }

  #expiringAdded(): void {
    this.#expiring++;
    if (this.#sweep !== undefined || this.#closed) return;
    this.#sweep = setInterval(() => this.#sweepExpired(), this.#sweepIntervalMs);
    this.#sweep.unref();
  }

  #sweepExpired(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.remove(key);
    }
    if (this.#expiring <= 0 && this.#sweep !== undefined) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }
}

/** One plugin's (and maybe one session's) view of a {@link MemoryPresenceStore}. */
class MemoryPresence implements Presence {
  readonly #store: MemoryPresenceStore;
  readonly #greeter: string;
  readonly #prefix: string;
  readonly #sessionId: string | undefined;
  readonly #processId: string;

  constructor(store: MemoryPresenceStore, greeter: string, sessionId: string | undefined, processId: string) {
    this.#store = store;
    this.#greeter = greeter;
    this.#prefix = pluginPrefix('local', greeter);
    this.#sessionId = sessionId;
    this.#processId = processId;
  }

  set(key: string, value: unknown, options?: PresenceSetOptions): Promise<void> {
    return this.#store.run(() => {
      this.#write(key, value, options, 'set', false);
    });
  }

  setnx(key: string, value: unknown, options?: PresenceSetOptions): Promise<boolean> {
    return this.#store.run(() => this.#write(key, value, options, 'setnx', true));
  }

  get<T = JsonValue>(key: string): Promise<T | undefined> {
    return this.#store.run(() => {
      const entry = this.#store.typed(this.#key(key), 'value', `get("${key}")`, key);
      return entry === undefined ? undefined : (JSON.parse(entry.held.json) as T);
    });
  }

  del(key: string): Promise<boolean> {
    return this.#store.run(
      () => this.#store.entry(this.#key(key)) !== undefined && this.#store.remove(this.#key(key)),
    );
  }

  expire(key: string, ttlMs: number): Promise<boolean> {
    return this.#store.run(() => {
      const full = this.#key(key);
      checkTtl(ttlMs, `expire("${key}")`);
      const entry = this.#store.entry(full);
      if (entry === undefined) return false;
      this.#store.setExpiry(entry, Date.now() + ttlMs);
      return true;
    });
  }

  incr(key: string, by = 1): Promise<number> {
    return this.#store.run(() => {
      const full = this.#key(key);
      checkIncrement(by, key);
      const entry = this.#store.typed(full, 'value', `incr("${key}")`, key);
      let now = 0;
      if (entry !== undefined) {
        const value: unknown = JSON.parse(entry.held.json);
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw notInteger(key);
        now = value;
      }
      const next = now + by;
      if (!Number.isSafeInteger(next)) throw counterOverflow(key);
      const held = { json: JSON.stringify(next), owner: undefined };
      if (entry === undefined) this.#store.put(full, { kind: 'value', held, expiresAt: undefined });
      else entry.held = held;
      return next;
    });
  }

  hset(key: string, field: string, value: unknown, options?: PresenceOwnerOptions): Promise<boolean> {
    return this.#store.run(() => this.#hwrite(key, field, value, options, 'hset', false));
  }

  hsetnx(key: string, field: string, value: unknown, options?: PresenceOwnerOptions): Promise<boolean> {
    return this.#store.run(() => this.#hwrite(key, field, value, options, 'hsetnx', true));
  }

  hget<T = JsonValue>(key: string, field: string): Promise<T | undefined> {
    return this.#store.run(() => {
      const full = this.#key(key);
      checkName(field, 'field');
      const held = this.#store.typed(full, 'hash', `hget("${key}")`, key)?.fields.get(field);
      return held === undefined ? undefined : (JSON.parse(held.json) as T);
    });
  }

  hdel(key: string, field: string): Promise<boolean> {
    return this.#store.run(() => {
      const full = this.#key(key);
      checkName(field, 'field');
      const entry = this.#store.typed(full, 'hash', `hdel("${key}")`, key);
      if (!entry?.fields.delete(field)) return false;
      if (entry.fields.size === 0) this.#store.remove(full);
      return true;
    });
  }

  hgetall<T = JsonValue>(key: string): Promise<Record<string, T>> {
    return this.#store.run(() => {
      const entry = this.#store.typed(this.#key(key), 'hash', `hgetall("${key}")`, key);
      const all: Record<string, T> = {};
      for (const [field, held] of entry?.fields ?? []) {
        Object.defineProperty(all, field, {
          value: JSON.parse(held.json) as T,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return all;
    });
  }

  hkeys(key: string): Promise<string[]> {
    return this.#store.run(() => [
      ...(this.#store.typed(this.#key(key), 'hash', `hkeys("${key}")`, key)?.fields.keys() ?? []),
    ]);
  }

  hlen(key: string): Promise<number> {
    return this.#store.run(
      () => this.#store.typed(this.#key(key), 'hash', `hlen("${key}")`, key)?.fields.size ?? 0,
    );
  }

  sadd(key: string, member: string, options?: PresenceOwnerOptions): Promise<boolean> {
    return this.#store.run(() => {
      const full = this.#key(key);
      checkName(member, 'member');
      const owned = checkOwner(options?.owner, this.#sessionId, `sadd("${key}")`);
      let entry = this.#store.typed(full, 'set', `sadd("${key}")`, key);
      if (entry === undefined) {
        entry = { kind: 'set', members: new Set(), expiresAt: undefined };
        this.#store.put(full, entry);
      }
      const added = !entry.members.has(member);
      entry.members.add(member);
      if (owned) this.#store.own(this.#tag(), ['s', full, member]);
      return added;
    });
  }

  srem(key: string, member: string): Promise<boolean> {
    return this.#store.run(() => {
      const full = this.#key(key);
      checkName(member, 'member');
      const entry = this.#store.typed(full, 'set', `srem("${key}")`, key);
      if (!entry?.members.delete(member)) return false;
      if (entry.members.size === 0) this.#store.remove(full);
      return true;
    });
  }

  smembers(key: string): Promise<string[]> {
    return this.#store.run(() => [
      ...(this.#store.typed(this.#key(key), 'set', `smembers("${key}")`, key)?.members ?? []),
    ]);
  }

  sismember(key: string, member: string): Promise<boolean> {
    return this.#store.run(() => {
      const full = this.#key(key);
      checkName(member, 'member');
      return this.#store.typed(full, 'set', `sismember("${key}")`, key)?.members.has(member) ?? false;
    });
  }

  scard(key: string): Promise<number> {
    return this.#store.run(
      () => this.#store.typed(this.#key(key), 'set', `scard("${key}")`, key)?.members.size ?? 0,
    );
  }

  publish(channel: string, value: unknown): Promise<number> {
    return this.#store.run(() => {
      const full = this.#key(channel, 'channel');
      const json = encodeValue(value, `publish("${channel}")`);
      return this.#store.publish(this.#greeter, full, channel, json);
    });
  }

  subscribe(channel: string, handler: PresenceHandler): Promise<() => Promise<void>> {
    return this.#store.run(() => {
      const full = this.#key(channel, 'channel');
      if (typeof handler !== 'function') {
        throw new TypeError(`presence subscribe("${channel}"): the handler must be a function`);
      }
      return this.#store.subscribe(this.#greeter, full, handler);
    });
  }

  #key(key: string, what = 'key'): string {
    return this.#prefix + checkName(key, what);
  }

  #tag(): string {
    return ownerTag(this.#processId, this.#sessionId!);
  }

  #write(
    key: string,
    value: unknown,
    options: PresenceSetOptions | undefined,
    op: string,
    nx: boolean,
  ): boolean {
    const full = this.#key(key);
    const where = `${op}("${key}")`;
    const json = encodeValue(value, where);
    const ttlMs = options?.ttlMs === undefined ? undefined : checkTtl(options.ttlMs, where);
    const owned = checkOwner(options?.owner, this.#sessionId, where);
    if (nx && this.#store.entry(full) !== undefined) return false;
    const owner = owned ? this.#tag() : undefined;
    this.#store.put(full, {
      kind: 'value',
      held: { json, owner },
      expiresAt: ttlMs === undefined ? undefined : Date.now() + ttlMs,
    });
    if (owner !== undefined) this.#store.own(owner, ['k', full]);
    return true;
  }

  #hwrite(
    key: string,
    field: string,
    value: unknown,
    options: PresenceOwnerOptions | undefined,
    op: string,
    nx: boolean,
  ): boolean {
    const full = this.#key(key);
    checkName(field, 'field');
    const where = `${op}("${key}")`;
    const json = encodeValue(value, where);
    const owned = checkOwner(options?.owner, this.#sessionId, where);
    let entry = this.#store.typed(full, 'hash', where, key);
    if (entry === undefined) {
      entry = { kind: 'hash', fields: new Map(), expiresAt: undefined };
      this.#store.put(full, entry);
    }
    const fresh = !entry.fields.has(field);
    if (nx && !fresh) return false;
    const owner = owned ? this.#tag() : undefined;
    entry.fields.set(field, { json, owner });
    if (owner !== undefined) this.#store.own(owner, ['h', full, field]);
    return fresh;
  }
}
