import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../src/dashboard/log-buffer.js';
import type { OverviewView, PluginView, SettingsView } from '../../src/dashboard/views.js';
import type { SessionSummary } from '../../src/server/server.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { connectClient } from '../helpers/server.js';
import { readEvents, startDashboardServer } from './harness.js';

type ApiError = { error: { code: string; message: string } };

describe('dashboard API: plugins', () => {
  it('lists every plugin with its status, versions and the failing one with its code frame', async () => {
    const { request } = await startDashboardServer();
    const { plugins } = (await request('/api/plugins')).json<{ plugins: PluginView[] }>();
    expect(plugins.map((p) => [p.greeter, p.status, p.codeVersion])).toEqual([
      ['boom', 'loaded', 1],
      ['broken', 'failed', null],
      ['echo', 'loaded', 1],
      ['notes', 'loaded', 1],
    ]);
    const echo = plugins.find((p) => p.greeter === 'echo')!;
    expect([echo.name, echo.version, echo.error, echo.latencyMs]).toEqual(['Echo', '1.0.0', null, null]);
    const broken = plugins.find((p) => p.greeter === 'broken')!;
    expect(broken.error?.code).toBe('NEKO_ERR_PLUGIN_TRANSPILE');
    expect(broken.error?.location).toMatchObject({ line: 3 });
    expect(broken.error?.location?.file).toMatch(/broken[/\\]logic\.ts$/);
    // The frame marks the culprit line and points at the column.
    expect(broken.error?.frame).toContain('> 3 |     const x = ;');
    expect(broken.error?.frame).toMatch(/\|\s+\^/);
  });

  it('counts packets, failures, sessions and handler latency per plugin', async () => {
    const { port, request } = await startDashboardServer();
    const client = await connectClient(port);
    for (let i = 0; i < 20; i++) await client.request('echo', `m${i}`);
    await client.request('boom', 'fine');
    await expect(client.request('boom', 'throw')).rejects.toMatchObject({ status: 500 });
    const { plugins } = (await request('/api/plugins')).json<{ plugins: PluginView[] }>();
    const echo = plugins.find((p) => p.greeter === 'echo')!;
    const boom = plugins.find((p) => p.greeter === 'boom')!;
    expect([echo.packets, echo.errors, echo.sessions]).toEqual([20, 0, 1]);
    expect([boom.packets, boom.errors, boom.sessions]).toEqual([2, 1, 1]);
    const { p50, p90, p99 } = echo.latencyMs!;
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThanOrEqual(p90);
    expect(p90).toBeLessThanOrEqual(p99);
    const overview = (await request('/api/overview')).json<OverviewView>();
    expect(overview.plugins).toEqual({ loaded: 3, failed: 1, reloading: 0 });
    expect(overview.sessions).toBe(1);
    // One plugin failed to load, one handler threw; the boom plugin warned once.
    expect([overview.counters.error, overview.counters.warn]).toEqual([2, 1]);
  });

  it("pages a plugin's documents, read-only, and refuses bad pages with a coded error", async () => {
    const { port, request } = await startDashboardServer();
    const client = await connectClient(port);
    expect((await client.request('notes', '30')).text()).toBe('30');
    type Page = { total: number; offset: number; limit: number; documents: { n: number; _id: string }[] };
    const first = (await request('/api/plugins/notes/documents?limit=25')).json<Page>();
    expect([first.total, first.offset, first.limit, first.documents.length]).toEqual([30, 0, 25, 25]);
    const second = (await request('/api/plugins/notes/documents?offset=25&limit=25')).json<Page>();
    expect(second.documents.length).toBe(5);
    const ids = [...first.documents, ...second.documents].map((d) => d._id);
    expect(new Set(ids).size).toBe(30);
    expect(ids).toEqual([...ids].sort());
    const missing = await request('/api/plugins/nope/documents');
    expect([missing.status, missing.json<ApiError>().error.code]).toEqual([
      404,
      'NEKO_ERR_DASHBOARD_NOT_FOUND',
    ]);
    const failed = await request('/api/plugins/broken/documents');
    expect(failed.status).toBe(404);
    const bad = await request('/api/plugins/notes/documents?limit=1000');
    expect([bad.status, bad.json<ApiError>().error.code]).toEqual([400, 'NEKO_ERR_DASHBOARD_BAD_REQUEST']);
    expect(bad.json<ApiError>().error.message).toContain('limit must be a whole number from 1 to 200');
  });
});

