import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makePluginsDir, specConf } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';
import { addPlugin, counterLogic } from './helpers.js';

describe('server.reloadPlugin(dir)', () => {
  it('numbers each version of a greeter: 1 at the first load, one more per reload', async () => {
    const plugins = await makePluginsDir([{ greeter: 'n', logic: counterLogic('v1') }]);
    const { server, port } = await startServer({ plugins });
    expect(server.plugins().map((h) => h.version)).toEqual([1]);
    const dir = path.join(plugins, 'n');
    await writeFile(path.join(dir, 'logic.js'), counterLogic('v2'));
    const outcome = await server.reloadPlugin(dir);
    expect(outcome).toMatchObject({ kind: 'loaded', dir, version: 2, added: false });
    expect(server.plugins().map((h) => h.version)).toEqual([2]);
    // Loading the whole directory again also counts.
    await server.loadPlugins(plugins);
    expect(server.plugins().map((h) => h.version)).toEqual([3]);
    const client = await connectClient(port);
    expect((await client.request('n', '')).text()).toMatch(/^v2 /);
  });

  it('keeps the version serving when the new one fails, and says which', async () => {
    const plugins = await makePluginsDir([{ greeter: 'keep', logic: counterLogic('good') }]);
    const { server, port, logs } = await startServer({ plugins });
    const dir = path.join(plugins, 'keep');
    await writeFile(path.join(dir, 'logic.js'), 'export class Logic {}\n');
    const outcome = await server.reloadPlugin(dir);
    expect(outcome).toMatchObject({ kind: 'failed', serving: 1, spec: { greeter: 'keep' } });
    expect(outcome.kind === 'failed' && outcome.error.code).toBe('NEKO_ERR_PLUGIN_NO_RECV');
    const client = await connectClient(port);
    expect((await client.request('keep', '')).text()).toMatch(/^good /);
    // It logs nothing: the caller reports.
    expect(logs.filter((r) => r.level !== 'info')).toEqual([]);
  });

  it('marks a greeter that was never served 503 when its plugin fails, and mounts it once it loads', async () => {
    const plugins = await makePluginsDir([]);
    const dir = await addPlugin(plugins, 'late', 'export class Logic {}\n');
    const { server, port } = await startServer();
    expect(await server.reloadPlugin(dir)).toMatchObject({ kind: 'failed', spec: { greeter: 'late' } });
    const client = await connectClient(port);
    await expect(client.request('late', '')).rejects.toMatchObject({ status: 503 });
    await writeFile(path.join(dir, 'logic.js'), counterLogic('late'));
    expect(await server.reloadPlugin(dir)).toMatchObject({ kind: 'loaded', added: true, version: 1 });
    expect((await client.request('late', '')).text()).toMatch(/^late /);
  });

  it('refuses a greeter another folder serves, naming both folders', async () => {
    const plugins = await makePluginsDir([{ greeter: 'taken', logic: counterLogic('first') }]);
    const { server, port } = await startServer({ plugins });
    const copy = await addPlugin(plugins, 'copy', counterLogic('second'));
    await writeFile(path.join(copy, 'spec.conf'), specConf('Copy', 'taken'));
    const outcome = await server.reloadPlugin(copy);
    expect(outcome.kind).toBe('failed');
    if (outcome.kind !== 'failed') return;
    expect(outcome.error.code).toBe('NEKO_ERR_PLUGIN_DUPLICATE_GREETER');
    expect(outcome.error.message).toBe(
      `greeter "taken" is declared by ${copy} and by ${path.join(plugins, 'taken')}: ` +
        `${path.join(plugins, 'taken')} keeps serving it, ${copy} is refused`,
    );
    expect(outcome.error.location?.file).toBe(path.join(copy, 'spec.conf'));
    const client = await connectClient(port);
    expect((await client.request('taken', '')).text()).toMatch(/^first /);
  });

  it('takes the greeter down when the folder lost its spec.conf; a folder that served nothing is none', async () => {
    const plugins = await makePluginsDir([{ greeter: 'gone', logic: counterLogic('v1') }]);
    const { server, port } = await startServer({ plugins });
    const dir = path.join(plugins, 'gone');
    await rm(dir, { recursive: true });
    expect(await server.reloadPlugin(dir)).toEqual({ kind: 'removed', dir, greeter: 'gone' });
    expect(await server.reloadPlugin(dir)).toEqual({ kind: 'none', dir });
    const client = await connectClient(port);
    await expect(client.request('gone', '')).rejects.toMatchObject({ status: 404 });
  });

  it('a 503 greeter of a folder that failed at start-up answers 404 once the folder is gone', async () => {
    const plugins = await makePluginsDir([{ greeter: 'bad', logic: 'export class Logic {}\n' }]);
    const { server, port } = await startServer({ plugins });
    const client = await connectClient(port);
    await expect(client.request('bad', '')).rejects.toMatchObject({ status: 503 });
    const dir = path.join(plugins, 'bad');
    await rm(dir, { recursive: true });
    expect(await server.reloadPlugin(dir)).toEqual({ kind: 'removed', dir, greeter: 'bad' });
    await expect(client.request('bad', '')).rejects.toMatchObject({ status: 404 });
  });
});

describe('server.unloadPlugin(greeter)', () => {
  it('answers 404 from then on, runs onUnload (not onLeave after it) and closes the database', async () => {
    const events: string[] = [];
    (globalThis as Record<string, unknown>).__nekoUnloadEvents = events;
    const plugins = await makePluginsDir([
      {
        greeter: 'u',
        logic: `const log = globalThis.__nekoUnloadEvents;
export class Logic {
  onUnload() { log.push('unload'); }
  onLeave() { log.push('leave'); }
  async recv(ctx) { await ctx.dbStore('k', 1); ctx.send('ok'); }
}
`,
      },
    ]);
    const { server, port } = await startServer({ plugins });
    const client = await connectClient(port);
    expect((await client.request('u', '')).text()).toBe('ok');
    const host = server.plugins()[0]!;
    expect(await server.unloadPlugin('u')).toBe(true);
    expect(await server.unloadPlugin('u')).toBe(false);
    await expect(client.request('u', '')).rejects.toMatchObject({ status: 404 });
    await expect(host.db.get('k')).rejects.toMatchObject({ code: 'NEKO_ERR_STORAGE_CLOSED' });
    await client.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(['unload']);
    delete (globalThis as Record<string, unknown>).__nekoUnloadEvents;
  });
});
