import kleur from 'kleur';
import { relative } from 'node:path';
import { resolveStartOptions, type StartFlags } from '../config/start-options.js';
import { LIMIT_RANGES, PORT_RANGE } from '../server/limits.js';
import { DEFAULT_DASHBOARD_PORT } from '../dashboard/options.js';
import { isNekoError } from '../errors.js';
import { DEFAULT_PORT } from '../protocol/constants.js';
import type { Limits } from '../server/options.js';
import type { PluginsReport } from '../plugins/registry.js';
import type { Dashboard } from '../dashboard/dashboard.js';
import { createServer } from '../server/server.js';
import { intFlag, parseCommandArgs, type ParsedArgs } from './args.js';
import { startDashboard } from './dashboard.js';
import { Shutdown } from './shutdown.js';
import { formatError, indent, shownPath } from '../format.js';
import { listeningLine, printLogs } from './terminal.js';
import { packageVersion } from './version.js';

export const START_HELP = `Usage: nekoconnect start [dir] [options]

Serves the plugins in dir (a plugins directory, or one plugin folder with a
spec.conf). dir defaults to the config's plugins, else the current directory.

Settings also come from nekoconnect.config.ts (or .js, .mjs, .json) in the
current directory: flags beat the config file, which beats the defaults.
See docs/config.md.

The shared secret comes from the NEKOCONNECT_SECRET environment variable,
or from --secret-file (never from the config file). The server does not
start without one.

Options:
      --config <file>           use this config file instead
      --no-config               ignore the config file
  -p, --port <port>             TCP port (default ${DEFAULT_PORT}; 0 picks a free one)
      --host <host>             interface to listen on (default 127.0.0.1)
      --secret-file <file>      read the shared secret from a file
      --data-dir <dir>          where plugin databases live (default .nekoconnect/data)
      --tls-key <file>          serve TLS with this PEM private key
      --tls-cert <file>         ... and this PEM certificate (both or neither)
      --max-packet-bytes <n>    largest packet accepted (default 1048576)
      --handshake-timeout-ms <n>  time to authenticate (default 10000)
      --idle-timeout-ms <n>     close sessions idle this long (default 0: off)
      --max-connections <n>     connections at once (default 10000)
      --recv-timeout-ms <n>     default wait of ctx.recv() (default 30000)
      --max-pending-bytes <n>   bytes queued for one client before it is closed
                                as a slow reader (default 4194304)
      --dashboard-port <port>   port of the web dashboard (default ${DEFAULT_DASHBOARD_PORT}; 0 picks a free one)
      --dashboard-host <host>   its interface (default 127.0.0.1)
      --dashboard-open          serve it without a token, on loopback only (any local
                                user or process can then use it); by default every
                                request needs the token in the URL printed at start
      --no-dashboard            do not serve the dashboard
  -h, --help                    show this help

Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or configuration error.
Environment: NEKOCONNECT_SECRET, NO_COLOR (plain output).`;

