import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createDashboard, type CreateDashboardOptions } from '../../src/dashboard/dashboard.js';
import { packPlugin } from '../../src/pack/pack.js';
import { Playground, type PlaygroundOptions } from '../../src/playground/playground.js';
import type {
  PlaygroundClient,
  PlaygroundEvent,
  PlaygroundInfo,
  PlaygroundSend,
  PlaygroundTest,
} from '../../src/playground/wire.js';
import { http, readEvents, type HttpAnswer } from '../dashboard/harness.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { startServer } from '../helpers/server.js';

const EXAMPLES = fileURLToPath(new URL('../../../plugins/', import.meta.url));

type ApiError = { error: { code: string; message: string } };

/** A plugin that asks for a name with ctx.recv(), and one that throws. */
const FIXTURES = [
  {
    greeter: 'asker',
    logic: `export const Op = {
  /** asks for a name, waits for it in ctx.recv(), then greets it */
  Ask: 1,
};
export class Logic {
  async recv(ctx) {
    ctx.send('your name?');
    const answer = await ctx.recv({ timeoutMs: 5000 });
    ctx.send('hello, ' + new TextDecoder().decode(answer.data));
  }
}
`,
  },
  {
    greeter: 'boom',
    logic: `export class Logic { recv(ctx) { if (ctx.text() === 'throw') throw new Error('boom on purpose'); ctx.send('fine'); } }\n`,
  },
];

