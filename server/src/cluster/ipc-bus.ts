/**
 * The cluster bus of a worker under `--workers` without Redis: every call
 * goes over IPC to the primary, whose hub ({@link IpcHub}) keeps what Redis
 * keeps for a cluster (the session → process map, groups, resume tokens)
 * and fans broadcasts out to the other workers. Same contract and results
 * as the Redis bus (docs/cluster.md, "Workers on one machine").
 */
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
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
  type GoneSession,
  type RemoteResume,
} from './bus.js';
import { IpcChannel, type IpcEndpoint } from './ipc-channel.js';
import { tokenHash } from './ipc-hub.js';

export interface IpcBusOptions {
  /** The primary's side of the pipe: `ipcEndpoint(process)` in a worker. */
  endpoint: IpcEndpoint;
  /** The cluster's name. Default `workers`. */
  name?: string;
  /** How long a call waits for the primary, in ms (a `sendTo` waits this plus the primary's own timeout). Default 10000. */
  callTimeoutMs?: number;
  logger: Logger;
  /** Default: 16 random hex characters. */
  processId?: string;
  /** Fires once when the pipe to the primary closes (the primary is gone). */
  onDisconnect?: (listener: () => void) => void;
}

/** A broadcast as it crosses the pipe. */
interface Broadcast {
  p: string;
  g: string;
  op: number;
  d: Uint8Array;
  x?: string[];
  n?: string;
  t: number;
}

/** A request of the primary for a session of this process. */
interface Ask {
  to: string;
  g?: string;
  s?: string;
  op?: number;
  d?: Uint8Array;
  n?: string;
  act?: 'add' | 'remove';
  t?: string;
  gone?: GoneSession;
  /** The first session of a dead process this process is told about (it counts as one process swept). */
  first?: boolean;
}

const EMPTY_SET: ReadonlySet<string> = new Set();

/** One worker's part of the bus, through the primary. */
export class IpcBus implements Bus {
  readonly name: string;
  readonly processId: string;
  readonly hostname = osHostname();
  readonly via = 'IPC through the primary';
  readonly redis = undefined;
  readonly #channel: IpcChannel;
  readonly #timeout: number;
  readonly #logger: Logger;
  readonly #counters: BusCounters = newBusCounters();
  #handler: BusLocal | undefined;
  #upSince = Date.now();
  #downSince: number | undefined;
  #closed = false;

