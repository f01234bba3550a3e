import { writeFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makePluginsDir, specConf } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';
import { addPlugin, counterLogic, eventLog, linkNekoconnect, sleep, watch } from './helpers.js';

/** A per-test global the plugins loaded in this process can reach. */
function shared<T>(value: T): { key: string; value: T } {
  const key = `__nekoDev${Math.random().toString(36).slice(2)}`;
  (globalThis as Record<string, unknown>)[key] = value;
  onTestFinished(() => {
    delete (globalThis as Record<string, unknown>)[key];
  });
  return { key, value };
}

describe('watchPlugins: a change reloads the plugin in place', () => {
  it('a connected client sees the new version on the same connection; ctx.state and the database carry over', async () => {
    const plugins = await makePluginsDir([{ greeter: 'counter', logic: counterLogic('v1') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const client = await connectClient(port);
    expect((await client.request('counter', '', { op: 1 })).text()).toBe('v1 count=1 seen=1');

    const reloaded = log.next('reloaded');
    await writeFile(path.join(plugins, 'counter', 'logic.js'), counterLogic('v2'));
    expect(await reloaded).toMatchObject({
      type: 'reloaded',
      greeter: 'counter',
      name: 'counter',
      version: 2,
      added: false,
      dir: path.join(plugins, 'counter'),
    });
    expect((await client.request('counter', '', { op: 1 })).text()).toBe('v2 count=2 seen=2');

    const again = log.next('reloaded');
    await writeFile(path.join(plugins, 'counter', 'logic.js'), counterLogic('v3'));
    expect((await again).version).toBe(3);
    expect((await client.request('counter', '', { op: 1 })).text()).toBe('v3 count=3 seen=3');
    expect(server.plugins().map((h) => [h.greeter, h.version])).toEqual([['counter', 3]]);
    expect(server.connectionCount).toBe(1);
  });

  it('runs the old version onUnload, then the new one onLoad', async () => {
    const { key, value: hooks } = shared<string[]>([]);
    const logic = (v: number): string => `const log = globalThis.${key};
export class Logic {
  onLoad() { log.push('load v${v}'); }
  onUnload() { log.push('unload v${v}'); }
  recv(ctx) { ctx.send('v${v}'); }
}
`;
    const plugins = await makePluginsDir([{ greeter: 'hooks', logic: logic(1) }]);
    const { server } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const reloaded = log.next('reloaded');
    await writeFile(path.join(plugins, 'hooks', 'logic.js'), logic(2));
    await reloaded;
    expect(hooks).toEqual(['load v1', 'unload v1', 'load v2']);
  });

  it('a handler in flight during a reload finishes on the version it started on', async () => {
    let release!: () => void;
    const { key } = shared(new Promise<void>((resolve) => (release = resolve)));
    const logic = (v: number): string => `export class Logic {
  async recv(ctx) {
    if (ctx.text() === 'slow') await globalThis.${key};
    ctx.send('v${v} ' + ctx.text());
  }
}
`;
    const plugins = await makePluginsDir([{ greeter: 'slow', logic: logic(1) }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const slowClient = await connectClient(port);
    const inFlight = slowClient.request('slow', 'slow');
    await sleep(50);

    const reloaded = log.next('reloaded');
    await writeFile(path.join(plugins, 'slow', 'logic.js'), logic(2));
    await reloaded;
    const other = await connectClient(port);
    expect((await other.request('slow', 'fast')).text()).toBe('v2 fast');
    release();
    expect((await inFlight).text()).toBe('v1 slow');
    expect((await slowClient.request('slow', 'next')).text()).toBe('v2 next');
  });

  it('a burst of 10 saves gives one reload, of the last save', async () => {
    const plugins = await makePluginsDir([{ greeter: 'burst', logic: counterLogic('v0') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    const watcher = await watch(server, plugins, log);
    const reloaded = log.next('reloaded');
    // Ten saves in a row, as fast as an editor's "save all" or a formatter writes.
    for (let i = 1; i <= 10; i++)
      writeFileSync(path.join(plugins, 'burst', 'logic.js'), counterLogic(`save${i}`));
    await reloaded;
    await sleep(200);
    await watcher.idle();
    expect(log.of('reloaded').map((e) => e.version)).toEqual([2]);
    const client = await connectClient(port);
    expect((await client.request('burst', '')).text()).toMatch(/^save10 /);
  });

  it("the plugin's own database writes, the server's bundles, build output and files that are not source never reload it", async () => {
    const plugins = await makePluginsDir([{ greeter: 'store', logic: counterLogic('v1') }]);
    // The data directory and the cache dir inside the plugin folder, under names the watcher
    // would otherwise look into.
    const dataDir = path.join(plugins, 'store', 'data');
    const cacheDir = path.join(plugins, 'store', 'bundles');
    const { server, port } = await startServer({
      plugins,
      storage: { backend: 'nedb', dir: dataDir, compactionIntervalMs: 0 },
      cacheDir,
    });
    const log = eventLog();
    const watcher = await watch(server, plugins, log, { dataDir, cacheDir });
    // A TypeScript plugin added: its bundle goes to the cache dir inside the store plugin's folder.
    const added = log.next('reloaded');
    await addPlugin(
      plugins,
      'later',
      'export class Logic { recv(ctx: any): void { ctx.send("later"); } }\n',
      'logic.ts',
    );
    await added;
    expect((await readdir(cacheDir)).some((name) => name.startsWith('later-'))).toBe(true);
    await sleep(300);
    await watcher.idle();
    expect(log.events.map((event) => event.type)).toEqual(['reloaded']);
    log.events.length = 0;
    const client = await connectClient(port);
    for (let i = 1; i <= 20; i++) await client.request('store', '', { op: 1 });
    expect(await readdir(dataDir)).toContain('store.db');
    await mkdir(path.join(plugins, 'store', '.nekoconnect', 'build'), { recursive: true });
    await writeFile(path.join(plugins, 'store', '.nekoconnect', 'build', 'logic.abc.mjs'), 'x');
    await mkdir(path.join(plugins, 'store', 'node_modules', 'dep'), { recursive: true });
    await writeFile(path.join(plugins, 'store', 'node_modules', 'dep', 'index.js'), 'x');
    await mkdir(path.join(plugins, 'store', 'dist'), { recursive: true });
    await writeFile(path.join(plugins, 'store', 'dist', 'logic.js'), 'x');
    await writeFile(path.join(plugins, 'store', 'notes.md'), 'x');
    await writeFile(path.join(plugins, 'store', 'logic.test.js'), 'x');
    await sleep(300);
    await watcher.idle();
    expect(log.events).toEqual([]);
    expect((await client.request('store', '')).text()).toBe('v1 count=20 seen=20');
  });
});

describe('watchPlugins: broken saves', () => {
  it('a save that fails validation keeps the last good version serving; the next good save recovers', async () => {
    const plugins = await makePluginsDir([]);
    await linkNekoconnect(plugins);
    const logic = (body: string): string => `import type { Context } from 'nekoconnect';

export class Logic {
  recv(ctx: Context): void {
    ${body}
  }
}
`;
    await addPlugin(plugins, 'typed', logic("ctx.send('v1');"), 'logic.ts');
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log, { validate: true });
    const client = await connectClient(port);
    expect((await client.request('typed', '')).text()).toBe('v1');
    const file = path.join(plugins, 'typed', 'logic.ts');

    const rejected = log.next('rejected', undefined, 15_000);
    await writeFile(file, logic("const n: number = 'two';\n    ctx.send('v2 ' + n);"));
    expect(await rejected).toMatchObject({ stage: 'validate', greeter: 'typed', serving: 1 });
    const [error] = (await rejected).errors;
    expect(error?.code).toBe('NEKO_ERR_VALIDATE_TYPESCRIPT');
    expect(error?.location).toEqual({ file, line: 5, column: 11 });
    expect((await client.request('typed', '')).text()).toBe('v1');

    const reloaded = log.next('reloaded');
    await writeFile(file, logic("ctx.send('v2');"));
    expect((await reloaded).version).toBe(2);
    expect((await client.request('typed', '')).text()).toBe('v2');
    expect(log.of('rejected')).toHaveLength(1);
  });

  it('a save that fails to load (the module throws) keeps the last good version serving', async () => {
    const plugins = await makePluginsDir([{ greeter: 'fragile', logic: counterLogic('v1') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const client = await connectClient(port);
    const file = path.join(plugins, 'fragile', 'logic.js');

    const rejected = log.next('rejected');
    await writeFile(file, `throw new Error('broken on purpose');\n${counterLogic('v2')}`);
    expect(await rejected).toMatchObject({ stage: 'load', greeter: 'fragile', serving: 1 });
    expect((await rejected).errors.map((e) => e.code)).toEqual(['NEKO_ERR_PLUGIN_IMPORT']);
    expect((await client.request('fragile', '')).text()).toBe('v1 count=0 seen=undefined');

    const broken = log.next('rejected');
    await writeFile(file, 'export class Logic {\n  recv(ctx) {\n    ctx.send(;\n  }\n}\n');
    expect((await broken).errors.map((e) => e.code)).toEqual(['NEKO_ERR_PLUGIN_IMPORT']);

    const reloaded = log.next('reloaded');
    await writeFile(file, counterLogic('v2'));
    expect((await reloaded).version).toBe(2);
    expect((await client.request('fragile', '')).text()).toBe('v2 count=0 seen=undefined');
  });

  it('a plugin that never loaded answers 503 while it fails to load; validation problems found at start-up are reported', async () => {
    const plugins = await makePluginsDir([{ greeter: 'never', logic: 'export class Logic {}\n' }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    const watcher = await watch(server, plugins, log, { validate: true });
    await watcher.idle();
    expect(log.of('validated')).toMatchObject([{ plugins: 1 }]);
    // The validator finds the load failure again (NEKO_ERR_PLUGIN_NO_RECV): loading reported it, so it is not repeated.
    expect(server.pluginStatuses().map((s) => s.problem?.error.code)).toEqual(['NEKO_ERR_PLUGIN_NO_RECV']);
    expect(log.of('checked')).toEqual([]);
    const client = await connectClient(port);
    await expect(client.request('never', '')).rejects.toMatchObject({ status: 503 });
    const file = path.join(plugins, 'never', 'logic.js');

    const stillBroken = log.next('rejected');
    await writeFile(
      file,
      "globalThis.nothing.boom();\nexport class Logic { recv(ctx) { ctx.send('x'); } }\n",
    );
    expect(await stillBroken).toMatchObject({ stage: 'load', greeter: 'never', answers: 503 });
    await expect(client.request('never', '')).rejects.toMatchObject({ status: 503 });

    const loaded = log.next('reloaded');
    await writeFile(file, "export class Logic { recv(ctx) { ctx.send('at last'); } }\n");
    expect(await loaded).toMatchObject({ added: true, version: 1 });
    expect((await client.request('never', '')).text()).toBe('at last');
  });

  it('a broken spec.conf keeps the plugin serving, with the error located in spec.conf', async () => {
    const plugins = await makePluginsDir([{ greeter: 'spec', logic: counterLogic('v1') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const specFile = path.join(plugins, 'spec', 'spec.conf');
    const rejected = log.next('rejected');
    await writeFile(specFile, '$name {"spec"};\n$greet "spec";\n$logic {"logic"};\n$version {"1.0.0"};\n');
    const event = await rejected;
    expect(event).toMatchObject({ stage: 'load', serving: 1 });
    expect(event.errors[0]).toMatchObject({
      code: 'NEKO_ERR_SPEC_SYNTAX',
      location: { file: specFile, line: 2 },
    });
    const client = await connectClient(port);
    expect((await client.request('spec', '')).text()).toMatch(/^v1 /);
  });
});

describe('watchPlugins: plugin folders that come and go', () => {
  it('loads a new plugin folder, and unloads a removed one (404, onUnload ran, database closed)', async () => {
    const { key, value: hooks } = shared<string[]>([]);
    const plugins = await makePluginsDir([{ greeter: 'stay', logic: counterLogic('stay') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const client = await connectClient(port);

    const added = log.next('reloaded', (e) => e.greeter === 'fresh');
    await addPlugin(
      plugins,
      'fresh',
      `const log = globalThis.${key};
export class Logic {
  onLoad() { log.push('load'); }
  onUnload(ctx) { log.push('unload'); }
  async recv(ctx) { await ctx.dbStore('x', 1); ctx.send('fresh'); }
}
`,
    );
    expect(await added).toMatchObject({ added: true, version: 1 });
    expect((await client.request('fresh', '')).text()).toBe('fresh');
    const host = server.plugins().find((h) => h.greeter === 'fresh')!;

    const removed = log.next('removed');
    await rm(path.join(plugins, 'fresh'), { recursive: true });
    expect(await removed).toMatchObject({ greeter: 'fresh', dir: path.join(plugins, 'fresh') });
    await expect(client.request('fresh', '')).rejects.toMatchObject({ status: 404 });
    expect(hooks).toEqual(['load', 'unload']);
    await expect(host.db.get('x')).rejects.toMatchObject({ code: 'NEKO_ERR_STORAGE_CLOSED' });
    expect((await client.request('stay', '')).text()).toMatch(/^stay /);

    // Back again: its version numbers go on from where they were.
    const back = log.next('reloaded', (e) => e.greeter === 'fresh');
    await addPlugin(plugins, 'fresh', counterLogic('fresh again'));
    expect(await back).toMatchObject({ added: true, version: 2 });
    expect((await client.request('fresh', '')).text()).toMatch(/^fresh again /);
  });

  it('a folder renamed away and back, and a spec.conf that changes the greeter', async () => {
    const plugins = await makePluginsDir([{ greeter: 'old', logic: counterLogic('v1') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const client = await connectClient(port);

    const renamed = log.next('reloaded');
    await writeFile(
      path.join(plugins, 'old', 'spec.conf'),
      '$name {"New"};\n$greet {"new"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    expect(await renamed).toMatchObject({ greeter: 'new', renamedFrom: 'old', added: true, version: 1 });
    await expect(client.request('old', '')).rejects.toMatchObject({ status: 404 });
    expect((await client.request('new', '')).text()).toMatch(/^v1 /);

    // Moved out of the plugins directory: gone. Moved back: served again.
    const outside = `${plugins}-outside`;
    onTestFinished(() => rm(outside, { recursive: true, force: true }));
    const removed = log.next('removed');
    await rename(path.join(plugins, 'old'), outside);
    await removed;
    await expect(client.request('new', '')).rejects.toMatchObject({ status: 404 });
    const back = log.next('reloaded');
    await rename(outside, path.join(plugins, 'moved'));
    expect(await back).toMatchObject({ greeter: 'new', version: 2 });
  });

  it('a new folder whose greeter another folder serves is refused; it loads once the other goes', async () => {
    const plugins = await makePluginsDir([{ greeter: 'one', logic: counterLogic('first') }]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const rejected = log.next('rejected');
    const copy = path.join(plugins, 'two');
    await mkdir(copy);
    await writeFile(path.join(copy, 'logic.js'), counterLogic('second'));
    await writeFile(path.join(copy, 'spec.conf'), specConf('Two', 'one'));
    const event = await rejected;
    expect(event.errors.map((e) => e.code)).toEqual(['NEKO_ERR_PLUGIN_DUPLICATE_GREETER']);
    expect([event.serving, event.answers, event.servedBy]).toEqual([
      undefined,
      undefined,
      path.join(plugins, 'one'),
    ]);
    const client = await connectClient(port);
    expect((await client.request('one', '')).text()).toMatch(/^first /);

    const taken = log.next('reloaded');
    await rm(path.join(plugins, 'one'), { recursive: true });
    expect(await taken).toMatchObject({ greeter: 'one', dir: copy, added: true });
    expect((await client.request('one', '')).text()).toMatch(/^second /);
  });

  it('start-up validation leaves out the errors loading reported, and keeps the others', async () => {
    // Two folders declare one greeter (neither loads); a third fails to load (no recv) and has a warning.
    const plugins = await makePluginsDir([
      { greeter: 'dup', logic: "export class Logic { recv(ctx) { ctx.send('a'); } }\n" },
      { greeter: 'solo', logic: 'export class Logic {\n  onlaod() {}\n}\n' },
    ]);
    const twin = await addPlugin(plugins, 'twin', "export class Logic { recv(ctx) { ctx.send('b'); } }\n");
    await writeFile(path.join(twin, 'spec.conf'), specConf('Twin', 'dup'));
    const { server } = await startServer({ plugins });
    const problems = server.pluginStatuses().map((s) => [path.basename(s.dir), s.problem?.error.code]);
    expect(problems.sort()).toEqual([
      ['dup', 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER'],
      ['solo', 'NEKO_ERR_PLUGIN_NO_RECV'],
      ['twin', 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER'],
    ]);
    const log = eventLog();
    const watcher = await watch(server, plugins, log, { validate: true });
    await watcher.idle();
    const checked = log
      .of('checked')
      .map((e) => [
        path.basename(e.dir),
        e.errors.map((x) => x.code),
        e.warnings.map((x) => x.code),
        e.shown,
      ]);
    expect(checked).toEqual([['solo', [], ['NEKO_ERR_VALIDATE_HOOK_NAME'], 1]]);
  });

  it('a folder without spec.conf is no plugin until its spec.conf appears', async () => {
    const plugins = await makePluginsDir([]);
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    const watcher = await watch(server, plugins, log);
    await mkdir(path.join(plugins, 'later'));
    await writeFile(path.join(plugins, 'later', 'logic.js'), counterLogic('later'));
    await sleep(200);
    await watcher.idle();
    expect(log.events).toEqual([]);
    const added = log.next('reloaded');
    await writeFile(path.join(plugins, 'later', 'spec.conf'), specConf('L', 'later'));
    await added;
    const client = await connectClient(port);
    expect((await client.request('later', '')).text()).toMatch(/^later /);
  });
});

describe('watchPlugins: the watcher', () => {
  it('watches one plugin folder given directly', async () => {
    const plugins = await makePluginsDir([{ greeter: 'solo', logic: counterLogic('v1') }]);
    const dir = path.join(plugins, 'solo');
    const { server, port } = await startServer({ plugins: dir });
    const log = eventLog();
    await watch(server, dir, log);
    const reloaded = log.next('reloaded');
    await writeFile(path.join(dir, 'logic.js'), counterLogic('v2'));
    expect(await reloaded).toMatchObject({ greeter: 'solo', version: 2 });
    const client = await connectClient(port);
    expect((await client.request('solo', '')).text()).toMatch(/^v2 /);
  });

  it('reloads a TypeScript plugin when a file it imports changes (the bundle holds both)', async () => {
    const plugins = await makePluginsDir([]);
    const dir = await addPlugin(
      plugins,
      'split',
      "import { word } from './word.js';\nexport class Logic { recv(ctx: { send(d: string): void }) { ctx.send(word); } }\n",
      'logic.ts',
    );
    await writeFile(path.join(dir, 'word.ts'), "export const word: string = 'one';\n");
    const { server, port } = await startServer({ plugins });
    const log = eventLog();
    await watch(server, plugins, log);
    const client = await connectClient(port);
    expect((await client.request('split', '')).text()).toBe('one');
    const reloaded = log.next('reloaded');
    await writeFile(path.join(dir, 'word.ts'), "export const word: string = 'two';\n");
    await reloaded;
    expect((await client.request('split', '')).text()).toBe('two');
  });

  it('reloadAll() reloads every plugin; a file directly in the plugins directory reloads them all', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'a', logic: counterLogic('a') },
      { greeter: 'b', logic: counterLogic('b') },
    ]);
    const { server } = await startServer({ plugins });
    const log = eventLog();
    const watcher = await watch(server, plugins, log);
    await watcher.reloadAll();
    expect(log.of('reloaded').map((e) => [e.greeter, e.version])).toEqual([
      ['a', 2],
      ['b', 2],
    ]);
    const both = log.next('reloaded', (e) => e.greeter === 'b');
    await writeFile(path.join(plugins, 'package.json'), '{ "type": "module", "private": true }\n');
    await both;
    expect(log.of('reloaded').map((e) => [e.greeter, e.version])).toContainEqual(['a', 3]);
  });

  it('close() stops watching: later changes do nothing', async () => {
    const plugins = await makePluginsDir([{ greeter: 'done', logic: counterLogic('v1') }]);
    const { server } = await startServer({ plugins });
    const log = eventLog();
    const watcher = await watch(server, plugins, log);
    await watcher.close();
    await watcher.close();
    await writeFile(path.join(plugins, 'done', 'logic.js'), counterLogic('v2'));
    await sleep(200);
    expect(log.events).toEqual([]);
    expect(server.plugins()[0]?.version).toBe(1);
  });
});
