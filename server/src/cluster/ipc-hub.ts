/**
 * The primary's side of the bus and presence under `--workers` without
 * Redis: what Redis keeps for a cluster, the primary keeps in its memory for
 * its workers, and the workers reach it over IPC ({@link IpcBus},
 * {@link IpcPresenceStore}).
 *
 * It holds the session → process map (which routes `sendTo` and group
 * changes), the groups' members in the order added, the resumable sessions'
 * tokens (hashed) and the presence store, and fans each broadcast out to the
 * other workers in the order it came (one pipe per worker keeps each
 * publisher's order). When a worker's process ends, its sessions are gone:
 * one surviving worker runs the plugins' `onSessionGone` for each (the same
 * {@link GoneSession} the Redis sweep gives), and what they owned in
 * presence is removed.
 */
import { createHash } from 'node:crypto';
import { NekoError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Delivery, GoneSession, RemoteResume } from './bus.js';
import { IpcChannel, type IpcEndpoint } from './ipc-channel.js';
import { MemoryPresenceStore } from './memory-presence.js';
import type { Presence } from './presence.js';

/** How long the tokens of a process that died are kept: an hour, the longest grace period (as on Redis). */
const DEAD_TOKENS_KEPT_MS = 60 * 60_000;

/** The presence calls a worker may make, as the hub runs them on its store. */
const PRESENCE_METHODS: ReadonlySet<string> = new Set([
  'set',
  'setnx',
  'get',
  'del',
  'expire',
  'incr',
  'hset',
  'hsetnx',
  'hget',
  'hdel',
  'hgetall',
  'hkeys',
  'hlen',
  'sadd',
  'srem',
  'smembers',
  'sismember',
  'scard',
]);

export interface IpcHubOptions {
  /** The cluster's name, in log lines. Default `workers`. */
  name?: string;
  /** How long a `sendTo` or a group change waits for the owning worker's acknowledgement, in ms. Default 2000. */
  sendToTimeoutMs?: number;
  /** How long a surviving worker may take to tell its plugins that a session is gone, in ms. Default 30000. */
  goneTimeoutMs?: number;
  logger?: Logger;
}

/** One process (a worker's server) joined through a pipe. */
interface Member {
  readonly processId: string;
  readonly hostname: string;
  readonly pid: number;
  readonly channel: IpcChannel;
  readonly pipe: Pipe;
  /** Its sessions, each with the greeters of the plugins it joined. */
  readonly sessions: Map<string, Set<string>>;
}

/** One IPC endpoint (one worker process) and the processes that called through it. */
interface Pipe {
  readonly label: string;
  readonly channel: IpcChannel;
  /** Every process id seen on it: those that joined the bus, and those that only use presence. */
  readonly processes: Set<string>;
}

/** A handle on a worker's pipe, for {@link IpcHub.detach}. */
export interface HubPipe {
  readonly label: string;
}

/** The hub of one primary. */
export class IpcHub {
  readonly name: string;
  readonly #sendToTimeout: number;
  readonly #goneTimeout: number;
  readonly #logger: Logger | undefined;
  readonly #members = new Map<string, Member>();
  /** Session id → the process that holds it. */
  readonly #owners = new Map<string, string>();
  /** `<greeter> <group>` → members, in the order added. */
  readonly #groups = new Map<string, Set<string>>();
  /** Session id → its `<greeter> <group>` pairs. */
  readonly #sessionGroups = new Map<string, Set<string>>();
  /** Hash of a resume token → the process that holds its session, and the session. */
  readonly #tokens = new Map<string, { processId: string; sessionId: string }>();
  readonly #pipes = new Set<Pipe>();
  /** Process id → its pipe, for every process seen (presence's subscribers need not have joined the bus). */
  readonly #routes = new Map<string, Pipe>();
  /** `<greeter>\n<channel>` → the processes with a subscriber on it. */
  readonly #subscribers = new Map<string, Set<string>>();
  readonly #presence = new MemoryPresenceStore({ processId: 'primary' });
  #closed = false;

  constructor(options: IpcHubOptions = {}) {
    this.name = options.name ?? 'workers';
    this.#sendToTimeout = options.sendToTimeoutMs ?? 2000;
    this.#goneTimeout = options.goneTimeoutMs ?? 30_000;
    this.#logger = options.logger;
  }

  /** How many processes joined and have not left. */
  get processes(): number {
    return this.#members.size;
  }

