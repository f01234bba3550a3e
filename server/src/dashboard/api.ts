/**
 * The dashboard's HTTP surface: access checks, then the page's files, the
 * JSON API and the log event stream. See docs/dashboard.md for the API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NekoError } from '../errors.js';
import { ApiError, allow, notFound, sendError, sendJson } from './http.js';
import type { LogLevel } from '../logging/logger.js';
import type { Asset } from './assets.js';
import type { ErrorView } from './error-view.js';
import { LogEventStream } from './events.js';
import type { LogBuffer, LogFilter } from './log-buffer.js';
import { isLoopback } from '../config/dashboard-options.js';
import { tokenMatches } from './token.js';
import { isHealthPath } from '../metrics/endpoints.js';
import { checkDocumentQuery } from '../storage/documents.js';
import type { Query } from '../storage/database.js';
import { groupRuns } from './log-runs.js';
import type { DashboardSource } from './source.js';
import type { PluginView, ServerFacts } from './views.js';
import type { Playground } from '../playground/playground.js';
import { PlaygroundRoutes } from './playground-routes.js';

/** What the API reads from. */
export interface ApiSources {
  /** The server, or under `--workers` the workers as one. */
  readonly source: DashboardSource;
  readonly facts: ServerFacts;
  readonly logs: LogBuffer;
  readonly assets: ReadonlyMap<string, Asset>;
  /** What every request must carry; undefined only for an open dashboard. */
  readonly token: string | undefined;
  /** Bound to loopback: requests must then name a loopback host (against DNS rebinding). */
  readonly loopback: boolean;
  /** The dashboard's own address, for the settings view. */
  readonly listening: () => { host: string; port: number };
  /** Changes the dev server rejected before loading them, by plugin folder. */
  readonly devProblems: ReadonlyMap<string, ErrorView>;
  /** What `POST /api/reload` runs, when the command serving offers a reload. */
  readonly reload?: () => (() => Promise<{ readonly ok: boolean }>) | undefined;
  /** The Playground (`/api/playground/…`) when the command serving turned it on, and why it is off otherwise. */
  readonly playground?: { readonly current: () => Playground | undefined; readonly off: () => string };
}

const LEVELS: readonly LogLevel[] = ['info', 'warn', 'error'];
const DOCUMENT_PAGE = { default: 25, max: 200 };
const LOG_PAGE_MAX = 5000;

/** The page may load only its own files and talk only to its own origin. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // The token may be in the page's URL: never send it elsewhere.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The request handler of the dashboard's HTTP server. */
export class DashboardApi {
  readonly #sources: ApiSources;
  readonly #streams = new Set<LogEventStream>();
  readonly #playground: PlaygroundRoutes;

