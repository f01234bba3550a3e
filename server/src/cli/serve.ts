/**
 * How `start` and `dev` bring a server up and down: resolve the options,
 * create the server, install the shutdown and the reload/drain control,
 * start the dashboard and the metrics port, listen, load the plugins (the
 * data directory's lock first), and wait for the shutdown. Nothing touches
 * the data directory before every port is bound.
 */
import kleur from 'kleur';
import type { AddressInfo } from 'node:net';
import { NekoError, isNekoError } from '../errors.js';
import { resolveStartOptions, type StartFlags, type StartOptions } from '../config/start-options.js';
import { describeStorage } from '../config/storage-options.js';
import type { Dashboard } from '../dashboard/dashboard.js';
import { formatError, indent, plural, shownDir, shownPath } from '../format.js';
import { checkPluginsDir } from '../plugins/loader.js';
import type { PluginsReport } from '../plugins/registry.js';
import { createServer, type NekoServer } from '../server/server.js';
import type { CliIo } from './command.js';
import { startDashboard, startMetrics } from './dashboard.js';
import type { MetricsServer } from '../metrics/metrics-server.js';
import { Shutdown } from './shutdown.js';
import { ServerControl, liveOutput, reloadEnv } from './reload.js';
import { listeningLine } from './terminal.js';
import { Output, printLogs, setProcessLogFormat, type Lines } from './output.js';
import type { LogRecord } from '../logging/logger.js';
import { packageVersion } from './version.js';
import type { OpsReader } from '../playground/ops.js';

/** A server the CLI has started and that listens. */
export interface Serving {
  server: NekoServer;
  options: StartOptions;
  report: PluginsReport;
  port: number;
  dashboard: Dashboard | undefined;
  shutdown: Shutdown;
  cwd: string;
  /** Where the command prints while serving: the output of `--log-format` (JSON records in JSON mode). */
  output: Output;
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
  /**
   * A worker of `start --workers` (workers/worker.ts): no dashboard nor
   * metrics port of its own (the primary serves them), and, without Redis,
   * the bus and presence of the primary over IPC.
   */
  worker?: boolean;
  /**
   * Serves another way once the options are resolved (`start --workers`:
   * the primary, workers/primary.ts): resolves with the exit code; undefined
   * to serve here.
   */
  instead?: (
    options: StartOptions,
    context: { output: Output; io: CliIo; cwd: string },
  ) => Promise<number> | undefined;
  /**
   * Runs once the server is created, before anything listens or loads (a
   * worker reports to its primary's dashboard from here, so that the load
   * lines are in it); returns a function run at the end.
   */
  created?: (server: NekoServer, control: ServerControl) => () => void;
  /**
   * The dashboard's Playground: `asked` (`start --playground`: a usage error
   * where it cannot run), `default` (`dev`: on where it can), or off. `ops`
   * reads a plugin's ops (dev's warm validator); default: a validator made
   * on first use. Off when absent.
   */
  playground?: { on: 'asked' | 'default'; ops?: OpsReader } | { on: false; reason?: string };
  /** Runs once the server listens (dev watches); skipped when a shutdown came first. */
  whileServing?: (serving: Serving) => Promise<ServingExtras | void>;
}

