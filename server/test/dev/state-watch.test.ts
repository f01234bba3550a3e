import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makePluginsDir } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';
import { eventLog, sleep, watch } from './helpers.js';

/** Op 1 keeps a Map in ctx.state.seen, op 2 a plain nick, op 3 adds to the Map, op 4 a function in onMove. */
const LOGIC = (tag: string): string => `export class Logic {
  recv(ctx) {
    if (ctx.op === 1) ctx.state.seen = new Map([['a', 1]]);
    if (ctx.op === 2) ctx.state.nick = 'mimi';
    if (ctx.op === 3) ctx.state.seen.set('b', 2);
    if (ctx.op === 4) ctx.state.onMove = () => 1;
    ctx.send('${tag}');
  }
}
`;

describe('watchPlugins: ctx.state that JSON cannot carry', () => {
  it('warns once per plugin, session and top-level key, naming the plugin, the session, the path and the fix', async () => {
    const plugins = await makePluginsDir([{ greeter: 'game', logic: LOGIC('v1') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log, { stateCheckMs: 20 });
    const mimi = await connectClient(port);
    const tama = await connectClient(port);

    const first = log.next('state');
    await mimi.request('game', '', { op: 1 });
    const event = await first;
    const mimiId = server.sessions()[0]!.id;
    expect(event).toMatchObject({
      greeter: 'game',
      dir: path.join(plugins, 'game'),
      session: mimiId,
      problem: { key: 'seen', path: 'ctx.state.seen', what: 'a Map' },
    });
    expect(event.warning.code).toBe('NEKO_ERR_DEV_STATE_NOT_JSON');
    expect(event.warning.message).toBe(
      `plugin "game", session ${mimiId}: ctx.state.seen is a Map; ctx.state must be JSON-serialisable (plain objects, arrays, strings, finite numbers, booleans, null)`,
    );
    expect(event.warning.hint).toMatch(/^JSON writes it as \{\}/);

    // The same key again, a plain key: nothing new. Another key, another session: one each.
    await mimi.request('game', '', { op: 3 });
    await mimi.request('game', '', { op: 2 });
    await mimi.request('game', '', { op: 4 });
    await tama.request('game', '', { op: 1 });
    await sleep(150);
    expect(log.of('state').map((e) => [e.session, e.problem.path])).toEqual([
      [mimiId, 'ctx.state.seen'],
      [mimiId, 'ctx.state.onMove'],
      [server.sessions()[1]!.id, 'ctx.state.seen'],
    ]);
  });

  it('checks after a reload, since the new version takes over the states', async () => {
    const plugins = await makePluginsDir([{ greeter: 'game', logic: LOGIC('v1') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    // A period too long to matter here: only the reload checks.
    await watch(server, plugins, log, { stateCheckMs: 600_000 });
    const mimi = await connectClient(port);
    await mimi.request('game', '', { op: 4 });
    await sleep(100);
    expect(log.of('state')).toEqual([]);

    const reloaded = log.next('reloaded');
    const warned = log.next('state');
    await writeFile(path.join(plugins, 'game', 'logic.js'), LOGIC('v2'));
    await reloaded;
    expect((await warned).problem).toMatchObject({ path: 'ctx.state.onMove', what: 'a function' });
  });

  it('stateCheckMs: 0 turns the check off', async () => {
    const plugins = await makePluginsDir([{ greeter: 'game', logic: LOGIC('v1') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    const watcher = await watch(server, plugins, log, { stateCheckMs: 0 });
    const mimi = await connectClient(port);
    await mimi.request('game', '', { op: 1 });
    const reloaded = log.next('reloaded');
    await watcher.reloadAll();
    await reloaded;
    await sleep(100);
    expect(log.of('state')).toEqual([]);
  });
});
