/**
 * The primary of `nekoconnect start --workers <n|auto>`: it accepts no
 * client itself. With `node:cluster` it forks n workers that share the
 * port (each a whole server: cli/start.ts in worker mode, workers/worker.ts),
 * hands each its start options and the secrets over IPC (never through the
 * environment), runs the bus and presence hub when no Redis is configured
 * (cluster/ipc-hub.ts), serves the one dashboard and `/metrics` over every
 * worker (workers/primary-dashboard.ts), restarts a worker that exits
 * without being asked to (after 100 ms, doubling to 10 s while it keeps
 * failing; back to 100 ms once a worker ran 30 s), and forwards the
 * signals: SIGHUP reloads every worker, SIGUSR2 drains them, SIGTERM and
 * SIGINT shut them down; once every worker has exited, the primary exits
 * with the worst exit code of theirs.
 */
import cluster, { type Worker } from 'node:cluster';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import kleur from 'kleur';
import { ipcEndpoint } from '../cluster/ipc-channel.js';
import { IpcHub, type HubPipe } from '../cluster/ipc-hub.js';
import type { StartFlags, StartOptions } from '../config/start-options.js';
import { redisPlace } from '../cluster/redis.js';
import { Logger } from '../logging/logger.js';
import type { ServerFacts } from '../dashboard/views.js';
import { clusterPool, startPrimaryDashboard, type PrimaryDashboard } from './primary-dashboard.js';
import { WORKER_MESSAGES, type ForwardedSignal, type WorkerListening, type WorkerStart } from './worker.js';

/** The first wait before a crashed worker is started again, in ms; it doubles while workers keep failing. */
export const RESTART_FIRST_MS = 100;
/** The longest wait before a restart, in ms. */
export const RESTART_MAX_MS = 10_000;
/** A worker that ran this long (ms) before it exited puts the wait back to {@link RESTART_FIRST_MS}. */
export const RESTART_RESET_AFTER_MS = 30_000;

/** A signal a worker passes on within this many ms of the same one reaching the primary is that one (a Ctrl+C). */
const SAME_SIGNAL_MS = 1000;

/** What the CLI gives the primary. */
export interface PrimaryContext {
  /** The options as resolved (their `workers` says how many). */
  options: StartOptions;
  /** The start flags, for the workers (each resolves its options from them, with the secrets of {@link env}). */
  flags: StartFlags;
  cwd: string;
  /** The variables holding secrets the options were read from (secret, URLs, token): they go to the workers over IPC. */
  env: Record<string, string>;
  /** Prints a line (the output of `--log-format`). */
  out(line: string): void;
  /** Writes the workers' lines as they are (they are formatted by the workers already). */
  raw: { out(line: string): void; err(line: string): void };
  /** Prints the records of the primary's logger as the CLI prints a server's; returns a function that stops. */
  print(logger: Logger): () => void;
  /** `json` or `pretty`: how the workers' lines are passed on. */
  format: 'json' | 'pretty';
  /** Registers the shutdown signal handlers (SIGINT, SIGTERM); returns a function that removes them. */
  onSignal(handler: (signal: string) => void): () => void;
  /** Registers SIGHUP and SIGUSR2; returns a function that removes them. */
  onControl?: (handler: (signal: 'SIGHUP' | 'SIGUSR2') => void) => () => void;
  /** How the command was started, for the dashboard. */
  facts: ServerFacts;
  /** The script the workers run: the CLI. Default the primary's own (`process.argv[1]`). */
  exec?: string;
}

/** One worker slot (1 to n): the worker running in it now, and its restarts. */
interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  pipe: HubPipe | undefined;
  startedAt: number;
  /** The next restart's wait. */
  backoff: number;
  restart: NodeJS.Timeout | undefined;
  listening: WorkerListening | undefined;
  /** Ended before it was started (a shutdown came first): its exit code does not count. */
  aborted: boolean;
}

/**
 * Runs the primary until every worker has exited after a shutdown (or a
 * drain). Resolves with the exit code: the worst of the workers', 1 when a
 * worker could not start.
 */
