/**
 * The primary's dashboard and metrics of `nekoconnect start --workers 2`,
 * the built CLI on PostgreSQL, through the dashboard's HTTP API and the
 * metrics port: the sessions and log lines of both workers (each naming its
 * worker), the overview of each worker, a plugin's data read through a
 * worker, closing a session on the worker that holds it, Reload on every
 * worker, `/metrics` summing both workers, and a worker killed with SIGKILL
 * shown as restarted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { assertBuilt, startCli } from '../cli/run-cli.js';
import { launchChromium } from '../dashboard/browser.js';
import { SECRET, clusterPlugins, peer, type Peer } from '../cluster/cluster-processes.js';
import { parseScrape, valueOf } from '../metrics/prometheus.js';
import { freshDatabase } from '../storage/postgres-processes.js';

/** Op 1 answers the worker's pid and the session's id; op 2 also logs a line with its text. */
const PROBE = `export class Logic {
  recv(ctx) {
    if (ctx.op === 2) ctx.log('probe ' + ctx.text());
    ctx.send(JSON.stringify({ pid: process.pid, session: ctx.session.id }), { op: ctx.op });
  }
}
`;

interface WorkerTag {
  id: number;
  pid: number;
  processId: string;
}

let postgres: RunningPostgres;

/** Reads until `ok` holds of what was read; fails with the last reading after `ms`. */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value).slice(0, 3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  assertBuilt();
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

describe('the dashboard of start --workers 2', () => {
  it('shows (in a browser too) and acts on both workers; /metrics sums them; a killed worker shows as restarted', async () => {
    const dir = await clusterPlugins();
    await mkdir(path.join(dir, 'probe'));
    await writeFile(
      path.join(dir, 'probe', 'spec.conf'),
      '$name {"Probe"};\n$greet {"probe"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    await writeFile(path.join(dir, 'probe', 'logic.js'), PROBE);
    const database = await freshDatabase(postgres, 'workers_dashboard');
    const cli = startCli(
      ['start', dir, '--workers', '2', '--port', '0', '--storage', database, '--metrics-port', '0'],
      { NEKOCONNECT_SECRET: SECRET },
    );
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+) +\(2 workers/, 40_000);
    const [, dashboardUrl] = await cli.waitFor(/dashboard (http:\/\/\S+\?token=\S+)/);
    const [, metricsBase] = await cli.waitFor(/metrics on (http:\/\/\S+)\/metrics/);
    const dashboard = new URL(dashboardUrl!);
    const token = dashboard.searchParams.get('token')!;
    const api = async <T>(route: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(new URL(route, dashboard.origin), {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
      });
      expect(res.status, `${route}: ${res.status}`).toBe(200);
      return (await res.json()) as T;
    };
    // The primary's URL never has the password of the database.
    expect(cli.stdout()).not.toContain(postgres.password);

    // Peers until both workers hold some; each logs a probe line.
    const peers: { peer: Peer; pid: number; session: string }[] = [];
    for (let i = 0; i < 12 && new Set(peers.map((p) => p.pid)).size < 2; i++) {
      const p = await peer(Number(port));
      const at = (await p.client.request('probe', `hello ${i}`, { op: 2, replyOp: 2 })).json<{
        pid: number;
        session: string;
      }>();
      peers.push({ peer: p, ...at });
    }
    const pids = [...new Set(peers.map((p) => p.pid))];
    expect(pids).toHaveLength(2);

    // The overview: both workers, ready, with their connections.
    const overview = await api<{
      sessions: number;
      workers: { id: number; pid: number; ready: boolean; connections: number; processId: string }[];
    }>('api/overview');
    expect(overview.workers.map((w) => w.id)).toEqual([1, 2]);
    expect(overview.workers.every((w) => w.ready)).toBe(true);
    expect(overview.workers.map((w) => w.pid).sort()).toEqual([...pids].sort());
    expect(overview.sessions).toBe(peers.length);
    for (const w of overview.workers) {
      expect(w.connections).toBe(peers.filter((p) => p.pid === w.pid).length);
    }

    // The sessions: every peer's, each naming the worker whose pid served it.
    const { sessions } = await api<{ sessions: { id: string; worker: WorkerTag }[] }>('api/sessions');
    expect(sessions.map((s) => s.id).sort()).toEqual(peers.map((p) => p.session).sort());
    for (const s of sessions) expect(s.worker.pid).toBe(peers.find((p) => p.session === s.id)!.pid);

    // The log: both workers' plugin loads (reported from their start) and every probe line, tagged.
    const logs = await eventually(
      () => api<{ entries: { message: string; worker?: WorkerTag }[] }>('api/logs'),
      ({ entries }) => entries.filter((e) => e.message.startsWith('probe hello')).length === peers.length,
    );
    for (const p of peers) {
      const line = logs.entries.find((e) => e.message === `probe hello ${peers.indexOf(p)}`)!;
      expect(line.worker?.pid).toBe(p.pid);
    }
    const loads = logs.entries.filter((e) => e.message.startsWith('loaded Probe v1.0.0'));
    expect(loads.map((e) => e.worker?.id).sort()).toEqual([1, 2]);

    // The page, in a real browser: a pill per worker, ready; log lines tagged with their worker; each
    // session row naming its worker.
    const browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(dashboardUrl!);
    const pills = page.locator('[data-testid="workers"] .worker-pill[data-ready="yes"]');
    await expect.poll(() => pills.allTextContents(), { timeout: 10_000 }).toEqual(['w1', 'w2']);
    for (const p of peers) {
      const number = overview.workers.find((w) => w.pid === p.pid)!.id;
      const line = page.locator('.log-row', { hasText: `probe hello ${peers.indexOf(p)}` });
      await expect.poll(() => line.locator('.tag-worker').textContent()).toBe(`w${number}`);
    }
    await page.click('[data-tab="sessions"]');
    for (const p of peers) {
      const number = overview.workers.find((w) => w.pid === p.pid)!.id;
      const row = page.locator(`.session-row[data-session="${p.session}"]`);
      await expect.poll(() => row.textContent()).toContain(`worker ${number}`);
    }

    // The settings are a worker's, with the workers' count; no answer shows the database's password.
    const settings = await api<{ workers: { count: number }; server: { storage: string } }>('api/settings');
    expect(settings.workers).toEqual({ count: 2 });
    expect(settings.server.storage).toContain('PostgreSQL');
    for (const route of ['api/settings', 'api/overview', 'api/logs', 'api/plugins', 'api/sessions']) {
      expect(JSON.stringify(await api(route))).not.toContain(postgres.password);
    }

    // Data through a worker: a todo added on one is in the Data tab's documents.
    const first = peers[0]!.peer;
    await first.client.request('todo', JSON.stringify({ title: 'feed the cat' }), { op: 1, replyOp: 1 });
    const documents = await api<{ total: number; documents: { title: string }[] }>(
      'api/plugins/todo/documents',
    );
    expect([documents.total, documents.documents.map((d) => d.title)]).toEqual([1, ['feed the cat']]);

    // Closing a session reaches the worker that holds it: its client is closed.
    const target = peers.find((p) => p.pid === overview.workers[1]!.pid)!;
    const closed = new Promise((resolve) => target.peer.client.once('close', resolve));
    expect(
      await api(`api/sessions/${encodeURIComponent(target.session)}/close`, { method: 'POST', body: '{}' }),
    ).toEqual({
      closed: true,
    });
    await closed;

    // Reload: every worker reloads its config and plugins, and says so.
    const reload = await api<{ ok: boolean; workers: { worker: WorkerTag; ok: boolean }[] }>('api/reload', {
      method: 'POST',
      body: '{}',
    });
    expect(reload.ok).toBe(true);
    expect(reload.workers.map((w) => [w.worker.id, w.ok])).toEqual([
      [1, true],
      [2, true],
    ]);

    // /metrics on the metrics port: both workers' probe packets summed, two workers alive.
    const scrape = async (): Promise<ReturnType<typeof parseScrape>> =>
      parseScrape(await (await fetch(`${metricsBase}/metrics`)).text());
    const s1 = await scrape();
    expect(valueOf(s1, 'nekoconnect_packets_in_total', { plugin: 'probe', op: '2' })).toBe(peers.length);
    expect(valueOf(s1, 'nekoconnect_workers')).toBe(2);
    expect(valueOf(s1, 'nekoconnect_worker_restarts_total')).toBe(0);
    expect((await fetch(`${metricsBase}/readyz`)).status).toBe(200);

    // Worker 2 killed: logged by the primary, restarted in its slot, counted.
    const victim = overview.workers[1]!;
    process.kill(victim.pid, 'SIGKILL');
    const after = await eventually(
      () => api<{ restarts: number; workers: { id: number; pid: number; ready: boolean }[] }>('api/overview'),
      (o) =>
        o.restarts === 1 && o.workers.length === 2 && o.workers.every((w) => w.ready && w.pid !== victim.pid),
      20_000,
    );
    expect(after.workers.map((w) => w.id)).toEqual([1, 2]);
    const { entries } = await api<{ entries: { message: string; code: string | null }[] }>('api/logs');
    expect(
      entries.some(
        (e) =>
          e.code === 'NEKO_ERR_WORKER_EXITED' &&
          e.message.startsWith(`worker 2 (pid ${victim.pid}) exited with signal SIGKILL`),
      ),
    ).toBe(true);
    const s2 = await scrape();
    expect(valueOf(s2, 'nekoconnect_worker_restarts_total')).toBe(1);
    expect(valueOf(s2, 'nekoconnect_workers')).toBe(2);

    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  }, 90_000);
});
