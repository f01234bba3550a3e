/**
 * The Playground's part of the dashboard API, under `/api/playground/`
 * (the JSON is typed in playground/wire.ts; docs/dashboard.md lists the
 * routes). The API's access checks ran before: the token, the host, a
 * POST's content type, and the origin of a POST or DELETE. The Playground is a way into every
 * plugin, so it also needs a dashboard that has a token: on an open
 * dashboard it is off.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Playground } from '../playground/playground.js';
import { PlaygroundError } from '../playground/refusal.js';
import type { PlaygroundEvent, PlaygroundInfo } from '../playground/wire.js';
import { EventStream } from './event-stream.js';
import { ApiError, allow, notFound, sendError, sendJson } from './http.js';

/** The largest request body the Playground reads, in bytes. */
const MAX_BODY_BYTES = 1024 * 1024;

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
  readonly #streams = new Set<EventStream>();

  constructor(sources: PlaygroundSources) {
    this.#sources = sources;
  }

  /** Ends every open event stream (the dashboard is closing). */
  endStreams(): void {
    for (const stream of [...this.#streams]) stream.end();
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
      else answer(res, () => playground.closeClient(id));
    } else if (resource === 'clients' && id !== undefined && parts.length === 3) {
      allow(method, ['POST']);
      if (action === 'send') answer(res, async () => playground.send(id, await readJson(req)));
      else if (action === 'close') answer(res, () => playground.closeClient(id));
      else if (action === 'remove')
        answer(res, async () => {
          await playground.removeClient(id);
          return { removed: true };
        });
      else throw notFound(`no API at ${url.pathname}`);
    } else if (resource === 'test' && id === undefined) {
      allow(method, ['GET']);
      const ids = (url.searchParams.get('clients') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      answer(res, () => playground.test(ids));
    } else {
      throw notFound(`no API at ${url.pathname}`);
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
      throw new ApiError(403, 'NEKO_ERR_PLAYGROUND_OFF', reason ?? this.#sources.off());
    }
    return playground;
  }

  /** Server-sent events: `hello`, then each timeline event of every client as `event: playground`. */
  #events(res: ServerResponse, playground: Playground): void {
    let unsubscribe = (): void => {};
    const stream: EventStream = new EventStream(res, { clients: playground.clients().length }, () => {
      unsubscribe();
      this.#streams.delete(stream);
    });
    this.#streams.add(stream);
    unsubscribe = playground.subscribe((event: PlaygroundEvent) => stream.send('playground', event));
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
  if (err instanceof PlaygroundError || err instanceof ApiError) sendError(res, err);
  else
    sendError(
      res,
      new ApiError(500, 'NEKO_ERR_DASHBOARD_INTERNAL', `the Playground failed: ${(err as Error).message}`),
    );
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
          new ApiError(
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
          new ApiError(
            400,
            'NEKO_ERR_DASHBOARD_BAD_REQUEST',
            `the request body is not JSON: ${(err as Error).message}`,
          ),
        );
      }
    });
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
