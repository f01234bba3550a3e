/**
 * The primary's dashboard and metrics under `--workers`: one dashboard (the
 * same page and API as a single server's) over every worker, and one
 * `/healthz`, `/readyz` and `/metrics`. The primary holds no session: it
 * asks its workers over IPC (workers/worker-report.ts answers there) and
 * merges their answers; their log lines come to it as they are written,
 * each tagged with its worker, beside the primary's own lines (workers
 * started, exited, restarted).
 */
import cluster, { type Worker } from 'node:cluster';
import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';

/** A registry's metrics as `getMetricsAsJSON()` gives them, what a worker sends. */
type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];
import type { StableToken } from '../config/dashboard-options.js';
import { createDashboard, type Dashboard } from '../dashboard/dashboard.js';
import type { ErrorView } from '../dashboard/error-view.js';
import type {
  CellsPage,
  DashboardPlace,
  DashboardSource,
  DocumentsPage,
  LogOrigin,
  PageParams,
  SessionsView,
  WorkerTag,
} from '../dashboard/source.js';
import type {
  OpView,
  OverviewView,
  PluginView,
  ServerFacts,
  SessionDetailView,
  SettingsView,
} from '../dashboard/views.js';
import { NekoError } from '../errors.js';
import { Logger, type LogFields, type LogLevel, type LogRecord } from '../logging/logger.js';
import { answerHealth, type HealthSource } from '../metrics/endpoints.js';
import { MetricsServer } from '../metrics/metrics-server.js';
import { METRIC_PREFIX } from '../metrics/registry.js';
import { LatencyHistogram } from '../plugins/stats.js';
import type { Readiness } from '../server/server.js';
import type { Query } from '../storage/database.js';
import {
  DASHBOARD_MESSAGES,
  type DashboardAsk,
  type DashboardAsks,
  type WireLogRecord,
  type WorkerOverview,
  type WorkerPlugin,
} from './worker-report.js';

/** How long the primary waits for a worker's answer by default. */
export const DEFAULT_ASK_TIMEOUT_MS = 2_000;

/** Options of {@link startPrimaryDashboard}. */
export interface PrimaryDashboardOptions {
  /** Where the dashboard listens, whether it is open, its stable token; undefined: no dashboard. */
  dashboard?: { port: number; host: string; open: boolean; token?: StableToken } | undefined;
  /** The metrics port (`--metrics-port`); undefined: none (the dashboard still serves `/metrics`). */
  metrics?: { port: number; host: string } | undefined;
  /** How the server was started, for the overview and settings. */
  facts: ServerFacts;
  /** How many workers the primary keeps running: `/readyz` wants that many, each ready. */
  workers: number;
  /** What the dashboard's Reload runs; default: every worker reloads its config and plugins. */
  reload?: () => Promise<{ readonly ok: boolean }>;
  /** How long to wait for a worker's answer. Default {@link DEFAULT_ASK_TIMEOUT_MS}. */
  askTimeoutMs?: number;
  /**
   * Whether the dashboard logs workers starting and exiting itself. Default
   * true; false when the caller logs them on {@link PrimaryDashboard.logger}.
   */
  logWorkers?: boolean;
}

/** The workers the primary runs: node:cluster's by default. */
export interface WorkerPool {
  /** The workers now (live or exiting). */
  workers(): Worker[];
  /** Emits `fork` (worker), `exit` (worker, code, signal) and `message` (worker, message), as node:cluster does. */
  readonly events: Pick<EventEmitter, 'on' | 'off'>;
  /**
   * The number the dashboard shows for a worker before it reports its own
   * (`--workers` numbers its slots 1 to n, a restarted worker keeping its
   * slot's). Default node:cluster's `worker.id`.
   */
  numberOf?(worker: Worker): number | undefined;
}

/** node:cluster's workers, as a {@link WorkerPool}. */
export function clusterPool(): WorkerPool {
  return {
    workers: () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined),
    events: cluster,
  };
}

