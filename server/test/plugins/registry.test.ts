/**
 * Loading plugins over plugins already served (`server.loadPlugins()`, which
 * is `PluginRegistry.load`), and what shutdown closes. Real plugin folders
 * in temp dirs; nedb data files where closing and compaction matter.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { NekoError } from '../../src/errors.js';
import type { ManagedDatabase, StorageBackend } from '../../src/storage/database.js';
import { NedbStorage } from '../../src/storage/nedb/storage.js';
import { eventLog, LOGIC, makePluginsDir } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';

/**
 * A logic that records its import and hooks under `globalThis[key]`, counts
 * in `ctx.state` and the database on op 1, and answers
 * `<tag> count=<n> seen=<n>`, so a test sees which version answered and
 * what carried over.
 */
function trackedLogic(key: string, tag: string): string {
  return `const events = globalThis[${JSON.stringify(key)}];
events.push('import ${tag}');
export class Logic {
  onLoad() { events.push('load ${tag}'); }
  onUnload() { events.push('unload ${tag}'); }
  async recv(ctx) {
    if (ctx.op === 1) {
      ctx.state.count = (ctx.state.count ?? 0) + 1;
      await ctx.dbStore('seen', ctx.state.count);
    }
    ctx.send('${tag} count=' + (ctx.state.count ?? 0) + ' seen=' + (await ctx.dbGet('seen')));
  }
}
`;
}

/** A data directory in a fresh temp dir, removed when the test finishes. */
async function dataDir(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'neko-registry-data-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  return path.join(root, 'data');
}

/** The lines of a nedb data file. */
async function dataLines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
}