/** Serves until a shutdown; resolves with the exit code. */
export async function serve(flags: StartFlags, cliIo: CliIo, how: ServeMode): Promise<number> {
  // Every line goes through one output: text, or with --log-format json one JSON record a line
  // (the flag counts from the start, so that an error in the config prints as JSON too).
  const output = new Output(cliIo, flags.logFormat === 'json' ? 'json' : 'pretty');
  setProcessLogFormat(output.format);
  const io: CliIo = { ...cliIo, out: output.out, err: output.err };
  const cwd = io.cwd ?? process.cwd();
  const options = forMode(await resolveStartOptions(cwd, flags, how.env ?? io.env), how);
  const { serverOptions, plugins: dir, dataDir, configFile } = options;
  // A plugins directory that cannot be read is a configuration error: found before any port or lock.
  await checkPluginsDir(dir);
  output.format = options.log.format;
  setProcessLogFormat(output.format);
  const playground = playgroundWanted(how, options);
  const elsewhere = how.instead?.(options, { output, io: cliIo, cwd });
  if (elsewhere !== undefined) return await elsewhere;

  const server = createServer({
    ...serverOptions,
    storage: options.storage.selection,
    ...(how.worker === true && serverOptions.cluster === undefined
      ? { cluster: { ipc: true } as const }
      : {}),
  });
  const logs = printLogs(server.logger, output, { level: options.log.level });

  // Clean shutdown: stop what the command added, stop accepting, let handlers finish, close.
  // A second request cuts it short. The handlers are in place before anything is served,
  // so an early Ctrl+C is clean too.
  let dashboard: Dashboard | undefined;
  let metrics: MetricsServer | undefined;
  let extras: ServingExtras | void = undefined;
  const shutdown = new Shutdown(
    io,
    async () => {
      await extras?.close?.();
      await server.close();
      await dashboard?.close();
      await metrics?.close();
      // Handlers cut at limits.shutdownTimeoutMs make the exit code 1.
      return server.cutHandlers().length;
    },
    () => server.connectionCount,
  );
  const removeHandlers = io.onSignal((signal) => shutdown.request(signal));
  // SIGHUP reloads (config, plugins, live settings); SIGUSR2 drains, then shuts down (cli/reload.ts).
  const control = new ServerControl(
    {
      server,
      started: options,
      resolve: async () =>
        forMode(await resolveStartOptions(cwd, flags, reloadEnv(how.env ?? io.env, options)), how),
      applyOutput: liveOutput(output, logs),
    },
    shutdown,
  );
  const removeControl = io.onControl?.((signal) => control.signal(signal));
  const endCreated = how.created?.(server, control);

  try {
    const mode = how.mode === 'dev' ? ` ${kleur.dim('dev mode')}` : '';
    io.out(`${kleur.bold(`NekoConnect ${packageVersion()}`)}${mode}`);
    if (configFile !== undefined) io.out(kleur.dim(`config from ${shownPath(configFile, cwd)}`));
    // Never the URL's password: describeStorage() shows it as ***.
    io.out(kleur.dim(`storage: ${describeStorage(options.storage, (d) => shownDir(d, cwd))}`));
    // Never the Redis URL's password either: server.cluster shows it as ***.
    const cluster = server.cluster;
    if (cluster !== undefined) {
      io.out(
        kleur.dim(
          `cluster: ${cluster.name} via ${cluster.redis ?? cluster.via}, process ${cluster.processId} (${cluster.hostname})`,
        ),
      );
    }
    printWarnings(options.warnings, output);
    const storage = describeStorage(options.storage, (d) => d);
    const facts = {
      mode: how.mode,
      version: packageVersion(),
      plugins: dir,
      dataDir,
      storage,
      configFile,
    } as const;
    dashboard = await startDashboard(server, options.dashboard, facts, io);
    if (dashboard) dashboard.reload = () => control.reload('POST /api/reload');
    if (dashboard && playground !== undefined) {
      // Loaded only when on: a server without it never loads the client SDK's Playground side nor TypeScript.
      const { Playground } = await import('../playground/playground.js');
      dashboard.playground = new Playground(server, {
        ops: playground.ops === undefined ? {} : { reader: playground.ops },
      });
    } else if (dashboard && how.playground?.on === false && how.playground.reason !== undefined) {
      dashboard.playgroundOff = how.playground.reason;
    }
    // A metrics port in use stops the start here, before any database opens.
    metrics = await startMetrics(server, options.metrics, dashboard !== undefined, io);
    // Nothing is written before the ports are bound: a port in use fails here, before the
    // data directory is locked or any data file opened. Clients that come while the plugins
    // load get 503 for a greeter not loaded yet (the server is not ready meanwhile).
    let report: PluginsReport | undefined;
    let address: AddressInfo;
    try {
      address = await server.listen();
      if (shutdown.stopping) return await shutdown.exit;
      // The report below lists each plugin loaded and each failure with its error: their log lines would say it twice.
      logs.hold();
      try {
        report = await server.loadPlugins(dir);
      } finally {
        logs.release((record) => report !== undefined && inReport(report, record));
      }
    } catch (err) {
      await server.close();
      // A shutdown that came while the server started closed it before it listened: the shutdown's outcome.
      if (shutdown.stopping && isNekoError(err) && err.code === 'NEKO_ERR_SERVER_CLOSED') {
        return await shutdown.exit;
      }
      throw err;
    }
    printPlugins(dir, report, output, cwd, how.failed);
    if (options.requirePlugins && report.failed.length > 0) {
      await server.close();
      throw new NekoError(
        'NEKO_ERR_PLUGINS_REQUIRED',
        `${plural(report.failed.length, 'plugin')} failed to load, and --require-plugins (requirePlugins) asks for every plugin: not starting`,
        { hint: 'fix the plugins above, or start without --require-plugins to serve the ones that load' },
      );
    }
    if (shutdown.stopping) return await shutdown.exit;
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
        output,
      });
      extras = added;
      // A shutdown that came meanwhile closed the server without them.
      if (shutdown.stopping) await added?.close?.();
    }
    control.serving();
    return await shutdown.exit;
  } finally {
    extras?.dispose?.();
    removeHandlers();
    removeControl?.();
    endCreated?.();
    // The summaries of repeated lines still held back, before the process ends.
    logs.stop();
    // Closed with the server; this catches a signal that came while the dashboard was starting.
    await dashboard?.close();
    await metrics?.close();
  }
}