/** The primary's dashboard and metrics port, started. */
export interface PrimaryDashboard {
  /** The dashboard's URL with its token (without it when the token is a stable one); undefined with no dashboard. */
  readonly url: string | undefined;
  readonly dashboard: Dashboard | undefined;
  /** The metrics port's address, when one listens. */
  readonly metricsAddress: AddressInfo | undefined;
  /** The primary's own log (workers started, exited, restarted): add lines, or subscribe to print them. */
  readonly logger: Logger;
  /** Workers restarted after an exit, so far. */
  restarts(): number;
  /** What `/readyz` answers. */
  readiness(): Promise<Readiness>;
  /** Stops serving; workers are left as they are. */
  close(): Promise<void>;
}

/**
 * Starts the primary's dashboard (and metrics port) over the workers of
 * `pool`. Start it before forking the workers, so that their first lines
 * are in its log.
 *
 * @throws NekoError `NEKO_ERR_DASHBOARD_LISTEN` or `NEKO_ERR_METRICS_LISTEN` when a port cannot be bound
 */
export async function startPrimaryDashboard(
  options: PrimaryDashboardOptions,
  pool: WorkerPool = clusterPool(),
): Promise<PrimaryDashboard> {
  const view = new WorkersView(options, pool);
  let dashboard: Dashboard | undefined;
  let metrics: MetricsServer | undefined;
  const close = async (): Promise<void> => {
    view.close();
    await dashboard?.close();
    await metrics?.close();
  };
  try {
    if (options.dashboard !== undefined) {
      const { port, host, open, token } = options.dashboard;
      dashboard = createDashboard(view, {
        port,
        host,
        open,
        ...(token === undefined ? {} : { token: token.token }),
        facts: options.facts,
      });
      dashboard.reload = options.reload ?? (() => view.reloadAll());
      await dashboard.listen();
    }
    if (options.metrics !== undefined) {
      metrics = new MetricsServer(view, options.metrics);
      await metrics.listen();
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url: dashboard?.url({ withToken: options.dashboard?.token === undefined }),
    dashboard,
    metricsAddress: metrics?.address(),
    logger: view.logger,
    restarts: () => view.restartCount,
    readiness: () => view.readiness(),
    close,
  };
}

/** A worker the primary knows: its tag once it said hello (it answers from then on). */
interface Known {
  readonly worker: Worker;
  tag: WorkerTag | undefined;
}

/** A question on its way to a worker. */
interface Pending {
  readonly worker: Worker;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** The answer of one worker to a question asked of all. */
type Answer<T> =
  | { readonly worker: Worker; readonly tag: WorkerTag; readonly value: T }
  | { readonly worker: Worker; readonly tag: WorkerTag; readonly error: Error };

/** A worker as the overview shows it. */
export interface WorkerView {
  /** The worker's number (1, 2…; a restarted worker gets the next one). */
  readonly id: number;
  readonly pid: number | null;
  /** Its server's random process id; null until it answers. */
  readonly processId: string | null;
  readonly startedAt: number | null;
  readonly uptimeMs: number | null;
  /** Client connections open on it now. */
  readonly connections: number;
  readonly ready: boolean;
  /** Why it is not ready (`starting`, `loading plugins`, `not answering`…); empty when ready. */
  readonly reasons: readonly string[];
  readonly address: string | null;
}

/** The overview under `--workers`: the whole, and each worker. */
export interface WorkersOverviewView extends OverviewView {
  readonly workers: WorkerView[];
  /** Workers restarted after an exit, since the primary started. */
  readonly restarts: number;
}

/** A plugin card under `--workers`: the sums of every worker, and each worker's state of it. */
export interface WorkersPluginView extends PluginView {
  readonly workers: {
    readonly worker: WorkerTag;
    readonly status: PluginView['status'];
    readonly sessions: number;
    readonly packets: number;
  }[];
}

/** The workers as one dashboard source and one health source. */
class WorkersView implements DashboardSource, HealthSource {
  readonly logger = new Logger();
  readonly startedAt = Date.now();
  restartCount = 0;
  readonly #options: PrimaryDashboardOptions;
  readonly #pool: WorkerPool;
  readonly #timeoutMs: number;
  readonly #known = new Map<number, Known>();
  readonly #pending = new Map<number, Pending>();
  readonly #sinks = new Set<(record: LogRecord, origin?: LogOrigin) => void>();
  readonly #registry = new Registry();
  /** Exits not yet followed by a fork: the next fork is a restart. */
  #exitsToReplace = 0;
  #nextId = 1;
  #closed = false;
  readonly #onFork = (worker: Worker): void => this.#forked(worker);
  readonly #onExit = (worker: Worker, code: number | null, signal: string | null): void =>
    this.#exited(worker, code, signal);
  readonly #onMessage = (worker: Worker, message: unknown): void => this.#message(worker, message);

  constructor(options: PrimaryDashboardOptions, pool: WorkerPool) {
    this.#options = options;
    this.#pool = pool;
    this.#timeoutMs = options.askTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    pool.events.on('fork', this.#onFork);
    pool.events.on('exit', this.#onExit);
    pool.events.on('message', this.#onMessage);
    // Workers forked before the dashboard: they answer once they report (their hello came before it).
    for (const worker of pool.workers()) {
      this.#known.set(worker.id, { worker, tag: undefined });
      this.#probe(worker);
    }
    const registers = [this.#registry];
    const live = (): number => this.#pool.workers().filter((w) => w.isConnected() && !w.isDead()).length;
    new Gauge({
      name: `${METRIC_PREFIX}workers`,
      help: 'Worker processes alive under --workers (the primary keeps this many running).',
      registers,
      collect() {
        this.set(live());
      },
    });
    const restarts = (): number => this.restartCount;
    new Counter({
      name: `${METRIC_PREFIX}worker_restarts_total`,
      help: 'Workers the primary started again after one exited (--workers).',
      registers,
      collect() {
        this.reset();
        this.inc(restarts());
      },
    });
  }

  /** Stops listening to the workers; questions still waiting fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.events.off('fork', this.#onFork);
    this.#pool.events.off('exit', this.#onExit);
    this.#pool.events.off('message', this.#onMessage);
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new NekoError('NEKO_ERR_WORKER_NO_ANSWER', 'the primary is shutting down'));
      this.#pending.delete(id);
    }
  }

  // The primary's own lines.

  #log(level: LogLevel, message: string, fields?: LogFields): void {
    this.logger[level](message, fields);
  }

  subscribeLogs(sink: (record: LogRecord, origin?: LogOrigin) => void): () => void {
    this.#sinks.add(sink);
    const unsubscribe = this.logger.subscribe((record) => sink(record));
    return () => {
      this.#sinks.delete(sink);
      unsubscribe();
    };
  }

  #forked(worker: Worker): void {
    this.#known.set(worker.id, { worker, tag: undefined });
    const pid = worker.process.pid;
    const replaces = this.#exitsToReplace > 0;
    if (replaces) {
      this.#exitsToReplace--;
      this.restartCount++;
    }
    if (this.#options.logWorkers === false) return;
    if (replaces)
      this.#log('warn', `worker ${this.#number(worker)} (pid ${pid}) started in place of one that exited`);
    else this.#log('info', `worker ${this.#number(worker)} (pid ${pid}) started`);
  }

  #exited(worker: Worker, code: number | null, signal: string | null): void {
    const number = this.#number(worker);
    this.#known.delete(worker.id);
    for (const [id, pending] of this.#pending) {
      if (pending.worker !== worker) continue;
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(
        new NekoError('NEKO_ERR_WORKER_NO_ANSWER', `worker ${number} exited before it answered`),
      );
    }
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${String(code)}`;
    const pid = worker.process.pid;
    const expected = worker.exitedAfterDisconnect || this.#closed;
    if (!expected) this.#exitsToReplace++;
    if (this.#options.logWorkers === false) return;
    if (expected) this.#log('info', `worker ${number} (pid ${pid}) ${how}`);
    else this.#log('error', `worker ${number} (pid ${pid}) ${how}`, { code: 'NEKO_ERR_WORKER_EXITED' });
  }

  #message(worker: Worker, message: unknown): void {
    if (typeof message !== 'object' || message === null) return;
    const nc = (message as { nc?: unknown }).nc;
    if (nc === DASHBOARD_MESSAGES.answer) {
      const { id, value, error } = message as {
        id: number;
        value?: unknown;
        error?: { code: string; message: string };
      };
      const pending = this.#pending.get(id);
      if (pending === undefined) return;
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      if (error === undefined) pending.resolve(value);
      else pending.reject(remoteError(error));
    } else if (nc === DASHBOARD_MESSAGES.hello) {
      this.#learn(worker, (message as { worker: WorkerTag }).worker);
    } else if (nc === DASHBOARD_MESSAGES.logs) {
      const { worker: tag, records } = message as { worker: WorkerTag; records: WireLogRecord[] };
      this.#learn(worker, tag);
      for (const { frame, ...record } of records) {
        for (const sink of this.#sinks) sink(record, { worker: tag, frame });
      }
    }
  }

  /** The number shown for a worker: its own once it reported, else the pool's. */
  #number(worker: Worker): number {
    return this.#known.get(worker.id)?.tag?.id ?? this.#pool.numberOf?.(worker) ?? worker.id;
  }

  /** The workers known, in the order of their numbers. */
  #sorted(): Known[] {
    return [...this.#known.values()].sort((a, b) => this.#number(a.worker) - this.#number(b.worker));
  }

  #learn(worker: Worker, tag: WorkerTag): void {
    const known = this.#known.get(worker.id);
    if (known === undefined) this.#known.set(worker.id, { worker, tag });
    else known.tag = tag;
  }

  /** Asks a worker forked before the dashboard started for its tag. */
  #probe(worker: Worker): void {
    const tag = { id: this.#number(worker), pid: worker.process.pid ?? 0, processId: '' };
    this.#ask<WorkerOverview>(worker, tag, 'overview', []).then(
      (overview) => this.#learn(worker, overview.worker),
      () => {
        // Not reporting yet: its hello will come.
      },
    );
  }

  // Asking the workers.

  /** The workers that answer (they said hello), by number. */
  #answering(): { worker: Worker; tag: WorkerTag }[] {
    const out: { worker: Worker; tag: WorkerTag }[] = [];
    for (const { worker, tag } of this.#sorted()) {
      if (tag !== undefined && worker.isConnected() && !worker.isDead()) out.push({ worker, tag });
    }
    return out;
  }

  #ask<T>(worker: Worker, tag: WorkerTag, ask: DashboardAsk, args: DashboardAsks[DashboardAsk]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new NekoError(
            'NEKO_ERR_WORKER_NO_ANSWER',
            `worker ${tag.id} (pid ${tag.pid}) did not answer within ${this.#timeoutMs} ms`,
          ),
        );
      }, this.#timeoutMs);
      timer.unref();
      this.#pending.set(id, { worker, resolve: resolve as (value: unknown) => void, reject, timer });
      const failed = (err: Error): void => {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(err);
      };
      try {
        // With a callback, a worker that died before its exit was seen fails this question (EPIPE);
        // without one, node:cluster would emit it as an 'error' on the worker and end the primary.
        worker.send({ nc: DASHBOARD_MESSAGES.ask, id, ask, args }, (err) => {
          if (err !== null) failed(err);
        });
      } catch (err) {
        failed(err as Error);
      }
    });
  }

  /** Asks every answering worker (or only worker number `only`); each answer or failure, in worker order. */
  #askAll<K extends DashboardAsk, T>(ask: K, args: DashboardAsks[K], only?: number): Promise<Answer<T>[]> {
    const asked = this.#answering().filter(({ tag }) => only === undefined || tag.id === only);
    return Promise.all(
      asked.map(({ worker, tag }) =>
        this.#ask<T>(worker, tag, ask, args).then(
          (value): Answer<T> => ({ worker, tag, value }),
          (error: Error): Answer<T> => ({ worker, tag, error }),
        ),
      ),
    );
  }

  /** Asks the first worker that is ready (else the first that answers at all). */
  async #askOne<K extends DashboardAsk, T>(ask: K, args: DashboardAsks[K]): Promise<T> {
    const answering = this.#answering();
    if (answering.length === 0)
      throw new NekoError('NEKO_ERR_WORKER_NO_ANSWER', 'no worker is running to answer: see the log');
    const states = await Promise.all(
      answering.map(({ worker, tag }) =>
        this.#ask<Readiness>(worker, tag, 'readiness', []).catch(() => undefined),
      ),
    );
    const chosen =
      answering[states.findIndex((r) => r?.ready === true)] ??
      answering[states.findIndex((r) => r !== undefined)];
    if (chosen === undefined) {
      throw new NekoError(
        'NEKO_ERR_WORKER_NO_ANSWER',
        `no worker answered within ${this.#timeoutMs} ms (${answering.map(({ tag }) => `worker ${tag.id}`).join(', ')})`,
      );
    }
    return this.#ask<T>(chosen.worker, chosen.tag, ask, args);
  }

  // DashboardSource

  async overview(
    facts: ServerFacts,
    logs: OverviewLogs,
    pluginViews: Promise<readonly PluginView[]>,
  ): Promise<OverviewView> {
    const [answers, plugins] = await Promise.all([
      this.#askAll<'overview', WorkerOverview>('overview', []),
      pluginViews,
    ]);
    const byWorker = new Map(answers.map((answer) => [answer.worker, answer]));
    const now = Date.now();
    const workers: WorkerView[] = [];
    for (const { worker, tag } of this.#sorted()) {
      const answer = byWorker.get(worker);
      const value = answer !== undefined && 'value' in answer ? answer.value : undefined;
      const reasons =
        value !== undefined ? value.readiness.reasons : [tag === undefined ? 'starting' : 'not answering'];
      workers.push({
        id: this.#number(worker),
        pid: worker.process.pid ?? null,
        processId: tag?.processId ?? null,
        startedAt: value?.startedAt ?? null,
        uptimeMs: value === undefined ? null : now - value.startedAt,
        connections: value?.connections ?? 0,
        ready: value?.readiness.ready ?? false,
        reasons: [...reasons],
        address: value?.address ?? null,
      });
    }
    const values = answers.flatMap((answer) => ('value' in answer ? [answer.value] : []));
    const count = (status: PluginView['status']): number => plugins.filter((p) => p.status === status).length;
    const view: WorkersOverviewView = {
      server: {
        version: facts.version,
        mode: facts.mode,
        address: values.find((v) => v.address !== null)?.address ?? null,
        startedAt: this.startedAt,
        uptimeMs: now - this.startedAt,
        processId: `primary (pid ${process.pid})`,
        hostname: values[0]?.hostname ?? hostname(),
      },
      counters: { ...logs.counts },
      plugins: { loaded: count('loaded'), failed: count('failed'), reloading: count('reloading') },
      sessions: values.reduce((sum, v) => sum + v.connections, 0),
      faultCloses: sumCounts(values.map((v) => v.faultCloses)),
      workers,
      restarts: this.restartCount,
    };
    return view;
  }

  async plugins(devProblems: ReadonlyMap<string, ErrorView>): Promise<PluginView[]> {
    const answers = await this.#askAll<'plugins', WorkerPlugin[]>('plugins', []);
    const byDir = new Map<string, { tag: WorkerTag; plugin: WorkerPlugin }[]>();
    for (const answer of answers) {
      if (!('value' in answer)) continue;
      for (const plugin of answer.value) {
        let list = byDir.get(plugin.view.dir);
        if (list === undefined) byDir.set(plugin.view.dir, (list = []));
        list.push({ tag: answer.tag, plugin });
      }
    }
    return [...byDir.values()].map((list) => mergePlugin(list, devProblems));
  }

  async sessions(): Promise<SessionsView> {
    const answers = await this.#askAll<'sessions', SessionsView>('sessions', []);
    const values = answers.flatMap((answer) => ('value' in answer ? [answer.value] : []));
    return {
      sessions: values.flatMap((v) => v.sessions).sort((a, b) => a.connectedAt - b.connectedAt),
      faultCloses: sumCounts(values.map((v) => v.faultCloses)),
    };
  }

  async session(id: string, worker?: number): Promise<SessionDetailView | undefined> {
    const answers = await this.#askAll<'session', SessionDetailView | null>('session', [id], worker);
    for (const answer of answers) if ('value' in answer && answer.value !== null) return answer.value;
    return undefined;
  }

  async closeSession(id: string, worker?: number): Promise<boolean> {
    const answers = await this.#askAll<'close', boolean>('close', [id], worker);
    return answers.some((answer) => 'value' in answer && answer.value);
  }

  async settings(facts: ServerFacts, dashboard: DashboardPlace): Promise<SettingsView> {
    const settings = await this.#askOne<'settings', SettingsView>('settings', [facts, dashboard]);
    return { ...settings, workers: { count: this.#options.workers } } as SettingsView;
  }

  async documents(
    greeter: string,
    page: PageParams,
    query: Query | undefined,
  ): Promise<DocumentsPage | undefined> {
    return (
      (await this.#askOne<'documents', DocumentsPage | null>('documents', [greeter, page, query ?? null])) ??
      undefined
    );
  }

  async cells(greeter: string, page: PageParams): Promise<CellsPage | undefined> {
    return (await this.#askOne<'cells', CellsPage | null>('cells', [greeter, page])) ?? undefined;
  }

  health(
    req: Parameters<DashboardSource['health']>[0],
    res: Parameters<DashboardSource['health']>[1],
    pathname: string,
  ): void {
    answerHealth(this, req, res, pathname);
  }

  /** Ready when every worker the primary keeps runs and is ready; the reasons name the workers that are not. */
  async readiness(): Promise<Readiness> {
    if (this.#closed) return { ready: false, reasons: ['shutting down'] };
    const reasons: string[] = [];
    const answering = new Set(this.#answering().map(({ worker }) => worker));
    const answers = await this.#askAll<'readiness', Readiness>('readiness', []);
    const known = this.#sorted();
    for (const { worker, tag } of known) {
      const name = `worker ${this.#number(worker)} (pid ${worker.process.pid ?? '?'})`;
      if (tag === undefined || !answering.has(worker)) {
        reasons.push(`${name}: starting`);
        continue;
      }
      const answer = answers.find((a) => a.worker === worker);
      if (answer === undefined || !('value' in answer)) reasons.push(`${name}: not answering`);
      else for (const reason of answer.value.reasons) reasons.push(`${name}: ${reason}`);
    }
    const running = known.length;
    if (running < this.#options.workers)
      reasons.push(`${running} of ${this.#options.workers} workers running`);
    return { ready: reasons.length === 0, reasons };
  }

  /**
   * Every worker's metrics aggregated as prom-client's AggregatorRegistry
   * does for node:cluster (a figure with the same labels summed, unless the
   * metric says otherwise), with the primary's own figures.
   */
  async metrics(): Promise<{ type: string; body: string }> {
    const answers = await this.#askAll<'metrics', MetricJson[]>('metrics', []);
    const all = answers.flatMap((answer) => ('value' in answer ? [answer.value] : []));
    all.push(await this.#registry.getMetricsAsJSON());
    const registry = AggregatorRegistry.aggregate(all);
    return { type: registry.contentType, body: await registry.metrics() };
  }

  /** The dashboard's Reload: every worker reloads; ok when every one did. */
  async reloadAll(): Promise<{ ok: boolean; workers: unknown[] }> {
    const answers = await this.#askAll<'reload', { ok: boolean } | null>('reload', []);
    if (answers.length > 0 && answers.every((a) => 'value' in a && a.value === null))
      throw new Error('the workers offer no reload');
    const workers = answers.map((answer) =>
      'value' in answer
        ? { worker: answer.tag, ...(answer.value ?? { ok: false }) }
        : { worker: answer.tag, ok: false, error: answer.error.message },
    );
    return { ok: workers.length > 0 && workers.every((w) => w.ok === true), workers };
  }
}

/** What the overview reads of the dashboard's log. */
interface OverviewLogs {
  readonly counts: Readonly<Record<'info' | 'warn' | 'error', number>>;
}

/** A worker's coded error, as the primary rethrows it. */
function remoteError({ code, message }: { code: string; message: string }): Error {
  try {
    return new NekoError(code as ConstructorParameters<typeof NekoError>[0], message);
  } catch {
    return new Error(message);
  }
}

function sumCounts(list: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const counts of list) for (const [key, n] of Object.entries(counts)) out[key] = (out[key] ?? 0) + n;
  return out;
}

const STATUS_ORDER: readonly PluginView['status'][] = ['loaded', 'reloading', 'failed'];

/** One plugin folder over every worker: counts summed, latency merged, the worst status, the newest error. */
function mergePlugin(
  list: readonly { tag: WorkerTag; plugin: WorkerPlugin }[],
  devProblems: ReadonlyMap<string, ErrorView>,
): WorkersPluginView {
  const views = list.map(({ plugin }) => plugin.view);
  const first = views[0]!;
  const latency = new LatencyHistogram();
  const ops = new Map<number | 'other', { packets: number; latency: LatencyHistogram }>();
  for (const { plugin } of list) {
    if (plugin.latency !== null) latency.merge(plugin.latency);
    for (const op of plugin.ops) {
      let merged = ops.get(op.op);
      if (merged === undefined) ops.set(op.op, (merged = { packets: 0, latency: new LatencyHistogram() }));
      merged.latency.merge(op.latency);
    }
    for (const op of plugin.view.ops) {
      const merged = ops.get(op.op);
      if (merged !== undefined) merged.packets += op.packets;
    }
  }
  const status = views.reduce(
    (worst, v) => (STATUS_ORDER.indexOf(v.status) > STATUS_ORDER.indexOf(worst) ? v.status : worst),
    first.status,
  );
  const errors = views.flatMap((v) => (v.error === null ? [] : [v.error]));
  const devProblem = devProblems.get(first.dir);
  if (devProblem !== undefined) errors.push(devProblem);
  const error = errors.reduce<ErrorView | null>(
    (newest, e) => (newest === null || e.time > newest.time ? e : newest),
    null,
  );
  const opViews: OpView[] = [...ops]
    .sort(([a], [b]) => (a === 'other' ? 1 : b === 'other' ? -1 : a - b))
    .map(([op, merged]) => ({
      op,
      packets: merged.packets,
      latencyMs: merged.latency.percentiles() ?? null,
    }));
  return {
    ...first,
    codeVersion: views.reduce<number | null>(
      (max, v) => (v.codeVersion === null ? max : Math.max(max ?? 0, v.codeVersion)),
      null,
    ),
    status,
    sessions: views.reduce((sum, v) => sum + v.sessions, 0),
    packets: views.reduce((sum, v) => sum + v.packets, 0),
    errors: views.reduce((sum, v) => sum + v.errors, 0),
    latencyMs: latency.percentiles() ?? null,
    ops: opViews,
    error,
    workers: list.map(({ tag, plugin }) => ({
      worker: tag,
      status: plugin.view.status,
      sessions: plugin.view.sessions,
      packets: plugin.view.packets,
    })),
  };
}
