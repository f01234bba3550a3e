/**
 * The cluster bus's contract: what the server and the plugin hosts ask of
 * the bus that joins the processes of a cluster, whichever carries it —
 * Redis (redis-bus.ts) or, under `--workers` without Redis, the primary
 * process over IPC. What it does is in docs/cluster.md and scale-out.md
 * ("Bus rules").
 */
import { performance } from 'node:perf_hooks';

/** What became of a direct message (`ctx.sendTo`). */
export type Delivery = 'delivered' | 'queued' | 'gone';

/** A session whose process died, as the sweep reports it. */
export interface GoneSession {
  readonly sessionId: string;
  /** The process that held it. */
  readonly processId: string;
  /** That process's host, when it was known. */
  readonly hostname?: string;
  /** The greeters of the plugins the session had joined. */
  readonly greeters: readonly string[];
}

/** What the bus needs from its server: the sessions of this process. */
export interface BusLocal {
  /**
   * Delivers another process's broadcast to this process's sessions of the
   * plugin (of its group `group` when given), minus `except`.
   * @returns how many sessions it was sent to
   */
  deliver(
    greeter: string,
    op: number,
    data: Buffer,
    except: ReadonlySet<string>,
    group: string | undefined,
  ): number;
  /** A direct message from another process for a session of this one. */
  sendTo(greeter: string, sessionId: string, op: number, data: Buffer): Delivery;
  /** A group change another process asks for a session of this one. @returns the change's result */
  group(greeter: string, action: 'add' | 'remove', group: string, sessionId: string): Promise<boolean>;
  /**
   * A session of a dead process, once, on the one process that sweeps it:
   * run the plugins' `onSessionGone`, then remove what it owned in presence.
   */
  sessionGone(gone: GoneSession): Promise<void>;
  /**
   * Another process asks for a session of this one to resume it there (its
   * client came back elsewhere): takes the token out; when its session waits
   * in its grace period, packages it (state, groups, packets kept during the
   * gap) and lets go of it here without `onLeave`, since it moves on.
   * @returns the package, or undefined when no session of this process waits for the token or it cannot move
   */
  handOver(token: string): Promise<Buffer | undefined>;
}

/** What a resume asked of the cluster came to ({@link Bus.resumeRemote}). */
export type RemoteResume =
  /** The process that held the session handed it over: `handover` is its package. */
  | { readonly outcome: 'moved'; readonly handover: Buffer; readonly processId: string }
  /** No process of the cluster holds a session for that token (unknown, used, or its session ended). */
  | { readonly outcome: 'unknown' }
  /** The process that held it is dead: it no longer listens on the bus, or its heartbeat expired and it did not answer. */
  | { readonly outcome: 'holder-gone'; readonly processId: string; readonly hostname?: string }
  /** The process that held it is alive but did not hand it over (no session waits for the token there any more, its state cannot move, or no answer in time). */
  | { readonly outcome: 'kept'; readonly processId: string };

/** Whether the bus's engine (Redis, or the primary process) answers, for `/readyz` and the dashboard. */
export interface BusStatus {
  readonly reachable: boolean;
  /** Since when (ms since the epoch): the connection, or the start of the outage. */
  readonly since: number;
}

/** Upper bounds (ms) of the buckets of the cross-process latency histogram; the last bucket is +Inf. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/** What the bus counted since it started, for `/metrics`. */
export interface BusCounters {
  /** Messages published (broadcasts, group broadcasts, direct messages and group changes). */
  published: number;
  /** Broadcasts of other processes received. */
  received: number;
  /** Packets delivered to this process's sessions from other processes' messages. */
  delivered: number;
  /** Calls of the bus that failed (Redis, or the primary, unreachable). */
  failures: number;
  /** Times a Redis connection came back after it broke. */
  reconnects: number;
  /** Dead processes this process swept. */
  swept: number;
  /** Processes of the cluster alive at the last check (this one included): 1 until the first check. */
  processes: number;
  /** From publish on another process to delivery here, in ms: counts per bucket of {@link LATENCY_BUCKETS_MS} then +Inf. */
  latency: { buckets: number[]; sum: number; count: number };
}

