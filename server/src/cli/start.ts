import type { StartFlags } from '../config/start-options.js';
import {
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  DEFAULT_METRICS_HOST,
} from '../config/dashboard-options.js';
import { DEFAULT_PORT } from '../protocol/constants.js';
import {
  LIMITS,
  LIMIT_KEYS,
  LIMIT_RANGES,
  PORT_RANGE,
  type LimitFlagName,
  type Limits,
} from '../server/limits.js';
import { DEFAULT_HOST } from '../server/options.js';
import { DEFAULT_DATA_DIR } from '../storage/nedb/storage.js';
import { defineCommand, type FlagSpec, type FlagValues } from './command.js';
import cluster from 'node:cluster';
import kleur from 'kleur';
import { checkWorkersStorage, type StartOptions } from '../config/start-options.js';
import { describeStorage } from '../config/storage-options.js';
import { shownDir, shownPath } from '../format.js';
import { runPrimary } from '../workers/primary.js';
import { reportToPrimary } from '../workers/worker-report.js';
import { announceListening, signalsFromPrimary, waitForStart } from '../workers/worker.js';
import type { CliIo } from './command.js';
import { printLogs, type Output } from './output.js';
import { reloadEnv } from './reload.js';
import { serve } from './serve.js';
import { packageVersion } from './version.js';

/** The flag of a limit, from the table of limits. */
type LimitFlag<K extends keyof Limits> = FlagSpec & { type: 'int'; key: `limits.${K}` };

/** The flags of the limits that have one, made from the table of limits. */
const LIMIT_FLAGS = Object.fromEntries(
  LIMIT_KEYS.flatMap((key) => {
    const limit: { flag: string | undefined; help: string; default: number; defaultNote?: string } =
      LIMITS[key];
    if (limit.flag === undefined) return [];
    const flag: LimitFlag<typeof key> = {
      type: 'int',
      value: '<n>',
      help: limit.help,
      default: limit.defaultNote ?? limit.default,
      range: LIMIT_RANGES[key],
      key: `limits.${key}`,
    };
    return [[limit.flag, flag]];
  }),
) as { [K in keyof Limits as LimitFlagName<K>]: LimitFlag<K> };