  /** The sessions each process holds now (process id → session ids), for the primary's dashboard. */
  sessionsByProcess(): Map<string, string[]> {
    return new Map([...this.#members].map(([id, member]) => [id, [...member.sessions.keys()]]));
  }

  /**
   * Serves a worker's pipe: its bus and presence calls, and the messages for
   * its sessions. `label` names it in log lines (`worker 2`).
   */
  attach(endpoint: IpcEndpoint, label: string): HubPipe {
    const processes = new Set<string>();
    const pipe: Pipe = {
      label,
      processes,
      channel: new IpcChannel(endpoint, {
        peer: label,
        onRequest: (kind, body) => this.#request(pipe, kind, body as Body),
        onPush: (kind, body) => this.#push(kind, body as Body),
      }),
    };
    this.#pipes.add(pipe);
    return pipe;
  }

  /**
   * A worker's process ended: its pipe is closed, and every session its
   * processes held is gone (one surviving process tells its plugins; what
   * they owned in presence goes).
   */
  async detach(handle: HubPipe): Promise<void> {
    const pipe = handle as Pipe;
    this.#pipes.delete(pipe);
    pipe.channel.close(`${pipe.label} exited`);
    for (const processId of [...pipe.processes]) {
      this.#routes.delete(processId);
      this.#endSubscriptions(processId, undefined);
      await this.#gone(processId);
    }
  }

  /** Stops: every pipe closes (the workers have exited by then). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const pipe of this.#pipes) pipe.channel.close('the primary shut down');
    this.#pipes.clear();
    this.#members.clear();
    await this.#presence.close();
  }

  // --- requests of the workers ---

  #request(pipe: Pipe, kind: string, body: Body): Promise<unknown> | undefined {
    if (this.#closed) return Promise.reject(new Error('the primary is shutting down'));
    if (!this.#routes.has(body.p)) {
      this.#routes.set(body.p, pipe);
      pipe.processes.add(body.p);
    }
    switch (kind) {
      case 'bus.join':
        return Promise.resolve(this.#join(pipe, body));
      case 'bus.leave':
        return Promise.resolve(this.#leave(body.p));
      case 'bus.joined':
        this.#joined(body.p, body.g!, body.s!);
        return Promise.resolve(true);
      case 'bus.left':
        this.#left(body.p, body.g!, body.s!);
        return Promise.resolve(true);
      case 'bus.sendTo':
        return this.#sendTo(body);
      case 'bus.groupJoined':
        this.#groupAdd(`${body.g!} ${body.n!}`, body.s!);
        return Promise.resolve(true);
      case 'bus.groupLeft':
        return Promise.resolve(this.#groupRemove(`${body.g!} ${body.n!}`, body.s!));
      case 'bus.groupRemote':
        return this.#groupRemote(body);
      case 'bus.groupMembers':
        return Promise.resolve([...(this.#groups.get(`${body.g!} ${body.n!}`) ?? [])]);
      case 'bus.tokenIssued':
        this.#tokens.set(body.h!, { processId: body.p, sessionId: body.s! });
        return Promise.resolve(true);
      case 'bus.tokenDropped':
        if (this.#tokens.get(body.h!)?.processId === body.p) this.#tokens.delete(body.h!);
        return Promise.resolve(true);
      case 'bus.resume':
        return this.#resume(body);
      case 'presence.call':
        return this.#presenceCall(body);
      case 'presence.subscribe':
        return Promise.resolve(this.#subscribe(body.p, body.g!, body.c!));
      case 'presence.unsubscribe':
        return Promise.resolve(this.#unsubscribe(body.p, body.g!, body.c!));
      case 'presence.endSubscriptions':
        return Promise.resolve(this.#endSubscriptions(body.p, body.g));
      case 'presence.publish':
        return Promise.resolve(this.#publish(body.p, body.g!, body.c!, body.j!));
      case 'presence.moveSession':
        this.#presence.moveOwner(body.s!, body.o!, body.p);
        return Promise.resolve(true);
      case 'presence.dropSession':
        return this.#presence
          .dropSession(body.s!, {
            processId: body.o ?? body.p,
            ...(body.g === undefined ? {} : { greeter: body.g }),
          })
          .then(() => true);
      default:
        return undefined;
    }
  }

  #push(kind: string, body: Body): void {
    if (kind !== 'bus.bc' || this.#closed) return;
    // Each worker's pipe keeps the order the publisher sent in.
    for (const member of this.#members.values()) {
      if (member.processId !== body.p) member.channel.push('bus.bc', body);
    }
  }

  #join(pipe: Pipe, body: Body): number {
    const member: Member = {
      processId: body.p,
      hostname: body.hostname ?? '',
      pid: body.pid ?? 0,
      channel: pipe.channel,
      pipe,
      sessions: new Map(),
    };
    this.#members.set(body.p, member);
    this.#announceProcesses();
    return this.#members.size;
  }

  /** A process left cleanly (its sessions left first): its records go, nobody is told. */
  #leave(processId: string): boolean {
    const member = this.#members.get(processId);
    if (member === undefined) return false;
    for (const sessionId of member.sessions.keys()) this.#forgetSession(sessionId, processId);
    this.#forgetProcess(member, false);
    return true;
  }

  #forgetProcess(member: Member, died: boolean): void {
    this.#members.delete(member.processId);
    for (const [key, processes] of this.#subscribers) {
      if (processes.delete(member.processId) && processes.size === 0) this.#subscribers.delete(key);
    }
    const drop = (): void => {
      for (const [hash, holder] of this.#tokens) {
        if (holder.processId === member.processId) this.#tokens.delete(hash);
      }
    };
    // A dead process's tokens stay a while, so that a resume of one is refused as `holder-gone`.
    if (died) setTimeout(drop, DEAD_TOKENS_KEPT_MS).unref();
    else drop();
    this.#announceProcesses();
  }

