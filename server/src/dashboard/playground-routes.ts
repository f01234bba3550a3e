/**
 * The Playground's part of the dashboard API, under `/api/playground/`
 * (the JSON is typed in playground/wire.ts; docs/dashboard.md lists the
 * routes). The API's access checks ran before: the token, the host, and for
 * a POST its content type and origin. The Playground is a way into every
 * plugin, so it also needs a dashboard that has a token: on an open
 * dashboard it is off.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NekoError } from '../errors.js';
import type { Playground } from '../playground/playground.js';
import { PlaygroundError } from '../playground/refusal.js';
import type { PlaygroundEvent, PlaygroundInfo } from '../playground/wire.js';

/** The largest request body the Playground reads, in bytes. */
const MAX_BODY_BYTES = 1024 * 1024;
/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** A reader that does not keep up: its stream is dropped past this much unsent data. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

/** Why the Playground is off on a dashboard without a token. */
export const PLAYGROUND_NEEDS_TOKEN =
  'the Playground is off on an open dashboard (--dashboard-open): it is a way into every plugin, so it needs the dashboard token';

/** What the routes read from the dashboard. */
export interface PlaygroundSources {
  /** The Playground, when the command that serves turned it on. */
  readonly playground: () => Playground | undefined;
  /** Why it is off, when it is (and the dashboard has a token). */
  readonly off: () => string;
  /** The dashboard has a token: without one the Playground is off whatever the command said. */
  readonly tokenRequired: boolean;
}

/** Serves `/api/playground/…`; every failure is answered with a coded error. */
export class PlaygroundRoutes {
  readonly #sources: PlaygroundSources;
  readonly #streams = new Set<() => void>();

  constructor(sources: PlaygroundSources) {
    this.#sources = sources;
  }

  /** Ends every open event stream (the dashboard is closing). */
  endStreams(): void {
    for (const end of [...this.#streams]) end();
    this.#streams.clear();
  }

  /**
   * Handles one request; `parts` is the path after `/api/playground`.
   * Never throws.
   */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, parts: readonly string[]): void {
    try {
      this.#route(req, res, url, parts);
    } catch (err) {
      fail(res, err);
    }
  }

  #route(req: IncomingMessage, res: ServerResponse, url: URL, parts: readonly string[]): void {
    const method = req.method ?? 'GET';
    const [resource, id, action] = parts;
    if (resource === undefined) {
      allow(method, ['GET']);
      answer(res, () => this.#info());
      return;
    }
    const playground = this.#on();
    if (resource === 'events' && id === undefined) {
      allow(method, ['GET']);
      this.#events(res, playground);
    } else if (resource === 'clients' && id === undefined) {
      allow(method, ['GET', 'POST']);
      if (method === 'GET') answer(res, async () => ({ clients: playground.clients() }));
      else
        answer(res, async () => {
          const body = await readJson(req);
          return playground.open(isObject(body) ? body.label : undefined);
        });
    } else if (resource === 'clients' && id !== undefined && action === undefined) {
      allow(method, ['GET', 'DELETE']);
      if (method === 'GET') answer(res, async () => playground.client(id));
      else {
        // As POST …/close: the API's checks look at a POST's origin, so this one does it for DELETE.
        checkOrigin(req);
        answer(res, () => playground.closeClient(id));
      }
    } else if (resource === 'clients' && id !== undefined && parts.length === 3) {
      allow(method, ['POST']);
      if (action === 'send') answer(res, async () => playground.send(id, await readJson(req)));
      else if (action === 'close') answer(res, () => playground.closeClient(id));
      else if (action === 'remove')
        answer(res, async () => {
          await playground.removeClient(id);
          return { removed: true };
        });
      else throw notFound(url.pathname);
    } else if (resource === 'test' && id === undefined) {
      allow(method, ['GET']);
      const ids = (url.searchParams.get('clients') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      answer(res, () => playground.test(ids));
    } else {
      throw notFound(url.pathname);
    }
  }

  async #info(): Promise<PlaygroundInfo> {
    const playground = this.#sources.playground();
    const reason = this.#offReason();
    if (playground === undefined || reason !== undefined) {
      return { enabled: false, reason: reason ?? this.#sources.off(), plugins: [], clients: [] };
    }
    return playground.info();
  }

  #offReason(): string | undefined {
    return this.#sources.tokenRequired ? undefined : PLAYGROUND_NEEDS_TOKEN;
  }

  /** The Playground, or the coded refusal saying how to turn it on. */
  #on(): Playground {
    const reason = this.#offReason();
    const playground = this.#sources.playground();
    if (reason !== undefined || playground === undefined) {
      throw new PlaygroundError(403, 'NEKO_ERR_PLAYGROUND_OFF', reason ?? this.#sources.off());
    }
    return playground;
  }

  /** Server-sent events: `hello`, then each timeline event of every client as `event: playground`. */
  #events(res: ServerResponse, playground: Playground): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(
      `retry: 2000\nevent: hello\ndata: ${JSON.stringify({ clients: playground.clients().length })}\n\n`,
    );
    let ended = false;
    const unsubscribe = playground.subscribe((event: PlaygroundEvent) => {
      if (ended) return;
      res.write(`event: playground\ndata: ${JSON.stringify(event)}\n\n`);
      if (res.writableLength > MAX_BACKLOG_BYTES) {
        // The reader stalled: drop it rather than hold the server's memory; it reconnects and reads the state anew.
        stop();
        res.destroy();
      }
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const stop = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe();
      this.#streams.delete(end);
    };
    const end = (): void => {
      stop();
      res.end();
    };
    this.#streams.add(end);
    res.on('close', stop);
  }
}

/** Answers with what `task` resolves to, or its coded error. */
function answer(res: ServerResponse, task: () => Promise<unknown>): void {
  task().then(
    (body) => {
      if (!res.headersSent) sendJson(res, body);
    },
    (err: unknown) => fail(res, err),
  );
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof PlaygroundError) {
    sendJson(res, { error: { code: err.code, message: err.message, ...hintOf(err) } }, err.status);
  } else {
    const message = `the Playground failed: ${(err as Error).message}`;
    sendJson(res, { error: { code: 'NEKO_ERR_DASHBOARD_INTERNAL', message } }, 500);
  }
}

function hintOf(err: NekoError): { hint?: string } {
  return err.hint === undefined ? {} : { hint: err.hint };
}

function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

/** The request's body as JSON; an empty body is `undefined`. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(
          new PlaygroundError(
            413,
            'NEKO_ERR_DASHBOARD_BAD_REQUEST',
            `the request body is larger than ${MAX_BODY_BYTES} bytes`,
          ),
        );
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        resolve(undefined);
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(
          new PlaygroundError(
            400,
            'NEKO_ERR_DASHBOARD_BAD_REQUEST',
            `the request body is not JSON: ${(err as Error).message}`,
          ),
        );
      }
    });
  });
}

/** A DELETE from another origin (a page elsewhere, or an opaque one) is refused, as a POST is. */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = origin === 'null' ? undefined : new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host !== req.headers.host) {
    throw new PlaygroundError(403, 'NEKO_ERR_DASHBOARD_HOST', `requests from ${origin} are not allowed`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function allow(method: string, methods: readonly string[]): void {
  if (!methods.includes(method)) {
    throw new PlaygroundError(
      405,
      'NEKO_ERR_DASHBOARD_BAD_REQUEST',
      `${method} is not allowed here; use ${methods.join(' or ')}`,
    );
  }
}

function notFound(path: string): PlaygroundError {
  return new PlaygroundError(404, 'NEKO_ERR_DASHBOARD_NOT_FOUND', `no API at ${path}`);
}
