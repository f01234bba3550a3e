import type { Packet, RecvOptions, SendData, SessionInfo } from '../context/context.js';
import { ReceivedPacket } from '../protocol/packet.js';
import { PacketContext, type Member, type RunView } from '../context/scopes.js';
import { NekoError, isNekoError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { PluginHost } from '../plugins/host.js';
import type { LoadedPlugin } from '../plugins/loader.js';
import type { Router } from '../plugins/router.js';
import type { Frame } from '../protocol/frame.js';
import { Status } from '../protocol/status.js';

/** The side of a session the dispatcher talks to. */
export interface DispatchTarget {
  readonly info: SessionInfo;
  readonly isOpen: boolean;
  /** False while the session waits for its client to resume it (what is sent to it is kept). */
  readonly connected: boolean;
  readonly sentCount: number;
  send(greeter: string, op: number, data: SendData): boolean;
  sendStatus(code: number): boolean;
  close(): void;
}

export interface DispatcherOptions {
  /** Default wait of `ctx.recv()`, in ms. */
  recvTimeoutMs: number;
}

/** Told when a plugin's `ctx.recv()` starts (`true`) or stops (`false`) waiting for a session's next packet. */
export type RecvWatcher = (greeter: string, waiting: boolean) => void;

/**
 * The watchers of the few sessions watched (the dashboard's Playground): kept
 * off the dispatcher, so that other sessions carry nothing for it, and read
 * only when a `recv()` starts or stops waiting.
 */
const recvWatchers = new WeakMap<Dispatcher, RecvWatcher>();

/** Tells `watcher` whenever a handler of this dispatcher's session starts or stops waiting in `ctx.recv()`. */
export function watchRecv(dispatcher: Dispatcher, watcher: RecvWatcher): void {
  recvWatchers.set(dispatcher, watcher);
}

/** How a handler stands when the dispatcher may move on to the next packet. */
type Outcome = 'done' | 'parked' | 'failed';

/**
 * Runs one session's packets through the router, one at a time, in arrival
 * order (protocol §4.7–4.8).
 *
 * A packet goes to the handler of the same greeter waiting in `ctx.recv()`,
 * or else starts a new `Logic.recv(ctx)` run. The next packet is taken once
 * that handler has finished or is waiting in `recv()`. At that point, if
 * nothing was sent to the client since the packet arrived, the client gets a
 * status (200 finished, 100 waiting) so that it holds a fresh server random.
 * A handler that throws or rejects is logged and answered 500; the session
 * and every other session go on.
 */
export class Dispatcher {
  readonly #target: DispatchTarget;
  readonly #router: Router;
  readonly #logger: Logger;
  readonly #options: DispatcherOptions;
  /** The next packet to dispatch, in arrival order; the ones after it wait in #later. */
  #next: Frame | undefined;
  /**
   * Packets that arrived behind #next (a client that sends several before the
   * first is handled). Made on first use: an array emptied by shift() keeps the
   * storage its first push made (about 150 bytes), which most sessions, one
   * packet at a time, never need.
   */
  #later: Frame[] | undefined;
  #draining = false;
  // A server holds one dispatcher per connection, and most sessions sit idle
  // for most of their life, so what a dispatcher keeps is kept small: the
  // collections below are made on first use (most sessions never park a
  // handler; an idle session has joined no plugin), and the handler runs are
  // only counted. (An empty Map or Set costs about 170 bytes with its hash
  // table; a one-element array, about 40.)
  /** Handler runs waiting in `ctx.recv()`, by greeter. */
  #parked: Map<string, HandlerRun> | undefined;
  /** Handler runs not yet finished (running or parked). */
  #runCount = 0;
  /** The run whose packet is being handled: it neither finished nor waits in `recv()`. */
  #current: HandlerRun | undefined;
  /** The plugins this session has talked to, in the order it first did: it leaves them when it closes. */
  #joined: PluginHost[] | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(target: DispatchTarget, router: Router, logger: Logger, options: DispatcherOptions) {
    this.#target = target;
    this.#router = router;
    this.#logger = logger;
    this.#options = options;
  }

  /** Queues an authenticated packet. */
  enqueue(frame: Frame): void {
    if (this.#next === undefined) this.#next = frame;
    else (this.#later ??= []).push(frame);
    if (!this.#draining) void this.#drain();
  }

  /** Handler runs still going (running or waiting in `recv()`). */
  get activeRuns(): number {
    return this.#runCount;
  }

  /** The greeters of the plugins this session has talked to, in the order it first did. */
  joinedGreeters(): string[] {
    return this.#joined ? this.#joined.map((host) => host.greeter) : [];
  }

  /** The plugins this session has talked to, in the order it first did (a handover to another process carries them). */
  joinedHosts(): readonly PluginHost[] {
    return this.#joined ?? [];
  }

  /** The session moved here from another process of the cluster, already a member of these plugins. */
  movedIn(hosts: readonly PluginHost[]): void {
    if (hosts.length > 0) this.#joined = [...hosts];
  }

  /** Resolves when no handler is running and no packet is queued (parked handlers do not count). */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Resolves when no handler run is left at all, parked ones included, and
   * no packet is queued: no conversation is going on (what a drain waits for
   * before it tells the client the server goes away).
   */
  async whenDone(): Promise<void> {
    while (this.#runCount > 0 || !this.#isIdle()) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
  }

  /**
   * The handler runs busy now (not waiting in `recv()`): the one handling the
   * packet being dispatched, by greeter and op, and how many others run on
   * their own (a handler that went on after its `recv()` timed out).
   */
  busyRuns(): { current: { greeter: string; op: number } | undefined; others: number } {
    const current = this.#current;
    const busy = this.#runCount - (this.#parked?.size ?? 0);
    return {
      current: current && { greeter: current.greeter, op: current.op },
      others: Math.max(0, busy - (current ? 1 : 0)),
    };
  }

  /**
   * How long the session may wait for its client after a drop: the longest
   * resume grace period (`$grace`) of the plugins it joined; 0 when none keeps it.
   */
  graceMs(): number {
    let grace = 0;
    for (const host of this.#joined ?? []) grace = Math.max(grace, host.graceMs);
    return grace;
  }

  /**
   * The session closed: waiting `recv()` calls reject, queued packets are
   * dropped, and the session leaves every plugin it joined (their `onLeave`
   * hooks run). Resolves when the hooks are done.
   */
  sessionClosed(): Promise<void> {
    this.#stopPackets();
    const id = this.#target.info.id;
    const joined = this.#joined;
    if (!joined) return Promise.resolve();
    this.#joined = undefined;
    const leaving = joined.map((host) => host.leave(id));
    return Promise.all(leaving).then(() => undefined);
  }

  /**
   * The connection dropped and the session waits for its client to resume
   * it: as when it closes, waiting `recv()` calls reject and queued packets
   * are dropped; it leaves the plugins that keep no session (`$grace` 0,
   * `onLeave`) and stays in the others (`onDisconnect`). Resolves when the
   * hooks are done.
   */
  sessionDropped(): Promise<void> {
    this.#stopPackets();
    const id = this.#target.info.id;
    const joined = this.#joined ?? [];
    const kept = joined.filter((host) => host.graceMs > 0);
    this.#joined = kept.length > 0 ? kept : undefined;
    const hooks = joined.map((host) => (host.graceMs > 0 ? host.disconnect(id) : host.leave(id)));
    return Promise.all(hooks).then(() => undefined);
  }

  /** The session resumed on a new connection: its plugins' `onReconnect` hooks run. */
  sessionResumed(): Promise<void> {
    const id = this.#target.info.id;
    const hooks = (this.#joined ?? []).map((host) => host.reconnect(id));
    return Promise.all(hooks).then(() => undefined);
  }

  /** Drops the queued packets and ends the waiting `recv()` calls: the connection is gone. */
  #stopPackets(): void {
    this.#next = undefined;
    if (this.#later) this.#later.length = 0;
    const parked = this.#parked;
    if (parked) {
      for (const run of parked.values()) run.abort();
      parked.clear();
    }
    this.#checkIdle();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#next !== undefined && this.#target.isOpen) {
        const frame = this.#next;
        this.#next = this.#later?.shift();
        const pending = this.#dispatch(frame);
        if (pending) await pending;
      }
    } finally {
      this.#draining = false;
      this.#checkIdle();
    }
  }

  /** Dispatches one packet; returns a promise only when its handler went asynchronous. */
  #dispatch(frame: Frame): Promise<void> | undefined {
    const sentBefore = this.#target.sentCount;
    const parked = this.#parked?.get(frame.greeter);
    if (parked) {
      this.#parked!.delete(frame.greeter);
      return this.#settle(parked, parked.deliver(frame), sentBefore);
    }
    const route = this.#router.resolve(frame.greeter);
    if (route.kind === 'missing') {
      this.#target.sendStatus(Status.NotFound);
      return undefined;
    }
    if (route.kind === 'unavailable') {
      this.#target.sendStatus(Status.Unavailable);
      return undefined;
    }
    const host = route.host;
    const member = host.member(this.#target.info.id);
    if (member) return this.#run(host, member, frame, sentBefore);
    // The session's first packet to this plugin: it joins (onJoin runs) before the packet is handled.
    if (!this.#joined) this.#joined = [host];
    else if (!this.#joined.includes(host)) this.#joined.push(host);
    return host.join(this.#target).then((joined) => {
      if (this.#target.isOpen) return this.#run(host, joined, frame, sentBefore);
      return undefined;
    });
  }

  #run(host: PluginHost, member: Member, frame: Frame, sentBefore: number): Promise<void> | undefined {
    const run = new HandlerRun(this, host, member, frame);
    this.#runCount++;
    return this.#settle(run, run.start(), sentBefore);
  }

  #settle(
    run: HandlerRun,
    outcome: Outcome | Promise<Outcome>,
    sentBefore: number,
  ): Promise<void> | undefined {
    if (typeof outcome === 'string') {
      this.#afterPhase(run, outcome, sentBefore);
      return undefined;
    }
    this.#current = run;
    return outcome.then((o) => {
      if (this.#current === run) this.#current = undefined;
      this.#afterPhase(run, o, sentBefore);
    });
  }

  #afterPhase(run: HandlerRun, outcome: Outcome, sentBefore: number): void {
    run.phaseEnded();
    if (outcome === 'failed') {
      this.#target.sendStatus(Status.HandlerError);
      return;
    }
    // A handler can return right after a recv() it did not await: it is done, not waiting.
    let parked = outcome === 'parked' && run.isWaiting;
    if (parked) {
      if (!this.#target.isOpen) run.abort();
      else if (this.#parked?.has(run.greeter)) {
        // An older run (one whose recv() timed out, then waited again) already takes this greeter's packets.
        run.abort(alreadyWaiting());
        parked = false;
      } else (this.#parked ??= new Map()).set(run.greeter, run);
    }
    if (this.#target.sentCount === sentBefore) {
      this.#target.sendStatus(parked ? Status.Continue : Status.Ok);
    }
  }

  // --- called by HandlerRun ---

  /** @internal */
  get target(): DispatchTarget {
    return this.#target;
  }

  /** @internal */
  get recvTimeoutMs(): number {
    return this.#options.recvTimeoutMs;
  }

  /** @internal */
  get logger(): Logger {
    return this.#logger;
  }

  /** @internal A run outside a dispatch phase waits in `recv()`; it takes the next packet of its greeter. */
  park(run: HandlerRun): void {
    if (!this.#target.isOpen) run.abort();
    else if (this.#parked?.has(run.greeter)) run.abort(alreadyWaiting());
    else (this.#parked ??= new Map()).set(run.greeter, run);
  }

  /** @internal A run that waited in `recv()` gave up (timeout): it no longer takes packets. */
  unpark(run: HandlerRun): void {
    if (this.#parked?.get(run.greeter) === run) this.#parked.delete(run.greeter);
  }

  /** @internal */
  runEnded(run: HandlerRun): void {
    this.#runCount--;
    if (this.#current === run) this.#current = undefined;
    this.unpark(run);
    this.#checkIdle();
  }

  #isIdle(): boolean {
    return !this.#draining && this.#next === undefined && this.#runCount === (this.#parked?.size ?? 0);
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface Waiter {
  resolve(packet: Packet): void;
  reject(err: NekoError): void;
  timer: NodeJS.Timeout;
}

/** One call of `Logic.recv(ctx)`, from its first packet to its end, with every packet its `recv()` takes. */
class HandlerRun implements RunView {
  readonly greeter: string;
  readonly #dispatcher: Dispatcher;
  readonly #host: PluginHost;
  readonly #member: Member;
  /** The plugin version this run started on; it finishes on it even if a new one is swapped in. */
  readonly #plugin: LoadedPlugin;
  readonly #frame: Frame;
  /** The dispatcher waits on this until the handler finishes or parks. */
  #phase: Deferred<Outcome> | undefined;
  #waiter: Waiter | undefined;
  /** When the packet of the current phase reached the handler (`performance.now()`). */
  #phaseStart = 0;
  /** The op of the packet of the current phase. */
  #phaseOp = 0;
  /** Set once `Logic.recv` has returned or thrown. */
  #finished = false;

  constructor(dispatcher: Dispatcher, host: PluginHost, member: Member, frame: Frame) {
    this.#dispatcher = dispatcher;
    this.#host = host;
    this.#member = member;
    this.#plugin = host.plugin;
    this.#frame = frame;
    this.greeter = host.greeter;
  }

  get session(): SessionInfo {
    return this.#dispatcher.target.info;
  }

  /** True while a `recv()` of this run waits for a packet. */
  get isWaiting(): boolean {
    return this.#waiter !== undefined;
  }

  /** The op of the packet the run handles now (its first, or the one its `recv()` took last). */
  get op(): number {
    return this.#phaseOp;
  }

  /** Calls `Logic.recv`. Synchronous handlers settle without a promise. */
  start(): Outcome | Promise<Outcome> {
    this.#phaseStart = performance.now();
    this.#phaseOp = this.#frame.op;
    const phase = this.#newPhase();
    const ctx = new PacketContext(this.#host, this.#member, this, this.#frame.op, this.#frame.data);
    let result: unknown;
    try {
      result = this.#plugin.logic.recv(ctx);
    } catch (err) {
      this.#ended(err);
      return 'failed';
    }
    if (!isThenable(result)) {
      // A synchronous handler is done when it returns, even if it left a recv() behind.
      this.#ended(undefined);
      return 'done';
    }
    result.then(
      () => this.#ended(undefined),
      (err: unknown) => this.#ended(err ?? new Error('handler rejected with no reason')),
    );
    return phase;
  }

  /** Hands a packet to the waiting `recv()`; resolves when the handler finishes or parks again. */
  deliver(frame: Frame): Promise<Outcome> {
    this.#phaseStart = performance.now();
    this.#phaseOp = frame.op;
    const phase = this.#newPhase();
    const waiter = this.#waiter!;
    this.#waiter = undefined;
    clearTimeout(waiter.timer);
    this.#watched(false);
    waiter.resolve(new ReceivedPacket(frame.op, frame.data));
    return phase;
  }

  /** Ends a waiting `recv()` with an error: by default, because the session closed. */
  abort(
    error = new NekoError('NEKO_ERR_CONTEXT_CLOSED', 'the connection closed while ctx.recv() waited'),
  ): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    clearTimeout(waiter.timer);
    this.#watched(false);
    waiter.reject(error);
  }

  /** The packet of the current phase is handled (the handler finished, failed or waits again): counts it. */
  phaseEnded(): void {
    this.#host.stats.handled(performance.now() - this.#phaseStart, this.#phaseOp);
  }

  // --- RunView ---

  recv(options?: RecvOptions): Promise<Packet> {
    if (this.#finished) {
      return Promise.reject(
        new NekoError('NEKO_ERR_CONTEXT_RECV_MISUSE', 'ctx.recv() was called after the handler returned', {
          hint: 'Call ctx.recv() inside Logic.recv and await it before returning.',
        }),
      );
    }
    if (this.#waiter) {
      return Promise.reject(
        new NekoError('NEKO_ERR_CONTEXT_RECV_MISUSE', 'ctx.recv() is already waiting', {
          hint: 'Await each ctx.recv() before calling it again.',
        }),
      );
    }
    if (!this.#dispatcher.target.isOpen) {
      return Promise.reject(new NekoError('NEKO_ERR_CONTEXT_CLOSED', 'the connection is closed'));
    }
    const timeoutMs = options?.timeoutMs ?? this.#dispatcher.recvTimeoutMs;
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#waiter?.timer !== timer) return;
        this.#waiter = undefined;
        this.#watched(false);
        this.#dispatcher.unpark(this);
        reject(
          new NekoError('NEKO_ERR_CONTEXT_RECV_TIMEOUT', `ctx.recv() got no packet within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#waiter = { resolve, reject, timer };
      this.#watched(true);
      // Outside a dispatch phase (e.g. a second recv() after a timeout) the run parks by itself.
      if (!this.#resolvePhase('parked')) this.#dispatcher.park(this);
    });
  }

  // --- internals ---

  /** Tells the session's recv watcher, if it has one (see {@link watchRecv}). */
  #watched(waiting: boolean): void {
    recvWatchers.get(this.#dispatcher)?.(this.greeter, waiting);
  }

  #newPhase(): Promise<Outcome> {
    this.#phase = deferred<Outcome>();
    return this.#phase.promise;
  }

  #resolvePhase(outcome: Outcome): boolean {
    const phase = this.#phase;
    if (!phase) return false;
    this.#phase = undefined;
    phase.resolve(outcome);
    return true;
  }

  #ended(err: unknown): void {
    this.#finished = true;
    this.#dropWaiter();
    if (err !== undefined) this.#reportFailure(err);
    this.#dispatcher.runEnded(this);
    if (!this.#resolvePhase(err === undefined ? 'done' : 'failed') && err !== undefined) {
      // Failed outside a dispatch phase (after a recv() timeout, or in a detached callback).
      if (!isNekoError(err, 'NEKO_ERR_CONTEXT_CLOSED'))
        this.#dispatcher.target.sendStatus(Status.HandlerError);
    }
  }

  /** A handler that returns while a `recv()` it started still waits: that wait ends with an error. */
  #dropWaiter(): void {
    // The usual case: nothing waits. (Building an error, stack and all, costs more than a packet.)
    if (!this.#waiter) return;
    this.abort(
      new NekoError('NEKO_ERR_CONTEXT_RECV_MISUSE', 'the handler returned while its ctx.recv() waited', {
        hint: 'Await ctx.recv() inside Logic.recv.',
      }),
    );
  }

  #reportFailure(err: unknown): void {
    const logger = this.#dispatcher.logger;
    const fields = { plugin: this.greeter, session: this.session.id, error: err };
    if (isNekoError(err, 'NEKO_ERR_CONTEXT_CLOSED')) {
      logger.info(`${this.#plugin.spec.name}: handler ended because the connection closed`, fields);
      return;
    }
    this.#host.stats.failed();
    let detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    // A coded error names its code as Node's own do (`NekoError [NEKO_ERR_STORAGE_UNREACHABLE]: …`).
    if (isNekoError(err) && detail.startsWith(`${err.name}: `)) {
      detail = `${err.name} [${err.code}]${detail.slice(err.name.length)}`;
    }
    logger.error(`${this.#plugin.spec.name}: recv failed: ${detail}`, {
      ...fields,
      code: 'NEKO_ERR_PLUGIN_HANDLER',
    });
  }
}

function alreadyWaiting(): NekoError {
  return new NekoError(
    'NEKO_ERR_CONTEXT_RECV_MISUSE',
    "another run of this plugin already waits for this client's next packet",
    { hint: 'Let one handler run at a time wait in ctx.recv() for a client.' },
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
