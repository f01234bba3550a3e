/**
 * The primary's dashboard under node:cluster, with real processes: a
 * primary (fixtures/dashboard-cluster.ts) forks two workers, each a real
 * server on the shared port reporting with `reportToPrimary`. Through the
 * dashboard's HTTP API and the metrics port: the sessions of both workers
 * in one list, each naming its worker; the log lines of both; closing a
 * session reaches the worker that holds it; `/metrics` sums both workers'
 * packets; `/readyz` waits for both; a worker killed with SIGKILL is logged,
 * restarted and counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NekoClient } from '../../src/client/client.js';
import { parseScrape, valueOf } from '../metrics/prometheus.js';

const SECRET = 'primary-dashboard-secret';
const DOCS = path.join(import.meta.dirname, '..', '..', '..', 'docs', 'metrics.md');

/**
 * Op 1 answers the worker's pid and the session's id; every other op is echoed, op 2 also logs a line
 * naming the text, op 3 first blocks its worker for the milliseconds its text says.
 */
const SHOUT = `export class Logic {
  recv(ctx) {
    if (ctx.op === 1) return void ctx.send(process.pid + ' ' + ctx.session.id, { op: 1 });
    if (ctx.op === 2) ctx.log('shout ' + ctx.text());
    if (ctx.op === 3) for (const end = Date.now() + Number(ctx.text()); Date.now() < end; );
    ctx.send(ctx.data, { op: ctx.op });
  }
}
`;

interface WorkerTag {
  id: number;
  pid: number;
  processId: string;
}
interface SessionRow {
  id: string;
  worker: WorkerTag;
  packetsIn: number;
}
interface LogRow {
  message: string;
  level: string;
  code: string | null;
  worker?: WorkerTag;
}
interface WorkerRow {
  id: number;
  pid: number;
  processId: string | null;
  ready: boolean;
  connections: number;
  reasons: string[];
}

let dir: string;
let primary: ChildProcess;
let dashboard: string;
let metricsPort: number;
let port: number;
const clients: NekoClient[] = [];
/** Each client by its worker's pid and session id (session ids are per server here: no bus). */
const ids = new Map<string, NekoClient>();