/** The flags of the commands that start a server (`start`, `dev`): each one's value, default and help. */
export const START_FLAGS = {
  config: { type: 'string', value: '<file>', help: 'use this config file instead', key: 'config' },
  'no-config': { type: 'boolean', help: 'ignore the config file', key: 'noConfig' },
  port: {
    type: 'int',
    short: 'p',
    value: '<port>',
    help: 'TCP port',
    default: `${DEFAULT_PORT}; 0 picks a free one`,
    range: PORT_RANGE,
    key: 'port',
  },
  host: {
    type: 'string',
    value: '<host>',
    help: 'interface to listen on',
    default: DEFAULT_HOST,
    key: 'host',
  },
  'secret-file': {
    type: 'string',
    value: '<file>',
    help: 'read the shared secret from a file',
    key: 'secretFile',
  },
  'data-dir': {
    type: 'string',
    value: '<dir>',
    help: 'where plugin databases live',
    default: DEFAULT_DATA_DIR,
    key: 'dataDir',
  },
  storage: {
    type: 'string',
    value: '<url|dir>',
    help: [
      'a postgres:// URL keeps plugin data in',
      'PostgreSQL (--data-dir then holds only the',
      'cache); any other value is a nedb data',
      'directory, as --data-dir (else',
      'NEKOCONNECT_DATABASE_URL, else the config)',
    ],
    key: 'storage',
  },
  cluster: {
    type: 'string',
    value: '<redis-url>',
    help: [
      'run as one process of the cluster that meets',
      'on this Redis (redis://:password@host:6379):',
      'broadcasts, sendTo, groups and presence span',
      'every process (else NEKOCONNECT_REDIS_URL,',
      'else the config)',
    ],
    default: 'off: one process on its own',
    key: 'cluster',
  },
  'cluster-name': {
    type: 'string',
    value: '<name>',
    help: ["the cluster's name: its Redis keys and", 'channels start with nc:<name>:'],
    default: 'default',
    key: 'clusterName',
  },
  'cache-dir': {
    type: 'string',
    value: '<dir>',
    help: 'where TypeScript plugins are bundled to',
    default: '<data-dir>/cache',
    key: 'cacheDir',
  },
  'tls-key': { type: 'string', value: '<file>', help: 'serve TLS with this PEM private key', key: 'tlsKey' },
  'tls-cert': {
    type: 'string',
    value: '<file>',
    help: '... and this PEM certificate (both or neither)',
    key: 'tlsCert',
  },
  ...LIMIT_FLAGS,
  'dashboard-port': {
    type: 'int',
    value: '<port>',
    help: 'port of the web dashboard',
    default: `${DEFAULT_DASHBOARD_PORT}; 0 picks a free one`,
    range: PORT_RANGE,
    key: 'dashboardPort',
  },
  'dashboard-host': {
    type: 'string',
    value: '<host>',
    help: 'its interface',
    default: DEFAULT_DASHBOARD_HOST,
    key: 'dashboardHost',
  },
  'dashboard-open': {
    type: 'boolean',
    help: [
      'serve it without a token, on loopback only',
      '(any local user or process can then use it);',
      'by default every request needs the token in',
      'the URL printed at start',
    ],
    key: 'dashboardOpen',
  },
  'no-dashboard': { type: 'boolean', help: 'do not serve the dashboard', key: 'noDashboard' },
  'dashboard-token-file': {
    type: 'string',
    value: '<file>',
    help: [
      'a stable access token, read from this file',
      '(else NEKOCONNECT_DASHBOARD_TOKEN): 16+',
      'printable characters; never printed',
    ],
    default: 'a new one at each start',
    key: 'dashboardTokenFile',
  },
  'metrics-port': {
    type: 'int',
    value: '<port>',
    help: ['serve /healthz, /readyz and /metrics', '(Prometheus) without a token on this port'],
    default: 'off; 0 picks a free one',
    range: PORT_RANGE,
    key: 'metricsPort',
  },
  'metrics-host': {
    type: 'string',
    value: '<host>',
    help: 'its interface',
    default: DEFAULT_METRICS_HOST,
    key: 'metricsHost',
  },
  'require-plugins': {
    type: 'boolean',
    help: 'refuse to start when a plugin fails to load',
    key: 'requirePlugins',
  },
  'ws-port': {
    type: 'int',
    value: '<port>',
    help: [
      'also accept WebSocket clients (browsers) on',
      'this port: ws://, or wss:// with --tls-key;',
      'same frames and limits',
    ],
    default: 'off; 0 picks a free one',
    range: PORT_RANGE,
    key: 'wsPort',
  },
  'log-format': {
    type: 'string',
    value: '<format>',
    help: ['pretty (for a terminal) or json (one JSON record', 'a line, every line, for a log shipper)'],
    default: 'pretty',
    key: 'logFormat',
  },
  'log-level': {
    type: 'string',
    value: '<level>',
    help: 'print debug, info, warn or error and above',
    default: 'info',
    key: 'logLevel',
  },
} as const satisfies Record<string, FlagSpec>;

/** The flag object of `start` and `dev`. */
export type StartCommandFlags = FlagValues<typeof START_FLAGS>;

/** The {@link StartFlags} of a parsed command line: the flags, and the `[dir]` argument. */
export function startFlags(flags: StartCommandFlags, args: readonly string[]): StartFlags {
  const dir = args[0];
  return dir === undefined ? flags : { ...flags, dir };
}

/** What `start` and `dev` print after their options. */
export const SERVE_FOOTER = `Signals: SIGINT or SIGTERM shut down (a second one exits at once), SIGHUP
reloads the config and plugins (nekoconnect reload), SIGUSR2 drains then shuts
down (nekoconnect drain). See docs/config.md.
Exit codes: 0 clean shutdown, 1 runtime failure or handlers cut at shutdown
(still running after limits.shutdownTimeoutMs), 2 usage or configuration error.
Environment: NEKOCONNECT_SECRET, NEKOCONNECT_DASHBOARD_TOKEN,
NEKOCONNECT_DATABASE_URL (as --storage), NEKOCONNECT_REDIS_URL (as --cluster),
NO_COLOR (plain output).`;

/** `--workers`, a flag of `start` only. */
const WORKERS_FLAG = {
  type: 'string',
  value: '<n|auto>',
  help: [
    'serve with n worker processes sharing the port',
    '(auto: one per core) under a primary that',
    'restarts them and serves the dashboard; the',
    'bus is IPC through the primary, or Redis with',
    '--cluster; more than one needs --storage',
    'postgres://…',
  ],
  default: 'off: this process serves',
  key: 'workers',
} as const satisfies FlagSpec;