/** A server with echo and chat (the examples) and the fixtures, its dashboard, and a Playground on it. */
async function setup(
  options: { dashboard?: CreateDashboardOptions; playground?: PlaygroundOptions | false } = {},
) {
  const { server } = await startServer();
  const dashboard = createDashboard(server, { port: 0, ...options.dashboard });
  const playground = options.playground === false ? undefined : new Playground(server, options.playground);
  dashboard.playground = playground;
  await server.loadPlugins(path.join(EXAMPLES, 'echo'));
  await server.loadPlugins(path.join(EXAMPLES, 'chat'));
  await server.loadPlugins(await makePluginsDir(FIXTURES));
  const { port } = await dashboard.listen();
  const auth: Record<string, string> =
    dashboard.token === undefined ? {} : { authorization: `Bearer ${dashboard.token}` };
  const get = (url: string): Promise<HttpAnswer> => http(port, url, { headers: auth });
  const post = (url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
    http(port, url, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const open = async (label?: string): Promise<PlaygroundClient> => {
    const answer = await post('/api/playground/clients', label === undefined ? undefined : { label });
    expect(answer.status, answer.body).toBe(200);
    return answer.json<PlaygroundClient>();
  };
  const send = async (client: string, body: PlaygroundSend): Promise<PlaygroundEvent[]> => {
    const answer = await post(`/api/playground/clients/${client}/send`, body);
    expect(answer.status, answer.body).toBe(200);
    return answer.json<{ events: PlaygroundEvent[] }>().events;
  };
  const timeline = async (client: string): Promise<readonly PlaygroundEvent[]> =>
    (await get(`/api/playground/clients/${client}`)).json<PlaygroundClient>().events;
  /** The client's timeline once `until` holds (events arrive on their own). */
  const eventually = async (client: string, until: (events: readonly PlaygroundEvent[]) => boolean) => {
    for (let i = 0; i < 100; i++) {
      const events = await timeline(client);
      if (until(events)) return events;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`timeline of ${client}: ${JSON.stringify(await timeline(client))}`);
  };
  return { server, dashboard, playground, port, auth, get, post, open, send, timeline, eventually };
}

const text = (value: string) => ({ kind: 'text', value }) as const;

describe('Playground API', () => {
  it('lists the loaded plugins with the ops of their Op table and doc comments', async () => {
    const { get } = await setup();
    const info = (await get('/api/playground')).json<PlaygroundInfo>();
    expect(info.enabled).toBe(true);
    expect(info.plugins.map((p) => p.greeter)).toEqual(['asker', 'boom', 'chat', 'echo']);
    const chat = info.plugins.find((p) => p.greeter === 'chat')!;
    expect(chat.name).toBe('Chat');
    expect(chat.ops.map((o) => [o.name, o.op])).toEqual([
      ['Nick', 1],
      ['Say', 2],
      ['Who', 3],
      ['Joined', 4],
      ['Left', 5],
      ['Renamed', 6],
      ['Error', 9],
    ]);
    expect(chat.ops[0]!.doc).toMatch(/^data: a nickname/);
    expect(info.plugins.find((p) => p.greeter === 'echo')!.ops).toEqual([
      { name: 'Echo', op: 1, doc: expect.stringMatching(/^data: anything/) },
    ]);
    const boom = info.plugins.find((p) => p.greeter === 'boom')!;
    expect(boom.ops).toEqual([]);
    expect(boom.opsReason).toMatch(/exports no Op table/);
  });

  it('lists the ops of a plugin served from a .ncp package from its ops.json', async () => {
    const folder = await makePluginsDir([
      {
        greeter: 'packed',
        logic: `export const Op = {
  /** answers pong */
  Ping: 5,
};
export class Logic { recv(ctx) { ctx.send('pong'); } }
`,
      },
    ]);
    const packages = await mkdtemp(path.join(os.tmpdir(), 'neko-packages-'));
    onTestFinished(() => rm(packages, { recursive: true, force: true }));
    await packPlugin({ dir: path.join(folder, 'packed'), outDir: packages });
    const { server, get, open, send } = await setup();
    await server.loadPlugins(packages);
    const info = (await get('/api/playground')).json<PlaygroundInfo>();
    expect(info.plugins.find((p) => p.greeter === 'packed')).toEqual({
      greeter: 'packed',
      name: 'packed',
      ops: [{ name: 'Ping', op: 5, doc: 'answers pong' }],
    });
    await open();
    const pinged = await send('c1', { greeter: 'packed', op: 5, mode: 'request', data: text('') });
    expect(pinged[1]).toMatchObject({ kind: 'reply', data: { text: 'pong' } });
  });

  it('opens real sessions, sends and asks, and shows every packet as hex, text and JSON', async () => {
    const { open, send, get, server } = await setup();
    const one = await open();
    expect([one.id, one.label, one.open]).toEqual(['c1', 'client 1', true]);
    expect(one.events.map((e) => e.kind)).toEqual(['open']);
    // A real session of the server, named after the client.
    const session = server.sessions().find((s) => s.id === one.sessionId)!;
    expect([session.transport, session.remoteAddress]).toEqual(['playground', 'playground: client 1']);
    const sessions = (await get('/api/sessions')).json<{
      sessions: { id: string; remoteAddress: string }[];
    }>();
    expect(sessions.sessions.find((s) => s.id === one.sessionId)?.remoteAddress).toBe('playground: client 1');

    const events = await send('c1', {
      greeter: 'echo',
      op: 1,
      mode: 'request',
      data: { kind: 'json', value: '{"a": [1, 2]}' },
    });
    expect(events.map((e) => e.kind)).toEqual(['sent', 'reply']);
    const [sent, reply] = events as [
      Extract<PlaygroundEvent, { kind: 'sent' }>,
      Extract<PlaygroundEvent, { kind: 'reply' }>,
    ];
    expect(sent).toMatchObject({ client: 'c1', seq: 2, mode: 'request', greeter: 'echo', op: 1 });
    expect(sent.data).toEqual({
      bytes: 13,
      hex: Buffer.from('{"a": [1, 2]}').toString('hex'),
      text: '{"a": [1, 2]}',
      json: { a: [1, 2] },
    });
    expect(reply).toMatchObject({ seq: 3, answers: 2, greeter: 'echo', op: 1, data: sent.data });
    expect(reply.latencyMs).toBeGreaterThanOrEqual(0);

    // Bytes that are not UTF-8: hex only.
    const binary = await send('c1', {
      greeter: 'echo',
      op: 7,
      mode: 'request',
      data: { kind: 'hex', value: 'ff 00 0x80' },
    });
    expect((binary[1] as Extract<PlaygroundEvent, { kind: 'reply' }>).data).toEqual({
      bytes: 3,
      hex: 'ff0080',
    });

    // A send: its answer (the echo) arrives as a reply to it.
    const fired = await send('c1', { greeter: 'echo', op: 1, mode: 'send', data: text('hi') });
    expect(fired.map((e) => [e.kind, 'answers' in e ? e.answers : undefined])).toEqual([
      ['sent', undefined],
      ['reply', fired[0]!.seq],
    ]);
  });

  it("shows a chat broadcast arriving in the other client's timeline, and statuses 200, 404 and 500", async () => {
    const { open, send, eventually } = await setup();
    await open('mimi');
    await open('tama');
    expect(
      (await send('c1', { greeter: 'chat', op: 1, mode: 'request', data: text('mimi') }))[1],
    ).toMatchObject({
      kind: 'reply',
      op: 1,
      data: { json: { nick: 'mimi' } },
    });
    await send('c2', { greeter: 'chat', op: 1, mode: 'request', data: text('tama') });
    const said = await send('c1', { greeter: 'chat', op: 2, mode: 'request', data: text('hello tama') });
    expect(said[1]).toMatchObject({ kind: 'status', status: 200, text: 'ok', answers: said[0]!.seq });
    const tama = await eventually('c2', (events) => events.some((e) => e.kind === 'push' && e.op === 2));
    expect(
      tama.filter((e) => e.kind === 'push').map((e) => (e.kind === 'push' ? [e.op, e.data.json] : [])),
    ).toEqual([[2, { nick: 'mimi', text: 'hello tama' }]]);
    const mimi = await eventually('c1', (events) => events.filter((e) => e.kind === 'push').length === 2);
    expect(mimi.filter((e) => e.kind === 'push').map((e) => (e.kind === 'push' ? e.op : 0))).toEqual([4, 6]);

    const missing = await send('c1', { greeter: 'nobody', op: 1, mode: 'request', data: text('') });
    expect(missing[1]).toMatchObject({
      kind: 'status',
      status: 404,
      greeter: 'nobody',
      answers: missing[0]!.seq,
    });
    const failed = await send('c1', { greeter: 'boom', op: 0, mode: 'request', data: text('throw') });
    expect(failed[1]).toMatchObject({ kind: 'status', status: 500, text: 'plugin handler failed' });
    // The session goes on after a 500.
    expect(
      (await send('c1', { greeter: 'boom', op: 0, mode: 'request', data: text('ok') }))[1],
    ).toMatchObject({
      kind: 'reply',
      data: { text: 'fine' },
    });
  });

  it("shows a plugin's ctx.recv() waiting for the client's next packet, and the stream carries every event", async () => {
    const { open, send, post, port, auth } = await setup();
    await open();
    const stream = readEvents(
      `http://127.0.0.1:${port}/api/playground/events`,
      (events) => events.filter((e) => e.event === 'playground').length >= 6,
      auth,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const kinds = (events: PlaygroundEvent[]) =>
      events.map((e) => (e.kind === 'wait' ? `wait ${e.phase}` : e.kind));
    // The handler answers, then waits in ctx.recv() for the client's next packet.
    const asked = await send('c1', { greeter: 'asker', op: 1, mode: 'request', data: text('') });
    expect(kinds(asked)).toEqual(['sent', 'wait waiting', 'reply']);
    expect(asked[1]).toMatchObject({ kind: 'wait', greeter: 'asker', phase: 'waiting' });
    const named = await send('c1', { greeter: 'asker', op: 1, mode: 'request', data: text('Mimi') });
    expect(kinds(named)).toEqual(['sent', 'wait done', 'reply']);
    expect(named[2]).toMatchObject({ data: { text: 'hello, Mimi' } });
    const streamed = (await stream)
      .filter((e) => e.event === 'playground')
      .map((e) => JSON.parse(e.data) as PlaygroundEvent);
    expect(streamed).toEqual([...asked, ...named]);

    // A wait the close ends: done, then the close.
    await send('c1', { greeter: 'asker', op: 1, mode: 'request', data: text('') });
    const closed = (await post('/api/playground/clients/c1/close')).json<PlaygroundClient>();
    expect(kinds(closed.events.slice(-3) as PlaygroundEvent[])).toEqual(['reply', 'wait done', 'close']);
  });

  it('refuses bad data, an unknown client and a closed one with coded errors, and closes clients', async () => {
    const { open, post, send, get, server } = await setup();
    const one = await open();
    const badJson = await post('/api/playground/clients/c1/send', {
      greeter: 'echo',
      op: 1,
      mode: 'send',
      data: { kind: 'json', value: '{nope' },
    });
    expect([badJson.status, badJson.json<ApiError>().error.code]).toEqual([400, 'NEKO_ERR_PLAYGROUND_DATA']);
    const badHex = await post('/api/playground/clients/c1/send', {
      greeter: 'echo',
      op: 1,
      mode: 'send',
      data: { kind: 'hex', value: 'abc' },
    });
    expect([badHex.status, badHex.json<ApiError>().error.message]).toEqual([
      400,
      expect.stringMatching(/odd number/),
    ]);
    const badOp = await post('/api/playground/clients/c1/send', {
      greeter: 'echo',
      op: -1,
      mode: 'send',
      data: text(''),
    });
    expect([badOp.status, badOp.json<ApiError>().error.code]).toEqual([400, 'NEKO_ERR_PLAYGROUND_SEND']);
    const unknown = await post('/api/playground/clients/c9/send', {
      greeter: 'echo',
      op: 1,
      mode: 'send',
      data: text(''),
    });
    expect([unknown.status, unknown.json<ApiError>().error.code]).toEqual([
      404,
      'NEKO_ERR_PLAYGROUND_CLIENT_UNKNOWN',
    ]);
    expect((await get('/api/playground/clients/c9')).status).toBe(404);

    const closed = await post('/api/playground/clients/c1/close');
    expect(closed.json<PlaygroundClient>()).toMatchObject({ open: false });
    expect(closed.json<PlaygroundClient>().events.at(-1)).toMatchObject({ kind: 'close', by: 'page' });
    expect(server.sessions().some((s) => s.id === one.sessionId)).toBe(false);
    const again = await post('/api/playground/clients/c1/send', {
      greeter: 'echo',
      op: 1,
      mode: 'send',
      data: text(''),
    });
    expect([again.status, again.json<ApiError>().error.code]).toEqual([
      409,
      'NEKO_ERR_PLAYGROUND_CLIENT_CLOSED',
    ]);

    // Closed by the server: a plugin that closes the session.
    await open();
    await send('c2', { greeter: 'chat', op: 1, mode: 'request', data: text('x') });
    expect((await post('/api/playground/clients/c2/remove')).json()).toEqual({ removed: true });
    expect((await get('/api/playground/clients/c2')).status).toBe(404);
  });

  it('answers 503 when the server takes no new session (it drains)', async () => {
    const { server, post } = await setup();
    void server.drain();
    const refused = await post('/api/playground/clients');
    expect([refused.status, refused.json<ApiError>().error.code]).toEqual([503, 'NEKO_ERR_CLIENT_CONNECT']);
    expect(refused.json<ApiError>().error.message).toMatch(/^the server did not take a new session/);
  });

  it('caps the clients and the events per client', async () => {
    const { open, post, send, timeline, get } = await setup({ playground: { maxClients: 2, maxEvents: 5 } });
    await open();
    await open();
    const third = await post('/api/playground/clients');
    expect([third.status, third.json<ApiError>().error.code]).toEqual([
      429,
      'NEKO_ERR_PLAYGROUND_TOO_MANY_CLIENTS',
    ]);
    for (let i = 0; i < 4; i++)
      await send('c1', { greeter: 'echo', op: 1, mode: 'request', data: text(`m${i}`) });
    const events = await timeline('c1');
    expect(events.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9]);
    const trimmed = await get('/api/playground/test?clients=c1');
    expect([trimmed.status, trimmed.json<ApiError>().error.code]).toEqual([
      409,
      'NEKO_ERR_PLAYGROUND_TRIMMED',
    ]);
  });

  it("caps the data a client's timeline holds, dropping its oldest events", async () => {
    const { open, send, timeline } = await setup({ playground: { maxTimelineBytes: 5_000 } });
    await open();
    // Each request and each echo hold 500 bytes of data, 1,500 as the timeline keeps them (hex and text).
    for (let i = 0; i < 3; i++) {
      await send('c1', { greeter: 'echo', op: 1, mode: 'request', data: text(String(i).repeat(500)) });
    }
    const events = await timeline('c1');
    // 5,000 bytes hold three of them (4,500), not four: the open event and the first three packets went.
    expect(events.map((e) => [e.seq, e.kind])).toEqual([
      [5, 'reply'],
      [6, 'sent'],
      [7, 'reply'],
    ]);
  });

  it('needs the dashboard token: off on an open dashboard, and every call needs the token', async () => {
    const open = await setup({ dashboard: { open: true } });
    const info = (await open.get('/api/playground')).json<PlaygroundInfo>();
    expect([info.enabled, info.reason]).toEqual([false, expect.stringMatching(/needs the dashboard token/)]);
    const refused = await open.post('/api/playground/clients');
    expect([refused.status, refused.json<ApiError>().error.code]).toEqual([403, 'NEKO_ERR_PLAYGROUND_OFF']);

    const guarded = await setup();
    const noToken = await http(guarded.port, '/api/playground/clients', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect([noToken.status, noToken.json<ApiError>().error.code]).toEqual([401, 'NEKO_ERR_DASHBOARD_TOKEN']);
    const elsewhere = await guarded.post('/api/playground/clients', undefined, {
      origin: 'http://evil.example',
    });
    expect(elsewhere.status).toBe(403);
    const deleted = await http(guarded.port, '/api/playground/clients/c1', {
      method: 'DELETE',
      headers: { ...guarded.auth, origin: 'http://evil.example' },
    });
    expect([deleted.status, deleted.json<ApiError>().error.code]).toEqual([403, 'NEKO_ERR_DASHBOARD_HOST']);

    const off = await setup({ playground: false });
    const offInfo = (await off.get('/api/playground')).json<PlaygroundInfo>();
    expect([offInfo.enabled, offInfo.reason]).toEqual([false, expect.stringMatching(/--playground/)]);
    expect((await off.post('/api/playground/clients')).status).toBe(403);
  });

  it('closes every simulated client when the dashboard closes', async () => {
    const { open, dashboard, server, playground } = await setup();
    await open();
    await open();
    expect(server.sessions().filter((s) => s.transport === 'playground')).toHaveLength(2);
    await dashboard.close();
    expect(playground!.clients().map((c) => [c.open, c.events.at(-1)?.kind])).toEqual([
      [false, 'close'],
      [false, 'close'],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.sessions().filter((s) => s.transport === 'playground')).toHaveLength(0);
  });
});

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Runs a test file in a copy of an example plugin, as a plugin's own test
 * runs: `npx vitest run` in a project whose node_modules are the repository's.
 */
async function runPluginTest(example: string, code: string): Promise<{ ok: boolean; output: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'neko-copy-as-test-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  await symlink(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
  await writeFile(path.join(root, 'package.json'), '{ "type": "module" }\n');
  const dir = path.join(root, example);
  await cp(path.join(EXAMPLES, example), dir, { recursive: true, filter: (f) => !f.endsWith('.test.ts') });
  await writeFile(path.join(dir, 'playground.test.ts'), code);
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [path.join(REPO, 'node_modules/vitest/vitest.mjs'), 'run', '--root', root],
      { cwd: root, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
    );
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const failed = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('Playground: Copy as test', () => {
  it('turns two chat timelines into a test that passes in the plugin folder, and fails once an expectation changes', async () => {
    const { open, send, get, post, eventually } = await setup();
    await open('mimi');
    await open('tama');
    await send('c1', { greeter: 'chat', op: 1, mode: 'request', data: text('mimi') });
    await send('c2', { greeter: 'chat', op: 1, mode: 'request', data: text('tama') });
    await eventually('c1', (events) => events.filter((e) => e.kind === 'push').length === 2);
    await send('c1', { greeter: 'chat', op: 2, mode: 'request', data: text('hello tama') });
    await eventually('c2', (events) => events.some((e) => e.kind === 'push'));
    await send('c2', { greeter: 'chat', op: 3, mode: 'request', data: text('') });
    await send('c2', { greeter: 'chat', op: 42, mode: 'request', data: text('') });
    await send('c1', { greeter: 'nobody', op: 1, mode: 'request', data: text('') });
    await post('/api/playground/clients/c2/close');
    await eventually('c1', (events) => events.filter((e) => e.kind === 'push').length === 3);

    const answer = await get('/api/playground/test?clients=c1,c2');
    expect(answer.status, answer.body).toBe(200);
    const test = answer.json<PlaygroundTest>();
    expect(test.greeters).toEqual(['chat', 'nobody']);
    expect(test.code).toContain("import { Op } from './logic.js';");
    expect(test.code).toContain("const mimi = await server.connect({ name: 'mimi' });");
    expect(test.code).toContain("await mimi.request('chat', 'mimi', { op: Op.Nick });");
    expect(test.code).toContain("expect((await mimi.request('nobody', '', { op: 1 })).status).toBe(404);");
    expect(test.code).toContain('await tama.close();');

    const passing = await runPluginTest('chat', test.code);
    expect(passing.ok, passing.output).toBe(true);
    expect(passing.output).toMatch(/1 passed/);
    const broken = test.code.replace("text: 'hello tama'", "text: 'hello mimi'");
    expect(broken).not.toBe(test.code);
    const failing = await runPluginTest('chat', broken);
    expect(failing.ok, failing.output).toBe(false);
    expect(failing.output).toMatch(/hello mimi/);
  });
});
