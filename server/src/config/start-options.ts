/**
 * The options a server starts with, from command-line flags, the config
 * file and the defaults, in that order of precedence. Shared by the commands
 * that start a server.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { NekoError } from '../errors.js';
import { shownPath } from '../format.js';
import { DEFAULT_PORT } from '../protocol/constants.js';
import {
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  DEFAULT_METRICS_HOST,
  isLoopback,
  readStableToken,
  type StableToken,
} from './dashboard-options.js';
import { DEFAULT_LIMITS, type Limits } from '../server/limits.js';
import {
  DEFAULT_HOST,
  type ClusterOptions,
  type ServerOptions,
  type TlsOptions,
  type WebSocketOptions,
} from '../server/options.js';
import type { NekoConfig } from './define-config.js';
import { loadConfig } from './load-config.js';
import { readSecret } from './secret.js';
import { resolveLogOptions, type LogOptions } from './log-options.js';
import { checkTlsMaterial } from './tls.js';
import { resolveStorage, type ResolvedStorage } from './storage-options.js';
import { nedbInClusterWarning, resolveCluster, type ResolvedCluster } from './cluster-options.js';

/** What the command line gave. Paths are relative to the working directory. Absent means "not given". */
export interface StartFlags {
  /** The `[dir]` argument: a plugins directory or one plugin folder. Beats the config's `plugins`. */
  dir?: string;
  /** `--config <file>`: this config file instead of the one in the working directory. */
  config?: string;
  /** `--no-config`: no config file at all. */
  noConfig?: boolean;
  port?: number;
  host?: string;
  /** `--secret-file <file>`; else the secret comes from `NEKOCONNECT_SECRET`. */
  secretFile?: string;
  /** `--data-dir <dir>`: where plugin databases live. Beats the config's `dataDir`. */
  dataDir?: string;
  /**
   * `--storage <url|dir>`: a `postgres://` URL selects PostgreSQL, anything
   * else is a nedb data directory. Beats `NEKOCONNECT_DATABASE_URL` and the
   * config's `storage` (see `storage-options.ts`).
   */
  storage?: string;
  /** `--cluster <redis-url>`: join the cluster that meets on this Redis. Beats `NEKOCONNECT_REDIS_URL` and the config's `cluster.redis`. */
  cluster?: string;
  /** `--cluster-name <name>`: the cluster's name. Beats the config's `cluster.name`. */
  clusterName?: string;
  /** `--cache-dir <dir>`: where TypeScript plugins are bundled to. Beats the config's `cacheDir`. */
  cacheDir?: string;
  /** `--tls-key` and `--tls-cert`: both or neither. They replace the config's `tls`. */
  tlsKey?: string;
  tlsCert?: string;
  /** Limits from flags; each beats the same limit of the config. */
  limits?: Partial<Limits>;
  /** `--dashboard-port`: beats the config's `dashboard.port`. */
  dashboardPort?: number;
  /** `--dashboard-host`: beats the config's `dashboard.host`. */
  dashboardHost?: string;
  /** `--dashboard-open`: no access token (loopback only). Beats the config's `dashboard.open`. */
  dashboardOpen?: boolean;
  /** `--no-dashboard`: no dashboard, whatever the config says. */
  noDashboard?: boolean;
  /** `--dashboard-token-file <file>`: a stable dashboard token. Beats the config's `dashboard.tokenFile` and `NEKOCONNECT_DASHBOARD_TOKEN`. */
  dashboardTokenFile?: string;
  /** `--metrics-port <port>`: serve /healthz, /readyz and /metrics on this port. Beats the config's `metrics.port`. */
  metricsPort?: number;
  /** `--metrics-host <host>`: the metrics port's interface. Beats the config's `metrics.host`. */
  metricsHost?: string;
  /** `--ws-port`: also accept WebSocket clients on this port. Beats the config's `websocket.port`. */
  wsPort?: number;
  /** `--require-plugins`: refuse to start when a plugin fails to load. Beats the config's `requirePlugins`. */
  requirePlugins?: boolean;
  /** `--log-format pretty|json`: beats the config's `log.format`. */
  logFormat?: string;
  /** `--log-level debug|info|warn|error`: beats the config's `log.level`. */
  logLevel?: string;
  /** `--workers <n|auto>` (start only): serve with n worker processes under a primary. Beats the config's `workers`. */
  workers?: string;
}

