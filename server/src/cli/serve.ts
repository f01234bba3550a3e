/**
 * How `start` and `dev` bring a server up and down: resolve the options,
 * create the server, install the shutdown, start the dashboard, load the
 * plugins, listen, and wait for the shutdown.
 */
import kleur from 'kleur';
import { resolveStartOptions, type StartFlags, type StartOptions } from '../config/start-options.js';
import type { Dashboard } from '../dashboard/dashboard.js';
import { formatError, indent, shownDir, shownPath } from '../format.js';
import type { PluginsReport } from '../plugins/registry.js';
import { createServer, type NekoServer } from '../server/server.js';
import type { CliIo } from './command.js';
import { startDashboard } from './dashboard.js';
import { Shutdown } from './shutdown.js';
import { listeningLine, printLogs } from './terminal.js';
import type { LogRecord } from '../logging/logger.js';
import { packageVersion } from './version.js';

/** A server the CLI has started and that listens. */
export interface Serving {
  server: NekoServer;
  options: StartOptions;
  report: PluginsReport;
  port: number;
  dashboard: Dashboard | undefined;
  shutdown: Shutdown;
  cwd: string;
}

/** What a command adds while its server runs: closed before the server, disposed at the end. */
export interface ServingExtras {
  close?: () => Promise<void>;
  dispose?: () => void;
}

/** How a command serves. */
export interface ServeMode {
  mode: 'start' | 'dev';
  /** Where the secret is read from (dev may add its development secret). Default `io.env`. */
  env?: NodeJS.ProcessEnv;
  /** What a plugin that failed to load does until fixed, with and without a readable spec.conf. */
  failed: { withSpec: string; withoutSpec: string };
  /** Runs once the server listens (dev watches); skipped when a shutdown came first. */
  whileServing?: (serving: Serving) => Promise<ServingExtras | void>;
}

/** Serves until a shutdown; resolves with the exit code. */
export async function serve(flags: StartFlags, io: CliIo, how: ServeMode): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const options = await resolveStartOptions(cwd, flags, how.env ?? io.env);
  const { serverOptions, plugins: dir, dataDir, configFile } = options;

  const server = createServer({ ...serverOptions, storage: { backend: 'nedb', dir: dataDir } });
  const logs = printLogs(server.logger, io);

  // Clean shutdown: stop what the command added, stop accepting, let handlers finish, close.
  // A second request cuts it short. The handlers are in place before anything is served,
  // so an early Ctrl+C is clean too.
  let dashboard: Dashboard | undefined;
  let extras: ServingExtras | void = undefined;
  const shutdown = new Shutdown(
    io,
    async () => {
      await extras?.close?.();
      await server.close();
      await dashboard?.close();
    },
    () => server.connectionCount,
  );
  const removeHandlers = io.onSignal((signal) => shutdown.request(signal));

  try {
    const mode = how.mode === 'dev' ? ` ${kleur.dim('dev mode')}` : '';
    io.out(`${kleur.bold(`NekoConnect ${packageVersion()}`)}${mode}`);
    if (configFile !== undefined) io.out(kleur.dim(`config from ${shownPath(configFile, cwd)}`));
    const facts = { mode: how.mode, version: packageVersion(), plugins: dir, dataDir, configFile } as const;
    dashboard = await startDashboard(server, options.dashboard, facts, io);
    // The report below lists each plugin loaded and each failure with its error: their log lines would say it twice.
    logs.hold();
    let report: PluginsReport | undefined;
    try {
      report = await server.loadPlugins(dir);
    } finally {
      logs.release((record) => report !== undefined && inReport(report, record));
    }
    printPlugins(dir, report, io, cwd, how.failed);
    if (shutdown.stopping) return await shutdown.exit;
    const address = await server.listen();
    io.out(listeningLine(address, serverOptions.tls !== undefined));
    const websocket = server.websocketAddress();
    if (websocket !== undefined) {
      const scheme = serverOptions.tls !== undefined ? 'wss' : 'ws';
      const path = server.options.websocket?.path ?? '/';
      io.out(
        `${kleur.green('listening')} for WebSocket on ${scheme}://${websocket.address}:${websocket.port}${path}`,
      );
    }
    if (how.whileServing !== undefined) {
      const added = await how.whileServing({
        server,
        options,
        report,
        port: address.port,
        dashboard,
        shutdown,
        cwd,
      });
      extras = added;
      // A shutdown that came meanwhile closed the server without them.
      if (shutdown.stopping) await added?.close?.();
    }
    return await shutdown.exit;
  } finally {
    extras?.dispose?.();
    removeHandlers();
    // Closed with the server; this catches a signal that came while the dashboard was starting.
    await dashboard?.close();
  }
}

/** True for the log line of a plugin loaded, or of a failure, that the start-up report prints. */
function inReport(report: PluginsReport, record: LogRecord): boolean {
  if (report.failed.some((failure) => failure.error === record.error)) return true;
  return (
    record.level === 'info' &&
    record.message.startsWith('loaded ') &&
    report.loaded.some((plugin) => plugin.spec.greeter === record.plugin)
  );
}

/** What was loaded and what failed, with each failure's error. */
export function printPlugins(
  dir: string,
  report: PluginsReport,
  io: Pick<CliIo, 'out' | 'err'>,
  cwd: string,
  failed: ServeMode['failed'],
): void {
  io.out(
    `plugins from ${shownDir(dir, cwd)}: ${kleur.green(`${report.loaded.length} loaded`)}, ${
      report.failed.length > 0 ? kleur.red(`${report.failed.length} failed`) : '0 failed'
    }`,
  );
  for (const plugin of report.loaded) {
    io.out(
      `  ${kleur.green('✓')} ${plugin.spec.greeter}  ${kleur.dim(`${plugin.spec.name} v${plugin.spec.version}`)}`,
    );
  }
  for (const failure of report.failed) {
    const label = failure.spec?.greeter ?? shownDir(failure.dir, cwd);
    // Without a readable spec.conf the greeter is unknown, so nothing routes to it (404).
    const effect = failure.spec ? failed.withSpec : failed.withoutSpec;
    io.err(`  ${kleur.red('✗')} ${label}  ${kleur.dim(effect)}`);
    io.err(indent(formatError(failure.error)));
  }
}
