import { request as httpRequest } from 'node:http';
import { onTestFinished } from 'vitest';
import {
  createDashboard,
  type CreateDashboardOptions,
  type Dashboard,
} from '../../src/dashboard/dashboard.js';
import type { NekoServer } from '../../src/server/server.js';
import { makePluginsDir, type PluginDef } from '../helpers/plugins.js';
import { startServer, type StartedServer } from '../helpers/server.js';

/** Plugins that give the dashboard something to show. */
export const DASHBOARD_PLUGINS: readonly PluginDef[] = [
  {
    greeter: 'echo',
    name: 'Echo',
    logic: `export class Logic {
  recv(ctx) {
    ctx.log('echo ' + ctx.text());
    ctx.send(ctx.data, { op: ctx.op });
  }
}
`,
  },
  {
    greeter: 'boom',
    name: 'Boom',
    logic: `export class Logic {
  recv(ctx) {
    if (ctx.text() === 'throw') throw new Error('boom on purpose');
    ctx.warn('careful: ' + ctx.text());
  }
}
`,
  },
  {
    greeter: 'notes',
    name: 'Notes',
    logic: `export class Logic {
  async recv(ctx) {
    const n = Number(ctx.text());
    for (let i = 0; i < n; i++) await ctx.db.insert({ n: i, title: 'note ' + i });
    ctx.send(String(await ctx.db.count()));
  }
}
`,
  },
  {
    greeter: 'broken',
    name: 'Broken',
    file: 'logic.ts',
    logic: `export class Logic {
  recv(ctx: unknown) {
    const x = ;
  }
}
`,
  },
];

/**
 * A plugin with per-session state, groups, cells and several ops, for the
 * Sessions and Data tabs and the per-op stats. Ops: 1 joins the room named
 * by the text (state and group), 2 puts what JSON cannot carry in the state,
 * 3 stores cells and todo documents, 4 leaves the room; any op is answered
 * with `ok` and that op.
 */
export const ROOM_PLUGIN: PluginDef = {
  greeter: 'room',
  name: 'Room',
  logic: `export class Logic {
  async recv(ctx) {
    const text = ctx.text();
    if (ctx.op === 1) {
      ctx.state.nick = 'mimi-' + ctx.session.id;
      ctx.state.room = text;
      ctx.state.seen = { packets: 1, tags: ['cat', 'black'] };
      await ctx.group('room:' + text).add(ctx.session.id);
      await ctx.group('everyone').add(ctx.session.id);
    } else if (ctx.op === 2) {
      ctx.state.tick = function tick() {};
      ctx.state.big = 12n;
      ctx.state.me = ctx.state;
      ctx.state.when = new Map();
    } else if (ctx.op === 3) {
      await ctx.dbStore('motd', 'welcome, ' + text);
      await ctx.dbStore('highscores', { mimi: 12, tama: 7 });
      await ctx.db.insertMany([
        { title: 'feed the cat', done: false },
        { title: 'buy milk', done: true },
        { title: 'brush the cat', done: false },
      ]);
    } else if (ctx.op === 4) {
      await ctx.group('room:' + ctx.state.room).remove(ctx.session.id);
    }
    ctx.send('ok', { op: ctx.op });
  }
}
`,
};

export interface DashboardSetup extends StartedServer {
  dashboard: Dashboard;
  /** `http://127.0.0.1:<port>` of the dashboard. */
  base: string;
  dashboardPort: number;
  /** The header that carries the access token (none for an open dashboard), e.g. for {@link readEvents}. */
  auth: Record<string, string>;
  /** {@link http} to this dashboard, with {@link auth} added to the headers. */
  request(path: string, options?: HttpOptions): Promise<HttpAnswer>;
}

/**
 * A server on loopback with {@link DASHBOARD_PLUGINS} (one fails to load) or `defs`,
 * and its dashboard on a free port (loopback, with its token, unless
 * `options` say otherwise); both closed when the test ends.
 */
export async function startDashboardServer(
  options: CreateDashboardOptions = {},
  secret?: string,
  defs: readonly PluginDef[] = DASHBOARD_PLUGINS,
): Promise<DashboardSetup> {
  const plugins = await makePluginsDir(defs);
  const started = await startServer(secret === undefined ? {} : { secret });
  // The dashboard must see the load lines: it is made before the plugins load.
  const dashboard = attach(started.server, options);
  await started.server.loadPlugins(plugins);
  const address = await dashboard.listen();
  const auth: Record<string, string> =
    dashboard.token === undefined ? {} : { authorization: `Bearer ${dashboard.token}` };
  return {
    ...started,
    dashboard,
    base: `http://127.0.0.1:${address.port}`,
    dashboardPort: address.port,
    auth,
    request: (path, options = {}) =>
      http(address.port, path, { ...options, headers: { ...auth, ...options.headers } }),
  };
}

function attach(server: NekoServer, options: CreateDashboardOptions): Dashboard {
  const dashboard = createDashboard(server, { port: 0, ...options });
  onTestFinished(() => dashboard.close());
  return dashboard;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = unknown>(): T;
}

/** What {@link http} sends besides the path. */
export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  host?: string;
}

/** One HTTP request with full control of the headers (fetch forbids setting Host). */
export function http(port: number, path: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: options.host ?? '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body) as T,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A server-sent event as the stream carried it. */
export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Reads a server-sent event stream until `until` says stop (or the timeout); then closes it. */
export async function readEvents(
  url: string,
  until: (events: SseEvent[]) => boolean,
  headers: Record<string, string> = {},
  timeoutMs = 5_000,
): Promise<SseEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const res = await fetch(url, { headers, signal: controller.signal });
    if (res.status !== 200) throw new Error(`event stream answered ${res.status}: ${await res.text()}`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) !== -1) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event: SseEvent = { event: 'message', data: '' };
        let isComment = true;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          isComment = false;
          const colon = line.indexOf(':');
          const field = line.slice(0, colon);
          const value = line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event.event = value;
          else if (field === 'id') event.id = value;
          else if (field === 'data') event.data += value;
        }
        if (!isComment && (event.data !== '' || event.event !== 'message')) events.push(event);
      }
    }
    controller.abort();
    return events;
  } catch (err) {
    if (controller.signal.aborted && until(events)) return events;
    throw new Error(`reading ${url} failed after ${events.length} event(s): ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
}
