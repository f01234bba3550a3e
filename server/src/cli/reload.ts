/**
 * A reload of a running server (`SIGHUP`, `nekoconnect reload`, `POST
 * /api/reload`): the config file is read again with the flags the server
 * started with, every plugin is loaded again and swapped in place, the
 * settings that can change live are applied, and each setting that changed
 * but needs a restart is logged. A config that cannot be read changes
 * nothing: the coded error is logged and the server serves on.
 */
import { isNekoError } from '../errors.js';
import { errorMessage, plural } from '../format.js';
import { DASHBOARD_TOKEN_ENV } from '../config/dashboard-options.js';
import { storageEnv } from '../config/storage-options.js';
import { clusterEnv } from '../config/cluster-options.js';
import { SECRET_ENV } from '../config/secret.js';
import type { StartOptions } from '../config/start-options.js';
import type { Limits } from '../server/limits.js';
import type { TlsOptions } from '../server/options.js';
import type { NekoServer } from '../server/server.js';
import type { ControlSignal } from './command.js';
import { setProcessLogFormat, type LogPrinter, type Output } from './output.js';
import type { Shutdown } from './shutdown.js';

/** What a reload did, as its summary line says it. */
export interface ReloadReport {
  /** False when the config could not be read: nothing changed. */
  readonly ok: boolean;
  /** What stopped it, when `ok` is false: the coded error of the config, or a shutdown under way. */
  readonly error?: { readonly code?: string; readonly message: string };
  /** Plugins loaded again (each swapped in place), and those that failed (their serving version stays). */
  readonly plugins: { readonly reloaded: number; readonly failed: number };
  /** The settings applied live: `limits.maxConnections`, `tls`, `log.level`… */
  readonly applied: readonly string[];
  /** The settings that changed but take effect only after a restart: `port`, `dataDir`… */
  readonly restart: readonly string[];
}

/** What a reload works on: the running server and how its options were made. */
export interface ReloadTarget {
  readonly server: NekoServer;
  /** The options the server started with (restart-bound settings are compared with these). */
  readonly started: StartOptions;
  /** Resolves the options again: the same flags, config file and environment. */
  readonly resolve: () => Promise<StartOptions>;
  /**
   * Applies the settings of what the command prints live (log level and
   * format); returns the names of those that changed. Without it, a change
   * of them needs a restart.
   */
  readonly applyOutput?: (next: StartOptions) => readonly string[];
}

/** The top-level keys of the start options that a reload applies itself, or that are no setting. */
// cacheDir and cluster are compared once, as serverOptions.cacheDir and serverOptions.cluster.
const HANDLED: ReadonlySet<string> = new Set([
  'serverOptions',
  'configFile',
  'plugins',
  'warnings',
  'cacheDir',
  'cluster',
]);

/**
 * The environment a reload resolves the options in: the server's, with the
 * secret, a dashboard token, `NEKOCONNECT_DATABASE_URL` and `NEKOCONNECT_REDIS_URL` from the
 * environment put back (they left it
 * when first read, so that child processes do not inherit them). A
 * `--secret-file` or token file is read again.
 */
export function reloadEnv(env: NodeJS.ProcessEnv, started: StartOptions): NodeJS.ProcessEnv {
  const token = started.dashboard?.token;
  return {
    ...env,
    [SECRET_ENV]: started.serverOptions.secret,
    ...(token?.source === DASHBOARD_TOKEN_ENV ? { [DASHBOARD_TOKEN_ENV]: token.token } : {}),
    ...storageEnv(started.storage),
    ...clusterEnv(started.cluster),
  };
}

/**
 * Reloads a running server once. Logs through the server's logger: the
 * plugins' lines, one line per setting applied or needing a restart, and a
 * summary line at the end.
 */
export async function reloadServer(target: ReloadTarget, reason: string): Promise<ReloadReport> {
  const { server, started } = target;
  const logger = server.logger;
  logger.info(`${reason}: reloading the config and the plugins`);
  let next: StartOptions;
  try {
    next = await target.resolve();
  } catch (err) {
    const code = isNekoError(err) ? err.code : undefined;
    logger.error(`reload failed, nothing changed, serving on: ${errorMessage(err)}`, { code, error: err });
    return {
      ok: false,
      error: { code: code ?? 'NEKO_ERR_CONFIG_LOAD', message: errorMessage(err) },
      plugins: { reloaded: 0, failed: 0 },
      applied: [],
      restart: [],
    };
  }

  for (const warning of next.warnings) logger.warn(`reload: ${warning.message}`, { code: warning.code });
  // Restart-bound settings first: the plugins folder among them (the one served is loaded again).
  const restart = restartSettings(started, next, target.applyOutput !== undefined);
  for (const setting of restart) {
    logger.warn(`reload: ${setting} changed in the config; it takes effect after a restart`);
  }

  // Plugins: each swapped in place (state, database, sessions kept); a failure keeps its serving version
  // (the registry logs each plugin loaded and each failure with why).
  const report = await server.loadPlugins(started.plugins);

  const applied: string[] = [];
  let limitsChanged: (keyof Limits)[] = [];
  const before = { ...server.options.limits };
  try {
    limitsChanged = server.setLimits(next.serverOptions.limits);
  } catch (err) {
    logger.error(`reload: the limits were not applied: ${errorMessage(err)}`, {
      code: isNekoError(err) ? err.code : undefined,
    });
  }
  for (const key of limitsChanged) {
    applied.push(`limits.${key}`);
    logger.info(`reload: limits.${key} ${before[key]} → ${server.options.limits[key]}`);
  }

  const tls = next.serverOptions.tls;
  if (tls !== undefined && started.serverOptions.tls !== undefined && !sameTls(server.options.tls, tls)) {
    try {
      server.setTls(tls);
      applied.push('tls');
      logger.info(
        'reload: TLS certificate and key replaced; new connections get them, open ones keep theirs',
      );
    } catch (err) {
      logger.error(`reload: the TLS certificate and key were not replaced: ${errorMessage(err)}`, {
        code: isNekoError(err) ? err.code : undefined,
      });
    }
  }

  for (const setting of target.applyOutput?.(next) ?? []) {
    applied.push(setting);
    logger.info(`reload: ${setting} applied`);
  }

  const summary: ReloadReport = {
    ok: true,
    plugins: { reloaded: report.loaded.length, failed: report.failed.length },
    applied,
    restart,
  };
  logger.info(
    `reload done: ${plural(summary.plugins.reloaded, 'plugin')} reloaded, ${summary.plugins.failed} failed; ` +
      `applied: ${applied.length === 0 ? 'nothing' : applied.join(', ')}; ` +
      `needs a restart: ${restart.length === 0 ? 'nothing' : restart.join(', ')}`,
  );
  return summary;
}