  constructor(sources: ApiSources) {
    this.#sources = sources;
    this.#playground = new PlaygroundRoutes({
      playground: sources.playground?.current ?? (() => undefined),
      off: sources.playground?.off ?? (() => 'this server offers no Playground'),
      tokenRequired: sources.token !== undefined,
    });
  }

  /** Ends every open event stream (the dashboard is closing). */
  endStreams(): void {
    for (const stream of this.#streams) stream.end();
    this.#streams.clear();
    this.#playground.endStreams();
  }

  /**
   * Handles one request. Never throws: every failure is answered with a
   * coded error, as JSON (a short HTML page for a browser asking for a page).
   */
  handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
      // /healthz, /readyz and /metrics, for health checks and Prometheus: no token, and nothing else.
      if (isHealthPath(url.pathname)) {
        this.#checkHost(req);
        this.#sources.source.health(req, res, url.pathname);
        return;
      }
      this.#checkAccess(req, res, url);
      this.#route(req, res, url);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const apiError =
        err instanceof ApiError
          ? err
          : new ApiError(
              500,
              'NEKO_ERR_DASHBOARD_INTERNAL',
              `the dashboard failed: ${(err as Error).message}`,
            );
      const wantsPage =
        !(req.url ?? '/').startsWith('/api/') && (req.headers.accept ?? '').includes('text/html');
      if (wantsPage) sendErrorPage(res, apiError);
      else sendError(res, apiError);
    }
  }

  /** On loopback, refuses a request whose Host is not a loopback name. */
  #checkHost(req: IncomingMessage): void {
    if (this.#sources.loopback) {
      // Refuse other host names, so a web page cannot reach the dashboard through a DNS name rebound
      // to 127.0.0.1.
      const hostname = hostOf(req.headers.host);
      if (hostname === undefined || !isLoopback(hostname)) {
        throw new ApiError(
          403,
          'NEKO_ERR_DASHBOARD_HOST',
          `the dashboard answers only to loopback host names (localhost, 127.0.0.1, [::1]), not "${req.headers.host ?? ''}"`,
        );
      }
    }
  }

  #checkAccess(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const { token } = this.#sources;
    this.#checkHost(req);
    if (token !== undefined) {
      const header = req.headers.authorization;
      const fromQuery = url.searchParams.get('token') ?? undefined;
      const given = header?.startsWith('Bearer ')
        ? header.slice(7)
        : (fromQuery ?? cookieValue(req.headers.cookie, this.#cookieName(req)));
      if (!tokenMatches(given, token)) {
        throw new ApiError(
          401,
          'NEKO_ERR_DASHBOARD_TOKEN',
          given === undefined
            ? 'this dashboard needs its access token: open the URL the server printed (it ends in ?token=...)'
            : 'the access token is wrong: open the URL the server printed when it started',
        );
      }
      // The page's own files and requests then carry it as a cookie no script can read or send cross-site.
      if (fromQuery !== undefined) {
        res.setHeader('set-cookie', `${this.#cookieName(req)}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      }
    }
    if (req.method === 'POST') {
      const type = req.headers['content-type'] ?? '';
      if (!type.toLowerCase().startsWith('application/json')) {
        throw new ApiError(
          415,
          'NEKO_ERR_DASHBOARD_BAD_REQUEST',
          'POST requests must have content-type application/json',
        );
      }
    }
    // What changes something must come from the page itself, not from a page elsewhere.
    if (req.method === 'POST' || req.method === 'DELETE') {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== 'null' && hostOfOrigin(origin) !== req.headers.host) {
        throw new ApiError(403, 'NEKO_ERR_DASHBOARD_HOST', `requests from ${origin} are not allowed`);
      }
      if (origin === 'null')
        throw new ApiError(403, 'NEKO_ERR_DASHBOARD_HOST', 'requests from an opaque origin are not allowed');
    }
  }

  /** One cookie per dashboard port: cookies do not tell ports apart. */
  #cookieName(req: IncomingMessage): string {
    return `nekoconnect_dashboard_${req.socket.localPort ?? 0}`;
  }

  #route(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const asset = this.#sources.assets.get(path === '/index.html' ? '/' : path);
    if (asset !== undefined) {
      allow(method, ['GET', 'HEAD']);
      res.writeHead(200, {
        ...PAGE_HEADERS,
        'content-type': asset.type,
        'content-length': asset.body.length,
        'cache-control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }
    const parts = path.split('/').slice(1).map(decodeSegment);
    if (parts[0] !== 'api') throw notFound(`no page at ${path}`);
    const [, resource, id, action] = parts;
    const { source } = this.#sources;
    if (resource === 'playground') {
      // The Playground's routes (dashboard/playground-routes.ts).
      this.#playground.handle(req, res, url, parts.slice(2));
    } else if (resource === 'overview' && id === undefined) {
      allow(method, ['GET']);
      this.#answer(res, 'reading the overview', () =>
        source.overview(this.#sources.facts, this.#sources.logs, this.#plugins()),
      );
    } else if (resource === 'plugins' && id === undefined) {
      allow(method, ['GET']);
      this.#answer(res, 'reading the plugins', async () => ({ plugins: await this.#plugins() }));
    } else if (resource === 'plugins' && id !== undefined && action === 'documents' && parts.length === 4) {
      allow(method, ['GET']);
      const page = pageParams(url);
      const query = queryParam(url);
      this.#answer(res, 'reading the documents', async () =>
        found(await source.documents(id, page, query), id),
      );
    } else if (resource === 'plugins' && id !== undefined && action === 'cells' && parts.length === 4) {
      allow(method, ['GET']);
      const page = pageParams(url);
      this.#answer(res, 'reading the cells', async () => found(await source.cells(id, page), id));
    } else if (resource === 'sessions' && id === undefined) {
      allow(method, ['GET']);
      this.#answer(res, 'reading the sessions', () => source.sessions());
    } else if (resource === 'sessions' && id !== undefined && parts.length === 3) {
      allow(method, ['GET']);
      this.#answer(res, 'reading the session', async () => {
        const detail = await source.session(id, workerParam(url));
        if (detail === undefined) throw notFound(`no open session "${id}"`);
        return detail;
      });
    } else if (resource === 'sessions' && id !== undefined && action === 'close' && parts.length === 4) {
      allow(method, ['POST']);
      this.#answer(res, 'closing the session', async () => {
        if (!(await source.closeSession(id, workerParam(url)))) throw notFound(`no open session "${id}"`);
        return { closed: true };
      });
    } else if (resource === 'settings' && id === undefined) {
      allow(method, ['GET']);
      const { host, port } = this.#sources.listening();
      const tokenRequired = this.#sources.token !== undefined;
      this.#answer(res, 'reading the settings', () =>
        source.settings(this.#sources.facts, { host, port, tokenRequired }),
      );
    } else if (resource === 'logs' && id === undefined) {
      allow(method, ['GET']);
      const { logs } = this.#sources;
      const limit = intParam(url, 'limit', { min: 1, max: LOG_PAGE_MAX, default: 1000 });
      const after = intParam(url, 'after', { min: 0, default: 0 });
      const filter = logFilter(url);
      if (groupParam(url)) {
        // The newest `limit` runs: their lines are read whole, then folded.
        const runs = groupRuns(logs.entries(after, filter));
        sendJson(res, {
          runs: runs.length > limit ? runs.slice(runs.length - limit) : runs,
          last: logs.last,
        });
      } else {
        sendJson(res, { entries: logs.entries(after, filter, limit), last: logs.last });
      }
    } else if (resource === 'reload' && id === undefined) {
      // As SIGHUP: the config and every plugin again; 422 when the config cannot be read (nothing changed).
      allow(method, ['POST']);
      const reload = this.#sources.reload?.();
      if (reload === undefined) throw notFound('this server offers no reload (nekoconnect start does)');
      reload().then(
        (report) => sendJson(res, report, report.ok ? 200 : 422),
        (err: unknown) => {
          const message = `the reload failed: ${(err as Error).message}`;
          sendError(res, new ApiError(500, 'NEKO_ERR_DASHBOARD_INTERNAL', message));
        },
      );
    } else if (resource === 'events' && id === undefined) {
      allow(method, ['GET']);
      this.#events(req, res, url);
    } else {
      throw notFound(`no API at ${path}`);
    }
  }

  #plugins(): Promise<PluginView[]> {
    return this.#sources.source.plugins(this.#sources.devProblems);
  }

  /** Answers with what `task` resolves to, or a coded error: a refused query is a 400, anything else a 500. */
  #answer(res: ServerResponse, what: string, task: () => Promise<unknown>): void {
    task().then(
      (body) => {
        if (!res.headersSent) sendJson(res, body);
      },
      (err: unknown) => {
        if (res.headersSent) return;
        if (err instanceof ApiError) sendError(res, err);
        else if (err instanceof NekoError && err.code === 'NEKO_ERR_STORAGE_QUERY')
          sendError(res, new ApiError(400, err.code, err.message));
        // Under --workers: no worker answered the primary in time.
        else if (err instanceof NekoError && err.code === 'NEKO_ERR_WORKER_NO_ANSWER')
          sendError(res, new ApiError(503, err.code, err.message));
        else
          sendError(
            res,
            new ApiError(500, 'NEKO_ERR_DASHBOARD_INTERNAL', `${what} failed: ${(err as Error).message}`),
          );
      },
    );
  }

  #events(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const lastEventId = req.headers['last-event-id'];
    const resumed =
      typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
    const after = resumed ?? intParam(url, 'after', { min: 0, default: this.#sources.logs.last });
    const stream: LogEventStream = new LogEventStream(res, this.#sources.logs, after, logFilter(url), () =>
      this.#streams.delete(stream),
    );
    this.#streams.add(stream);
  }
}

/** A refused page request, for a person in a browser: what went wrong and what to do. */
function sendErrorPage(res: ServerResponse, err: ApiError): void {
  const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>NekoConnect dashboard</title></head>
<body style="background:#14161a;color:#e6e6e6;font:16px system-ui,sans-serif;padding:3rem">
<h1 style="font-size:1.4rem">NekoConnect dashboard</h1><p>${escape(err.message)}</p>
<p style="color:#8a8f98"><code>${escape(err.code)}</code></p></body></html>`;
  res.writeHead(err.status, {
    ...PAGE_HEADERS,
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(html);
}

/** The value of one cookie of a Cookie header. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** What a data read found; a 404 when no loaded plugin serves the greeter. */
function found<T>(page: T | undefined, greeter: string): T {
  if (page === undefined) throw notFound(`no loaded plugin serves the greeter "${greeter}"`);
  return page;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(
      400,
      'NEKO_ERR_DASHBOARD_BAD_REQUEST',
      `the path segment "${segment}" is not valid percent-encoding`,
    );
  }
}

/** A whole-number query parameter, checked. */
function intParam(url: URL, name: string, range: { min: number; max?: number; default: number }): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return range.default;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < range.min || (range.max !== undefined && n > range.max)) {
    const upper = range.max === undefined ? '' : ` to ${range.max}`;
    throw new ApiError(
      400,
      'NEKO_ERR_DASHBOARD_BAD_REQUEST',
      `${name} must be a whole number from ${range.min}${upper}, got "${raw}"`,
    );
  }
  return n;
}

/** The `offset` and `limit` of a page of documents or cells. */
function pageParams(url: URL): { offset: number; limit: number } {
  return {
    offset: intParam(url, 'offset', { min: 0, default: 0 }),
    limit: intParam(url, 'limit', { min: 1, max: DOCUMENT_PAGE.max, default: DOCUMENT_PAGE.default }),
  };
}

/**
 * The `query` parameter of the documents: a query of the plugin database's
 * language as JSON (`{"done":false}`), checked by the storage layer before
 * any backend sees it; absent or empty for every document.
 */
function queryParam(url: URL): Query | undefined {
  const raw = url.searchParams.get('query');
  if (raw === null || raw.trim() === '') return undefined;
  let query: unknown;
  try {
    query = JSON.parse(raw);
  } catch (err) {
    throw new ApiError(
      400,
      'NEKO_ERR_STORAGE_QUERY',
      `the query is not JSON (${(err as Error).message}); write it as a JSON object, e.g. {"done": false}`,
    );
  }
  try {
    return checkDocumentQuery(query as Query, 'query');
  } catch (err) {
    if (err instanceof NekoError) throw new ApiError(400, err.code, err.message);
    throw err;
  }
}

/** The `worker` parameter of a session (under `--workers`: the worker that holds it); absent for any. */
function workerParam(url: URL): number | undefined {
  return url.searchParams.has('worker') ? intParam(url, 'worker', { min: 1, default: 0 }) : undefined;
}

/** The `group` parameter of the logs: `runs` folds repeated lines, absent or empty keeps every line. */
function groupParam(url: URL): boolean {
  const raw = url.searchParams.get('group');
  if (raw === null || raw === '') return false;
  if (raw === 'runs') return true;
  throw new ApiError(400, 'NEKO_ERR_DASHBOARD_BAD_REQUEST', `group must be "runs", got "${raw}"`);
}

/** The `levels`, `plugin` and `session` query parameters. */
function logFilter(url: URL): LogFilter {
  const filter: { levels?: Set<LogLevel>; plugin?: string; session?: string } = {};
  const levels = url.searchParams.get('levels');
  if (levels !== null && levels !== '') {
    const set = new Set<LogLevel>();
    for (const level of levels.split(',')) {
      if (!(LEVELS as readonly string[]).includes(level)) {
        throw new ApiError(
          400,
          'NEKO_ERR_DASHBOARD_BAD_REQUEST',
          `unknown level "${level}" in levels; use ${LEVELS.join(', ')}`,
        );
      }
      set.add(level as LogLevel);
    }
    filter.levels = set;
  }
  const plugin = url.searchParams.get('plugin');
  if (plugin !== null && plugin !== '') filter.plugin = plugin;
  const session = url.searchParams.get('session');
  if (session !== null && session !== '') filter.session = session;
  return filter;
}

/** The host name of a Host header (`localhost:10391` → `localhost`, `[::1]:80` → `::1`). */
function hostOf(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  try {
    return new URL(`http://${header}`).hostname;
  } catch {
    return undefined;
  }
}

/** `http://localhost:10391` → `localhost:10391`. */
function hostOfOrigin(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