/** `--playground`, a flag of `start` only (`dev` has it on unless `--no-playground`). */
const PLAYGROUND_FLAG = {
  type: 'boolean',
  help: [
    "serve the dashboard's Playground (simulated",
    'clients that try every plugin; Copy as test):',
    'needs the dashboard and its token; not with',
    '--workers yet',
  ],
  default: 'off; on under dev',
  key: 'playground',
} as const satisfies FlagSpec;

/** What a plugin that failed to load does under `start`. */
const START_FAILED = {
  withSpec: 'answers 503 until fixed',
  withoutSpec: 'not served until its spec.conf is fixed',
};

/** `nekoconnect start`: resolves with the exit code once the server has shut down. */
export const START_COMMAND = defineCommand({
  name: 'start',
  args: ['[dir]'],
  summary: 'serve the plugins in dir (see `nekoconnect start --help`)',
  description: `Serves the plugins in dir (a plugins directory, or one plugin folder with a
spec.conf). dir defaults to the config's plugins, else the current directory.

Settings also come from nekoconnect.config.ts (or .js, .mjs, .json) in the
current directory: flags beat the config file, which beats the defaults.
See docs/config.md.

The shared secret comes from the NEKOCONNECT_SECRET environment variable,
or from --secret-file (never from the config file). The server does not
start without one.`,
  flags: { ...START_FLAGS, workers: WORKERS_FLAG, playground: PLAYGROUND_FLAG },
  footer: SERVE_FOOTER,
  serves: true,
  run: (flags, args, io) =>
    cluster.isWorker
      ? serveAsWorker(io)
      : serve(startFlags(flags, args), io, {
          mode: 'start',
          failed: START_FAILED,
          playground: flags.playground === true ? { on: 'asked' } : { on: false },
          instead: (options, context) =>
            options.workers === undefined
              ? undefined
              : servePrimary(options, startFlags(flags, args), context),
        }),
});

/** `start --workers`: the primary (workers/primary.ts), printing as `start` prints. */
async function servePrimary(
  options: StartOptions,
  flags: StartFlags,
  { output, io, cwd }: { output: Output; io: CliIo; cwd: string },
): Promise<number> {
  checkWorkersStorage(options, cwd);
  output.out(kleur.bold(`NekoConnect ${packageVersion()}`));
  if (options.configFile !== undefined)
    output.out(kleur.dim(`config from ${shownPath(options.configFile, cwd)}`));
  output.out(kleur.dim(`storage: ${describeStorage(options.storage, (d) => shownDir(d, cwd))}`));
  return runPrimary({
    options,
    flags,
    cwd,
    // The variables of secrets, as the options were read from them: for the workers, over IPC.
    env: Object.fromEntries(
      Object.entries(reloadEnv({}, options)).filter(
        (entry): entry is [string, string] => entry[1] !== undefined,
      ),
    ),
    out: (line) => output.out(line),
    raw: { out: io.out, err: io.err },
    print: (logger) => {
      const printer = printLogs(logger, output, { level: options.log.level });
      return () => printer.stop();
    },
    format: output.format,
    onSignal: io.onSignal,
    ...(io.onControl === undefined ? {} : { onControl: io.onControl }),
    facts: {
      mode: 'start',
      version: packageVersion(),
      plugins: options.plugins,
      dataDir: options.dataDir,
      storage: describeStorage(options.storage, (d) => d),
      configFile: options.configFile,
    },
  });
}

/**
 * A worker of `start --workers` (forked by the primary): its options and
 * secrets come from the primary over IPC, its signals too; it serves with
 * the primary's bus (or Redis), reports to the primary's dashboard, and
 * tells the primary once it listens.
 */
async function serveAsWorker(io: CliIo): Promise<number> {
  const start = await waitForStart();
  const workerIo: CliIo = {
    ...io,
    cwd: start.cwd,
    onSignal: (handler) => signalsFromPrimary(['SIGINT', 'SIGTERM'], handler),
    onControl: (handler) =>
      signalsFromPrimary(['SIGHUP', 'SIGUSR2'], (signal) => handler(signal as 'SIGHUP' | 'SIGUSR2')),
  };
  return serve(start.flags, workerIo, {
    mode: 'start',
    worker: true,
    env: { ...process.env, ...start.env },
    failed: START_FAILED,
    // The primary's dashboard: this worker's lines from the start, its Reload as SIGHUP's.
    created: (server, control) =>
      reportToPrimary(server, { reload: () => control.reload('POST /api/reload (on the primary)') }),
    whileServing: async ({ server }) => {
      const address = server.address();
      if (address !== undefined) announceListening(address, server.websocketAddress());
    },
  });
}
