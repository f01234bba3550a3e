/**
 * Presence of a worker under `--workers` without Redis: every call runs on
 * the primary's {@link MemoryPresenceStore} (through its hub, over IPC), so
 * the workers share one presence with the same results as one process's
 * (the conformance suite runs on it). Coded errors come back with their
 * code, message and hint; published values reach the subscribers of every
 * worker, this one's delivered here.
 *
 * Names and values are checked here, before they cross the pipe, as the
 * other stores check them.
 */
import {
  checkName,
  encodeValue,
  type DropSessionOptions,
  type JsonValue,
  type Presence,
  type PresenceCounters,
  type PresenceErrorReporter,
  type PresenceHandler,
  type PresenceOwnerOptions,
  type PresenceSetOptions,
  type PresenceStore,
} from './presence.js';
import { IpcChannel, type IpcEndpoint } from './ipc-channel.js';

export interface IpcPresenceOptions {
  /** The primary's side of the pipe: `ipcEndpoint(process)` in a worker. */
  endpoint: IpcEndpoint;
  /** This process's id (the bus's): what the entries its sessions own are tagged with. */
  processId: string;
  /** How long a call waits for the primary, in ms. Default 10000. */
  callTimeoutMs?: number;
  onHandlerError?: PresenceErrorReporter;
}

interface Message {
  p: string;
  g: string;
  c: string;
  j: string;
}

/** {@link PresenceStore} on the primary, reached over IPC. */
export class IpcPresenceStore implements PresenceStore {
  readonly kind = 'ipc';
  readonly processId: string;
  readonly #channel: IpcChannel;
  readonly #timeout: number;
  readonly #onHandlerError: PresenceErrorReporter | undefined;
  /** `<greeter>\n<channel>` → this process's subscribers. */
  readonly #handlers = new Map<string, Set<PresenceHandler>>();
  readonly #counters = { published: 0, delivered: 0, failures: 0 };
  #closed = false;

