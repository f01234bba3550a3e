/**
 * The dashboard API's closer looks: each session's plugin state and groups,
 * a plugin's cells and filtered documents, folded runs of log lines, and
 * per-op stats on the plugins.
 */
import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../src/dashboard/log-buffer.js';
import type { LogRun } from '../../src/dashboard/log-runs.js';
import type { PluginView, SessionDetailView, SessionView } from '../../src/dashboard/views.js';
import { connectClient } from '../helpers/server.js';
import { DASHBOARD_PLUGINS, ROOM_PLUGIN, startDashboardServer } from './harness.js';

type ApiError = { error: { code: string; message: string } };

const WITH_ROOM = [...DASHBOARD_PLUGINS, ROOM_PLUGIN];

describe('dashboard API: a session in full', () => {
  it("lists each session's groups, and gives one session's plugin state, groups and packet counts", async () => {
    const { port, request } = await startDashboardServer({}, undefined, WITH_ROOM);
    const a = await connectClient(port);
    const b = await connectClient(port);
    await a.request('room', 'lobby', { op: 1 });
    await b.request('room', 'attic', { op: 1 });
    await b.request('echo', 'hi');

    const { sessions } = (await request('/api/sessions')).json<{ sessions: SessionView[] }>();
    const [first, second] = sessions;
    expect(first!.groups).toEqual({ room: ['room:lobby', 'everyone'] });
    // In the plugin's order of its groups: "everyone" was made before "room:attic".
    expect(second!.groups).toEqual({ room: ['everyone', 'room:attic'] });

    const detail = (await request(`/api/sessions/${second!.id}`)).json<SessionDetailView>();
    expect(detail.session).toMatchObject({
      id: second!.id,
      state: 'open',
      plugins: ['room', 'echo'],
      packetsIn: 2,
      groups: { room: ['everyone', 'room:attic'] },
    });
    // Out: the handshake reply, then one reply to each packet.
    expect(detail.session.packetsOut).toBe(3);
    expect(detail.plugins).toEqual([
      {
        greeter: 'room',
        groups: ['everyone', 'room:attic'],
        state: { nick: `mimi-${second!.id}`, room: 'attic', seen: { packets: 1, tags: ['cat', 'black'] } },
        stateProblems: [],
      },
      { greeter: 'echo', groups: [], state: {}, stateProblems: [] },
    ]);

    // Leaving a group shows at once.
    await b.request('room', '', { op: 4 });
    const left = (await request(`/api/sessions/${second!.id}`)).json<SessionDetailView>();
    expect(left.plugins[0]!.groups).toEqual(['everyone']);
    expect(left.session.groups).toEqual({ room: ['everyone'] });

    const missing = await request('/api/sessions/s-999999');
    expect([missing.status, missing.json<ApiError>().error.code]).toEqual([
      404,
      'NEKO_ERR_DASHBOARD_NOT_FOUND',
    ]);
    const method = await request(`/api/sessions/${second!.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(method.status).toBe(405);
  });

  it('shows a state JSON cannot carry with markers in place, and the rest as it is', async () => {
    const { port, request } = await startDashboardServer({}, undefined, WITH_ROOM);
    const client = await connectClient(port);
    await client.request('room', 'lobby', { op: 1 });
    await client.request('room', '', { op: 2 });
    const { sessions } = (await request('/api/sessions')).json<{ sessions: SessionView[] }>();
    const answer = await request(`/api/sessions/${sessions[0]!.id}`);
    expect(answer.status).toBe(200);
    const [room] = answer.json<SessionDetailView>().plugins;
    expect(room!.state).toEqual({
      nick: `mimi-${sessions[0]!.id}`,
      room: 'lobby',
      seen: { packets: 1, tags: ['cat', 'black'] },
      tick: { $unserialisable: 'is a function (tick)' },
      big: { $unserialisable: 'is a bigint (12n)' },
      me: { $unserialisable: 'refers back to a value that contains it (a cycle)' },
      when: { $unserialisable: 'is a Map, not plain data' },
    });
    expect(room!.stateProblems).toEqual([
      'state.tick is a function (tick)',
      'state.big is a bigint (12n)',
      'state.me refers back to a value that contains it (a cycle)',
      'state.when is a Map, not plain data',
    ]);
    // The list of sessions is not broken by it either.
    expect((await request('/api/sessions')).status).toBe(200);
  });
});

describe('dashboard API: cells and filtered documents', () => {
  it("lists a plugin's cells apart from its documents", async () => {
    const { port, request } = await startDashboardServer({}, undefined, WITH_ROOM);
    const client = await connectClient(port);
    type Cells = { total: number; offset: number; cells: { name: string; value: unknown }[] };
    expect((await request('/api/plugins/room/cells')).json<Cells>()).toMatchObject({ total: 0, cells: [] });
    await client.request('room', 'friends', { op: 3 });
    const cells = (await request('/api/plugins/room/cells')).json<Cells>();
    expect(cells).toMatchObject({
      total: 2,
      offset: 0,
      cells: [
        { name: 'highscores', value: { mimi: 12, tama: 7 } },
        { name: 'motd', value: 'welcome, friends' },
      ],
    });
    const paged = (await request('/api/plugins/room/cells?offset=1&limit=1')).json<Cells>();
    expect(paged.cells.map((c) => c.name)).toEqual(['motd']);
    // The documents are the three todos only: no cell among them.
    const docs = (await request('/api/plugins/room/documents')).json<{
      total: number;
      documents: Record<string, unknown>[];
    }>();
    expect(docs.total).toBe(3);
    expect(docs.documents.every((d) => typeof d['title'] === 'string' && !('json' in d))).toBe(true);
    const missing = await request('/api/plugins/nope/cells');
    expect([missing.status, missing.json<ApiError>().error.code]).toEqual([
      404,
      'NEKO_ERR_DASHBOARD_NOT_FOUND',
    ]);
  });

  it('filters documents with a query of the database language, and refuses a bad one with a 400', async () => {
    const { port, request } = await startDashboardServer({}, undefined, WITH_ROOM);
    const client = await connectClient(port);
    await client.request('room', 'x', { op: 3 });
    type Page = { total: number; query: unknown; documents: { title: string; done: boolean }[] };
    const q = (query: string): string => `/api/plugins/room/documents?query=${encodeURIComponent(query)}`;
    const open = (await request(q('{"done": false}'))).json<Page>();
    expect(open.total).toBe(2);
    expect(open.query).toEqual({ done: false });
    expect(open.documents.map((d) => d.title).sort()).toEqual(['brush the cat', 'feed the cat']);
    const regex = (await request(q('{"title": {"$regex": "^b"}, "done": true}'))).json<Page>();
    expect(regex.documents.map((d) => d.title)).toEqual(['buy milk']);
    const none = (await request(q('{"$or": [{"done": "maybe"}]}'))).json<Page>();
    expect([none.total, none.documents]).toEqual([0, []]);
    // An empty query is every document.
    expect((await request(q(' '))).json<Page>().total).toBe(3);

    const refusals: [string, RegExp][] = [
      ['{"$where": "return true"}', /\$where/],
      ['{"done": {"$size": 1}}', /\$size/],
      ['{"__nekoCell": "motd"}', /__nekoCell/],
      ['[1, 2]', /query/],
      ['null', /query/],
      ['{"title": {"$regex": "("}}', /\(/],
      ['{"done": false', /not JSON/],
    ];
    for (const [query, message] of refusals) {
      const bad = await request(q(query));
      expect([query, bad.status, bad.json<ApiError>().error.code]).toEqual([
        query,
        400,
        'NEKO_ERR_STORAGE_QUERY',
      ]);
      expect(bad.json<ApiError>().error.message).toMatch(message);
    }
    // The server is still there.
    expect((await client.request('room', 'y', { op: 9 })).text()).toBe('ok');
  });
});

describe('dashboard API: runs of repeated log lines', () => {
  it('numbers each line with its run, and folds runs with their count when asked, keeping the lines', async () => {
    const { port, request } = await startDashboardServer();
    const a = await connectClient(port);
    const b = await connectClient(port);
    // Three identical warnings from two sessions, then another, then the first again.
    await a.request('boom', 'same');
    await b.request('boom', 'same');
    await a.request('boom', 'same');
    await b.request('boom', 'other');
    await a.request('boom', 'same');
    const raw = (await request('/api/logs?plugin=boom&levels=warn')).json<{ entries: LogEntry[] }>();
    expect(raw.entries.map((e) => e.message)).toEqual([
      'careful: same',
      'careful: same',
      'careful: same',
      'careful: other',
      'careful: same',
    ]);
    const [s1, , s3, s4, s5] = raw.entries.map((e) => e.seq) as [number, number, number, number, number];
    expect(raw.entries.map((e) => e.run)).toEqual([s1, s1, s1, s4, s5]);

    const grouped = (await request('/api/logs?plugin=boom&levels=warn&group=runs')).json<{
      runs: LogRun[];
    }>();
    expect(grouped.runs.map((r) => [r.message, r.count, r.seq, r.lastSeq])).toEqual([
      ['careful: same', 3, s1, s3],
      ['careful: other', 1, s4, s4],
      ['careful: same', 1, s5, s5],
    ]);
    const sessionA = raw.entries[0]!.session!;
    const sessionB = raw.entries[1]!.session!;
    expect(grouped.runs[0]!.sessions).toEqual([sessionA, sessionB]);
    // limit counts runs; the session filter folds that session's lines.
    const newest = (await request('/api/logs?plugin=boom&levels=warn&group=runs&limit=1')).json<{
      runs: LogRun[];
    }>();
    expect(newest.runs.map((r) => r.seq)).toEqual([s5]);
    const onlyA = (await request(`/api/logs?session=${sessionA}&group=runs`)).json<{ runs: LogRun[] }>();
    expect(onlyA.runs.map((r) => [r.message, r.count])).toEqual([
      ['careful: same', 2],
      ['careful: same', 1],
    ]);
    const bad = await request('/api/logs?group=yes');
    expect([bad.status, bad.json<ApiError>().error.code]).toEqual([400, 'NEKO_ERR_DASHBOARD_BAD_REQUEST']);
  });
});

describe('dashboard API: per-op stats', () => {
  it('counts packets and latency per op code on each plugin', async () => {
    const { port, request } = await startDashboardServer({}, undefined, WITH_ROOM);
    const client = await connectClient(port);
    for (let i = 0; i < 5; i++) await client.request('room', 'a', { op: 7 });
    for (let i = 0; i < 2; i++) await client.request('room', 'b', { op: 300 });
    await client.request('room', 'lobby', { op: 1 });
    const { plugins } = (await request('/api/plugins')).json<{ plugins: PluginView[] }>();
    const room = plugins.find((p) => p.greeter === 'room')!;
    expect(room.packets).toBe(8);
    expect(room.ops.map((o) => [o.op, o.packets])).toEqual([
      [1, 1],
      [7, 5],
      [300, 2],
    ]);
    for (const { latencyMs } of room.ops) {
      expect(latencyMs!.p50).toBeGreaterThan(0);
      expect(latencyMs!.p50).toBeLessThanOrEqual(latencyMs!.p90);
      expect(latencyMs!.p90).toBeLessThanOrEqual(latencyMs!.p99);
    }
    expect(plugins.find((p) => p.greeter === 'broken')!.ops).toEqual([]);
    expect(plugins.find((p) => p.greeter === 'echo')!.ops).toEqual([]);
  });
});