/**
 * The settings that differ between the options the server started with and
 * the new ones, and that only a restart applies: the listeners, the secret,
 * the storage, the plugins folder, the dashboard and any other start-up
 * setting. Limits and the TLS material (when TLS stays on) are live.
 *
 * @param outputLive whether the log level and format apply live
 */
export function restartSettings(started: StartOptions, next: StartOptions, outputLive: boolean): string[] {
  const changed: string[] = [];
  const a = started.serverOptions;
  const b = next.serverOptions;
  for (const key of Object.keys({ ...a, ...b }) as (keyof typeof a)[]) {
    if (key === 'limits' || key === 'tls' || key === 'plugins' || key === 'storage') continue;
    if (!same(a[key], b[key])) changed.push(key === 'websocket' ? 'websocket' : key);
  }
  if ((a.tls === undefined) !== (b.tls === undefined)) changed.push('tls (on or off)');
  if (started.plugins !== next.plugins) changed.push('plugins (folder)');
  for (const key of Object.keys({ ...started, ...next }) as (keyof StartOptions)[]) {
    if (HANDLED.has(key) || (outputLive && key === ('log' as keyof StartOptions))) continue;
    if (!same(started[key], next[key])) changed.push(key);
  }
  return changed;
}

function sameTls(a: TlsOptions | undefined, b: TlsOptions): boolean {
  return a !== undefined && same(a.key, b.key) && same(a.cert, b.cert);
}

/** Deep equality of option values: plain data, strings and buffers. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array || typeof a === 'string' || typeof b === 'string') {
    const bytes = (v: unknown): Buffer | undefined =>
      typeof v === 'string' ? Buffer.from(v) : v instanceof Uint8Array ? Buffer.from(v) : undefined;
    const x = bytes(a);
    const y = bytes(b);
    return x !== undefined && y !== undefined && x.equals(y);
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if (!same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/**
 * The log settings of a serving command, applied live: the level of the
 * lines printed and their format (`pretty` or `json`).
 */
export function liveOutput(output: Output, logs: LogPrinter): (next: StartOptions) => string[] {
  return (next) => {
    const changed: string[] = [];
    if (next.log.level !== logs.level) {
      logs.setLevel(next.log.level);
      changed.push(`log.level (${next.log.level})`);
    }
    if (next.log.format !== output.format) {
      output.format = next.log.format;
      setProcessLogFormat(next.log.format);
      changed.push(`log.format (${next.log.format})`);
    }
    return changed;
  };
}

/**
 * The control signals of a serving command: `SIGHUP` reloads, `SIGUSR2`
 * drains then shuts down. Both wait for the start-up to end ({@link serving});
 * reloads run one at a time, and none once a drain or shutdown began.
 */
export class ServerControl {
  readonly #target: ReloadTarget;
  readonly #shutdown: Shutdown;
  #queue: Promise<unknown>;
  #ready!: () => void;

  constructor(target: ReloadTarget, shutdown: Shutdown) {
    this.#target = target;
    this.#shutdown = shutdown;
    this.#queue = new Promise<void>((resolve) => (this.#ready = resolve));
  }

  /** The server serves: what was asked during the start-up runs now. */
  serving(): void {
    this.#ready();
  }

  /** Handles a control signal. */
  signal(signal: ControlSignal): void {
    if (signal === 'SIGHUP') void this.reload('SIGHUP');
    else this.drain('SIGUSR2');
  }

  /** Reloads the server (after the reloads asked before); `reason` names what asked. */
  reload(reason: string): Promise<ReloadReport> {
    const run = this.#queue.then(() => {
      if (!this.#shutdown.winding) return reloadServer(this.#target, reason);
      const message = `${reason}: not reloading, the server is shutting down`;
      this.#target.server.logger.warn(message);
      const none = { reloaded: 0, failed: 0 };
      return { ok: false, error: { message }, plugins: none, applied: [], restart: [] };
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Drains the server, then shuts it down (once the start-up and any reload under way ended). */
  drain(reason: string): void {
    const server = this.#target.server;
    void this.#queue.then(() => this.#shutdown.drain(reason, () => server.drain()));
  }
}