/** The outcome of {@link resolveStartOptions}: every value decided, every path absolute. */
export interface StartOptions {
  /**
   * For `createServer()`. `plugins` is left unset: load {@link plugins} with
   * `server.loadPlugins()` to get its report.
   */
  serverOptions: ServerOptions & {
    secret: string;
    port: number;
    host: string;
    limits: Limits;
    /** The cluster on Redis, when configured (a worker's IPC bus is the workers' business, not the config's). */
    cluster?: ClusterOptions;
  };
  /** The plugins directory, or one plugin folder. */
  plugins: string;
  /**
   * The data directory: where plugins keep their data on nedb (created when
   * the server opens a plugin's database), and where the cache goes by default.
   */
  dataDir: string;
  /** The storage backend, what chose it, and how it may be shown (never with a password). */
  storage: ResolvedStorage;
  /** The cluster this process joins (also in `serverOptions.cluster`), and how it may be shown; undefined when it runs alone. */
  cluster: ResolvedCluster | undefined;
  /** Where TypeScript plugins are bundled to (also in `serverOptions.cacheDir`): `<dataDir>/cache` by default. */
  cacheDir: string;
  /** The config file used, absolute; undefined when none was. */
  configFile: string | undefined;
  /** Where the dashboard listens, and whether it is open (no token); undefined when it is off. */
  dashboard: { port: number; host: string; open: boolean; token?: StableToken } | undefined;
  /** Where the metrics port listens (`/healthz`, `/readyz`, `/metrics`); undefined when it is off (the default). */
  metrics: { port: number; host: string } | undefined;
  /** Stop instead of serving when a plugin fails to load. */
  requirePlugins: boolean;
  /** The output's format, and the least severe level the terminal prints. */
  log: LogOptions;
  /** What the start prints as warnings, each coded: a secret file others may read. */
  warnings: NekoError[];
  /** How many worker processes serve under a primary (`--workers`, config `workers`); undefined: this process serves. */
  workers: number | undefined;
}

/**
 * Decides the options of a server start: flags beat the config file, which
 * beats the defaults. The config file is `flags.config`, else the one in
 * `cwd` (none with `flags.noConfig`); its relative paths are resolved
 * against its folder, the flags' against `cwd`. TLS files and the secret
 * are read here.
 *
 * @param env where `NEKOCONNECT_SECRET` (and `NEKOCONNECT_DATABASE_URL`, `NEKOCONNECT_REDIS_URL`) is read from
 * @throws NekoError `NEKO_ERR_CLI_USAGE`, `NEKO_ERR_CONFIG_*` (see docs/errors.md)
 */