/**
 * Whether the dashboard's Playground runs: `start --playground` asks for it
 * (a usage error without the dashboard or under `--workers`), `dev` has it
 * where it can run.
 */
function playgroundWanted(how: ServeMode, options: StartOptions): { ops?: OpsReader } | undefined {
  const wanted = how.playground;
  if (wanted === undefined || wanted.on === false || how.worker === true) return undefined;
  if (wanted.on === 'default') return options.dashboard === undefined ? undefined : wanted;
  if (options.workers !== undefined) {
    throw new NekoError('NEKO_ERR_CLI_USAGE', '--playground is not supported with --workers yet', {
      hint: 'Try plugins in the Playground on a server of one process: start without --workers (or use nekoconnect dev).',
    });
  }
  if (options.dashboard === undefined) {
    throw new NekoError('NEKO_ERR_CLI_USAGE', '--playground needs the dashboard, and it is off', {
      hint: 'Drop --no-dashboard (or dashboard: false in the config) to serve the Playground in the dashboard.',
    });
  }
  return wanted;
}

/** The options as the mode serves them: a worker has no dashboard nor metrics port (the primary's). */
function forMode(options: StartOptions, how: ServeMode): StartOptions {
  return how.worker === true ? { ...options, dashboard: undefined, metrics: undefined } : options;
}

/** Coded warnings of the options (a secret file others may read): the fix under the line, or in the JSON record. */
function printWarnings(warnings: StartOptions['warnings'], output: Output): void {
  for (const warning of warnings) {
    const fix = warning.hint === undefined ? '' : ` (fix: ${warning.hint})`;
    output.err(
      output.format === 'json'
        ? `${warning.message}${fix}`
        : `${kleur.yellow('warning')} ${kleur.dim(warning.code)} ${warning.message}`,
      {
        level: 'warn',
        code: warning.code,
        ...(output.format === 'json' || warning.hint === undefined
          ? {}
          : { detail: `  ${kleur.cyan('fix:')} ${warning.hint}` }),
      },
    );
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
  io: Lines,
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
      `  ${kleur.green('✓')} ${plugin.spec.greeter}  ${kleur.dim(`${plugin.spec.name} v${plugin.spec.version}`)}${
        plugin.package === undefined
          ? ''
          : kleur.dim(
              `  from ${shownPath(plugin.package.file, cwd)} (sha256 ${plugin.package.sha256.slice(0, 12)}…)`,
            )
      }`,
      { plugin: plugin.spec.greeter },
    );
  }
  for (const failure of report.failed) {
    const label = failure.spec?.greeter ?? shownDir(failure.dir, cwd);
    // Without a readable spec.conf the greeter is unknown, so nothing routes to it (404).
    const effect = failure.spec ? failed.withSpec : failed.withoutSpec;
    io.err(`  ${kleur.red('✗')} ${label}  ${kleur.dim(effect)}`, {
      ...(failure.spec ? { plugin: failure.spec.greeter } : {}),
      code: failure.error.code,
      error: failure.error,
      detail: indent(formatError(failure.error)),
    });
  }
}
