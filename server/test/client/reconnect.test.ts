import { describe, expect, it } from 'vitest';
import { backoffDelay, type ClientPacket, type NekoClient } from '../../src/client/client.js';
import { isNekoError } from '../../src/errors.js';
import { makePluginsDir, specConf } from '../helpers/plugins.js';
import { startRelay } from '../helpers/proxy.js';
import { connectClient, startServer } from '../helpers/server.js';

const GAME = `export class Logic {
  onReconnect(ctx) { ctx.send('welcome back', { op: 7 }); }
  async recv(ctx) {
    const [cmd, arg = '', rest = ''] = ctx.text().split(' ');
    if (cmd === 'set') { ctx.state.v = arg; ctx.send('ok', { op: 1 }); return; }
    if (cmd === 'get') { ctx.send(ctx.session.id + ' ' + (ctx.state.v ?? '-'), { op: 1 }); return; }
    if (cmd === 'dm') { ctx.send(await ctx.sendTo(arg, rest, { op: 9 }), { op: 1 }); return; }
    if (cmd === 'slow') { await new Promise((r) => setTimeout(r, 300)); ctx.send('late', { op: 2 }); return; }
    ctx.send('hi', { op: 1 });
  }
}
`;

async function setup(grace = 5): Promise<{ port: number; relayed: Awaited<ReturnType<typeof startRelay>> }> {
  const plugins = await makePluginsDir([
    { greeter: 'game', logic: GAME, spec: `${specConf('Game', 'game')}$grace {"${grace}"};\n` },
  ]);
  const { port } = await startServer({ plugins });
  return { port, relayed: await startRelay(port) };
}

/** Records a client's reconnect events as short strings. */
function events(client: NekoClient): string[] {
  const seen: string[] = [];
  client.on('reconnecting', ({ attempt }) => seen.push(`reconnecting ${attempt}`));
  client.on('resumed', () => seen.push('resumed'));
  client.on('reconnected', ({ resumed }) => seen.push(`reconnected ${resumed}`));
  client.on('close', ({ error }) => seen.push(`close${error && isNekoError(error) ? ` ${error.code}` : ''}`));
  return seen;
}

const FAST = { backoff: { initialMs: 20, maxMs: 80 } };