export async function resolveStartOptions(
  cwd: string,
  flags: StartFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<StartOptions> {
  if ((flags.tlsKey === undefined) !== (flags.tlsCert === undefined)) {
    throw new NekoError('NEKO_ERR_CLI_USAGE', '--tls-key and --tls-cert go together: give both or neither');
  }
  const loaded = await loadConfig(cwd, { configFile: flags.config, noConfig: flags.noConfig });
  const config = loaded?.config ?? {};
  // Relative paths of the config are relative to its folder.
  const base = loaded?.dir ?? path.resolve(cwd);

  const plugins =
    flags.dir !== undefined
      ? path.resolve(cwd, flags.dir)
      : config.plugins !== undefined
        ? path.resolve(base, config.plugins)
        : path.resolve(cwd);
  const limits: Limits = { ...DEFAULT_LIMITS, ...defined(config.limits), ...defined(flags.limits) };

  let tls: TlsOptions | undefined;
  if (flags.tlsKey !== undefined && flags.tlsCert !== undefined) {
    tls = await readTls(path.resolve(cwd, flags.tlsKey), path.resolve(cwd, flags.tlsCert));
  } else if (config.tls !== undefined && loaded !== undefined) {
    const shown = shownPath(loaded.file, cwd);
    tls = await readTls(path.resolve(base, config.tls.key), path.resolve(base, config.tls.cert), shown);
  }
  const storage = resolveStorage({
    ...(flags.storage === undefined ? {} : { storage: flags.storage }),
    ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
    env,
    cwd,
    config,
    base,
    ...(loaded === undefined ? {} : { configFile: shownPath(loaded.file, cwd) }),
  });
  const dataDir = storage.dataDir;
  const workers = resolveWorkers(flags, config, loaded === undefined ? '' : shownPath(loaded.file, cwd));
  const cluster = resolveCluster({
    ...(flags.cluster === undefined ? {} : { cluster: flags.cluster }),
    ...(flags.clusterName === undefined ? {} : { clusterName: flags.clusterName }),
    env,
    ...(config.cluster === undefined ? {} : { config: config.cluster }),
    ...(loaded === undefined ? {} : { configFile: shownPath(loaded.file, cwd) }),
  });
  const cacheDir =
    flags.cacheDir !== undefined
      ? path.resolve(cwd, flags.cacheDir)
      : config.cacheDir !== undefined
        ? path.resolve(base, config.cacheDir)
        : path.join(dataDir, 'cache');
  const warnings: NekoError[] = [];
  const secret = await readSecret(
    flags.secretFile === undefined ? undefined : path.resolve(cwd, flags.secretFile),
    env,
    (warning) => warnings.push(warning),
  );
  if (cluster !== undefined && storage.selection.backend === 'nedb') {
    warnings.push(nedbInClusterWarning(cluster, shownPath(dataDir, cwd)));
  }

  return {
    serverOptions: {
      secret,
      port: flags.port ?? config.port ?? DEFAULT_PORT,
      host: flags.host ?? config.host ?? DEFAULT_HOST,
      tls,
      websocket: resolveWebSocket(flags, config),
      limits,
      cacheDir,
      ...(cluster === undefined ? {} : { cluster: cluster.options }),
    },
    plugins,
    dataDir,
    storage,
    cluster,
    cacheDir,
    configFile: loaded?.file,
    dashboard: await withStableToken(
      resolveDashboard(flags, config, loaded === undefined ? '' : shownPath(loaded.file, cwd)),
      flags.dashboardTokenFile !== undefined
        ? { file: path.resolve(cwd, flags.dashboardTokenFile), shown: flags.dashboardTokenFile }
        : config.dashboard && config.dashboard.tokenFile !== undefined && loaded !== undefined
          ? {
              file: path.resolve(base, config.dashboard.tokenFile),
              shown: `${config.dashboard.tokenFile} (dashboard.tokenFile of ${shownPath(loaded.file, cwd)})`,
            }
          : undefined,
      env,
    ),
    metrics: resolveMetrics(flags, config),
    requirePlugins: flags.requirePlugins ?? config.requirePlugins ?? false,
    log: resolveLogOptions(flags, config),
    warnings,
    workers,
  };
}

/**
 * Refuses more than one worker on nedb storage, whose files belong to one
 * process. `start --workers` calls it before anything is bound or opened
 * (`dev`, which serves in one process, does not).
 * @throws NekoError `NEKO_ERR_CONFIG_WORKERS_STORAGE`, naming the fix
 */
export function checkWorkersStorage(options: StartOptions, cwd: string): void {
  const { workers, storage } = options;
  if (workers === undefined || workers < 2 || storage.selection.backend !== 'nedb') return;
  throw new NekoError(
    'NEKO_ERR_CONFIG_WORKERS_STORAGE',
    `${workers} workers cannot share nedb files (${shownPath(options.dataDir, cwd)}, from ${storage.source}): each data file belongs to one process`,
    {
      hint: 'Keep plugin data in PostgreSQL (--storage postgres://user:password@host/db, or NEKOCONNECT_DATABASE_URL), or serve with --workers 1.',
    },
  );
}

/** The most workers `--workers` takes. */
export const MAX_WORKERS = 256;

/**
 * How many workers, from `--workers` over the config's `workers`: a whole
 * number from 1 to {@link MAX_WORKERS}, or `auto` (`os.availableParallelism()`).
 * @throws NekoError `NEKO_ERR_CLI_USAGE` for a flag, `NEKO_ERR_CONFIG_INVALID` for the config, that is neither
 */
function resolveWorkers(flags: StartFlags, config: NekoConfig, configFile: string): number | undefined {
  const given = flags.workers ?? config.workers;
  if (given === undefined) return undefined;
  if (given === 'auto') return availableParallelism();
  const n = typeof given === 'number' ? given : /^[0-9]+$/.test(given) ? Number(given) : NaN;
  if (Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS) return n;
  const shown = JSON.stringify(given);
  throw flags.workers !== undefined
    ? new NekoError(
        'NEKO_ERR_CLI_USAGE',
        `--workers must be a whole number from 1 to ${MAX_WORKERS}, or auto (one per core), got ${shown}`,
      )
    : new NekoError(
        'NEKO_ERR_CONFIG_INVALID',
        `workers${configFile === '' ? '' : ` in ${configFile}`} must be a whole number from 1 to ${MAX_WORKERS}, or 'auto', got ${shown}`,
      );
}

/** The WebSocket listener from `--ws-port` over the config's `websocket`; undefined when neither asks for one. */
function resolveWebSocket(flags: StartFlags, config: NekoConfig): WebSocketOptions | undefined {
  const port = flags.wsPort ?? config.websocket?.port;
  if (port === undefined) return undefined;
  return { ...config.websocket, port };
}

/**
 * Where the dashboard listens and whether it is open, from the flags over
 * the config; undefined when either turns it off.
 *
 * @param configFile the config file as messages name it
 * @throws NekoError `NEKO_ERR_CLI_USAGE` (from `--dashboard-open`) or `NEKO_ERR_CONFIG_INVALID` (from
 *   `dashboard.open`) for an open dashboard off loopback
 */
function resolveDashboard(
  flags: StartFlags,
  config: NekoConfig,
  configFile: string,
): StartOptions['dashboard'] {
  if (flags.noDashboard === true || config.dashboard === false) return undefined;
  const dashboard = {
    port: flags.dashboardPort ?? config.dashboard?.port ?? DEFAULT_DASHBOARD_PORT,
    host: flags.dashboardHost ?? config.dashboard?.host ?? DEFAULT_DASHBOARD_HOST,
    open: flags.dashboardOpen ?? config.dashboard?.open ?? false,
  };
  if (dashboard.open && !isLoopback(dashboard.host)) {
    const byFlag = flags.dashboardOpen === true;
    const hostByFlag = flags.dashboardHost !== undefined;
    const open = byFlag ? '--dashboard-open' : `dashboard.open (in ${configFile})`;
    const host = hostByFlag ? '--dashboard-host' : `dashboard.host (in ${configFile})`;
    throw new NekoError(
      byFlag ? 'NEKO_ERR_CLI_USAGE' : 'NEKO_ERR_CONFIG_INVALID',
      `${open} serves the dashboard without its access token, which is allowed only on loopback, ` +
        `but ${host} binds it to ${dashboard.host}`,
      {
        hint:
          `drop ${byFlag ? '--dashboard-open' : 'dashboard.open'} so that every request needs the printed token, ` +
          `or bind the dashboard to loopback (${hostByFlag ? '--dashboard-host 127.0.0.1' : 'dashboard.host "127.0.0.1"'})`,
      },
    );
  }
  return dashboard;
}

/**
 * The dashboard with its stable token, when one is given (a token file, else
 * `NEKOCONNECT_DASHBOARD_TOKEN`); an open dashboard takes none.
 *
 * @throws NekoError `NEKO_ERR_CONFIG_DASHBOARD_TOKEN` for a token file that cannot be read or a bad token
 */
async function withStableToken(
  dashboard: StartOptions['dashboard'],
  file: { file: string; shown: string } | undefined,
  env: NodeJS.ProcessEnv,
): Promise<StartOptions['dashboard']> {
  if (dashboard === undefined) return undefined;
  const token = await readStableToken(file?.file, env, file?.shown);
  if (token === undefined) return dashboard;
  if (dashboard.open) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_DASHBOARD_TOKEN',
      `an open dashboard takes no token, but one comes from ${token.source}`,
      { hint: 'drop --dashboard-open (dashboard.open) to require the token, or give no token' },
    );
  }
  return { ...dashboard, token };
}