/** The flags of `nekoconnect start`, for `parseCommandArgs`; commands that start a server reuse them. */
export const START_OPTIONS = {
  config: { type: 'string' },
  'no-config': { type: 'boolean' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  'secret-file': { type: 'string' },
  'data-dir': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  'max-packet-bytes': { type: 'string' },
  'handshake-timeout-ms': { type: 'string' },
  'idle-timeout-ms': { type: 'string' },
  'max-connections': { type: 'string' },
  'recv-timeout-ms': { type: 'string' },
  'max-pending-bytes': { type: 'string' },
  'dashboard-port': { type: 'string' },
  'dashboard-host': { type: 'string' },
  'dashboard-open': { type: 'boolean' },
  'no-dashboard': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What the start command needs from its process, so tests can drive it. */
export interface StartIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** The working directory: where the config file is looked for. Default `process.cwd()`. */
  cwd?: string;
  /** Registers the shutdown signal handlers; returns a function that removes them. */
  onSignal: (handler: (signal: string) => void) => () => void;
}

/** The limit flags and the limits they set. */
const LIMIT_FLAGS: readonly (readonly [string, keyof Limits])[] = [
  ['max-packet-bytes', 'maxPacketBytes'],
  ['handshake-timeout-ms', 'handshakeTimeoutMs'],
  ['idle-timeout-ms', 'idleTimeoutMs'],
  ['max-connections', 'maxConnections'],
  ['recv-timeout-ms', 'recvTimeoutMs'],
  ['max-pending-bytes', 'maxPendingBytes'],
];

/**
 * The {@link StartFlags} of parsed {@link START_OPTIONS}: numbers checked,
 * absent flags left out.
 *
 * @throws NekoError `NEKO_ERR_CLI_USAGE` for a bad number
 */
export function startFlags({ values, positionals }: ParsedArgs): StartFlags {
  const flags: StartFlags = {};
  const str = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const dir = positionals[0];
  if (dir !== undefined) flags.dir = dir;
  const config = str('config');
  if (config !== undefined) flags.config = config;
  if (values['no-config'] === true) flags.noConfig = true;
  const port = intFlag(values, 'port', PORT_RANGE);
  if (port !== undefined) flags.port = port;
  const host = str('host');
  if (host !== undefined) flags.host = host;
  const secretFile = str('secret-file');
  if (secretFile !== undefined) flags.secretFile = secretFile;
  const dataDir = str('data-dir');
  if (dataDir !== undefined) flags.dataDir = dataDir;
  const tlsKey = str('tls-key');
  if (tlsKey !== undefined) flags.tlsKey = tlsKey;
  const tlsCert = str('tls-cert');
  if (tlsCert !== undefined) flags.tlsCert = tlsCert;
  const limits: Partial<Limits> = {};
  for (const [flag, key] of LIMIT_FLAGS) {
    const n = intFlag(values, flag, LIMIT_RANGES[key]);
    if (n !== undefined) limits[key] = n;
  }
  if (Object.keys(limits).length > 0) flags.limits = limits;
  const dashboardPort = intFlag(values, 'dashboard-port', PORT_RANGE);
  if (dashboardPort !== undefined) flags.dashboardPort = dashboardPort;
  const dashboardHost = str('dashboard-host');
  if (dashboardHost !== undefined) flags.dashboardHost = dashboardHost;
  if (values['dashboard-open'] === true) flags.dashboardOpen = true;
  if (values['no-dashboard'] === true) flags.noDashboard = true;
  return flags;
}

/** `nekoconnect start`: resolves with the exit code once the server has shut down. */
export async function runStart(args: readonly string[], io: StartIo): Promise<number> {
  const parsed = parseCommandArgs('start', args, START_OPTIONS, 1);
  if (parsed.values.help) {
    io.out(START_HELP);
    return 0;
  }
  const cwd = io.cwd ?? process.cwd();
  const {
    serverOptions,
    plugins: dir,
    dataDir,
    configFile,
    dashboard: dashboardOptions,
  } = await resolveStartOptions(cwd, startFlags(parsed), io.env);
  const tls = serverOptions.tls;

  const server = createServer({ ...serverOptions, storage: { backend: 'nedb', dir: dataDir } });
  printLogs(server.logger, io);

  // Clean shutdown: stop accepting, let handlers finish, close. A second signal cuts it short.
  // The handlers are in place before anything is served, so an early Ctrl+C is clean too.
  let dashboard: Dashboard | undefined;
  const shutdown = new Shutdown(
    io,
    async () => {
      await server.close();
      await dashboard?.close();
    },
    () => server.connectionCount,
  );
  const removeHandlers = io.onSignal((signal) => shutdown.request(signal));

  try {
    io.out(kleur.bold(`NekoConnect ${packageVersion()}`));
    if (configFile !== undefined) io.out(kleur.dim(`config from ${shownPath(configFile, cwd)}`));
    const facts = { mode: 'start', version: packageVersion(), plugins: dir, dataDir, configFile } as const;
    dashboard = await startDashboard(server, dashboardOptions, facts, io);
    const report = await server.loadPlugins(dir);
    printPlugins(dir, report, io);
    if (!shutdown.stopping) io.out(listeningLine(await server.listen(), tls !== undefined));
    return await shutdown.exit;
  } finally {
    removeHandlers();
    // Closed with the server; this catches a signal that came while the dashboard was starting.
    await dashboard?.close();
  }
}

function printPlugins(dir: string, report: PluginsReport, io: StartIo): void {
  const shown = relative(process.cwd(), dir) || '.';
  io.out(
    `plugins from ${shown}: ${kleur.green(`${report.loaded.length} loaded`)}, ${
      report.failed.length > 0 ? kleur.red(`${report.failed.length} failed`) : '0 failed'
    }`,
  );
  for (const plugin of report.loaded) {
    io.out(
      `  ${kleur.green('✓')} ${plugin.spec.greeter}  ${kleur.dim(`${plugin.spec.name} v${plugin.spec.version}`)}`,
    );
  }
  for (const failure of report.failed) {
    const label = failure.spec?.greeter ?? relative(process.cwd(), failure.dir);
    // Without a readable spec.conf the greeter is unknown, so nothing routes to it (404).
    const effect = failure.spec ? 'answers 503 until fixed' : 'not served until its spec.conf is fixed';
    io.err(`  ${kleur.red('✗')} ${label}  ${kleur.dim(effect)}`);
    io.err(indent(formatError(failure.error)));
  }
}

/** Exit code for an error that ended a command: 2 for usage and configuration, 1 otherwise. */
export function exitCodeFor(err: unknown): number {
  if (!isNekoError(err)) return 1;
  return err.code.startsWith('NEKO_ERR_CLI_') ||
    err.code.startsWith('NEKO_ERR_CONFIG_') ||
    err.code === 'NEKO_ERR_PLUGINS_DIR'
    ? 2
    : 1;
}
