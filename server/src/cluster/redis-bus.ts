/**
 * The cluster bus on Redis: what makes the processes of a cluster, meeting on one
 * Redis server, deliver broadcasts, direct messages and group broadcasts to
 * each other's sessions (docs/plugins.md, "In a cluster";
 * scale-out.md, "Bus rules").
 *
 * Every key and channel starts with `nc:<cluster name>:`:
 * - `proc:<process id>`: the heartbeat of a process (hostname, pid,
 *   startedAt), with a TTL; renewed every third of it;
 * - `procs`: hash, process id → the same facts, for every process known;
 * - `sessions`: hash, session id → the id of the process that holds it;
 * - `pgreeters:<process id>`: the greeters that process's sessions joined;
 *   `psess:<process id>:<greeter>`: its sessions of that plugin;
 * - `group:<greeter> <group>`: sorted set of a group's members, scored by
 *   `gseq` (a counter) so that they keep the order they were added in;
 *   `sgroups:<session id>`: the `<greeter> <group>` pairs of a session;
 * - `sweep:<process id>`: the lock of the one process that sweeps a dead one;
 * - `token:<sha256 of a resume token, hex>`: `<process id> <session id>` of
 *   the session it resumes (the token itself is never stored); once its
 *   process died, kept an hour (the longest grace period) so that a resume
 *   with it is refused as such; `ptokens:<process id>`: the hashes of that
 *   process's tokens;
 * - channel `bc:<greeter>`: broadcasts and group broadcasts of a plugin;
 *   channel `to:<process id>`: messages for one process (direct messages,
 *   group changes, their acknowledgements).
 *
 * A message is a JSON header, a line feed, then the packet's bytes as they are.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { Redis } from 'ioredis';
import { NekoError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import {
  busClock as clock,
  copyBusCounters,
  newBusCounters,
  recordBusLatency,
  type Bus,
  type BusCounters,
  type BusLocal,
  type BusStatus,
  type Delivery,
  type RemoteResume,
} from './bus.js';
import { connectRedis, redisPlace, unreachable, type RedisPlace } from './redis.js';

export interface BusOptions {
  redis: string;
  name: string;
  heartbeatTtlMs: number;
  sendToTimeoutMs: number;
  logger: Logger;
  /** Default: 16 random hex characters. */
  processId?: string;
}

interface LocalSession {
  readonly greeters: Set<string>;
  /** `<greeter> <group>` pairs. */
  readonly groups: Set<string>;
}

interface Header {
  k: 'bc' | 'send' | 'group' | 'resume' | 'ack';
  /** The origin process. */
  o: string;
  g?: string;
  op?: number;
  x?: string[];
  n?: string;
  s?: string;
  a?: 'add' | 'remove';
  /** Request id, for acknowledgements. */
  i?: number;
  r?: Delivery | boolean;
  /** When it was published, ms on the origin's clock (performance.timeOrigin + now). */
  t?: number;
}

interface Pending {
  /** `data`: the bytes an acknowledgement carries (a resumed session's package). */
  resolve(result: Delivery | boolean | undefined, data?: Buffer): void;
  timer: NodeJS.Timeout;
}

/** What a request to another process came to: its acknowledgement, none in time, or nobody listening on its channel. */
type Answer = { result: Delivery | boolean | undefined; data: Buffer } | 'unheard';

const NL = Buffer.from('\n');
const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

const GROUP_ADD = `
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], 'NX', seq, ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1`;

