/**
 * The JSON the dashboard API answers with, built from the server's state.
 * Settings are built from a list of what may be shown: the secret is never
 * read here.
 */
import type { PluginStatus } from '../plugins/registry.js';
import type { LatencyPercentiles } from '../plugins/stats.js';
import type { NekoServer, SessionSummary } from '../server/server.js';
import type { Limits } from '../server/options.js';
import { errorView, type ErrorView } from './error-view.js';
import type { LogBuffer } from './log-buffer.js';

/** What the dashboard knows about how the server was started, besides the server itself. */
export interface ServerFacts {
  /** `start` or `dev`. */
  readonly mode: 'start' | 'dev';
  readonly version: string;
  /** The plugins directory (or one plugin folder), absolute. */
  readonly plugins: string | undefined;
  /** Where plugin data lives, absolute; undefined when databases are in memory. */
  readonly dataDir: string | undefined;
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
  error: ErrorView | null;
}

export interface SettingsView {
  server: {
    host: string;
    port: number;
    tls: boolean;
    plugins: string | null;
    dataDir: string | null;
    configFile: string | null;
  };
  limits: Limits;
  dashboard: { host: string; port: number; tokenRequired: boolean };
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
    error,
  };
}

export function sessionViews(server: NekoServer): SessionSummary[] {
  return server.sessions().filter((s) => s.state !== 'closed');
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
      configFile: facts.configFile ?? null,
    },
    limits: { ...limits },
    dashboard,
  };
}