  constructor(options: IpcPresenceOptions) {
    this.processId = options.processId;
    this.#timeout = options.callTimeoutMs ?? 10_000;
    this.#onHandlerError = options.onHandlerError;
    this.#channel = new IpcChannel(options.endpoint, {
      peer: 'the primary process',
      onPush: (kind, body) => {
        if (kind === 'presence.message') this.#deliver(body as Message);
      },
    });
  }

  forPlugin(greeter: string, sessionId?: string): Presence {
    return new IpcPresence(this, greeter, sessionId);
  }

  async dropSession(sessionId: string, options: DropSessionOptions = {}): Promise<void> {
    await this.call('presence.dropSession', {
      s: sessionId,
      ...(options.greeter === undefined ? {} : { g: options.greeter }),
      ...(options.processId === undefined ? {} : { o: options.processId }),
    });
  }

  /** A session moved to this worker from another (a resume): what it owns in presence passes to it here. */
  async moveSession(sessionId: string, from: string): Promise<void> {
    // The worker it left keeps nothing of it: the primary's store holds every entry.
    if (from === this.processId) return;
    await this.call('presence.moveSession', { s: sessionId, o: from });
  }

  async endSubscriptions(greeter: string): Promise<void> {
    for (const key of [...this.#handlers.keys()]) {
      if (key.slice(0, key.indexOf('\n')) === greeter) this.#handlers.delete(key);
    }
    if (!this.#closed) await this.call('presence.endSubscriptions', { g: greeter });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#handlers.clear();
    try {
      await this.call('presence.endSubscriptions', {});
    } catch {
      // The primary is gone, and its subscriptions with it.
    }
    this.#closed = true;
    this.#channel.close('the server shut down');
  }

  counters(): PresenceCounters {
    return { ...this.#counters, pendingDrops: 0 };
  }

  // --- used by IpcPresence ---

  /** A call on the primary; a failure to reach it is counted. */
  async call<T>(kind: string, body: object): Promise<T> {
    try {
      return await this.#channel.request<T>(kind, { ...body, p: this.processId }, this.#timeout);
    } catch (err) {
      if ((err as { code?: string }).code === 'NEKO_ERR_CLUSTER_UNREACHABLE') this.#counters.failures++;
      throw err;
    }
  }

  async publish(greeter: string, channel: string, json: string): Promise<number> {
    const n = await this.call<number>('presence.publish', { g: greeter, c: channel, j: json });
    this.#counters.published++;
    return n;
  }

  async subscribe(greeter: string, channel: string, handler: PresenceHandler): Promise<() => Promise<void>> {
    const key = `${greeter}\n${channel}`;
    let handlers = this.#handlers.get(key);
    if (handlers === undefined) {
      handlers = new Set();
      this.#handlers.set(key, handlers);
      await this.call('presence.subscribe', { g: greeter, c: channel });
    }
    // One subscription per call, even for the same handler twice.
    const own: PresenceHandler = (value) => handler(value);
    handlers.add(own);
    return async () => {
      const set = this.#handlers.get(key);
      if (!set?.delete(own) || set.size > 0) return;
      this.#handlers.delete(key);
      if (!this.#closed) await this.call('presence.unsubscribe', { g: greeter, c: channel });
    };
  }

  #deliver(message: Message): void {
    if (message.p !== this.processId) return;
    const handlers = this.#handlers.get(`${message.g}\n${message.c}`);
    if (handlers === undefined) return;
    for (const handler of [...handlers]) {
      if (!handlers.has(handler)) continue;
      this.#counters.delivered++;
      try {
        const result = handler(JSON.parse(message.j) as JsonValue);
        if (result instanceof Promise) {
          result.catch((err: unknown) => this.#onHandlerError?.(message.g, message.c, err));
        }
      } catch (err) {
        this.#onHandlerError?.(message.g, message.c, err);
      }
    }
  }
}

/** One plugin's (and maybe one session's) view of an {@link IpcPresenceStore}. */
class IpcPresence implements Presence {
  readonly #store: IpcPresenceStore;
  readonly #greeter: string;
  readonly #sessionId: string | undefined;

  constructor(store: IpcPresenceStore, greeter: string, sessionId: string | undefined) {
    this.#store = store;
    this.#greeter = greeter;
    this.#sessionId = sessionId;
  }

  set(key: string, value: unknown, options?: PresenceSetOptions): Promise<void> {
    return this.#write('set', key, value, options);
  }

  setnx(key: string, value: unknown, options?: PresenceSetOptions): Promise<boolean> {
    return this.#write('setnx', key, value, options);
  }

  get<T = JsonValue>(key: string): Promise<T | undefined> {
    return this.#call('get', key);
  }

  del(key: string): Promise<boolean> {
    return this.#call('del', key);
  }

  expire(key: string, ttlMs: number): Promise<boolean> {
    return this.#call('expire', key, ttlMs);
  }

  incr(key: string, by?: number): Promise<number> {
    return by === undefined ? this.#call('incr', key) : this.#call('incr', key, by);
  }

  hset(key: string, field: string, value: unknown, options?: PresenceOwnerOptions): Promise<boolean> {
    return this.#hwrite('hset', key, field, value, options);
  }

  hsetnx(key: string, field: string, value: unknown, options?: PresenceOwnerOptions): Promise<boolean> {
    return this.#hwrite('hsetnx', key, field, value, options);
  }

  hget<T = JsonValue>(key: string, field: string): Promise<T | undefined> {
    return this.#call('hget', key, field);
  }

  hdel(key: string, field: string): Promise<boolean> {
    return this.#call('hdel', key, field);
  }

  async hgetall<T = JsonValue>(key: string): Promise<Record<string, T>> {
    const all = await this.#call<Record<string, T>>('hgetall', key);
    // Rebuilt with own properties, so that a field named __proto__ stays a field.
    const copy: Record<string, T> = {};
    for (const field of Object.keys(all)) {
      Object.defineProperty(copy, field, {
        value: all[field],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }

  hkeys(key: string): Promise<string[]> {
    return this.#call('hkeys', key);
  }

  hlen(key: string): Promise<number> {
    return this.#call('hlen', key);
  }

  sadd(key: string, member: string, options?: PresenceOwnerOptions): Promise<boolean> {
    return this.#call('sadd', key, member, ...ownerOptions(options));
  }

  srem(key: string, member: string): Promise<boolean> {
    return this.#call('srem', key, member);
  }

  smembers(key: string): Promise<string[]> {
    return this.#call('smembers', key);
  }

  sismember(key: string, member: string): Promise<boolean> {
    return this.#call('sismember', key, member);
  }

  scard(key: string): Promise<number> {
    return this.#call('scard', key);
  }

  async publish(channel: string, value: unknown): Promise<number> {
    checkName(channel, 'channel');
    const json = encodeValue(value, `publish("${channel}")`);
    return this.#store.publish(this.#greeter, channel, json);
  }

  async subscribe(channel: string, handler: PresenceHandler): Promise<() => Promise<void>> {
    checkName(channel, 'channel');
    if (typeof handler !== 'function') {
      throw new TypeError(`presence subscribe("${channel}"): the handler must be a function`);
    }
    return this.#store.subscribe(this.#greeter, channel, handler);
  }

  /** A call on the primary's store, as this plugin (and session). */
  #call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.#store.call<T>('presence.call', {
      m: method,
      g: this.#greeter,
      ...(this.#sessionId === undefined ? {} : { s: this.#sessionId }),
      a: args,
    });
  }

  /** A value write: the key and value are checked here (a value that is not JSON never crosses the pipe). */
  async #write<T>(
    method: string,
    key: string,
    value: unknown,
    options: PresenceSetOptions | undefined,
  ): Promise<T> {
    checkName(key, 'key');
    const json = encodeValue(value, `${method}("${key}")`);
    const given =
      options === undefined
        ? []
        : [
            {
              ...(options.ttlMs === undefined ? {} : { ttlMs: cloneable(options.ttlMs) }),
              ...(options.owner === undefined ? {} : { owner: cloneable(options.owner) }),
            },
          ];
    return this.#call<T>(method, key, JSON.parse(json), ...given);
  }

  async #hwrite(
    method: string,
    key: string,
    field: string,
    value: unknown,
    options: PresenceOwnerOptions | undefined,
  ): Promise<boolean> {
    checkName(key, 'key');
    checkName(field, 'field');
    const json = encodeValue(value, `${method}("${key}")`);
    return this.#call<boolean>(method, key, field, JSON.parse(json), ...ownerOptions(options));
  }
}

/** The owner option as it can cross the pipe. */
function ownerOptions(options: PresenceOwnerOptions | undefined): object[] {
  return options?.owner === undefined ? [] : [{ owner: cloneable(options.owner) }];
}

/** A value the primary checks: what cannot cross the pipe (a function) goes as its description, still refused there. */
function cloneable(value: unknown): unknown {
  return typeof value === 'function' || typeof value === 'symbol' ? String(value) : value;
}
