/**
 * The JSON the dashboard API answers with, built from the server's state.
 * Settings are built from a list of what may be shown: the secret is never
 * read here.
 */
import type { PluginStatus } from '../plugins/registry.js';
import type { LatencyPercentiles, PluginStats } from '../plugins/stats.js';
import { hostname } from 'node:os';
import type { ClusterSummary, NekoServer, SessionSummary } from '../server/server.js';
import type { Limits } from '../server/options.js';
import { errorView, type ErrorView } from './error-view.js';
import type { LogBuffer } from './log-buffer.js';
import { stateView } from './state-view.js';

/** What the dashboard knows about how the server was started, besides the server itself. */
export interface ServerFacts {
  /** `start` or `dev`. */
  readonly mode: 'start' | 'dev';
  readonly version: string;
  /** The plugins directory (or one plugin folder), absolute. */
  readonly plugins: string | undefined;
  /** Where plugin data lives, absolute; undefined when databases are in memory. */
  readonly dataDir: string | undefined;
  /** The storage backend and where it keeps the data, never with a password (`PostgreSQL at postgres://u:***@db/neko`). */
  readonly storage?: string | undefined;
  /** The config file used, absolute. */
  readonly configFile: string | undefined;
}

export interface OverviewView {
  server: {
    version: string;
    mode: 'start' | 'dev';
    address: string | null;
    startedAt: number;
    uptimeMs: number;
    /** This process's id (random at each start; what the other processes of a cluster know it by). */
    processId: string;
    hostname: string;
  };
  counters: { info: number; warn: number; error: number };
  plugins: { loaded: number; failed: number; reloading: number };
  sessions: number;
  /**
   * Sessions the server closed for a fault of the client, by error code
   * (`NEKO_ERR_SESSION_SLOW_READER`, `NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT`…).
   */
  faultCloses: Record<string, number>;
}

export interface PluginView {
  greeter: string | null;
  name: string | null;
  version: string | null;
  codeVersion: number | null;
  dir: string;
  status: PluginStatus['status'];
  sessions: number;
  packets: number;
  errors: number;
  latencyMs: LatencyPercentiles | null;
  /**
   * Packets and handler latency per op code handled, by op; the ops the
   * plugin does not declare past the first 64 seen share one row, `op: "other"`.
   */
  ops: OpView[];
  error: ErrorView | null;
  /** Where the plugin came from: a folder, or a `.ncp` package and its sha256 (absent for a package that could not be read). */
  origin?: { kind: 'folder'; dir: string } | { kind: 'package'; file: string; sha256: string };
}

/** One op code's counters on a plugin card. */
export interface OpView {
  op: number | 'other';
  packets: number;
  latencyMs: LatencyPercentiles | null;
}

/** A session in the list: its connection, and the groups it is in, by plugin greeter. */
export interface SessionView extends SessionSummary {
  /** For each plugin that has the session in a group (`ctx.group(name)`): the group names, in the plugin's order. */
  groups: Record<string, string[]>;
}

/** One session in full: its connection, and each plugin's state and groups for it. */
export interface SessionDetailView {
  session: SessionView;
  plugins: SessionPluginView[];
}

/** What one plugin holds for one session. */
export interface SessionPluginView {
  greeter: string;
  /** The names of the plugin's groups the session is in. */
  groups: string[];
  /**
   * The plugin's `ctx.state` for the session as JSON; a part JSON cannot
   * carry (a function, a bigint, a cycle…) is `{ "$unserialisable": "<what>" }`.
   */
  state: unknown;
  /** One line per replaced part, e.g. `state.timer is a function`; empty for plain data. */
  stateProblems: string[];
}

export interface SettingsView {
  server: {
    host: string;
    port: number;
    tls: boolean;
    plugins: string | null;
    dataDir: string | null;
    /** The storage backend and where it keeps the data (a URL without its password); null when not told. */
    storage: string | null;
    /** Where TypeScript plugins are bundled to; null: a temp folder of the server's own. */
    cacheDir: string | null;
    configFile: string | null;
  };
  limits: Limits;
  dashboard: { host: string; port: number; tokenRequired: boolean };
  /** The cluster this server is one process of, its Redis URL without the password; null on its own. */
  cluster: ClusterSummary | null;
}

/** `tcp://127.0.0.1:10390`, once the server listens. */
export function serverAddress(server: NekoServer): string | null {
  const address = server.address();
  if (address === undefined) return null;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${server.options.tls ? 'tls' : 'tcp'}://${host}:${address.port}`;
}

