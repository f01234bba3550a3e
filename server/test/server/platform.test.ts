import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Context } from '../../src/context/context.js';
import { Hasher } from '../../src/protocol/hash.js';
import { eventLog, makePluginsDir } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';

const H = new Hasher(SECRET);

/** The frames a raw peer receives until it has seen `count` of them. */
async function take(peer: RawPeer, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = await peer.next();
    out.push(f.greeter === 'nekoconnect-server' ? String(f.op) : `${f.greeter}:${f.op}:${f.data.toString()}`);
  }
  return out;
}

async function authedPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  await peer.handshake(SECRET);
  return peer;
}

describe('lifecycle hooks', () => {
  it('runs onLoad before serving, onJoin before the first packet, onLeave on disconnect, onUnload on shutdown', async () => {
    const { key, events } = eventLog();
    const plugins = await makePluginsDir([
      {
        greeter: 'life',
        logic: `const log = globalThis.${key};
export class Logic {
  async onLoad(plugin) { log.push('load ' + plugin.greeter + ' ' + (await plugin.db.count())); }
  onJoin(ctx) { log.push('join ' + ctx.session.id); ctx.state.joinedAt = 1; }
  recv(ctx) { log.push('recv ' + ctx.text() + ' joinedAt=' + ctx.state.joinedAt); ctx.send('ok'); }
  onLeave(ctx) { log.push('leave ' + ctx.session.id + ' send=' + ctx.send('bye')); }
  async onUnload(plugin) { log.push('unload ' + plugin.greeter); }
}
`,
      },
    ]);
    const { server, port } = await startServer({ plugins });
    expect(events).toEqual(['load life 0']);

    const a = await connectClient(port);
    expect((await a.request('life', 'one')).text()).toBe('ok');
    expect((await a.request('life', 'two')).text()).toBe('ok');
    const b = await connectClient(port);
    await b.request('life', 'three');
    await a.close();
    await expect.poll(() => events.at(-1)).toBe('leave s-1 send=false');
    await server.close();
    expect(events).toEqual([
      'load life 0',
      'join s-1',
      'recv one joinedAt=1',
      'recv two joinedAt=1',
      'join s-2',
      'recv three joinedAt=1',
      'leave s-1 send=false',
      'leave s-2 send=false',
      'unload life',
    ]);
  });

  it('logs a hook that throws with the plugin name and code, and keeps serving', async () => {
    const plugins = await makePluginsDir([
      {
        greeter: 'grumpy',
        name: 'Grumpy',
        logic: `export class Logic {
  onLoad() { throw new Error('no load for you'); }
  async onJoin() { throw new Error('no join for you'); }
  recv(ctx) { ctx.send('served anyway'); }
  onLeave() { throw new Error('no leave for you'); }
}
`,
      },
    ]);
    const { server, port, logs, waitForLog } = await startServer({ plugins });
    const c = await connectClient(port);
    expect((await c.request('grumpy', 'x')).text()).toBe('served anyway');
    await c.close();
    await waitForLog((r) => r.message.includes('onLeave failed'));
    const hookErrors = logs.filter((r) => r.code === 'NEKO_ERR_PLUGIN_HOOK');
    expect(hookErrors.map((r) => [r.level, r.plugin, r.message.split('\n')[0]])).toEqual([
      ['error', 'grumpy', 'Grumpy: onLoad failed: Error: no load for you'],
      ['error', 'grumpy', 'Grumpy: onJoin failed: Error: no join for you'],
      ['error', 'grumpy', 'Grumpy: onLeave failed: Error: no leave for you'],
    ]);
    expect(server.route('grumpy').kind).toBe('plugin');
  });
});

