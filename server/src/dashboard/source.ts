/**
 * What the dashboard reads: one server ({@link serverSource}, the dashboard
 * of `start` and `dev`), or the workers of `--workers` as one (the primary's
 * dashboard, workers/primary-dashboard.ts), which asks its workers over IPC.
 * The API serves either the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LogRecord } from '../logging/logger.js';
import { answerHealth } from '../metrics/endpoints.js';
import type { NekoServer } from '../server/server.js';
import type { PluginDatabase, Query } from '../storage/database.js';
import type { ErrorView } from './error-view.js';
import type { LogBuffer } from './log-buffer.js';
import {
  overviewView,
  pluginView,
  sessionDetailView,
  sessionViews,
  settingsView,
  type OverviewView,
  type PluginView,
  type ServerFacts,
  type SessionDetailView,
  type SessionView,
  type SettingsView,
} from './views.js';

/** The worker a session, a log line or a figure comes from, under `--workers`. */
export interface WorkerTag {
  /** The worker's number (node:cluster's `worker.id`: 1, 2…; a restarted worker gets the next one). */
  readonly id: number;
  /** Its operating-system process id. */
  readonly pid: number;
  /** Its server's random process id (what the bus and presence know it by). */
  readonly processId: string;
}

/** Where a log line comes from, besides its record, when it does not come from this process's logger. */
export interface LogOrigin {
  /** The worker that logged it. */
  readonly worker?: WorkerTag;
  /** Its code frame, made where the error was (the error itself stays in that process). */
  readonly frame?: string | null;
}

/** The sessions list: every open session, and the sessions closed for a fault of their client, by code. */
export interface SessionsView {
  readonly sessions: (SessionView & { worker?: WorkerTag })[];
  readonly faultCloses: Record<string, number>;
}

/** A page of a plugin's documents. */
export interface DocumentsPage {
  readonly greeter: string;
  readonly query: Query | null;
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly documents: unknown[];
}

/** A page of a plugin's cells (`dbGet`/`dbStore`). */
export interface CellsPage {
  readonly greeter: string;
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly cells: unknown[];
}

/** Which part of a list to read. */
export interface PageParams {
  readonly offset: number;
  readonly limit: number;
}

/** The dashboard's own address and access, for the settings view. */
export interface DashboardPlace {
  readonly host: string;
  readonly port: number;
  readonly tokenRequired: boolean;
}

/**
 * What the dashboard reads and does. Each answer may come later (the
 * workers answer over IPC); `undefined` means there is no such thing (the
 * API answers 404).
 */
export interface DashboardSource {
  /** Calls `sink` with every log line from now on; returns a function that stops it. */
  subscribeLogs(sink: (record: LogRecord, origin?: LogOrigin) => void): () => void;
  /**
   * The overview: `plugins` are this source's {@link plugins} (asked for at the same time), `logs` the
   * dashboard's own lines.
   */
  overview(
    facts: ServerFacts,
    logs: LogBuffer,
    plugins: Promise<readonly PluginView[]>,
  ): Promise<OverviewView>;
  /** The plugin folders, with the dev server's rejected changes by folder. */
  plugins(devProblems: ReadonlyMap<string, ErrorView>): Promise<PluginView[]>;
  sessions(): Promise<SessionsView>;
  /** One open session; `worker` (under `--workers`) names the worker that holds it, else any may. */
  session(id: string, worker?: number): Promise<SessionDetailView | undefined>;
  /** Closes an open session; false when none has the id. */
  closeSession(id: string, worker?: number): Promise<boolean>;
  settings(facts: ServerFacts, dashboard: DashboardPlace): Promise<SettingsView>;
  /** A page of the plugin's documents; undefined when no loaded plugin serves the greeter. */
  documents(greeter: string, page: PageParams, query: Query | undefined): Promise<DocumentsPage | undefined>;
  /** A page of the plugin's cells; undefined when no loaded plugin serves the greeter. */
  cells(greeter: string, page: PageParams): Promise<CellsPage | undefined>;
  /** Answers `/healthz`, `/readyz` or `/metrics`. */
  health(req: IncomingMessage, res: ServerResponse, pathname: string): void;
}

/** The dashboard's source for one server in this process. */
export function serverSource(server: NekoServer): DashboardSource {
  return {
    subscribeLogs: (sink) => server.logger.subscribe((record) => sink(record)),
    overview: async (facts, logs, plugins) => overviewView(server, facts, logs, await plugins),
    plugins: (devProblems) =>
      Promise.resolve(
        server.pluginStatuses().map((status) => pluginView(status, devProblems.get(status.dir))),
      ),
    sessions: () => Promise.resolve({ sessions: sessionViews(server), faultCloses: server.faultCloses() }),
    session: (id) => Promise.resolve(sessionDetailView(server, id)),
    closeSession: (id) => Promise.resolve(server.closeSession(id)),
    settings: (facts, dashboard) => Promise.resolve(settingsView(server, facts, dashboard)),
    documents: async (greeter, page, query) => {
      const db = server.pluginDatabase(greeter);
      return db === undefined ? undefined : readDocuments(db, greeter, page, query);
    },
    cells: async (greeter, page) => {
      const db = server.pluginDatabase(greeter);
      return db === undefined ? undefined : readCells(db, greeter, page);
    },
    health: (req, res, pathname) => answerHealth(server, req, res, pathname),
  };
}

/** A page of a plugin database's documents, by `_id`. */
export async function readDocuments(
  db: PluginDatabase,
  greeter: string,
  { offset, limit }: PageParams,
  query: Query | undefined,
): Promise<DocumentsPage> {
  const [total, documents] = await Promise.all([
    db.count(query),
    db.find(query, { sort: { _id: 1 }, skip: offset, limit }),
  ]);
  return { greeter, query: query ?? null, total, offset, limit, documents };
}

/** A page of a plugin database's cells. */
export async function readCells(
  db: PluginDatabase,
  greeter: string,
  { offset, limit }: PageParams,
): Promise<CellsPage> {
  const cells = await db.cells();
  return { greeter, total: cells.length, offset, limit, cells: cells.slice(offset, offset + limit) };
}