  constructor(options: IpcBusOptions) {
    this.name = options.name ?? 'workers';
    this.processId = options.processId ?? randomBytes(8).toString('hex');
    this.#timeout = options.callTimeoutMs ?? 10_000;
    this.#logger = options.logger;
    this.#channel = new IpcChannel(options.endpoint, {
      peer: 'the primary process',
      onPush: (kind, body) => this.#onPush(kind, body),
      onRequest: (kind, body) => this.#onRequest(kind, body as Ask),
    });
    options.onDisconnect?.(() => this.#down('the primary process went away'));
  }

  setLocal(local: BusLocal): void {
    this.#handler = local;
  }

  /** Joins the primary's hub. @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` when the primary does not answer */
  async start(): Promise<void> {
    const processes = await this.#call<number>('bus.join', { hostname: this.hostname, pid: process.pid });
    this.#counters.processes = processes;
    this.#upSince = Date.now();
    this.#logger.info(
      `cluster ${this.name}: process ${this.processId} (pid ${process.pid}) joined through IPC with the primary`,
    );
  }

  status(): BusStatus {
    return this.#downSince === undefined
      ? { reachable: true, since: this.#upSince }
      : { reachable: false, since: this.#downSince };
  }

  counters(): BusCounters {
    return copyBusCounters(this.#counters);
  }

  async joined(greeter: string, sessionId: string): Promise<void> {
    await this.#quiet('bus.joined', { g: greeter, s: sessionId });
  }

  async left(greeter: string, sessionId: string): Promise<void> {
    await this.#quiet('bus.left', { g: greeter, s: sessionId });
  }

  broadcast(
    greeter: string,
    op: number,
    data: Uint8Array | string,
    except: ReadonlySet<string>,
    group?: string,
  ): void {
    if (this.#closed) return;
    const body: Broadcast = {
      p: this.processId,
      g: greeter,
      op,
      d: typeof data === 'string' ? Buffer.from(data, 'utf8') : data,
      t: clock(),
    };
    if (except.size > 0) body.x = [...except];
    if (group !== undefined) body.n = group;
    if (this.#channel.push('bus.bc', body)) this.#counters.published++;
    else this.#counters.failures++;
  }

  async sendTo(greeter: string, sessionId: string, op: number, data: Uint8Array | string): Promise<Delivery> {
    const d = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const result = await this.#call<Delivery>('bus.sendTo', { g: greeter, s: sessionId, op, d });
    this.#counters.published++;
    return result;
  }

  async groupJoined(greeter: string, group: string, sessionId: string): Promise<void> {
    await this.#quiet('bus.groupJoined', { g: greeter, n: group, s: sessionId });
  }

  async groupLeft(greeter: string, group: string, sessionId: string): Promise<boolean> {
    try {
      return await this.#call<boolean>('bus.groupLeft', { g: greeter, n: group, s: sessionId });
    } catch {
      return true;
    }
  }

  groupRemote(greeter: string, action: 'add' | 'remove', group: string, sessionId: string): Promise<boolean> {
    this.#counters.published++;
    return this.#call<boolean>('bus.groupRemote', { g: greeter, act: action, n: group, s: sessionId });
  }

  groupMembers(greeter: string, group: string): Promise<string[]> {
    return this.#call<string[]>('bus.groupMembers', { g: greeter, n: group });
  }

  async tokenIssued(token: string, sessionId: string): Promise<void> {
    await this.#quiet('bus.tokenIssued', { h: tokenHash(token), s: sessionId });
  }

  async tokenDropped(token: string): Promise<void> {
    await this.#quiet('bus.tokenDropped', { h: tokenHash(token) });
  }

  resumeRemote(token: string): Promise<RemoteResume> {
    return this.#call<RemoteResume>('bus.resume', { t: token });
  }

  /** Leaves the hub (at shutdown, once this process's sessions have left). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#downSince === undefined) await this.#call('bus.leave', {});
    } catch {
      // The primary is gone: nothing to leave.
    }
    this.#closed = true;
    this.#channel.close('the server shut down');
  }

  // --- inside ---

  /** A call to the primary; a failure is counted (and the outage logged once) and thrown. */
  async #call<T>(kind: string, body: object): Promise<T> {
    try {
      return await this.#channel.request<T>(kind, { ...body, p: this.processId }, this.#timeout);
    } catch (err) {
      this.#counters.failures++;
      if (this.#channel.closed) this.#down((err as Error).message);
      throw err;
    }
  }

  /** A record for the primary that never throws: a failure is counted and logged once per outage. */
  async #quiet(kind: string, body: object): Promise<void> {
    try {
      await this.#call(kind, body);
    } catch {
      // counted in #call; the primary is gone, so the records went with it
    }
  }

  #down(why: string): void {
    if (this.#downSince !== undefined || this.#closed) return;
    this.#downSince = Date.now();
    this.#logger.warn(
      `cluster ${this.name}: the primary process is out of reach (${why}); local delivery goes on, the other workers are out of reach`,
      { code: 'NEKO_ERR_CLUSTER_UNREACHABLE' },
    );
  }

  #onPush(kind: string, body: unknown): void {
    if (kind === 'bus.bc') {
      const bc = body as Broadcast;
      if (bc.p === this.processId) return;
      this.#counters.received++;
      recordBusLatency(this.#counters, clock() - bc.t);
      const local = this.#handler;
      if (!local) return;
      const except = bc.x === undefined ? EMPTY_SET : new Set(bc.x);
      this.#counters.delivered += local.deliver(bc.g, bc.op, toBuffer(bc.d), except, bc.n);
    } else if (kind === 'bus.processes') {
      this.#counters.processes = (body as { n: number }).n;
    }
  }

  #onRequest(kind: string, ask: Ask): Promise<unknown> | undefined {
    if (ask.to !== this.processId) return undefined;
    const local = this.#handler;
    switch (kind) {
      case 'bus.send': {
        const result: Delivery = local ? local.sendTo(ask.g!, ask.s!, ask.op!, toBuffer(ask.d!)) : 'gone';
        if (result !== 'gone') this.#counters.delivered++;
        return Promise.resolve(result);
      }
      case 'bus.group':
        return local
          ? local.group(ask.g!, ask.act!, ask.n!, ask.s!).catch(() => false)
          : Promise.resolve(false);
      case 'bus.gone':
        if (ask.first === true) this.#counters.swept++;
        return local ? local.sessionGone(ask.gone!).then(() => true) : Promise.resolve(false);
      case 'bus.handOver':
        return local ? local.handOver(ask.t!) : Promise.resolve(undefined);
      default:
        return undefined;
    }
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