describe('state, sessions and broadcast', () => {
  const ROOM = `export class Logic {
  recv(ctx) {
    if (ctx.op === 1) { ctx.state.name = ctx.text(); ctx.send('named'); return; }
    if (ctx.op === 2) {
      const n = ctx.broadcast(ctx.state.name + ': ' + ctx.text(), { op: 7, except: ctx.session.id });
      ctx.send('sent to ' + n);
      return;
    }
    if (ctx.op === 3) { ctx.send(JSON.stringify(ctx.sessions().map((s) => [s.id, s.state.name]))); return; }
    if (ctx.op === 4) { ctx.send('everyone: ' + ctx.broadcast('hi all')); return; }
  }
}
`;

  it('keeps state per session, lists sessions with their state, and broadcasts to the others', async () => {
    const plugins = await makePluginsDir([{ greeter: 'room', logic: ROOM }]);
    const { port } = await startServer({ plugins });
    const mimi = await connectClient(port);
    const tama = await connectClient(port);
    const tamaPushes = tama.packets();
    await mimi.request('room', 'mimi', { op: 1 });
    await tama.request('room', 'tama', { op: 1 });

    expect((await mimi.request('room', '', { op: 3 })).json()).toEqual([
      ['s-1', 'mimi'],
      ['s-2', 'tama'],
    ]);
    expect((await mimi.request('room', 'hello', { op: 2 })).text()).toBe('sent to 1');
    const pushed = await tamaPushes.next();
    expect(pushed.done).toBe(false);
    expect(pushed.value && [pushed.value.greeter, pushed.value.op, pushed.value.text()]).toEqual([
      'room',
      7,
      'mimi: hello',
    ]);
    // Without `except`, the sender is reached too (its copy comes first, so it answers the request),
    // and the default op is the packet's.
    const own = await tama.request('room', '', { op: 4 });
    expect([own.op, own.text()]).toEqual([4, 'hi all']);
    expect((await tamaPushes.next()).value?.text()).toBe('everyone: 2');

    // A session that left is no longer listed nor reached.
    await tama.close();
    await expect
      .poll(async () => (await mimi.request('room', '', { op: 3 })).json())
      .toEqual([['s-1', 'mimi']]);
    expect((await mimi.request('room', 'anyone?', { op: 2 })).text()).toBe('sent to 0');
  });

  it('pushes each broadcast packet with a fresh random and H of that client newest verified random', async () => {
    const plugins = await makePluginsDir([{ greeter: 'room', logic: ROOM }]);
    const { port } = await startServer({ plugins });
    const listener = await authedPeer(port);
    const listenerRandom = await listener.packet('room', 'listener', { op: 1 });
    expect(await take(listener, 1)).toEqual(['room:1:named']);

    const talker = await authedPeer(port);
    await talker.packet('room', 'talker', { op: 1 });
    await take(talker, 1);
    await talker.packet('room', 'psst', { op: 2 });
    expect(await take(talker, 1)).toEqual(['room:2:sent to 1']);

    const pushed = await listener.next();
    expect([pushed.greeter, pushed.op, pushed.data.toString()]).toEqual(['room', 7, 'talker: psst']);
    expect(pushed.hash.toString()).toBe(H.hex(listenerRandom));
    // The pushed random is a live server random: the listener can chain its next packet to it.
    await listener.packet('room', '', { op: 3, serverRandom: pushed.random });
    const list = await listener.next();
    expect(list.greeter).toBe('room');
    expect(JSON.parse(list.data.toString())).toHaveLength(2);
  });

  it('send to a session that has gone returns false and does not throw', async () => {
    const { key } = eventLog();
    const plugins = await makePluginsDir([
      {
        greeter: 'keeper',
        logic: `export class Logic { recv(ctx) { globalThis.${key}.push(ctx); ctx.send('kept'); } }\n`,
      },
    ]);
    const { port } = await startServer({ plugins });
    const c = await connectClient(port);
    await c.request('keeper', 'x');
    await c.close();
    const kept = (globalThis as unknown as Record<string, Context[]>)[key]![0]!;
    await expect.poll(() => kept.send('too late')).toBe(false);
    expect(kept.broadcast('nobody')).toBe(0);
  });
});