describe('loading a plugins folder whose greeter another folder serves', () => {
  it('is refused with NEKO_ERR_PLUGIN_DUPLICATE_GREETER; the plugin serving keeps serving, untouched', async () => {
    const { key, events } = eventLog();
    const first = await makePluginsDir([{ greeter: 'chat', logic: trackedLogic(key, 'first') }]);
    const second = await makePluginsDir([{ greeter: 'chat', logic: trackedLogic(key, 'second') }]);
    const { server, port, logs } = await startServer({ plugins: first });
    const client = await connectClient(port);
    expect((await client.request('chat', '', { op: 1 })).text()).toBe('first count=1 seen=1');
    const host = server.plugins()[0]!;

    for (const dir of [second, path.join(second, 'chat')]) {
      const report = await server.loadPlugins(dir);
      expect(report.loaded).toEqual([]);
      expect(report.failed).toHaveLength(1);
      const error = report.failed[0]!.error;
      expect(error.code).toBe('NEKO_ERR_PLUGIN_DUPLICATE_GREETER');
      expect(error.message).toContain(path.join(first, 'chat'));
      expect(error.message).toContain(path.join(second, 'chat'));
    }

    // The first folder's plugin: same host, same version, same state; the second's code never ran.
    expect(server.plugins()).toEqual([host]);
    expect(host.version).toBe(1);
    expect(host.plugin.dir).toBe(path.join(first, 'chat'));
    expect(events).toEqual(['import first', 'load first']);
    expect((await client.request('chat', '')).text()).toBe('first count=1 seen=1');

    const logged = logs.filter((r) => r.level === 'error');
    expect(logged.map((r) => r.code)).toEqual([
      'NEKO_ERR_PLUGIN_DUPLICATE_GREETER',
      'NEKO_ERR_PLUGIN_DUPLICATE_GREETER',
    ]);
    expect(logged[0]!.message).toContain(path.join(first, 'chat'));
    expect(logged[0]!.message).toContain(path.join(second, 'chat'));

    const statuses = server.pluginStatuses();
    expect(statuses.map((s) => [s.dir, s.greeter, s.status, s.problem?.error.code])).toEqual([
      [path.join(first, 'chat'), 'chat', 'loaded', undefined],
      [path.join(second, 'chat'), 'chat', 'failed', 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER'],
    ]);
    expect(statuses[0]!.host).toBe(host);
  });

  it('loads the other plugins of that folder', async () => {
    const first = await makePluginsDir([{ greeter: 'chat', logic: LOGIC.echo }]);
    const second = await makePluginsDir([
      { greeter: 'chat', logic: LOGIC.closer },
      { greeter: 'todo', logic: LOGIC.echo },
    ]);
    const { server, port } = await startServer({ plugins: first });
    const report = await server.loadPlugins(second);
    expect(report.loaded.map((p) => p.dir)).toEqual([path.join(second, 'todo')]);
    expect(report.failed.map((f) => [f.dir, f.error.code])).toEqual([
      [path.join(second, 'chat'), 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER'],
    ]);
    const client = await connectClient(port);
    expect((await client.request('chat', 'hi')).text()).toBe('hi');
    expect((await client.request('todo', 'yo')).text()).toBe('yo');
  });

  it('loading the same folder again swaps the new version in place', async () => {
    const { key, events } = eventLog();
    const plugins = await makePluginsDir([{ greeter: 'chat', logic: trackedLogic(key, 'v1') }]);
    const { server, port } = await startServer({ plugins });
    const client = await connectClient(port);
    expect((await client.request('chat', '', { op: 1 })).text()).toBe('v1 count=1 seen=1');
    const host = server.plugins()[0]!;
    await writeFile(path.join(plugins, 'chat', 'logic.js'), trackedLogic(key, 'v2'));
    const report = await server.loadPlugins(plugins);
    expect(report.failed).toEqual([]);
    expect(report.loaded.map((p) => p.dir)).toEqual([path.join(plugins, 'chat')]);
    expect(server.plugins()).toEqual([host]);
    expect(host.version).toBe(2);
    expect(events).toEqual(['import v1', 'load v1', 'import v2', 'unload v1', 'load v2']);
    expect((await client.request('chat', '')).text()).toBe('v2 count=1 seen=1');
  });
});

describe('a failed load of a folder whose plugin serves', () => {
  const breakages: [string, string, (dir: string) => Promise<void>][] = [
    [
      'its module throws on import',
      'NEKO_ERR_PLUGIN_IMPORT',
      (dir) => writeFile(path.join(dir, 'logic.js'), LOGIC.importThrows),
    ],
    [
      'it has no recv',
      'NEKO_ERR_PLUGIN_NO_RECV',
      (dir) => writeFile(path.join(dir, 'logic.js'), 'export class Logic {}\n'),
    ],
    ['its logic file is gone', 'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND', (dir) => rm(path.join(dir, 'logic.js'))],
    [
      'its spec.conf does not parse',
      'NEKO_ERR_SPEC_SYNTAX',
      (dir) => writeFile(path.join(dir, 'spec.conf'), '$name "x";\n'),
    ],
  ];

  for (const [what, code, breakIt] of breakages) {
    it(`(${what}) leaves the version serving; shutdown still unloads it and closes its database`, async () => {
      const { key, events } = eventLog();
      const plugins = await makePluginsDir([{ greeter: 'keep', logic: trackedLogic(key, 'good') }]);
      const storage = { backend: 'nedb', dir: await dataDir(), compactionIntervalMs: 0 } as const;
      const { server, port, logs } = await startServer({ plugins, storage });
      const client = await connectClient(port);
      for (let n = 1; n <= 3; n++) await client.request('keep', '', { op: 1 });
      const host = server.plugins()[0]!;
      const dir = path.join(plugins, 'keep');
      await breakIt(dir);

      for (const loaded of [plugins, dir]) {
        const report = await server.loadPlugins(loaded);
        expect(report.loaded).toEqual([]);
        expect(report.failed.map((f) => [f.dir, f.error.code])).toEqual([[dir, code]]);
      }
      expect((await client.request('keep', '')).text()).toBe('good count=3 seen=3');
      expect(server.plugins()).toEqual([host]);
      expect(host.version).toBe(1);
      expect(logs.filter((r) => r.level === 'error').map((r) => r.code)).toEqual([code, code]);
      const [status] = server.pluginStatuses();
      expect([status?.dir, status?.status, status?.host, status?.problem?.error.code]).toEqual([
        dir,
        'loaded',
        host,
        code,
      ]);

      // Three writes of the cell, and the cell index: four lines until compacted.
      expect(await dataLines(host.db.location)).toHaveLength(4);
      await client.close();
      await server.close();
      expect(events.filter((e) => e.startsWith('unload'))).toEqual(['unload good']);
      await expect(host.db.get('seen')).rejects.toMatchObject({ code: 'NEKO_ERR_STORAGE_CLOSED' });
      expect(await dataLines(host.db.location)).toHaveLength(2);
    });
  }

  it('swaps in the new version without opening its database again', async () => {
    // A backend that refuses a second open: the host keeps its database across versions, so a load of
    // the folder serving needs none, and a refusal could only take the serving version down.
    const inner = new NedbStorage({ inMemory: true });
    const opened: string[] = [];
    const storage: StorageBackend = {
      open(greeter: string): Promise<ManagedDatabase> {
        opened.push(greeter);
        if (opened.length > 1) {
          return Promise.reject(new NekoError('NEKO_ERR_STORAGE_UNREADABLE', `cannot open ${greeter} twice`));
        }
        return inner.open(greeter);
      },
      closeAll: () => inner.closeAll(),
    };
    const { key } = eventLog();
    const plugins = await makePluginsDir([{ greeter: 'keep', logic: trackedLogic(key, 'v1') }]);
    const { server, port } = await startServer({ plugins, storage: { backend: storage } });
    const client = await connectClient(port);
    expect((await client.request('keep', '', { op: 1 })).text()).toBe('v1 count=1 seen=1');
    await writeFile(path.join(plugins, 'keep', 'logic.js'), trackedLogic(key, 'v2'));
    const report = await server.loadPlugins(plugins);
    expect(report.failed).toEqual([]);
    expect((await client.request('keep', '')).text()).toBe('v2 count=1 seen=1');
    expect(opened).toEqual(['keep']);
  });
});

describe('shutdown', () => {
  it('closes a database opened by a load still under way', async () => {
    const { key } = eventLog();
    // onLoad stores a cell twice, hands its database over, then waits for the gate.
    let openGate = (): void => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let handOver = (_db: ManagedDatabase): void => undefined;
    const started = new Promise<ManagedDatabase>((resolve) => (handOver = resolve));
    const hooksKey = `${key}Hooks`;
    (globalThis as Record<string, unknown>)[hooksKey] = { gate, started: handOver };
    onTestFinished(() => {
      openGate();
      delete (globalThis as Record<string, unknown>)[hooksKey];
    });
    const plugins = await makePluginsDir([
      {
        greeter: 'slow',
        logic: `const hooks = globalThis[${JSON.stringify(hooksKey)}];
export class Logic {
  async onLoad(plugin) {
    await plugin.dbStore('k', 1);
    await plugin.dbStore('k', 2);
    hooks.started(plugin.db);
    await hooks.gate;
  }
  recv() {}
}
`,
      },
    ]);
    const { server } = await startServer({
      storage: { backend: 'nedb', dir: await dataDir(), compactionIntervalMs: 0 },
    });
    const loading = server.loadPlugins(plugins);
    const db = await started;
    expect(await dataLines(db.location)).toHaveLength(3);
    await server.close();
    await expect(db.get('k')).rejects.toMatchObject({ code: 'NEKO_ERR_STORAGE_CLOSED' });
    expect(await dataLines(db.location)).toHaveLength(2);
    openGate();
    await loading;
  });
});
