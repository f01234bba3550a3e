import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stripVTControlCharacters } from 'node:util';
import type { DevEvent } from '../dev/events.js';
import { NekoError } from '../errors.js';
import type { LogLevel } from '../logging/logger.js';
import { closableHttp, listenOrThrow } from '../server/listen.js';
import type { NekoServer } from '../server/server.js';
import { DashboardApi } from './api.js';
import { loadAssets } from './assets.js';
import { errorView, type ErrorView } from './error-view.js';
import { LogBuffer } from './log-buffer.js';
import { serverSource, type DashboardSource } from './source.js';
import {
  isLoopback,
  resolveDashboardOptions,
  type DashboardOptions,
  type ResolvedDashboardOptions,
} from '../config/dashboard-options.js';
import { generateToken } from './token.js';
import type { Playground } from '../playground/playground.js';
import type { ServerFacts } from './views.js';

/** Options of {@link createDashboard}. */
export interface CreateDashboardOptions extends DashboardOptions {
  /** How the server was started, for the overview and settings. */
  facts?: Partial<ServerFacts>;
  /** Log lines kept for the page and the API. Default 5,000. */
  logCapacity?: number;
}

/**
 * The dashboard of one server: an HTTP server (its own port, loopback by
 * default) serving the page and the data API, with the server's log lines
 * from the moment it was created. Create it with {@link createDashboard}
 * before loading plugins, so their load lines are in it.
 */
export class Dashboard {
  readonly options: ResolvedDashboardOptions;
  /** The log lines the page shows. */
  readonly logs: LogBuffer;
  /**
   * What `POST /api/reload` runs: set by the command that serves (`start`
   * reloads its config and plugins, as on `SIGHUP`); the JSON it resolves
   * with is the answer. Unset, the API answers 404.
   */
  reload: (() => Promise<{ readonly ok: boolean }>) | undefined;
  /**
   * The Playground (`/api/playground/…`): set by the command that serves
   * when it is on (`dev`, `start --playground`); closed with the dashboard.
   */
  playground: Playground | undefined;
  /** Why the Playground is off, as `GET /api/playground` says it while {@link playground} is unset. */
  playgroundOff =
    'the Playground is off: start the server with --playground (it needs the dashboard and its token)';
  readonly #source: DashboardSource;
  readonly #facts: ServerFacts;
  readonly #devProblems = new Map<string, ErrorView>();
  /** Closes the HTTP server and its open connections. */
  #closeHttp: (() => Promise<void>) | undefined;
  readonly #unsubscribe: () => void;
  #http: HttpServer | undefined;
  #api: DashboardApi | undefined;