describe('ctx.db', () => {
  it('stores documents and key-value cells per plugin, cells invisible to queries', async () => {
    const plugins = await makePluginsDir([
      {
        greeter: 'notes',
        logic: `export class Logic {
  async recv(ctx) {
    if (ctx.op === 1) { await ctx.db.insert({ text: ctx.text() }); await ctx.dbStore('last', ctx.text()); ctx.send('saved'); return; }
    const docs = await ctx.db.find({}, { projection: { text: 1, _id: 0 } });
    ctx.send(JSON.stringify({ docs, count: await ctx.db.count(), last: await ctx.dbGet('last'), none: await ctx.dbGet('none') ?? null }));
  }
}
`,
      },
      {
        greeter: 'other',
        logic: `export class Logic { async recv(ctx) { ctx.send(String(await ctx.db.count())); } }\n`,
      },
    ]);
    const { port } = await startServer({ plugins });
    const c = await connectClient(port);
    await c.request('notes', 'first', { op: 1 });
    await c.request('notes', 'second', { op: 1 });
    expect((await c.request('notes', '', { op: 2 })).json()).toEqual({
      docs: expect.arrayContaining([{ text: 'first' }, { text: 'second' }]),
      count: 2,
      last: 'second',
      none: null,
    });
    // Each plugin has its own database.
    expect((await c.request('other', '')).text()).toBe('0');
  });
});

describe('plugin databases on disk', () => {
  it('a corrupt data file makes its plugin fail to load (503), names the file, and leaves it untouched', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'neko-data-'));
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    const file = join(dataDir, 'notes.db');
    const corrupt = '{"_id":"a","text":"fine"}\nthis is not json\n{"_id":"b","text":"fine too"}\n';
    await writeFile(file, corrupt);
    const plugins = await makePluginsDir([
      { greeter: 'notes', logic: 'export class Logic { recv(ctx) { ctx.send("up"); } }\n' },
      { greeter: 'echo', logic: 'export class Logic { recv(ctx) { ctx.send(ctx.data); } }\n' },
    ]);
    const { port, logs } = await startServer({ plugins, storage: { backend: 'nedb', dir: dataDir } });
    const failure = logs.find((r) => r.code === 'NEKO_ERR_STORAGE_CORRUPT');
    expect(failure?.plugin).toBe('notes');
    expect(failure?.message).toContain(file);
    const c = await connectClient(port);
    await expect(c.request('notes', 'x')).rejects.toMatchObject({ status: 503 });
    expect((await c.request('echo', 'still serving')).text()).toBe('still serving');
    expect(await readFile(file, 'utf8')).toBe(corrupt);
  });
});

describe('loading a plugin again', () => {
  it('swaps the new version in place: onUnload then onLoad, state and database kept, running handlers finish on the old', async () => {
    const { key, events } = eventLog();
    const version = (v: number): string => `const log = globalThis.${key};
export class Logic {
  onLoad() { log.push('load v${v}'); }
  onUnload() { log.push('unload v${v}'); }
  onJoin(ctx) { log.push('join v${v}'); }
  async recv(ctx) {
    if (ctx.op === 1) { ctx.state.count = (ctx.state.count ?? 0) + 1; await ctx.dbStore('seen', ctx.state.count); }
    if (ctx.op === 2) { const next = await ctx.recv(); ctx.send('v${v} finished ' + next.text()); return; }
    ctx.send('v${v} count=' + ctx.state.count + ' seen=' + (await ctx.dbGet('seen')));
  }
}
`;
    const plugins = await makePluginsDir([{ greeter: 'counter', logic: version(1) }]);
    const { server, port } = await startServer({ plugins });
    const c = await connectClient(port);
    expect((await c.request('counter', '', { op: 1 })).text()).toBe('v1 count=1 seen=1');
    // A handler of v1 waits in recv() across the reload.
    expect((await c.request('counter', '', { op: 2 })).status).toBe(100);

    await writeFile(join(plugins, 'counter', 'logic.js'), version(2));
    const report = await server.loadPlugins(plugins);
    expect(report.loaded.map((p) => p.spec.greeter)).toEqual(['counter']);
    expect(events).toEqual(['load v1', 'join v1', 'unload v1', 'load v2']);

    expect((await c.request('counter', 'tail')).text()).toBe('v1 finished tail');
    expect((await c.request('counter', '', { op: 1 })).text()).toBe('v2 count=2 seen=2');
    // The session had joined already: no second onJoin.
    expect(events.filter((e) => e.startsWith('join'))).toEqual(['join v1']);
  });
});
