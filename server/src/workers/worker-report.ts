/**
 * The worker's side of the primary's dashboard under `--workers`: the
 * worker answers the primary's questions over IPC (overview figures,
 * sessions, plugins, settings, data reads, readiness, metrics; closing a
 * session, reloading) from its own server, and sends it every log line as it
 * is written. Every message is an object `{ nc: '<kind>', … }`; this side
 * ignores every kind that is not its own (the same pipe carries the bus).
 */
import cluster from 'node:cluster';
import { hostname } from 'node:os';
import { errorFrame } from '../dashboard/error-view.js';
import { readCells, readDocuments, type PageParams, type WorkerTag } from '../dashboard/source.js';
import {
  pluginView,
  serverAddress,
  sessionDetailView,
  sessionViews,
  settingsView,
  type PluginView,
  type ServerFacts,
} from '../dashboard/views.js';
import { isNekoError } from '../errors.js';
import type { LogRecord } from '../logging/logger.js';
import { metricsOf } from '../metrics/registry.js';
import type { LatencySnapshot } from '../plugins/stats.js';
import type { NekoServer, Readiness } from '../server/server.js';
import type { Query } from '../storage/database.js';

/** The kinds of this exchange's messages. */
export const DASHBOARD_MESSAGES = {
  /** worker → primary, once: the worker answers from now on (`{ worker }`). */
  hello: 'dashboard:hello',
  /** primary → worker: a question (`{ id, ask, args }`). */
  ask: 'dashboard:ask',
  /** worker → primary: its answer (`{ id, value }` or `{ id, error: { code, message } }`). */
  answer: 'dashboard:answer',
  /** worker → primary: log lines (`{ worker, records }`). */
  logs: 'dashboard:logs',
} as const;

/** A log line as it crosses to the primary: the record without its error, with the error's code frame. */
export interface WireLogRecord extends Omit<LogRecord, 'error'> {
  readonly frame: string | null;
}

/** What a worker answers to `overview`. */
export interface WorkerOverview {
  readonly worker: WorkerTag;
  readonly hostname: string;
  readonly startedAt: number;
  /** `tcp://127.0.0.1:10390`, once it listens. */
  readonly address: string | null;
  /** Client connections open now. */
  readonly connections: number;
  readonly faultCloses: Record<string, number>;
  readonly readiness: Readiness;
}

/** One plugin folder as a worker serves it: its view, and its latency histograms for the primary to merge. */
export interface WorkerPlugin {
  readonly view: PluginView;
  readonly latency: LatencySnapshot | null;
  readonly ops: readonly { readonly op: number | 'other'; readonly latency: LatencySnapshot }[];
}

/** The questions a worker answers, with their arguments. */
export interface DashboardAsks {
  overview: [];
  plugins: [];
  sessions: [];
  session: [id: string];
  close: [id: string];
  settings: [facts: ServerFacts, dashboard: { host: string; port: number; tokenRequired: boolean }];
  documents: [greeter: string, page: PageParams, query: Query | null];
  cells: [greeter: string, page: PageParams];
  readiness: [];
  metrics: [];
  reload: [];
}

export type DashboardAsk = keyof DashboardAsks;

/** An IPC message of this exchange, as the primary sends it. */
export interface AskMessage<K extends DashboardAsk = DashboardAsk> {
  readonly nc: typeof DASHBOARD_MESSAGES.ask;
  readonly id: number;
  readonly ask: K;
  readonly args: DashboardAsks[K];
}

/** Options of {@link reportToPrimary}. */
export interface ReportOptions {
  /** What `reload` runs (the dashboard's Reload): the worker's own reload of its config and plugins. */
  reload?: () => Promise<{ readonly ok: boolean }>;
}

/** Log lines sent in one message at most; more wait for the next turn. */
const LOG_BATCH = 500;
/** Log lines held for the primary at most (while the pipe is busy); older ones are dropped first. */
const LOG_BACKLOG = 5000;

/**
 * Starts answering the primary for the dashboard, and sending it the
 * server's log lines. Call it in a worker right after creating its server.
 * Returns a function that stops both. Outside a worker (no IPC channel) it
 * does nothing.
 */