export async function runPrimary(context: PrimaryContext): Promise<number> {
  const { options } = context;
  const n = options.workers ?? 1;
  const redis = options.cluster;
  const via = redis === undefined ? 'IPC bus through the primary' : `Redis at ${hostPort(redis.shown)}`;
  // A shutdown signal that comes while the dashboard starts (before the real handlers below) is held,
  // not left to Node's default (dying without a word), and acted on once they are in place.
  let early: string | undefined;
  const removeEarly = context.onSignal((signal) => (early ??= signal));
  context.out(`${kleur.bold('workers:')} ${n} (${via}), primary pid ${process.pid}`);

  // The secrets go over IPC: nothing in this process's environment is handed down at fork.
  for (const key of Object.keys(context.env)) delete process.env[key];

  let dashboard: PrimaryDashboard | undefined;
  if (options.dashboard !== undefined || options.metrics !== undefined) {
    dashboard = await startPrimaryDashboard(
      {
        dashboard: options.dashboard,
        metrics: options.metrics,
        facts: context.facts,
        workers: n,
        // The lines of workers exiting and restarting are this primary's own (below).
        logWorkers: false,
      },
      { ...clusterPool(), numberOf: (worker) => slots.find((slot) => slot.worker === worker)?.index },
    );
    if (dashboard.url !== undefined) context.out(`${kleur.bold('dashboard')} ${dashboard.url}`);
    const metrics = dashboard.metricsAddress;
    if (metrics !== undefined) context.out(`metrics on http://${metrics.address}:${metrics.port}/metrics`);
  }
  const logger = dashboard?.logger ?? new Logger();
  const stopPrinting = context.print(logger);

  const hub = redis === undefined ? new IpcHub({ name: 'workers', logger }) : undefined;
  const flags: StartFlags = { ...context.flags };
  delete flags.workers;
  delete flags.secretFile;

  cluster.setupPrimary({
    ...(context.exec === undefined ? {} : { exec: context.exec }),
    serialization: 'advanced',
    silent: true,
  });

  const slots: Slot[] = Array.from({ length: n }, (_, i) => ({
    index: i + 1,
    worker: undefined,
    pipe: undefined,
    startedAt: 0,
    backoff: RESTART_FIRST_MS,
    restart: undefined,
    listening: undefined,
    aborted: false,
  }));
  let stopping: 'shutdown' | 'drain' | undefined;
  let worst = 0;
  let announced = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const running = (): number => slots.filter((slot) => slot.worker !== undefined).length;
  const endIfDone = (): void => {
    if (stopping !== undefined && running() === 0) finish(worst);
  };

  const fork = (slot: Slot): void => {
    slot.restart = undefined;
    const worker = cluster.fork({ NEKOCONNECT_WORKER: String(slot.index) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.listening = undefined;
    // The hub serves the worker's pipe from its first message (its bus joins before it listens).
    slot.pipe = hub?.attach(ipcEndpoint(worker), `worker ${slot.index}`);
    passOn(worker.process.stdout, slot.index, context.format, context.raw.out);
    passOn(worker.process.stderr, slot.index, context.format, context.raw.err);
    worker.on('message', (message: unknown) => {
      const m = message as { nc?: unknown; listening?: WorkerListening; signal?: ForwardedSignal };
      if (m?.nc === WORKER_MESSAGES.hello) {
        if (stopping !== undefined) {
          // A shutdown came before this worker got its options: it has nothing to stop yet.
          slot.aborted = true;
          worker.process.kill('SIGKILL');
          return;
        }
        const start: WorkerStart = { index: slot.index, of: n, flags, cwd: context.cwd, env: context.env };
        // A worker dead meanwhile fails the send (EPIPE): its exit is handled; without a callback the
        // failure would be an 'error' event on the worker, ending the primary.
        worker.send({ nc: WORKER_MESSAGES.start, start }, () => {});
      } else if (m?.nc === WORKER_MESSAGES.relay && m.signal !== undefined) {
        relayed(m.signal);
      } else if (m?.nc === WORKER_MESSAGES.listening && m.listening !== undefined) {
        slot.listening = m.listening;
        if (!announced && slots.every((s) => s.listening !== undefined)) {
          announced = true;
          const at = m.listening;
          context.out(
            `${kleur.green('listening')} on ${options.serverOptions.tls !== undefined ? 'tls' : 'tcp'}://${at.address}:${at.port}  ${kleur.dim(`(${n} workers; Ctrl+C to stop)`)}`,
          );
        }
      }
    });
    worker.once(
      'exit',
      (code: number | null, signal: string | null) => void exited(slot, worker, code, signal),
    );
  };

  const exited = async (
    slot: Slot,
    worker: Worker,
    code: number | null,
    signal: string | null,
  ): Promise<void> => {
    if (slot.worker !== worker) return;
    const ranMs = Date.now() - slot.startedAt;
    const pipe = slot.pipe;
    slot.worker = undefined;
    slot.pipe = undefined;
    const listened = slot.listening !== undefined;
    slot.listening = undefined;
    const how = signal !== null ? `signal ${signal}` : `code ${String(code)}`;
    const pid = worker.process.pid;
    if (pipe !== undefined) await hub?.detach(pipe);
    if (stopping !== undefined) {
      if (!slot.aborted) worst = Math.max(worst, signal !== null ? 1 : (code ?? 1));
      slot.aborted = false;
      logger.info(`worker ${slot.index} (pid ${pid}) exited with ${how}`);
      endIfDone();
      return;
    }
    if (!listened && !announced) {
      // A worker that cannot start (a port in use, a plugins directory missing) stops the start.
      logger.error(
        `worker ${slot.index} (pid ${pid}) exited with ${how} before it listened: stopping the other workers`,
        { code: 'NEKO_ERR_WORKER_EXITED' },
      );
      worst = Math.max(worst, signal !== null || code === null || code === 0 ? 1 : code);
      stop('shutdown');
      return;
    }
    if (ranMs >= RESTART_RESET_AFTER_MS) slot.backoff = RESTART_FIRST_MS;
    const wait = slot.backoff;
    slot.backoff = Math.min(RESTART_MAX_MS, slot.backoff * 2);
    logger.warn(
      `worker ${slot.index} (pid ${pid}) exited with ${how} after ${formatMs(ranMs)}; restarting it in ${formatMs(wait)}`,
      { code: 'NEKO_ERR_WORKER_EXITED' },
    );
    slot.restart = setTimeout(() => {
      if (stopping !== undefined) return endIfDone();
      fork(slot);
      logger.info(`worker ${slot.index} restarted (pid ${slot.worker?.process.pid})`);
    }, wait);
  };

  /** Forwards a signal to every worker running. */
  const forward = (signal: ForwardedSignal): void => {
    for (const slot of slots) {
      const worker = slot.worker;
      if (worker === undefined || !worker.isConnected()) continue;
      try {
        worker.send({ nc: WORKER_MESSAGES.signal, signal }, () => {});
      } catch {
        // exiting already
      }
    }
  };

  const stop = (how: 'shutdown' | 'drain', signal?: ForwardedSignal): void => {
    const first = stopping === undefined;
    stopping ??= how;
    for (const slot of slots) {
      if (slot.restart === undefined) continue;
      clearTimeout(slot.restart);
      slot.restart = undefined;
    }
    if (signal !== undefined) {
      if (first)
        logger.info(`${signal}: ${how === 'drain' ? 'draining' : 'shutting down'} ${running()} worker(s)`);
      forward(signal);
    } else if (first) {
      forward('SIGTERM');
    }
    endIfDone();
  };

  /**
   * A signal, the primary's own or one a worker got and passed on (`nekoconnect reload` or `drain`
   * find a worker's pid in the data directory's lock). A Ctrl+C reaches every process of the group,
   * in no set order: a signal within a second of the same one passed on by a worker, or one a worker
   * passes on within a second of the same one, is that one, counted once. Two of the primary's own
   * count twice (a second Ctrl+C exits at once).
   */
  const lastSeen = new Map<ForwardedSignal, { at: number; relayed: boolean }>();
  const received = (signal: ForwardedSignal, relayed: boolean): void => {
    const last = lastSeen.get(signal);
    const now = Date.now();
    lastSeen.set(signal, { at: now, relayed: relayed && (last?.relayed ?? true) });
    if (last !== undefined && now - last.at < SAME_SIGNAL_MS && (relayed || last.relayed)) return;
    if (signal === 'SIGINT' || signal === 'SIGTERM') stop('shutdown', signal);
    else control(signal);
  };
  const relayed = (signal: ForwardedSignal): void => received(signal, true);
  const removeSignals = context.onSignal((signal) =>
    received(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM', false),
  );
  removeEarly();
  const removeControl = context.onControl?.((signal) => received(signal, false));
  function control(signal: 'SIGHUP' | 'SIGUSR2'): void {
    if (signal === 'SIGUSR2') stop('drain', 'SIGUSR2');
    else if (stopping === undefined) {
      logger.info(`SIGHUP: every worker reloads its config and plugins`);
      forward('SIGHUP');
    }
  }

  try {
    if (early !== undefined) received(early === 'SIGINT' ? 'SIGINT' : 'SIGTERM', false);
    // Stopped before any worker was forked: there is none to start.
    if (stopping === undefined) for (const slot of slots) fork(slot);
    endIfDone();
    return await finished;
  } finally {
    removeSignals();
    removeControl?.();
    for (const slot of slots) clearTimeout(slot.restart);
    await hub?.close();
    await dashboard?.close();
    stopPrinting();
  }
}

/** Passes a worker's output on, line by line: tagged `worker <i>` (a field of each JSON record with --log-format json). */
function passOn(
  stream: Readable | null,
  index: number,
  format: 'json' | 'pretty',
  write: (line: string) => void,
): void {
  if (stream === null) return;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  const tag = kleur.dim(`worker ${index} │`);
  lines.on('line', (line) => {
    if (format === 'json' && line.startsWith('{')) {
      try {
        write(JSON.stringify({ ...(JSON.parse(line) as object), worker: index }));
        return;
      } catch {
        // not a record: passed on as it is
      }
    }
    write(`${tag} ${line}`);
  });
}

function hostPort(shownUrl: string): string {
  try {
    const place = redisPlace(shownUrl);
    return `${place.host}:${place.port}`;
  } catch {
    return shownUrl;
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