describe('dashboard API: sessions and settings', () => {
  it('lists sessions with their plugins and packet counts, and closes one', async () => {
    const { port, request } = await startDashboardServer();
    const a = await connectClient(port);
    const b = await connectClient(port);
    await a.request('echo', 'x');
    await a.request('boom', 'y');
    const { sessions } = (await request('/api/sessions')).json<{ sessions: SessionSummary[] }>();
    expect(sessions).toHaveLength(2);
    const first = sessions[0]!;
    expect(first).toMatchObject({
      state: 'open',
      remoteAddress: '127.0.0.1',
      transport: 'tcp',
      plugins: ['echo', 'boom'],
    });
    // 2 packets in after the handshake; out: the handshake reply, the echo and a 200 status.
    expect([first.packetsIn, first.packetsOut]).toEqual([2, 3]);
    expect(first.connectedAt).toBeLessThanOrEqual(Date.now());

    const closed = new Promise<void>((resolve) => b.on('close', () => resolve()));
    const answer = await request(`/api/sessions/${sessions[1]!.id}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect([answer.status, answer.json()]).toEqual([200, { closed: true }]);
    await closed;
    const after = (await request('/api/sessions')).json<{ sessions: SessionSummary[] }>();
    expect(after.sessions.map((s) => s.id)).toEqual([first.id]);
    const again = await request(`/api/sessions/${sessions[1]!.id}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(again.status).toBe(404);
  });

  it('counts the sessions the server closed for a fault of the client, by code', async () => {
    const { port, request } = await startDashboardServer();
    const overviewBefore = (await request('/api/overview')).json<OverviewView>();
    expect(overviewBefore.faultCloses).toEqual({});
    for (const hash of ['not-h-of-the-random', 'neither']) {
      const peer = await RawPeer.connect(port);
      await peer.send({ greeter: 'auth', op: 200, random: 'r4nd0m', data: '200', hash });
      expect((await peer.next()).op).toBe(400);
      await peer.closed();
    }
    const wanted = { NEKO_ERR_AUTH_BAD_HASH: 2 };
    // The session's close reaches the server's count once the socket is gone.
    let overview = (await request('/api/overview')).json<OverviewView>();
    for (let i = 0; i < 50 && overview.faultCloses.NEKO_ERR_AUTH_BAD_HASH !== 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      overview = (await request('/api/overview')).json<OverviewView>();
    }
    expect(overview.faultCloses).toEqual(wanted);
    const sessions = (await request('/api/sessions')).json<{ faultCloses: Record<string, number> }>();
    expect(sessions.faultCloses).toEqual(wanted);
  });

  it('shows the settings in force', async () => {
    const { dashboardPort, port, request } = await startDashboardServer();
    const settings = (await request('/api/settings')).json<SettingsView>();
    expect(settings.server).toMatchObject({ host: '127.0.0.1', port, tls: false });
    // In memory, no data directory holds the bundles: a temp folder of the server's own does.
    expect(settings.server.cacheDir).toBeNull();
    expect(settings.limits.maxPacketBytes).toBe(1024 * 1024);
    expect(settings.dashboard).toEqual({ host: '127.0.0.1', port: dashboardPort, tokenRequired: true });
  });

  it('answers unknown paths and wrong methods with coded errors', async () => {
    const { request } = await startDashboardServer();
    const unknown = await request('/api/nothing');
    expect([unknown.status, unknown.json<ApiError>().error.code]).toEqual([
      404,
      'NEKO_ERR_DASHBOARD_NOT_FOUND',
    ]);
    const page = await request('/nothing.html');
    expect(page.status).toBe(404);
    const method = await request('/api/plugins', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect([method.status, method.json<ApiError>().error.code]).toEqual([
      405,
      'NEKO_ERR_DASHBOARD_BAD_REQUEST',
    ]);
  });
});

describe('dashboard API: logs', () => {
  it('numbers log lines in order and filters them by level, plugin and session', async () => {
    const { port, request } = await startDashboardServer();
    const a = await connectClient(port);
    const b = await connectClient(port);
    for (let i = 0; i < 10; i++) {
      await a.request('echo', `a${i}`);
      await b.request('echo', `b${i}`);
    }
    await b.request('boom', 'hey');
    const all = (await request('/api/logs')).json<{ entries: LogEntry[]; last: number }>();
    const seqs = all.entries.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(all.last).toBe(seqs.at(-1));
    const echoed = all.entries.filter((e) => e.message.startsWith('echo ')).map((e) => e.message.slice(5));
    expect(echoed).toEqual(Array.from({ length: 10 }, (_, i) => [`a${i}`, `b${i}`]).flat());

    const sessionB = all.entries.find((e) => e.message === 'echo b0')!.session!;
    const onlyB = (await request(`/api/logs?session=${sessionB}`)).json<{
      entries: LogEntry[];
    }>();
    expect(onlyB.entries.map((e) => e.message)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `echo b${i}`),
      'careful: hey',
    ]);
    const warnings = (await request('/api/logs?levels=warn,error')).json<{
      entries: LogEntry[];
    }>();
    expect(warnings.entries.map((e) => [e.level, e.plugin])).toEqual([
      ['error', 'broken'],
      ['warn', 'boom'],
    ]);
    expect(warnings.entries[0]!.frame).toContain('const x = ;');
    const plugin = (await request('/api/logs?plugin=boom&levels=warn')).json<{
      entries: LogEntry[];
    }>();
    expect(plugin.entries.map((e) => e.message)).toEqual(['careful: hey']);
    const after = (await request(`/api/logs?after=${all.last - 3}&limit=2`)).json<{
      entries: LogEntry[];
    }>();
    expect(after.entries.map((e) => e.seq)).toEqual([all.last - 1, all.last]);
    const bad = await request('/api/logs?levels=debug');
    expect([bad.status, bad.json<ApiError>().error.message]).toEqual([
      400,
      'unknown level "debug" in levels; use info, warn, error',
    ]);
  });

  it('streams log lines live, in order, and resumes after Last-Event-ID without a gap or a repeat', async () => {
    const { dashboardPort, port, dashboard, auth } = await startDashboardServer();
    const client = await connectClient(port);
    const start = dashboard.logs.last;
    const url = `http://127.0.0.1:${dashboardPort}/api/events?after=${start}&plugin=echo`;
    const streamed = readEvents(url, (events) => events.filter((e) => e.event === 'log').length >= 40, auth);
    // Sent while the stream is opening and after: every line arrives once, in order.
    for (let i = 0; i < 40; i++) await client.request('echo', `n${i}`);
    const events = await streamed;
    expect(events[0]).toMatchObject({ event: 'hello' });
    const logs = events.filter((e) => e.event === 'log').map((e) => JSON.parse(e.data) as LogEntry);
    expect(logs.map((e) => e.message)).toEqual(Array.from({ length: 40 }, (_, i) => `echo n${i}`));
    expect(events.filter((e) => e.event === 'log').map((e) => Number(e.id))).toEqual(logs.map((e) => e.seq));
    const seqs = logs.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));

    // A browser reconnecting sends the last id it saw: it gets exactly the lines after it.
    const resumeAt = seqs[29]!;
    const resumed = await readEvents(
      `http://127.0.0.1:${dashboardPort}/api/events?plugin=echo`,
      (e) => e.filter((x) => x.event === 'log').length >= 10,
      { ...auth, 'last-event-id': String(resumeAt) },
    );
    const again = resumed
      .filter((e) => e.event === 'log')
      .map((e) => (JSON.parse(e.data) as LogEntry).message);
    expect(again).toEqual(Array.from({ length: 10 }, (_, i) => `echo n${30 + i}`));
  });
});