export function reportToPrimary(server: NekoServer, options: ReportOptions = {}): () => void {
  const send = process.send?.bind(process);
  if (send === undefined) return () => {};
  // `--workers` numbers its workers 1 to n (a restarted one keeps its number): NEKOCONNECT_WORKER.
  const number = Number(process.env['NEKOCONNECT_WORKER']);
  const worker: WorkerTag = {
    id: Number.isInteger(number) && number > 0 ? number : (cluster.worker?.id ?? 0),
    pid: process.pid,
    processId: server.processId,
  };
  // The primary serves /metrics: this server's figures (event-loop lag, GC) count from now.
  metricsOf(server);
  const post = (message: object): void => {
    if (!process.connected) return;
    try {
      send(message);
    } catch {
      // The primary is gone: the worker is about to end.
    }
  };

  let pending: WireLogRecord[] = [];
  let flushing = false;
  const flush = (): void => {
    flushing = false;
    while (pending.length > 0) {
      const records = pending.length > LOG_BATCH ? pending.slice(0, LOG_BATCH) : pending;
      pending = pending.length > LOG_BATCH ? pending.slice(LOG_BATCH) : [];
      post({ nc: DASHBOARD_MESSAGES.logs, worker, records });
    }
  };
  const unsubscribe = server.logger.subscribe((record) => {
    const { error, ...rest } = record;
    pending.push({ ...rest, frame: errorFrame(error) });
    if (pending.length > LOG_BACKLOG) pending.splice(0, pending.length - LOG_BACKLOG);
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  });

  const answer = (message: AskMessage): void => {
    Promise.resolve()
      .then(() => answerAsk(server, worker, options, message))
      .then(
        (value) => post({ nc: DASHBOARD_MESSAGES.answer, id: message.id, value }),
        (err: unknown) =>
          post({
            nc: DASHBOARD_MESSAGES.answer,
            id: message.id,
            error: {
              code: isNekoError(err) ? err.code : 'NEKO_ERR_DASHBOARD_INTERNAL',
              message: (err as Error)?.message ?? String(err),
            },
          }),
      );
  };
  const onMessage = (message: unknown): void => {
    if (isAsk(message)) answer(message);
  };
  process.on('message', onMessage);
  post({ nc: DASHBOARD_MESSAGES.hello, worker });
  return () => {
    unsubscribe();
    flush();
    process.off('message', onMessage);
  };
}

function isAsk(message: unknown): message is AskMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { nc?: unknown }).nc === DASHBOARD_MESSAGES.ask &&
    typeof (message as { id?: unknown }).id === 'number'
  );
}

/** The answer to one question, from the worker's server. */
async function answerAsk(
  server: NekoServer,
  worker: WorkerTag,
  options: ReportOptions,
  message: AskMessage,
): Promise<unknown> {
  const { ask, args } = message;
  switch (ask) {
    case 'overview':
      return {
        worker,
        hostname: server.cluster?.hostname ?? hostname(),
        startedAt: server.startedAt,
        address: serverAddress(server),
        connections: server.connectionCount,
        faultCloses: server.faultCloses(),
        readiness: await server.readiness(),
      } satisfies WorkerOverview;
    case 'plugins':
      return server.pluginStatuses().map((status): WorkerPlugin => {
        const stats = status.host?.stats;
        return {
          view: pluginView(status),
          latency: stats === undefined ? null : stats.latency.snapshot(),
          ops: (stats?.ops() ?? [])
            .filter((op) => op.packets > 0)
            .map((op) => ({ op: op.op, latency: op.latency.snapshot() })),
        };
      });
    case 'sessions':
      return {
        sessions: sessionViews(server).map((session) => ({ ...session, worker })),
        faultCloses: server.faultCloses(),
      };
    case 'session': {
      const [id] = args as DashboardAsks['session'];
      const detail = sessionDetailView(server, id);
      return detail === undefined ? null : { ...detail, session: { ...detail.session, worker } };
    }
    case 'close': {
      const [id] = args as DashboardAsks['close'];
      return server.closeSession(id);
    }
    case 'settings': {
      const [facts, dashboard] = args as DashboardAsks['settings'];
      return settingsView(server, facts, dashboard);
    }
    case 'documents': {
      const [greeter, page, query] = args as DashboardAsks['documents'];
      const db = server.pluginDatabase(greeter);
      return db === undefined ? null : readDocuments(db, greeter, page, query ?? undefined);
    }
    case 'cells': {
      const [greeter, page] = args as DashboardAsks['cells'];
      const db = server.pluginDatabase(greeter);
      return db === undefined ? null : readCells(db, greeter, page);
    }
    case 'readiness':
      return server.readiness();
    case 'metrics':
      return metricsOf(server).registry.getMetricsAsJSON();
    case 'reload':
      return options.reload === undefined ? null : options.reload();
    default:
      throw new Error(`unknown question "${String(ask)}"`);
  }
}