  /** @param server the server shown, or what stands for several (the workers under `--workers`) */
  constructor(server: NekoServer | DashboardSource, options: CreateDashboardOptions = {}) {
    this.options = resolveDashboardOptions(options, generateToken);
    this.#source = 'subscribeLogs' in server ? server : serverSource(server);
    this.#facts = {
      mode: options.facts?.mode ?? 'start',
      version: options.facts?.version ?? '',
      plugins: options.facts?.plugins,
      dataDir: options.facts?.dataDir,
      storage: options.facts?.storage,
      configFile: options.facts?.configFile,
    };
    this.logs = new LogBuffer(options.logCapacity);
    this.#unsubscribe = this.#source.subscribeLogs((record, origin) => this.logs.push(record, origin));
  }

  /** The access token every request must carry; undefined only for an open dashboard. */
  get token(): string | undefined {
    return this.options.token;
  }

  /** The address listened on, once {@link listen} resolved. */
  address(): AddressInfo | undefined {
    const address = this.#http?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /**
   * The page's URL, with the token (unless the dashboard is open, or
   * `withToken` is false): what to print for the user to open.
   */
  url({ withToken = true }: { withToken?: boolean } = {}): string {
    const address = this.address();
    const host =
      address?.family === 'IPv6' ? `[${address.address}]` : (address?.address ?? this.options.host);
    const shown = host === '0.0.0.0' || host === '[::]' ? 'localhost' : host;
    const base = `http://${shown}:${address?.port ?? this.options.port}/`;
    return this.options.token === undefined || !withToken ? base : `${base}?token=${this.options.token}`;
  }

  /**
   * Starts serving. Resolves with the bound address.
   *
   * @throws NekoError `NEKO_ERR_DASHBOARD_LISTEN` when the port cannot be bound
   */
  async listen(): Promise<AddressInfo> {
    if (this.#http) throw new NekoError('NEKO_ERR_DASHBOARD_LISTEN', 'the dashboard is already listening');
    const api = new DashboardApi({
      source: this.#source,
      facts: this.#facts,
      logs: this.logs,
      assets: await loadAssets(),
      token: this.options.token,
      loopback: isLoopback(this.options.host),
      listening: () => ({ host: this.options.host, port: this.address()?.port ?? this.options.port }),
      devProblems: this.#devProblems,
      reload: () => this.reload,
      playground: { current: () => this.playground, off: () => this.playgroundOff },
    });
    const http = createHttpServer((req, res) => api.handle(req, res));
    this.#closeHttp = closableHttp(http);
    this.#api = api;
    this.#http = http;
    try {
      await listenOrThrow(http, this.options.port, this.options.host, {
        code: 'NEKO_ERR_DASHBOARD_LISTEN',
        what: 'the dashboard cannot listen on',
        inUse:
          'Another process uses this port: pick another with --dashboard-port, or turn the dashboard off with --no-dashboard.',
      });
    } catch (err) {
      this.#http = undefined;
      throw err;
    }
    return this.address()!;
  }

  /**
   * Shows what the dev watcher did: a log line (only on the dashboard; the
   * terminal prints the event itself), and for a change it rejected, the
   * error on the plugin until a later change of it loads.
   *
   * @param text the event as the terminal shows it
   */
  devEvent(event: DevEvent, text: string): void {
    const level: LogLevel =
      event.type === 'rejected' || event.type === 'error'
        ? 'error'
        : (event.type === 'checked' && event.errors.length > 0) || event.type === 'state'
          ? 'warn'
          : 'info';
    const first = event.type === 'rejected' || event.type === 'checked' ? event.errors[0] : undefined;
    const error = event.type === 'error' ? event.error : first;
    const greeter = 'greeter' in event ? event.greeter : undefined;
    this.logs.push({
      time: Date.now(),
      level,
      // The page shows the first error's code frame on its own: the message keeps the lines around the frames.
      message: withoutCodeFrames(stripVTControlCharacters(text)),
      ...(greeter === undefined ? {} : { plugin: greeter }),
      ...(error === undefined ? {} : { code: error.code, error }),
    });
    if (event.type === 'rejected' && first !== undefined)
      this.#devProblems.set(event.dir, errorView(first, Date.now()));
    if (event.type === 'reloaded' || event.type === 'removed') this.#devProblems.delete(event.dir);
  }

  /** Stops serving: event streams end, connections close. */
  async close(): Promise<void> {
    this.#unsubscribe();
    // Its simulated clients are sessions of the server: they close with the dashboard that shows them.
    await this.playground?.close();
    const http = this.#http;
    if (!http) return;
    this.#http = undefined;
    this.#api?.endStreams();
    await this.#closeHttp?.();
  }
}

/** Drops the code-frame lines (`> 12 | code`, `   | ^`) of a dev event's terminal text. */
function withoutCodeFrames(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\s*(?:>\s*)?\d*\s\|(?: |$)/.test(line))
    .join('\n');
}

/** Creates the dashboard of a server; call `listen()` to serve it. */
export function createDashboard(
  server: NekoServer | DashboardSource,
  options?: CreateDashboardOptions,
): Dashboard {
  return new Dashboard(server, options);
}