/** The metrics port, from the flags and the config; undefined unless a port is given. */
function resolveMetrics(flags: StartFlags, config: NekoConfig): StartOptions['metrics'] {
  const port = flags.metricsPort ?? config.metrics?.port;
  if (port === undefined) return undefined;
  return { port, host: flags.metricsHost ?? config.metrics?.host ?? DEFAULT_METRICS_HOST };
}

/** The entries of `limits` that are not undefined. */
function defined(limits: Partial<Limits> | undefined): Partial<Limits> {
  return Object.fromEntries(Object.entries(limits ?? {}).filter(([, v]) => v !== undefined));
}

/** Reads the PEM files; `configFile` names the config they come from, if they do. */
async function readTls(keyFile: string, certFile: string, configFile?: string): Promise<TlsOptions> {
  const read = async (file: string, what: string, key: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (err) {
      const from = configFile === undefined ? '' : ` (tls.${key} of ${configFile})`;
      throw new NekoError(
        'NEKO_ERR_CONFIG_TLS',
        `cannot read the TLS ${what} ${file}${from}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        {
          cause: err,
          hint:
            configFile === undefined
              ? 'check the paths given to --tls-key and --tls-cert'
              : `check tls.key and tls.cert in ${configFile}; they are relative to its folder`,
        },
      );
    }
  };
  const tls = { key: await read(keyFile, 'key', 'key'), cert: await read(certFile, 'certificate', 'cert') };
  const named = (file: string, key: string): string =>
    configFile === undefined ? file : `${file} (tls.${key} of ${configFile})`;
  checkTlsMaterial(tls, { key: named(keyFile, 'key'), cert: named(certFile, 'cert') });
  return tls;
}