/**
 * One process's part of the cluster bus. The server calls {@link start}
 * before plugins load and {@link close} once its sessions have left; the
 * plugin hosts call the rest when a session of this process joins, leaves,
 * or reaches sessions of other processes.
 */
export interface Bus {
  /** The cluster's name. */
  readonly name: string;
  /** This process's random id, chosen at start. */
  readonly processId: string;
  readonly hostname: string;
  /** What carries the bus, for people: `Redis at host:port` (password never shown), or `IPC through the primary`. */
  readonly via: string;
  /** The Redis URL with its password as `***`; undefined when the bus is not on Redis. */
  readonly redis: string | undefined;
  /** Where the bus delivers what other processes send (the server's sessions). */
  setLocal(local: BusLocal): void;
  /** Joins the cluster. @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` */
  start(): Promise<void>;
  /** Leaves the cluster: removes this process's entries, disconnects. */
  close(): Promise<void>;
  /** Whether the bus's engine answers now, and since when. */
  status(): BusStatus;
  /** A copy of the counters. */
  counters(): BusCounters;
  /** A session of this process joined a plugin (its first packet to it). */
  joined(greeter: string, sessionId: string): Promise<void>;
  /** A session of this process left a plugin. */
  left(greeter: string, sessionId: string): Promise<void>;
  /** Publishes a broadcast (or group broadcast) for the other processes, after the local delivery; never throws. */
  broadcast(
    greeter: string,
    op: number,
    data: Uint8Array | string,
    except: ReadonlySet<string>,
    group?: string,
  ): void;
  /** A direct message for a session of another process; acknowledged by it. @returns `'gone'` when no process holds it or it did not answer in time */
  sendTo(greeter: string, sessionId: string, op: number, data: Uint8Array | string): Promise<Delivery>;
  /** A session of this process was put in a group. */
  groupJoined(greeter: string, group: string, sessionId: string): Promise<void>;
  /** A session of this process was taken out of a group. @returns whether it was in it */
  groupLeft(greeter: string, group: string, sessionId: string): Promise<boolean>;
  /** A group change for a session of another process, done by that process. */
  groupRemote(greeter: string, action: 'add' | 'remove', group: string, sessionId: string): Promise<boolean>;
  /** The members of a group across the cluster, in the order added. */
  groupMembers(greeter: string, group: string): Promise<string[]>;
  /**
   * This process holds a resumable session with this token: recorded in the
   * cluster (a hash of the token, never the token) so that a resume landing
   * on another process finds it. Never throws.
   */
  tokenIssued(token: string, sessionId: string): Promise<void>;
  /** The token stopped working (used, replaced, or its session ended). Never throws. */
  tokenDropped(token: string): Promise<void>;
  /**
   * A token unknown here: asks the process that holds its session to hand
   * it over. Answers without waiting for a timeout when that process no
   * longer listens on the bus (it died).
   * @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` while the bus's engine is away
   */
  resumeRemote(token: string): Promise<RemoteResume>;
}

/** Counters at zero, for a bus that starts. */
export function newBusCounters(): BusCounters {
  return {
    published: 0,
    received: 0,
    delivered: 0,
    failures: 0,
    reconnects: 0,
    swept: 0,
    processes: 1,
    latency: { buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0), sum: 0, count: 0 },
  };
}

/** A copy of counters, for {@link Bus.counters}. */
export function copyBusCounters(c: BusCounters): BusCounters {
  return { ...c, latency: { buckets: [...c.latency.buckets], sum: c.latency.sum, count: c.latency.count } };
}

/** Counts one cross-process delivery's latency (ms) in its bucket. */
export function recordBusLatency(counters: BusCounters, ms: number): void {
  const latency = counters.latency;
  let bucket = LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
  if (bucket < 0) bucket = LATENCY_BUCKETS_MS.length;
  latency.buckets[bucket]!++;
  latency.sum += ms;
  latency.count++;
}

/** Milliseconds on a clock the processes of one machine share, with sub-ms precision. */
export function busClock(): number {
  return performance.timeOrigin + performance.now();
}