export function overviewView(
  server: NekoServer,
  facts: ServerFacts,
  logs: LogBuffer,
  plugins: readonly PluginView[],
  now = Date.now(),
): OverviewView {
  const count = (status: PluginView['status']): number => plugins.filter((p) => p.status === status).length;
  return {
    server: {
      version: facts.version,
      mode: facts.mode,
      address: serverAddress(server),
      startedAt: server.startedAt,
      uptimeMs: now - server.startedAt,
      processId: server.processId,
      hostname: server.cluster?.hostname ?? hostname(),
    },
    counters: { ...logs.counts },
    plugins: { loaded: count('loaded'), failed: count('failed'), reloading: count('reloading') },
    sessions: server.connectionCount,
    faultCloses: server.faultCloses(),
  };
}

/**
 * One plugin folder for the API.
 *
 * @param devProblem a change the dev server rejected before loading it (validation), if newer than the registry's
 */
export function pluginView(status: PluginStatus, devProblem?: ErrorView): PluginView {
  const { host, spec, problem } = status;
  const registryError = problem ? errorView(problem.error, problem.time) : null;
  const error =
    devProblem !== undefined && (registryError === null || devProblem.time >= registryError.time)
      ? devProblem
      : registryError;
  return {
    greeter: status.greeter ?? null,
    name: spec?.name ?? null,
    version: spec?.version ?? null,
    codeVersion: host?.version ?? null,
    dir: status.dir,
    status: status.status,
    sessions: host?.sessionCount ?? 0,
    packets: host?.stats.packets ?? 0,
    errors: host?.stats.errors ?? 0,
    latencyMs: host?.stats.latency.percentiles() ?? null,
    ops: host === undefined ? [] : opViews(host.stats),
    error,
    ...originOf(status),
  };
}

/** The `origin` of a plugin view: its package when it serves from one, else its folder. */
function originOf(status: PluginStatus): Pick<PluginView, 'origin'> {
  const pkg = status.host?.plugin.package;
  if (pkg !== undefined) return { origin: { kind: 'package', file: pkg.file, sha256: pkg.sha256 } };
  return status.dir.endsWith('.ncp') ? {} : { origin: { kind: 'folder', dir: status.dir } };
}

function opViews(stats: PluginStats): OpView[] {
  // An op the plugin only sent has no handler figures to show.
  return stats
    .ops()
    .filter((op) => op.packets > 0)
    .map((op) => ({
      op: op.op,
      packets: op.packets,
      latencyMs: op.latency.percentiles() ?? null,
    }));
}

/** Every open session, each with the groups it is in. */
export function sessionViews(server: NekoServer): SessionView[] {
  const groups = groupsBySession(server);
  return server
    .sessions()
    .filter((s) => s.state !== 'closed')
    .map((s) => ({ ...s, groups: groups.get(s.id) ?? {} }));
}

/** One open session with each of its plugins' state and groups; undefined when no open session has the id. */
export function sessionDetailView(server: NekoServer, id: string): SessionDetailView | undefined {
  const summary = server.sessions().find((s) => s.id === id && s.state !== 'closed');
  if (summary === undefined) return undefined;
  const groups = groupsBySession(server).get(id) ?? {};
  const served = new Map(server.plugins().map((host) => [host.greeter, host]));
  const plugins: SessionPluginView[] = [];
  for (const greeter of summary.plugins) {
    const member = served
      .get(greeter)
      ?.sessions()
      .find((s) => s.id === id);
    if (member === undefined) continue; // unloaded since, or the session is leaving it
    const { value, problems } = stateView(member.state);
    plugins.push({ greeter, groups: groups[greeter] ?? [], state: value, stateProblems: problems });
  }
  return { session: { ...summary, groups }, plugins };
}

/** Session id → plugin greeter → names of the plugin's groups the session is in. */
function groupsBySession(server: NekoServer): Map<string, Record<string, string[]>> {
  const bySession = new Map<string, Record<string, string[]>>();
  for (const host of server.plugins()) {
    for (const { name, members } of host.groups()) {
      for (const id of members) {
        let plugins = bySession.get(id);
        if (plugins === undefined) bySession.set(id, (plugins = {}));
        (plugins[host.greeter] ??= []).push(name);
      }
    }
  }
  return bySession;
}

export function settingsView(
  server: NekoServer,
  facts: ServerFacts,
  dashboard: { host: string; port: number; tokenRequired: boolean },
): SettingsView {
  const { host, port, tls, limits } = server.options;
  return {
    server: {
      host,
      port: server.address()?.port ?? port,
      tls: tls !== undefined,
      plugins: facts.plugins ?? server.options.plugins ?? null,
      dataDir: facts.dataDir ?? null,
      storage: facts.storage ?? null,
      cacheDir: server.options.cacheDir ?? null,
      configFile: facts.configFile ?? null,
    },
    limits: { ...limits },
    dashboard,
    cluster: server.cluster ?? null,
  };
}