const HDEL_IF = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`;

function toBuffer(data: Uint8Array | string): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * One process's part of the cluster bus. {@link start} connects (two Redis
 * connections: one for commands and publishing, one subscribed), writes the
 * heartbeat and starts the sweep; {@link close} removes this process's
 * entries and disconnects.
 */
export class RedisBus implements Bus {
  readonly name: string;
  readonly processId: string;
  readonly hostname = osHostname();
  /** The Redis URL with its password as `***`. */
  readonly redis: string;
  readonly via: string;
  readonly #url: string;
  readonly #place: RedisPlace;
  readonly #ttl: number;
  readonly #sendToTimeout: number;
  readonly #logger: Logger;
  readonly #prefix: string;
  readonly #local = new Map<string, LocalSession>();
  /** This process's resume tokens: sha256 (hex) → session id. */
  readonly #tokens = new Map<string, string>();
  readonly #pending = new Map<number, Pending>();
  /** Redis writes that failed while Redis was away, run again when it is back. */
  readonly #retries: (() => Promise<unknown>)[] = [];
  readonly #counters: BusCounters = newBusCounters();
  readonly #startedAt = Date.now();
  #handler: BusLocal | undefined;
  #cmd: Redis | undefined;
  #sub: Redis | undefined;
  #nextRequest = 1;
  #heartbeat: NodeJS.Timeout | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #downSince: number | undefined;
  #upSince = Date.now();
  #closed = false;
  #sweeping = false;

  constructor(options: BusOptions) {
    this.#url = options.redis;
    this.#place = redisPlace(options.redis);
    this.redis = this.#place.shown;
    this.via = `Redis at ${this.#place.host}:${this.#place.port}`;
    this.name = options.name;
    this.#ttl = options.heartbeatTtlMs;
    this.#sendToTimeout = options.sendToTimeoutMs;
    this.#logger = options.logger;
    this.processId = options.processId ?? randomBytes(8).toString('hex');
    this.#prefix = `nc:${options.name}:`;
  }

  /** Where the bus delivers what other processes send (the server's sessions). */
  setLocal(local: BusLocal): void {
    this.#handler = local;
  }

  /**
   * Connects, subscribes, registers this process and starts its heartbeat
   * and the sweep of dead processes.
   * @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` when Redis cannot be reached
   */
  async start(): Promise<void> {
    const cmd = await connectRedis(this.#url, { name: `nekoconnect:${this.processId}:bus` });
    let sub: Redis;
    try {
      sub = await connectRedis(this.#url, { name: `nekoconnect:${this.processId}:sub` });
    } catch (err) {
      cmd.disconnect();
      throw err;
    }
    this.#cmd = cmd;
    this.#sub = sub;
    sub.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) =>
      this.#onMessage(message),
    );
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.#onMessage(message));
    try {
      await sub.psubscribe(`${this.#prefix}bc:*`);
      await sub.subscribe(this.#channelOf(this.processId));
      await this.#beat();
    } catch (err) {
      cmd.disconnect();
      sub.disconnect();
      throw unreachable(this.#place, err, 'subscribe on');
    }
    for (const [connection, what] of [
      [cmd, 'commands'],
      [sub, 'subscriptions'],
    ] as const) {
      let ready = true;
      connection.on('close', () => {
        if (this.#closed) return;
        ready = false;
        this.#down(new Error(`the connection for ${what} closed`), 'stay connected to');
      });
      connection.on('ready', () => {
        if (ready || this.#closed) return;
        ready = true;
        this.#counters.reconnects++;
        void this.#back();
      });
    }
    this.#heartbeat = setInterval(
      () => void this.#beat().catch((err) => this.#down(err, 'renew the heartbeat on')),
      Math.max(100, Math.floor(this.#ttl / 3)),
    );
    this.#heartbeat.unref();
    this.#sweep = setInterval(() => void this.#checkProcesses(), Math.max(100, Math.floor(this.#ttl / 2)));
    this.#sweep.unref();
    this.#logger.info(
      `cluster ${this.name}: process ${this.processId} on ${this.hostname} joined through Redis at ${this.#place.host}:${this.#place.port}`,
    );
  }

  /** Whether Redis answers now, and since when. */
  status(): BusStatus {
    return this.#downSince === undefined
      ? { reachable: true, since: this.#upSince }
      : { reachable: false, since: this.#downSince };
  }

  /** A copy of the counters. */
  counters(): BusCounters {
    return copyBusCounters(this.#counters);
  }

  // --- what the plugin hosts call ---

  /** A session of this process joined a plugin (its first packet to it): routes messages to it. */
  async joined(greeter: string, sessionId: string): Promise<void> {
    let session = this.#local.get(sessionId);
    if (!session) {
      session = { greeters: new Set(), groups: new Set() };
      this.#local.set(sessionId, session);
    }
    session.greeters.add(greeter);
    await this.#write('record a session in', (m) => this.#registerSession(m, sessionId, greeter));
  }

  /** A session of this process left a plugin: it leaves the plugin's groups, and the map once it left every plugin. */
  async left(greeter: string, sessionId: string): Promise<void> {
    const session = this.#local.get(sessionId);
    if (!session) return;
    session.greeters.delete(greeter);
    const groups = [...session.groups].filter((pair) => pair.slice(0, pair.indexOf(' ')) === greeter);
    for (const pair of groups) session.groups.delete(pair);
    const last = session.greeters.size === 0;
    if (last) this.#local.delete(sessionId);
    const me = this.processId;
    const p = this.#prefix;
    const forget = (): Promise<unknown> => {
      const m = this.#client().multi();
      m.srem(`${p}psess:${me}:${greeter}`, sessionId);
      for (const pair of groups) {
        m.zrem(`${p}group:${pair}`, sessionId);
        m.srem(`${p}sgroups:${sessionId}`, pair);
      }
      if (last) {
        m.eval(HDEL_IF, 1, `${p}sessions`, sessionId, me);
        m.del(`${p}sgroups:${sessionId}`);
      }
      return execOrThrow(m);
    };
    await this.#remove('remove a session from', forget);
  }

  /**
   * Publishes a broadcast (or a group broadcast) for the other processes,
   * after the local delivery. Never throws: while Redis is away it is
   * counted and logged once per outage.
   */
  broadcast(
    greeter: string,
    op: number,
    data: Uint8Array | string,
    except: ReadonlySet<string>,
    group?: string,
  ): void {
    const header: Header = { k: 'bc', o: this.processId, g: greeter, op, t: clock() };
    if (except.size > 0) header.x = [...except];
    if (group !== undefined) header.n = group;
    this.#publish(`${this.#prefix}bc:${greeter}`, header, toBuffer(data));
  }

  /**
   * A direct message for a session that is not one of this process's: sent
   * to the process that holds it, which acknowledges.
   * @returns `'gone'` when no process holds it, or the owner did not answer in time
   * @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` while Redis is away
   */
  async sendTo(greeter: string, sessionId: string, op: number, data: Uint8Array | string): Promise<Delivery> {
    const owner = await this.#ownerOf(sessionId, 'route a message through');
    if (owner === undefined || owner === this.processId) return 'gone';
    const result = await this.#request(
      owner,
      { k: 'send', o: this.processId, g: greeter, s: sessionId, op },
      toBuffer(data),
    );
    return result === 'delivered' || result === 'queued' ? result : 'gone';
  }

  /** A session of this process was put in a group: recorded in Redis in the order added. */
  async groupJoined(greeter: string, group: string, sessionId: string): Promise<void> {
    const pair = `${greeter} ${group}`;
    this.#local.get(sessionId)?.groups.add(pair);
    await this.#write('record a group member in', (m) => this.#registerMember(m, pair, sessionId));
  }

  /** A session of this process was taken out of a group. @returns whether Redis had it in the group */
  async groupLeft(greeter: string, group: string, sessionId: string): Promise<boolean> {
    const pair = `${greeter} ${group}`;
    this.#local.get(sessionId)?.groups.delete(pair);
    const p = this.#prefix;
    try {
      const removed = await this.#client().zrem(`${p}group:${pair}`, sessionId);
      await this.#client().srem(`${p}sgroups:${sessionId}`, pair);
      return removed > 0;
    } catch (err) {
      this.#retries.push(() => this.#client().zrem(`${p}group:${pair}`, sessionId));
      this.#down(err, 'remove a group member from');
      return true;
    }
  }

  /**
   * A group change for a session this process does not hold: done by the
   * process that holds it.
   * @returns `add`: whether the session is in the group now (false when no
   *   process holds it); `remove`: whether it was in it
   * @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` while Redis is away
   */
  async groupRemote(
    greeter: string,
    action: 'add' | 'remove',
    group: string,
    sessionId: string,
  ): Promise<boolean> {
    const owner = await this.#ownerOf(sessionId, 'change a group in');
    if (owner !== undefined && owner !== this.processId) {
      const result = await this.#request(owner, {
        k: 'group',
        o: this.processId,
        g: greeter,
        a: action,
        n: group,
        s: sessionId,
      });
      if (typeof result === 'boolean') return result;
    }
    if (action === 'add') return false;
    // No process holds it (any more): what is left of it in the group goes.
    try {
      return (await this.#client().zrem(`${this.#prefix}group:${greeter} ${group}`, sessionId)) > 0;
    } catch (err) {
      throw this.#down(err, 'change a group in');
    }
  }

  /**
   * The members of a group across the cluster, in the order added.
   * @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` while Redis is away
   */
  async groupMembers(greeter: string, group: string): Promise<string[]> {
    try {
      return await this.#client().zrange(`${this.#prefix}group:${greeter} ${group}`, 0, -1);
    } catch (err) {
      throw this.#down(err, 'list a group in');
    }
  }

  /** A resumable session of this process got a token: its hash is recorded, naming this process. */
  async tokenIssued(token: string, sessionId: string): Promise<void> {
    const hash = hashToken(token);
    this.#tokens.set(hash, sessionId);
    await this.#write('record a resume token in', (m) => this.#registerToken(m, hash, sessionId));
  }

  /** A token of this process stopped working: its hash goes. */
  async tokenDropped(token: string): Promise<void> {
    const hash = hashToken(token);
    if (!this.#tokens.delete(hash)) return;
    const p = this.#prefix;
    await this.#remove('remove a resume token from', () =>
      execOrThrow(
        this.#client().multi().del(`${p}token:${hash}`).srem(`${p}ptokens:${this.processId}`, hash),
      ),
    );
  }

  /**
   * A token this process does not know: the process the map names for it
   * is asked to hand its session over. The token is taken out of the map
   * whatever happens (a token works once).
   * @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` while Redis is away
   */
  async resumeRemote(token: string): Promise<RemoteResume> {
    const hash = hashToken(token);
    const p = this.#prefix;
    let entry: string | null;
    let alive: number;
    let facts: string | null;
    try {
      const cmd = this.#client();
      // A token works once: it leaves the record whatever comes of the resume.
      entry = await cmd.getdel(`${p}token:${hash}`);
      if (entry === null) return { outcome: 'unknown' };
      const holder = entry.slice(0, entry.indexOf(' '));
      [alive, facts] = await Promise.all([cmd.exists(`${p}proc:${holder}`), cmd.hget(`${p}procs`, holder)]);
      await cmd.srem(`${p}ptokens:${holder}`, hash);
    } catch (err) {
      throw this.#down(err, 'look for a resumed session in');
    }
    const processId = entry.slice(0, entry.indexOf(' '));
    const hostname = parseHostname(facts ?? undefined);
    const gone: RemoteResume = {
      outcome: 'holder-gone',
      processId,
      ...(hostname === undefined ? {} : { hostname }),
    };
    if (processId === this.processId) return { outcome: 'unknown' };
    // Asked even when its heartbeat is missing (Redis may have restarted empty a moment ago): a process
    // that listens on its channel is alive. Nobody listening, twice: it is dead, known without a timeout.
    for (let attempt = 1; ; attempt++) {
      const answer = await this.#ask(
        processId,
        { k: 'resume', o: this.processId },
        Buffer.from(token, 'latin1'),
        true,
      );
      if (answer !== 'unheard') {
        if (answer.result === true) return { outcome: 'moved', handover: answer.data, processId };
        // No answer in time from a process without a heartbeat: frozen or dying, taken for dead.
        return answer.result === undefined && !alive ? gone : { outcome: 'kept', processId };
      }
      if (attempt === UNHEARD_TRIES) return gone;
      // Its subscriber may be connecting again after an outage: ask once more, a moment later.
      await new Promise((resolve) => setTimeout(resolve, UNHEARD_PAUSE_MS));
    }
  }

  /**
   * Leaves the cluster (at shutdown, once this process's sessions have
   * left): removes this process's entries from Redis and disconnects.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#sweep);
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.resolve(undefined);
      this.#pending.delete(id);
    }
    const cmd = this.#cmd;
    const sub = this.#sub;
    if (cmd) {
      try {
        const me = this.processId;
        const p = this.#prefix;
        const greeters = await cmd.smembers(`${p}pgreeters:${me}`);
        const m = cmd.multi();
        for (const [sessionId, session] of this.#local) {
          m.eval(HDEL_IF, 1, `${p}sessions`, sessionId, me);
          for (const pair of session.groups) m.zrem(`${p}group:${pair}`, sessionId);
          m.del(`${p}sgroups:${sessionId}`);
        }
        for (const greeter of greeters) m.del(`${p}psess:${me}:${greeter}`);
        for (const hash of this.#tokens.keys()) m.del(`${p}token:${hash}`);
        m.del(`${p}pgreeters:${me}`, `${p}proc:${me}`, `${p}ptokens:${me}`);
        m.hdel(`${p}procs`, me);
        await execOrThrow(m);
      } catch (err) {
        this.#logger.warn(
          `cluster ${this.name}: could not remove process ${this.processId}'s entries (another process sweeps them once its heartbeat expires): ${unreachable(this.#place, err, 'reach').message}`,
          { code: 'NEKO_ERR_CLUSTER_UNREACHABLE' },
        );
      }
    }
    this.#local.clear();
    this.#tokens.clear();
    await Promise.all([quit(cmd), quit(sub)]);
  }

  // --- inside ---

  /** The command connection; before {@link start} (or after {@link close}), a coded error saying so. */
  #client(): Redis {
    if (this.#cmd === undefined || this.#closed) {
      throw new NekoError(
        'NEKO_ERR_CLUSTER_UNREACHABLE',
        `cluster ${this.name}: the bus is not connected to Redis at ${this.#place.host}:${this.#place.port} ${this.#closed ? 'any more (the server shut down)' : 'yet'}`,
        { hint: 'The server connects it in listen() or joinCluster(), before plugins load.' },
      );
    }
    return this.#cmd;
  }

  #channelOf(processId: string): string {
    return `${this.#prefix}to:${processId}`;
  }

  #registerSession(m: ReturnType<Redis['multi']>, sessionId: string, greeter: string): void {
    const p = this.#prefix;
    const me = this.processId;
    m.hset(`${p}sessions`, sessionId, me);
    m.sadd(`${p}pgreeters:${me}`, greeter);
    m.sadd(`${p}psess:${me}:${greeter}`, sessionId);
  }

  #registerToken(m: ReturnType<Redis['multi']>, hash: string, sessionId: string): void {
    const p = this.#prefix;
    m.set(`${p}token:${hash}`, `${this.processId} ${sessionId}`);
    m.sadd(`${p}ptokens:${this.processId}`, hash);
  }

  #registerMember(m: ReturnType<Redis['multi']>, pair: string, sessionId: string): void {
    const p = this.#prefix;
    m.eval(GROUP_ADD, 3, `${p}group:${pair}`, `${p}gseq`, `${p}sgroups:${sessionId}`, sessionId, pair);
  }

  /** Writes a registration; while Redis is away it is logged once and counted, and written again from this process's records when Redis is back. */
  async #write(doing: string, build: (m: ReturnType<Redis['multi']>) => void): Promise<void> {
    try {
      const m = this.#client().multi();
      build(m);
      await execOrThrow(m);
    } catch (err) {
      this.#down(err, doing);
    }
  }

  /** Runs a removal; while Redis is away it is logged once and counted, and run again when Redis is back. */
  async #remove(doing: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.#retries.push(run);
      this.#down(err, doing);
    }
  }

  async #ownerOf(sessionId: string, doing: string): Promise<string | undefined> {
    try {
      return (await this.#client().hget(`${this.#prefix}sessions`, sessionId)) ?? undefined;
    } catch (err) {
      throw this.#down(err, doing);
    }
  }

  /** Sends a request to another process and waits for its acknowledgement; undefined after the timeout. */
  async #request(
    owner: string,
    header: Header,
    data: Buffer = EMPTY_BUFFER,
  ): Promise<Delivery | boolean | undefined> {
    const answer = await this.#ask(owner, header, data, false);
    return answer === 'unheard' ? undefined : answer.result;
  }

  /**
   * Sends a request to another process and waits for its acknowledgement
   * (result undefined after the timeout). With `unheardAtOnce`, a request
   * that no connection subscribed to the process's channel received (the
   * process died) answers `'unheard'` at once instead of waiting.
   */
  #ask(owner: string, header: Header, data: Buffer, unheardAtOnce: boolean): Promise<Answer> {
    const client = this.#client();
    const id = this.#nextRequest++;
    header.i = id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ result: undefined, data: EMPTY_BUFFER });
      }, this.#sendToTimeout);
      this.#pending.set(id, {
        resolve: (result, answer = EMPTY_BUFFER) => resolve({ result, data: answer }),
        timer,
      });
      client.publish(this.#channelOf(owner), encode(header, data)).then(
        (receivers) => {
          this.#counters.published++;
          if (receivers === 0 && unheardAtOnce && this.#pending.delete(id)) {
            clearTimeout(timer);
            resolve('unheard');
          }
        },
        (err: unknown) => {
          clearTimeout(timer);
          this.#pending.delete(id);
          reject(this.#down(err, 'send a message through'));
        },
      );
    });
  }

  #publish(channel: string, header: Header, data: Buffer): void {
    const cmd = this.#cmd;
    if (!cmd || this.#closed) return;
    cmd.publish(channel, encode(header, data)).then(
      () => {
        this.#counters.published++;
      },
      (err: unknown) => {
        this.#down(err, 'publish on');
      },
    );
  }

  #onMessage(message: Buffer): void {
    const end = message.indexOf(10);
    if (end < 0) return;
    let header: Header;
    try {
      header = JSON.parse(message.toString('utf8', 0, end)) as Header;
    } catch {
      return;
    }
    if (header.o === this.processId) return; // our own broadcast: delivered locally already
    const data = message.subarray(end + 1);
    const local = this.#handler;
    switch (header.k) {
      case 'bc': {
        this.#counters.received++;
        if (header.t !== undefined) recordBusLatency(this.#counters, clock() - header.t);
        if (!local) return;
        const except = header.x === undefined ? EMPTY_SET : new Set(header.x);
        this.#counters.delivered += local.deliver(header.g!, header.op!, data, except, header.n);
        return;
      }
      case 'send': {
        const result = local ? local.sendTo(header.g!, header.s!, header.op!, data) : 'gone';
        if (result !== 'gone') this.#counters.delivered++;
        this.#reply(header, result);
        return;
      }
      case 'group': {
        const done = local ? local.group(header.g!, header.a!, header.n!, header.s!) : Promise.resolve(false);
        void done.then(
          (result) => this.#reply(header, result),
          () => this.#reply(header, false),
        );
        return;
      }
      case 'resume': {
        void this.#handOver(header, data.toString('latin1'));
        return;
      }
      case 'ack': {
        const pending = this.#pending.get(header.i!);
        if (!pending) return;
        this.#pending.delete(header.i!);
        clearTimeout(pending.timer);
        pending.resolve(header.r, data);
        return;
      }
    }
  }

  #reply(request: Header, result: Delivery | boolean, data: Buffer = EMPTY_BUFFER): void {
    this.#publish(this.#channelOf(request.o), { k: 'ack', o: this.processId, i: request.i, r: result }, data);
  }

  /**
   * Another process asks for a session of this one (its client resumes
   * there): the server packages it and lets go of it; this process then
   * stops routing to it, leaving the entries the new owner takes over
   * (the session→process map, its groups, in their order) as they are.
   */
  async #handOver(request: Header, token: string): Promise<void> {
    // Read first: the server takes the token out (tokenDropped) as it hands the session over.
    const hash = hashToken(token);
    const sessionId = this.#tokens.get(hash);
    let handover: Buffer | undefined;
    try {
      handover = await this.#handler?.handOver(token);
    } catch (err) {
      this.#logger.error(`cluster ${this.name}: handing a session over failed: ${String(err)}`, {
        code: 'NEKO_ERR_SESSION_HANDOVER',
        error: err,
      });
    }
    if (handover === undefined) {
      this.#reply(request, false);
      return;
    }
    this.#tokens.delete(hash);
    const session = sessionId === undefined ? undefined : this.#local.get(sessionId);
    if (sessionId !== undefined && session !== undefined) {
      this.#local.delete(sessionId);
      const me = this.processId;
      const p = this.#prefix;
      await this.#remove('hand a session over in', () => {
        const m = this.#client().multi();
        for (const greeter of session.greeters) m.srem(`${p}psess:${me}:${greeter}`, sessionId);
        return execOrThrow(m);
      });
    }
    this.#reply(request, true, handover);
  }

  /**
   * Renews the heartbeat. When it was gone (Redis restarted empty, or this
   * process was taken for dead), this process's entries are written again.
   */
  async #beat(): Promise<void> {
    const cmd = this.#client();
    const p = this.#prefix;
    const facts = JSON.stringify({ hostname: this.hostname, pid: process.pid, startedAt: this.#startedAt });
    const [[err, previous] = [null, null]] = (await cmd
      .multi()
      .set(`${p}proc:${this.processId}`, facts, 'PX', this.#ttl, 'GET')
      .hset(`${p}procs`, this.processId, facts)
      .exec()) ?? [[new Error('the heartbeat was not written'), null]];
    if (err) throw err;
    if (previous === null && (this.#local.size > 0 || this.#tokens.size > 0)) await this.#registerAll();
    if (this.#downSince !== undefined) await this.#back();
  }

  /** Writes every entry of this process again, from its own records; then the removals that failed. */
  async #registerAll(): Promise<void> {
    const m = this.#client().multi();
    for (const [sessionId, session] of this.#local) {
      for (const greeter of session.greeters) this.#registerSession(m, sessionId, greeter);
      for (const pair of session.groups) this.#registerMember(m, pair, sessionId);
    }
    for (const [hash, sessionId] of this.#tokens) this.#registerToken(m, hash, sessionId);
    await execOrThrow(m);
  }

  /** Redis answers again: entries are written again, failed removals retried, and the outage's end logged. */
  async #back(): Promise<void> {
    if (this.#downSince === undefined || this.#closed) return;
    try {
      await this.#client().ping();
      await this.#registerAll();
      while (this.#retries.length > 0) await this.#retries[0]!().then(() => this.#retries.shift());
    } catch {
      return; // still away: the next heartbeat tries again
    }
    if (this.#downSince === undefined) return;
    const ms = Date.now() - this.#downSince;
    this.#downSince = undefined;
    this.#upSince = Date.now();
    this.#logger.info(
      `cluster ${this.name}: Redis at ${this.#place.host}:${this.#place.port} answers again after ${ms} ms; cross-process delivery resumed`,
    );
  }

  /** Redis did not answer: counted; logged once per outage. @returns the coded error */
  #down(err: unknown, doing: string): NekoError {
    const error = err instanceof NekoError ? err : unreachable(this.#place, err, doing);
    this.#counters.failures++;
    if (this.#downSince === undefined && !this.#closed) {
      this.#downSince = Date.now();
      this.#logger.warn(
        `cluster ${this.name}: ${error.message}; local delivery goes on, other processes are out of reach until Redis answers again`,
        { code: error.code, error },
      );
    }
    return error;
  }

  /** Looks for processes whose heartbeat expired, and sweeps each one (one survivor per dead process). */
  async #checkProcesses(): Promise<void> {
    if (this.#sweeping || this.#closed || this.#downSince !== undefined) return;
    this.#sweeping = true;
    try {
      const cmd = this.#client();
      const p = this.#prefix;
      const procs = await cmd.hgetall(`${p}procs`);
      const others = Object.keys(procs).filter((id) => id !== this.processId);
      if (others.length === 0) {
        this.#counters.processes = 1;
        return;
      }
      const alive = await Promise.all(others.map((id) => cmd.exists(`${p}proc:${id}`)));
      this.#counters.processes = 1 + alive.filter(Boolean).length;
      for (const [i, id] of others.entries()) {
        if (alive[i]) continue;
        const lock = await cmd.set(
          `${p}sweep:${id}`,
          this.processId,
          'PX',
          Math.max(30_000, this.#ttl * 6),
          'NX',
        );
        if (lock !== 'OK') continue;
        await this.#sweepProcess(id, parseHostname(procs[id]));
      }
    } catch (err) {
      if (!this.#closed) this.#down(err, 'check the processes on');
    } finally {
      this.#sweeping = false;
    }
  }

  /** A dead process: each of its sessions is gone (plugins told, presence dropped), then its entries. */
  async #sweepProcess(dead: string, hostname: string | undefined): Promise<void> {
    const cmd = this.#client();
    const p = this.#prefix;
    const greeters = await cmd.smembers(`${p}pgreeters:${dead}`);
    const sessions = new Map<string, string[]>();
    for (const greeter of greeters) {
      for (const sessionId of await cmd.smembers(`${p}psess:${dead}:${greeter}`)) {
        const list = sessions.get(sessionId) ?? [];
        list.push(greeter);
        sessions.set(sessionId, list);
      }
    }
    this.#logger.warn(
      `cluster ${this.name}: process ${dead}${hostname === undefined ? '' : ` on ${hostname}`} stopped renewing its heartbeat; its ${sessions.size} session(s) are gone`,
    );
    for (const [sessionId, list] of sessions) {
      try {
        await this.#handler?.sessionGone({
          sessionId,
          processId: dead,
          ...(hostname === undefined ? {} : { hostname }),
          greeters: list,
        });
      } catch (err) {
        this.#logger.error(
          `cluster ${this.name}: telling the plugins that session ${sessionId} is gone failed: ${String(err)}`,
        );
      }
      const pairs = await cmd.smembers(`${p}sgroups:${sessionId}`);
      const m = cmd.multi();
      for (const pair of pairs) m.zrem(`${p}group:${pair}`, sessionId);
      m.del(`${p}sgroups:${sessionId}`);
      m.eval(HDEL_IF, 1, `${p}sessions`, sessionId, dead);
      for (const greeter of list) m.srem(`${p}psess:${dead}:${greeter}`, sessionId);
      await execOrThrow(m);
    }
    const m = cmd.multi();
    const tokens = await cmd.smembers(`${p}ptokens:${dead}`);
    // Kept a while, so that a resume with one of them is refused as the dead process's.
    for (const hash of tokens) m.pexpire(`${p}token:${hash}`, DEAD_TOKENS_KEPT_MS);
    for (const greeter of greeters) m.del(`${p}psess:${dead}:${greeter}`);
    m.del(`${p}pgreeters:${dead}`, `${p}ptokens:${dead}`);
    m.hdel(`${p}procs`, dead);
    await execOrThrow(m);
    this.#counters.swept++;
  }
}

const EMPTY_SET: ReadonlySet<string> = new Set();

/** A resume request nobody received is sent this many times, this far apart, before its holder is taken for dead. */
const UNHEARD_TRIES = 2;
const UNHEARD_PAUSE_MS = 250;

/** How long the tokens of a dead process are kept: the longest grace period (`$grace` 3600). */
const DEAD_TOKENS_KEPT_MS = 3_600_000;

/** What the cluster knows a resume token by: its sha256, in hex. */
function hashToken(token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('hex');
}

function encode(header: Header, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(header), 'utf8'), NL, data]);
}

function parseHostname(facts: string | undefined): string | undefined {
  if (facts === undefined) return undefined;
  try {
    const parsed = JSON.parse(facts) as { hostname?: unknown };
    return typeof parsed.hostname === 'string' ? parsed.hostname : undefined;
  } catch {
    return undefined;
  }
}

async function execOrThrow(m: ReturnType<Redis['multi']>): Promise<void> {
  const results = await m.exec();
  if (results === null) throw new Error('the transaction was aborted');
  for (const [err] of results) if (err) throw err;
}

async function quit(connection: Redis | undefined): Promise<void> {
  if (!connection) return;
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
