import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventLog, makePluginsDir } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';

const CHAT = (tag: string, key = ''): string => `const log = globalThis.${key || '__none'} ?? [];
export class Logic {
  async onLeave(ctx) { log.push('leave ' + ctx.session.id + ' in ' + JSON.stringify(await ctx.group('lobby').members())); }
  async recv(ctx) {
    const [cmd, arg = '', rest = ''] = ctx.text().split(' ');
    const lobby = ctx.group('lobby');
    if (cmd === 'dm') { ctx.send('${tag} ' + (await ctx.sendTo(arg, rest, { op: 9 }))); return; }
    if (cmd === 'join') { ctx.send('${tag} ' + (await lobby.add(arg || ctx.session.id))); return; }
    if (cmd === 'part') { ctx.send('${tag} ' + (await lobby.remove(arg || ctx.session.id))); return; }
    if (cmd === 'who') { ctx.send('${tag} ' + JSON.stringify(await lobby.members())); return; }
    if (cmd === 'say') { ctx.send('${tag} ' + lobby.broadcast(arg, { op: 8, except: ctx.session.id })); return; }
    if (cmd === 'all') { ctx.send('${tag} ' + lobby.broadcast(arg)); return; }
    ctx.send('${tag} hi');
  }
}
`;

describe('ctx.sendTo', () => {
  it('delivers to one session of the plugin, and says gone for a session that is not there', async () => {
    const plugins = await makePluginsDir([{ greeter: 'chat', logic: CHAT('v1') }]);
    const { port } = await startServer({ plugins });
    const mimi = await connectClient(port);
    const tama = await connectClient(port);
    const tamaPushes = tama.packets();
    await mimi.request('chat', 'hello');
    await tama.request('chat', 'hello');

    expect((await mimi.request('chat', 'dm s-2 psst')).text()).toBe('v1 delivered');
    const pushed = (await tamaPushes.next()).value;
    expect(pushed && [pushed.greeter, pushed.op, pushed.text()]).toEqual(['chat', 9, 'psst']);
    expect((await mimi.request('chat', 'dm s-99 nobody')).text()).toBe('v1 gone');

    await tama.close();
    await expect.poll(async () => (await mimi.request('chat', 'dm s-2 late')).text()).toBe('v1 gone');
  });

  it('says gone for a session connected to the server that never talked to this plugin', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'chat', logic: CHAT('v1') },
      { greeter: 'other', logic: CHAT('o') },
    ]);
    const { port } = await startServer({ plugins });
    const mimi = await connectClient(port);
    const tama = await connectClient(port);
    await tama.request('other', 'hello');
    expect((await mimi.request('chat', 'dm s-2 psst')).text()).toBe('v1 gone');
  });
});

describe('ctx.group', () => {
  it('adds, lists, broadcasts to its members (minus except) and removes', async () => {
    const plugins = await makePluginsDir([{ greeter: 'chat', logic: CHAT('v1') }]);
    const { port } = await startServer({ plugins });
    const a = await connectClient(port);
    const b = await connectClient(port);
    const c = await connectClient(port);
    const bPushes = b.packets();
    await c.request('chat', 'hello');

    expect((await a.request('chat', 'join')).text()).toBe('v1 true');
    expect((await b.request('chat', 'join')).text()).toBe('v1 true');
    expect((await b.request('chat', 'join')).text()).toBe('v1 true');
    // An unknown session is not added.
    expect((await a.request('chat', 'join s-99')).text()).toBe('v1 false');
    expect((await a.request('chat', 'who')).text()).toBe('v1 ["s-1","s-2"]');

    // c is not in the group: reached by neither; a is left out by except.
    expect((await a.request('chat', 'say meow')).text()).toBe('v1 1');
    const pushed = (await bPushes.next()).value;
    expect(pushed && [pushed.greeter, pushed.op, pushed.text()]).toEqual(['chat', 8, 'meow']);

    expect((await b.request('chat', 'part')).text()).toBe('v1 true');
    expect((await b.request('chat', 'part')).text()).toBe('v1 false');
    expect((await a.request('chat', 'who')).text()).toBe('v1 ["s-1"]');
    // Without except the sender is reached too; its copy answers the request.
    const own = await a.request('chat', 'all purr');
    expect([own.op, own.text()]).toEqual([0, 'purr']);
  });

  it('takes a session that leaves the plugin out of its groups before onLeave runs', async () => {
    const { key, events } = eventLog();
    const plugins = await makePluginsDir([{ greeter: 'chat', logic: CHAT('v1', key) }]);
    const { port } = await startServer({ plugins });
    const a = await connectClient(port);
    const b = await connectClient(port);
    await a.request('chat', 'join');
    await b.request('chat', 'join');
    await b.close();
    await expect.poll(() => events).toEqual(['leave s-2 in ["s-1"]']);
    expect((await a.request('chat', 'who')).text()).toBe('v1 ["s-1"]');
    expect((await a.request('chat', 'say hi')).text()).toBe('v1 0');
  });

  it('keeps its members across a reload of the plugin', async () => {
    const plugins = await makePluginsDir([{ greeter: 'chat', logic: CHAT('v1') }]);
    const { server, port } = await startServer({ plugins });
    const a = await connectClient(port);
    const b = await connectClient(port);
    const bPushes = b.packets();
    await a.request('chat', 'join');
    await b.request('chat', 'join');

    await writeFile(join(plugins, 'chat', 'logic.js'), CHAT('v2'));
    await server.reloadPlugin(join(plugins, 'chat'));
    expect((await a.request('chat', 'who')).text()).toBe('v2 ["s-1","s-2"]');
    expect((await a.request('chat', 'say again')).text()).toBe('v2 1');
    expect((await bPushes.next()).value?.text()).toBe('again');
  });
});