describe('connect({ reconnect })', () => {
  it('resumes the session after a drop: same id and state, and what was sent meanwhile arrives first', async () => {
    const { port, relayed } = await setup();
    // A first wait of 150–300 ms: time for the friend's message to find the session away.
    const player = await connectClient(relayed.port, {
      reconnect: { backoff: { initialMs: 300, maxMs: 300 } },
    });
    const seen = events(player);
    const states: string[] = [];
    player.on('reconnecting', () => states.push(`${player.state} ${player.connected}`));
    const pushes: ClientPacket[] = [];
    player.on('packet', (p) => pushes.push(p));
    expect((await player.request('game', 'set cat', { replyOp: 1 })).text()).toBe('ok');
    const friend = await connectClient(port);
    await friend.request('game', 'hello', { replyOp: 1 });

    relayed.cut();
    await expect.poll(() => seen).toContain('reconnecting 1');
    expect(states).toEqual(['reconnecting false']);
    expect((await friend.request('game', 'dm s-1 psst', { replyOp: 1 })).text()).toBe('queued');

    await expect.poll(() => seen).toContain('reconnected true');
    expect(seen).toEqual(['reconnecting 1', 'resumed', 'reconnected true']);
    await expect.poll(() => pushes.map((p) => `${p.op} ${p.text()}`)).toEqual(['9 psst', '7 welcome back']);
    expect((await player.request('game', 'get', { replyOp: 1 })).text()).toBe('s-1 cat');
    expect(player.connected).toBe(true);

    // A second drop resumes again: the token given on resume replaced the used one.
    relayed.cut();
    await expect.poll(() => seen.filter((e) => e === 'reconnected true').length).toBe(2);
    expect((await player.request('game', 'get', { replyOp: 1 })).text()).toBe('s-1 cat');
  });

  it('rejects a request in flight at the drop with NEKO_ERR_CLIENT_DROPPED and never sends it again', async () => {
    const { relayed } = await setup();
    const player = await connectClient(relayed.port, { reconnect: FAST });
    const pushes: ClientPacket[] = [];
    player.on('packet', (p) => pushes.push(p));
    await player.request('game', 'hello', { replyOp: 1 });
    const slow = player.request('game', 'slow', { replyOp: 2 });
    await new Promise((r) => setTimeout(r, 50));
    relayed.cut();
    await expect(slow).rejects.toMatchObject({ code: 'NEKO_ERR_CLIENT_DROPPED' });
    // Made while reconnecting: waits, then goes out on the new connection.
    const waiting = player.request('game', 'get', { replyOp: 1 });
    expect((await waiting).text()).toBe('s-1 -');
    // The plugin's answer to the dropped request was kept for the session and arrives as a push.
    await expect.poll(() => pushes.map((p) => p.text()).sort()).toEqual(['late', 'welcome back']);
    const accepted = relayed.accepted;
    await new Promise((r) => setTimeout(r, 400));
    // Nothing was resent: no further connection, and the plugin answered 'slow' once.
    expect(relayed.accepted).toBe(accepted);
  });

  it('starts a new session when the server kept none (no $grace): reconnected, not resumed', async () => {
    const { relayed } = await setup(0);
    const player = await connectClient(relayed.port, { reconnect: FAST });
    const seen = events(player);
    await player.request('game', 'set cat', { replyOp: 1 });
    relayed.cut();
    await expect.poll(() => seen).toContain('reconnected false');
    expect(seen).not.toContain('resumed');
    expect((await player.request('game', 'get', { replyOp: 1 })).text()).toBe('s-2 -');
  });

  it('does not ask to resume with { resume: false }: a fresh session each time', async () => {
    const { relayed } = await setup();
    const player = await connectClient(relayed.port, { reconnect: { ...FAST, resume: false } });
    const seen = events(player);
    await player.request('game', 'set cat', { replyOp: 1 });
    relayed.cut();
    await expect.poll(() => seen).toContain('reconnected false');
    expect((await player.request('game', 'get', { replyOp: 1 })).text()).toMatch(/^s-\d+ -$/);
  });

  it('gives up after `retries` failed attempts: close with NEKO_ERR_CLIENT_CONNECT, waiting requests reject', async () => {
    const { relayed } = await setup();
    const player = await connectClient(relayed.port, { reconnect: { retries: 3, ...FAST } });
    const seen = events(player);
    await player.request('game', 'hello', { replyOp: 1 });
    relayed.refuse(true);
    relayed.cut();
    await expect.poll(() => seen).toContain('reconnecting 1');
    const waiting = player.request('game', 'get', { replyOp: 1 });
    await expect(waiting).rejects.toMatchObject({ code: 'NEKO_ERR_CLIENT_CONNECT' });
    expect(seen).toEqual([
      'reconnecting 1',
      'reconnecting 2',
      'reconnecting 3',
      'close NEKO_ERR_CLIENT_CONNECT',
    ]);
    expect(player.state).toBe('closed');
  });

  it('stops reconnecting on close(): closed for good at once', async () => {
    const { relayed } = await setup();
    const player = await connectClient(relayed.port, {
      reconnect: { retries: 50, backoff: { initialMs: 200 } },
    });
    const seen = events(player);
    relayed.refuse(true);
    relayed.cut();
    await expect.poll(() => seen).toContain('reconnecting 1');
    await player.close();
    expect(player.state).toBe('closed');
    expect(seen.at(-1)).toBe('close');
  });

  it('without reconnect, a drop closes the client as before', async () => {
    const { relayed } = await setup();
    const player = await connectClient(relayed.port);
    const seen = events(player);
    relayed.cut();
    await expect.poll(() => seen).toEqual(['close']);
  });
});

describe('backoffDelay', () => {
  it('doubles from initialMs up to maxMs, keeping between half and all of it', () => {
    const policy = { initialMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 9].map((a) => backoffDelay(policy, a, () => 0))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect([1, 2, 3, 4, 5, 9].map((a) => backoffDelay(policy, a, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });
});