beforeAll(async () => {
  // Two folders below server/, as src/dashboard/ is: the bundle finds the page's files in server/ui/
  // and the packages it leaves out in the repository's node_modules.
  dir = await mkdtemp(path.join(import.meta.dirname, '..', '..', '.dashboard-cluster-'));
  const bundle = path.join(dir, 'bundle', 'dashboard-cluster.mjs');
  await build({
    entryPoints: [path.join(import.meta.dirname, 'fixtures', 'dashboard-cluster.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: bundle,
    logLevel: 'silent',
  });
  // The plugins in the same temporary folder (a restarted worker loads them again).
  const plugins = path.join(dir, 'plugins');
  await mkdir(path.join(plugins, 'shout'), { recursive: true });
  await writeFile(
    path.join(plugins, 'shout', 'spec.conf'),
    '$name {"Shout"};\n$greet {"shout"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
  );
  await writeFile(path.join(plugins, 'shout', 'logic.js'), SHOUT);
  primary = spawn(process.execPath, [bundle], {
    env: { ...process.env, NEKO_TEST_SECRET: SECRET, NEKO_TEST_PLUGINS: plugins },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: primary.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    primary.once('exit', (code) => reject(new Error(`the primary exited (${String(code)}) before serving`)));
  });
  lines.close();
  ({ dashboard, metricsPort, port } = JSON.parse(first) as {
    dashboard: string;
    metricsPort: number;
    port: number;
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  if (primary !== undefined && primary.exitCode === null) {
    const exited = new Promise((resolve) => primary.once('exit', resolve));
    primary.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (primary.exitCode === null) primary.kill('SIGKILL');
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function api<T>(route: string, init?: RequestInit): Promise<T> {
  const res = await fetch(new URL(route, dashboard), init);
  expect(res.status, `${route}: ${res.status}`).toBe(200);
  return (await res.json()) as T;
}

async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await read();
  }
  return last;
}

describe('the primary dashboard over two workers', () => {
  it('lists the sessions of both workers, merges their logs, closes a session on its worker, sums their metrics', async () => {
    const overview0 = await api<{ workers: WorkerRow[] }>('api/overview');
    expect(overview0.workers.map((w) => w.id)).toEqual([1, 2]);
    expect(overview0.workers.every((w) => w.ready && w.processId !== null)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);

    // Round-robin spreads new connections over both workers; open until each has some.
    let sessions: SessionRow[] = [];
    for (let i = 0; i < 12; i++) {
      const client = await connect({ host: '127.0.0.1', port, secret: SECRET });
      clients.push(client);
      ids.set((await client.request('shout', '', { op: 1 })).text(), client);
      expect((await client.request('shout', `hello ${i}`, { op: 2 })).text()).toBe(`hello ${i}`);
      sessions = (await api<{ sessions: SessionRow[] }>('api/sessions')).sessions;
      if (i >= 3 && new Set(sessions.map((s) => s.worker.id)).size === 2) break;
    }
    const onWorker = (id: number): SessionRow[] => sessions.filter((s) => s.worker.id === id);
    expect(sessions).toHaveLength(clients.length);
    expect(onWorker(1).length).toBeGreaterThan(0);
    expect(onWorker(2).length).toBeGreaterThan(0);
    const overview = await api<{ sessions: number; workers: WorkerRow[] }>('api/overview');
    expect(overview.sessions).toBe(clients.length);
    expect(overview.workers.map((w) => w.connections)).toEqual([onWorker(1).length, onWorker(2).length]);
    for (const session of sessions)
      expect(session.worker.pid).toBe(overview.workers[session.worker.id - 1]!.pid);

    // Every shout was logged by the worker that had its session, and each line names it.
    const logs = await until(
      'the shouts in the log',
      () => api<{ entries: LogRow[] }>('api/logs'),
      ({ entries }) => entries.filter((e) => e.message.startsWith('shout ')).length === clients.length,
    );
    const shouts = logs.entries.filter((e) => e.message.startsWith('shout '));
    expect(new Set(shouts.map((e) => e.worker?.id))).toEqual(new Set([1, 2]));
    expect(logs.entries.some((e) => e.worker?.id === 2 && e.message.includes('loaded'))).toBe(true);

    // The detail of a session on worker 2, then closing it: its client is closed.
    const target = onWorker(2)[0]!;
    const detail = await api<{ session: SessionRow }>(`api/sessions/${target.id}?worker=2`);
    expect(detail.session.worker.id).toBe(2);
    const closed = new Promise((resolve) =>
      ids.get(`${target.worker.pid} ${target.id}`)!.once('close', resolve),
    );
    expect(
      await api<{ closed: boolean }>(`api/sessions/${target.id}/close?worker=2`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
    ).toEqual({ closed: true });
    await closed;
    const after = (await api<{ sessions: SessionRow[] }>('api/sessions')).sessions;
    expect(after).toHaveLength(clients.length - 1);
    expect(after.filter((s) => s.worker.id === 2).map((s) => s.id)).not.toContain(target.id);
    const missing = await fetch(new URL(`api/sessions/${target.id}/close?worker=2`, dashboard), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(missing.status).toBe(404);

    // /metrics on the metrics port and on the dashboard: both workers' packets summed, the workers alive.
    for (const url of [`http://127.0.0.1:${metricsPort}/metrics`, new URL('metrics', dashboard).href]) {
      const scrape = parseScrape(await (await fetch(url)).text());
      expect(valueOf(scrape, 'nekoconnect_packets_in_total', { plugin: 'shout', op: '2' })).toBe(
        clients.length,
      );
      expect(valueOf(scrape, 'nekoconnect_workers')).toBe(2);
      expect(valueOf(scrape, 'nekoconnect_worker_restarts_total')).toBe(0);
      expect(valueOf(scrape, 'nekoconnect_handshakes_total')).toBe(clients.length);
    }
    const plugins = await api<{ plugins: { greeter: string; packets: number; workers: unknown[] }[] }>(
      'api/plugins',
    );
    const shout = plugins.plugins.find((p) => p.greeter === 'shout')!;
    // Each client sent an op 1 and an op 2.
    expect(shout.packets).toBe(2 * clients.length);
    expect(shout.workers).toHaveLength(2);
  });

  it('answers without a worker that does not answer in time: that worker shown not answering, /readyz 503 naming it', async () => {
    const { workers } = await api<{ workers: WorkerRow[] }>('api/overview');
    const client = [...ids].find(
      ([key, c]) => key.startsWith(`${workers[0]!.pid} `) && c.state === 'open',
    )![1];
    // Blocked 7 s: the overview, then /readyz, each wait 2 s at most for it.
    const blocked = client.request('shout', '7000', { op: 3 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const overview = await api<{ workers: WorkerRow[] }>('api/overview');
    expect(Date.now() - started).toBeLessThan(3_500);
    expect(overview.workers.map((w) => [w.id, w.ready, w.reasons])).toEqual([
      [workers[0]!.id, false, ['not answering']],
      [workers[1]!.id, true, []],
    ]);
    const readyz = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    expect([readyz.status, await readyz.json()]).toEqual([
      503,
      { ready: false, reasons: [`worker ${workers[0]!.id} (pid ${workers[0]!.pid}): not answering`] },
    ]);
    await blocked;
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
  }, 30_000);

  it('answers 503 NEKO_ERR_WORKER_NO_ANSWER to a data read when no worker answers in time', async () => {
    const { workers } = await api<{ workers: WorkerRow[] }>('api/overview');
    const blocked = workers.map((w) => {
      const client = [...ids].find(([key, c]) => key.startsWith(`${w.pid} `) && c.state === 'open')![1];
      return client.request('shout', '5000', { op: 3 });
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const res = await fetch(new URL('api/plugins/shout/cells', dashboard));
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect([res.status, body.error.code]).toEqual([503, 'NEKO_ERR_WORKER_NO_ANSWER']);
    expect(body.error.message).toBe(
      `no worker answered within 2000 ms (${workers.map((w) => `worker ${w.id}`).join(', ')})`,
    );
    await Promise.all(blocked);
    const cells = await api<{ greeter: string; total: number }>('api/plugins/shout/cells');
    expect([cells.greeter, cells.total]).toEqual(['shout', 0]);
  }, 30_000);

  it('logs a worker killed with SIGKILL, starts another in its place, counts the restart, is ready again', async () => {
    const before = await api<{ workers: WorkerRow[] }>('api/overview');
    const victim = before.workers[0]!;
    process.kill(victim.pid, 'SIGKILL');
    const overview = await until(
      'a new worker in place of the one killed',
      () => api<{ workers: WorkerRow[]; restarts: number }>('api/overview'),
      (o) => o.restarts === 1 && o.workers.length === 2 && o.workers.every((w) => w.ready),
    );
    expect(overview.workers.map((w) => w.id)).not.toContain(victim.id);
    const { entries } = await api<{ entries: LogRow[] }>('api/logs');
    const exited = entries.find((e) => e.code === 'NEKO_ERR_WORKER_EXITED')!;
    expect(exited.message).toBe(`worker ${victim.id} (pid ${victim.pid}) was killed by SIGKILL`);
    expect(exited.level).toBe('error');
    expect(exited.worker).toBeUndefined();
    const scrape = parseScrape(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    expect(valueOf(scrape, 'nekoconnect_worker_restarts_total')).toBe(1);
    expect(valueOf(scrape, 'nekoconnect_workers')).toBe(2);
    await until(
      '/readyz',
      async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status,
      (status) => status === 200,
    );
  });

  it('/metrics has what docs/metrics.md lists for the primary, both ways: the (--workers) rows and the workers summed', async () => {
    const { types } = parseScrape(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    const doc = await readFile(DOCS, 'utf8');
    const expected = new Map<string, string>();
    const workersRows: string[] = [];
    for (const line of doc.split('\n')) {
      const m = /^\| `([a-z0-9_]+)` +\| (counter|gauge|histogram|summary) +\|[^|]*\|(.*)\|$/.exec(line);
      // Not in a cluster (no bus here); prom-client leaves the workers' start times out when adding up.
      if (!m || m[3]!.includes('(cluster)') || m[1] === 'process_start_time_seconds') continue;
      if (process.platform !== 'linux' && m[3]!.includes('(Linux)')) continue;
      if (m[3]!.includes('(--workers)')) workersRows.push(m[1]!);
      expected.set(m[1]!, m[2]!);
    }
    expect(workersRows).toEqual(['nekoconnect_workers', 'nekoconnect_worker_restarts_total']);
    expect(Object.fromEntries(types)).toEqual(Object.fromEntries(expected));
  });
});