  #announceProcesses(): void {
    const n = this.#members.size;
    for (const member of this.#members.values()) member.channel.push('bus.processes', { n });
  }

  #joined(processId: string, greeter: string, sessionId: string): void {
    const member = this.#members.get(processId);
    if (member === undefined) return;
    let greeters = member.sessions.get(sessionId);
    if (greeters === undefined) {
      greeters = new Set();
      member.sessions.set(sessionId, greeters);
    }
    greeters.add(greeter);
    this.#owners.set(sessionId, processId);
  }

  #left(processId: string, greeter: string, sessionId: string): void {
    const member = this.#members.get(processId);
    const greeters = member?.sessions.get(sessionId);
    if (greeters === undefined) return;
    greeters.delete(greeter);
    for (const pair of [...(this.#sessionGroups.get(sessionId) ?? [])]) {
      if (pair.slice(0, pair.indexOf(' ')) === greeter) this.#groupRemove(pair, sessionId);
    }
    if (greeters.size === 0) {
      member!.sessions.delete(sessionId);
      this.#forgetSession(sessionId, processId);
    }
  }

  /** A session's records go: the map (when it still names this process) and its groups. */
  #forgetSession(sessionId: string, processId: string): void {
    if (this.#owners.get(sessionId) === processId) this.#owners.delete(sessionId);
    for (const pair of [...(this.#sessionGroups.get(sessionId) ?? [])]) this.#groupRemove(pair, sessionId);
  }

  #groupAdd(pair: string, sessionId: string): void {
    let members = this.#groups.get(pair);
    if (members === undefined) {
      members = new Set();
      this.#groups.set(pair, members);
    }
    members.add(sessionId);
    let pairs = this.#sessionGroups.get(sessionId);
    if (pairs === undefined) {
      pairs = new Set();
      this.#sessionGroups.set(sessionId, pairs);
    }
    pairs.add(pair);
  }

  #groupRemove(pair: string, sessionId: string): boolean {
    const members = this.#groups.get(pair);
    const removed = members?.delete(sessionId) ?? false;
    if (members?.size === 0) this.#groups.delete(pair);
    const pairs = this.#sessionGroups.get(sessionId);
    if (pairs?.delete(pair) && pairs.size === 0) this.#sessionGroups.delete(sessionId);
    return removed;
  }

  async #sendTo(body: Body): Promise<Delivery> {
    const owner = this.#owners.get(body.s!);
    const member = owner === undefined || owner === body.p ? undefined : this.#members.get(owner);
    if (member === undefined) return 'gone';
    try {
      const result = await member.channel.request<Delivery>(
        'bus.send',
        { ...body, to: owner },
        this.#sendToTimeout,
      );
      return result === 'delivered' || result === 'queued' ? result : 'gone';
    } catch {
      return 'gone';
    }
  }

  async #groupRemote(body: Body): Promise<boolean> {
    const sessionId = body.s!;
    const owner = this.#owners.get(sessionId);
    const member = owner === undefined || owner === body.p ? undefined : this.#members.get(owner);
    if (member !== undefined) {
      try {
        const result = await member.channel.request<boolean>(
          'bus.group',
          { ...body, to: owner },
          this.#sendToTimeout,
        );
        if (typeof result === 'boolean') return result;
      } catch {
        // no answer in time: as for a session no process holds
      }
    }
    if (body.act === 'add') return false;
    return this.#groupRemove(`${body.g!} ${body.n!}`, sessionId);
  }

  async #resume(body: Body): Promise<RemoteResume> {
    // A token works once: it leaves the map whatever comes of the resume.
    const hash = tokenHash(body.t!);
    const entry = this.#tokens.get(hash);
    this.#tokens.delete(hash);
    if (entry === undefined || entry.processId === body.p) return { outcome: 'unknown' };
    const holder = entry.processId;
    body.s = entry.sessionId;
    const member = this.#members.get(holder);
    if (member === undefined) return { outcome: 'holder-gone', processId: holder };
    try {
      const handover = await member.channel.request<Buffer | undefined>(
        'bus.handOver',
        { t: body.t, to: holder },
        this.#sendToTimeout,
      );
      if (handover === undefined || handover === null) return { outcome: 'kept', processId: holder };
      // The session moves on: the old process stops holding it; its groups and the map stay for the new one.
      const sessionId = body.s;
      if (sessionId !== undefined) member.sessions.delete(sessionId);
      return { outcome: 'moved', handover: toBuffer(handover), processId: holder };
    } catch {
      return this.#members.has(holder)
        ? { outcome: 'kept', processId: holder }
        : { outcome: 'holder-gone', processId: holder };
    }
  }

  // --- presence ---

  async #presenceCall(body: Body): Promise<unknown> {
    const method = body.m!;
    if (!PRESENCE_METHODS.has(method)) {
      throw new NekoError('NEKO_ERR_CLUSTER_UNREACHABLE', `presence: no call named ${method}`);
    }
    const presence = this.#presence.forPlugin(body.g!, body.s, body.p);
    const args = body.a ?? [];
    const call = (presence as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!;
    return call.apply(presence as Presence, args);
  }

  #subscribe(processId: string, greeter: string, channel: string): boolean {
    const key = `${greeter}\n${channel}`;
    let processes = this.#subscribers.get(key);
    if (processes === undefined) {
      processes = new Set();
      this.#subscribers.set(key, processes);
    }
    processes.add(processId);
    return true;
  }

  #unsubscribe(processId: string, greeter: string, channel: string): boolean {
    const key = `${greeter}\n${channel}`;
    const processes = this.#subscribers.get(key);
    const removed = processes?.delete(processId) ?? false;
    if (processes?.size === 0) this.#subscribers.delete(key);
    return removed;
  }

  /** Ends a process's subscriptions of one plugin (every plugin's without `greeter`). */
  #endSubscriptions(processId: string, greeter: string | undefined): boolean {
    for (const [key, processes] of this.#subscribers) {
      if (greeter !== undefined && key.slice(0, key.indexOf('\n')) !== greeter) continue;
      if (processes.delete(processId) && processes.size === 0) this.#subscribers.delete(key);
    }
    return true;
  }

  /** Hands a published value (JSON text, checked by the worker) to each process with a subscriber. @returns how many */
  #publish(_from: string, greeter: string, channel: string, json: string): number {
    const processes = this.#subscribers.get(`${greeter}\n${channel}`);
    if (processes === undefined) return 0;
    let n = 0;
    for (const processId of processes) {
      const pipe = this.#routes.get(processId);
      if (pipe?.channel.push('presence.message', { p: processId, g: greeter, c: channel, j: json })) n++;
    }
    return n;
  }

  // --- a process that died ---

  /** Each session of a dead process is gone: one survivor tells its plugins, then its records and owned presence go. */
  async #gone(processId: string): Promise<void> {
    const member = this.#members.get(processId);
    if (member === undefined) return;
    this.#forgetProcess(member, true);
    const sessions = [...member.sessions];
    this.#logger?.warn(
      `cluster ${this.name}: process ${processId} (pid ${member.pid}) ended; its ${sessions.length} session(s) are gone`,
    );
    for (const [i, [sessionId, greeters]] of sessions.entries()) {
      const gone: GoneSession = {
        sessionId,
        processId,
        ...(member.hostname === '' ? {} : { hostname: member.hostname }),
        greeters: [...greeters],
      };
      const survivor = this.#members.values().next().value;
      if (survivor !== undefined) {
        try {
          await survivor.channel.request(
            'bus.gone',
            { to: survivor.processId, gone, first: i === 0 },
            this.#goneTimeout,
          );
        } catch (err) {
          this.#logger?.error(
            `cluster ${this.name}: telling the plugins that session ${sessionId} is gone failed: ${(err as Error).message}`,
          );
        }
      }
      this.#forgetSession(sessionId, processId);
      await this.#presence.dropSession(sessionId, { processId });
    }
  }
}

/** What the workers send: short keys, as on the Redis bus. */
interface Body {
  /** The process that sends. */
  p: string;
  hostname?: string;
  pid?: number;
  g?: string;
  s?: string;
  n?: string;
  /** The arguments of a presence call. */
  a?: unknown[];
  /** A group change's action. */
  act?: 'add' | 'remove';
  m?: string;
  c?: string;
  j?: string;
  h?: string;
  t?: string;
  /** The owner process, for a drop of another process's session. */
  o?: string;
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The hash a resume token is known by in the cluster (never the token itself). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
