/**
 * A server that listens before its plugins load (as `start` and `dev` do):
 * a greeter not loaded yet answers 503, readiness is false until loading
 * ends, and the nedb data directory is locked before any data file opens.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makePluginsDir } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';
import { createServer } from '../../src/server/server.js';

declare global {
  var nekoLoadingGate: Promise<void> | undefined;
}

const GATED = `export class Logic {
  async onLoad() { await globalThis.nekoLoadingGate; }
  recv(ctx) { ctx.send('loaded'); }
}
`;

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-loading-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('a server listening while its plugins load', () => {
  it('answers 503 for a greeter not loaded yet, is not ready, then serves it and is ready', async () => {
    let open!: () => void;
    globalThis.nekoLoadingGate = new Promise<void>((resolve) => (open = resolve));
    onTestFinished(() => {
      globalThis.nekoLoadingGate = undefined;
    });
    const plugins = await makePluginsDir([{ greeter: 'gated', logic: GATED }]);
    const { server, port } = await startServer();
    expect(await server.readiness()).toEqual({ ready: true, reasons: [] });

    const loading = server.loadPlugins(plugins);
    const client = await connectClient(port);
    const early = await client.request('gated', 'hi').then(
      () => 'answered',
      (err: { status?: number }) => err.status,
    );
    expect(early).toBe(503);
    // A greeter no plugin will ever serve also answers 503 while loading: the server cannot know yet.
    expect(server.route('nobody').kind).toBe('unavailable');
    expect(await server.readiness()).toEqual({ ready: false, reasons: ['loading plugins'] });

    open();
    const report = await loading;
    expect(report.loaded.map((p) => p.spec.greeter)).toEqual(['gated']);
    expect((await client.request('gated', 'hi')).text()).toBe('loaded');
    expect(server.route('nobody').kind).toBe('missing');
    expect(await server.readiness()).toEqual({ ready: true, reasons: [] });
    await client.close();
  });

  it('stays ready during a later load (a reload), and a greeter nothing serves answers 404 meanwhile', async () => {
    const plugins = await makePluginsDir([{ greeter: 'gated', logic: GATED }]);
    const { server } = await startServer();
    await server.loadPlugins(plugins);
    let open!: () => void;
    globalThis.nekoLoadingGate = new Promise<void>((resolve) => (open = resolve));
    onTestFinished(() => {
      globalThis.nekoLoadingGate = undefined;
    });
    const reloading = server.loadPlugins(plugins);
    // The new version's onLoad waits: the old one serves, and the server is ready.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await server.readiness()).toEqual({ ready: true, reasons: [] });
    expect(server.route('nobody').kind).toBe('missing');
    open();
    await reloading;
  });

  it('is not ready while it shuts down', async () => {
    const { server } = await startServer();
    const closing = server.close();
    expect((await server.readiness()).reasons).toContain('shutting down');
    await closing;
  });
});

/** onLoad says it began and waits for the gate; onUnload says it ran. */
const GATED_HOOKS = `export class Logic {
  async onLoad() { globalThis.nekoLoadingSeen.push('onLoad'); await globalThis.nekoLoadingGate; }
  onUnload() { globalThis.nekoLoadingSeen.push('onUnload'); }
  recv(ctx) { ctx.send('loaded'); }
}
`;

declare global {
  var nekoLoadingSeen: string[];
}

/** A gate for GATED_HOOKS's onLoad; resolves once onLoad waits on it. */
async function gateOnLoad(): Promise<{ open: () => void; waiting: () => Promise<void> }> {
  let open!: () => void;
  globalThis.nekoLoadingGate = new Promise<void>((resolve) => (open = resolve));
  globalThis.nekoLoadingSeen = [];
  onTestFinished(() => {
    globalThis.nekoLoadingGate = undefined;
  });
  const waiting = async (): Promise<void> => {
    while (!globalThis.nekoLoadingSeen.includes('onLoad')) await new Promise((r) => setTimeout(r, 5));
  };
  return { open, waiting };
}

describe('a shutdown while plugins load', () => {
  it('waits for the load, then unloads what it mounted: onUnload runs, the database closes, the lock goes', async () => {
    const dataDir = await tempDir();
    const plugins = await makePluginsDir([{ greeter: 'gated', logic: GATED_HOOKS }]);
    const gate = await gateOnLoad();
    const server = createServer({
      secret: 's',
      port: 0,
      storage: { backend: 'nedb', dir: dataDir },
      limits: { shutdownTimeoutMs: 10_000 },
    });
    const loading = server.loadPlugins(plugins);
    await gate.waiting();
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    gate.open();
    const report = await loading;
    await closing;
    expect(report.loaded.map((p) => p.spec.greeter)).toEqual(['gated']);
    expect(globalThis.nekoLoadingSeen).toEqual(['onLoad', 'onUnload']);
    expect(server.route('gated').kind).not.toBe('plugin');
    expect(await readdir(dataDir)).toEqual(['gated.db']);
  });

  it('mounts nothing whose load outlasts limits.shutdownTimeoutMs (NEKO_ERR_PLUGIN_SHUTDOWN; its onUnload runs)', async () => {
    const plugins = await makePluginsDir([{ greeter: 'gated', logic: GATED_HOOKS }]);
    const gate = await gateOnLoad();
    const { server, waitForLog } = await startServer({ limits: { shutdownTimeoutMs: 200 } });
    const loading = server.loadPlugins(plugins);
    await gate.waiting();
    await server.close();
    await waitForLog((r) => r.message.includes('plugin loads under way still running after 200 ms'));
    gate.open();
    const report = await loading;
    expect(report.loaded).toEqual([]);
    expect(report.failed.map((f) => f.error.code)).toEqual(['NEKO_ERR_PLUGIN_SHUTDOWN']);
    expect(report.failed[0]!.error.message).toContain('the server began shutting down while it loaded');
    expect(globalThis.nekoLoadingSeen).toEqual(['onLoad', 'onUnload']);
    expect(server.route('gated').kind).not.toBe('plugin');
  });
});

describe('a server closed before it listens', () => {
  it('refuses to listen (NEKO_ERR_SERVER_CLOSED) and leaves no listener open', async () => {
    const server = createServer({ secret: 's', port: 0, storage: { backend: 'memory' } });
    await server.close();
    await expect(server.listen()).rejects.toMatchObject({ code: 'NEKO_ERR_SERVER_CLOSED' });
    expect(server.address()).toBeUndefined();
  });
});

describe('the data directory lock of the nedb backend', () => {
  it('is taken before the first data file opens and released at close; a second server in the same process is refused', async () => {
    const dataDir = await tempDir();
    const plugins = await makePluginsDir([{ greeter: 'notes', logic: 'export class Logic { recv() {} }\n' }]);
    const first = createServer({ secret: 's', port: 0, storage: { backend: 'nedb', dir: dataDir } });
    await first.loadPlugins(plugins);
    expect((await readdir(dataDir)).sort()).toEqual(['nekoconnect.lock', 'notes.db']);

    const second = createServer({ secret: 's', port: 0, storage: { backend: 'nedb', dir: dataDir } });
    await expect(second.loadPlugins(plugins)).rejects.toMatchObject({
      code: 'NEKO_ERR_STORAGE_LOCKED',
      message: expect.stringContaining(`pid ${process.pid}`),
    });
    await second.close();
    // The refused server released nothing it did not hold.
    expect((await readdir(dataDir)).sort()).toEqual(['nekoconnect.lock', 'notes.db']);

    await first.close();
    expect(await readdir(dataDir)).toEqual(['notes.db']);
    // Free again: a new server takes it.
    const third = createServer({ secret: 's', port: 0, storage: { backend: 'nedb', dir: dataDir } });
    await third.loadPlugins(plugins);
    await third.close();
  });

  it("takes over a lock naming this process's pid that this process does not hold (a restarted container's pid 1)", async () => {
    const dataDir = await tempDir();
    const plugins = await makePluginsDir([{ greeter: 'notes', logic: 'export class Logic { recv() {} }\n' }]);
    const left = { pid: process.pid, hostname: hostname(), startedAt: new Date(0).toISOString() };
    await writeFile(path.join(dataDir, 'nekoconnect.lock'), JSON.stringify(left));
    const server = createServer({ secret: 's', port: 0, storage: { backend: 'nedb', dir: dataDir } });
    await server.loadPlugins(plugins);
    const taken = JSON.parse(await readFile(path.join(dataDir, 'nekoconnect.lock'), 'utf8')) as {
      startedAt: string;
    };
    expect(taken.startedAt).not.toBe(left.startedAt);
    // The lock it holds now is its own: another server of this process is refused.
    const second = createServer({ secret: 's', port: 0, storage: { backend: 'nedb', dir: dataDir } });
    await expect(second.loadPlugins(plugins)).rejects.toMatchObject({ code: 'NEKO_ERR_STORAGE_LOCKED' });
    await second.close();
    await server.close();
  });

  it('reports an unwritable data directory in readiness', async () => {
    const dataDir = await tempDir();
    const server = createServer({ secret: 's', port: 0, storage: { backend: 'nedb', dir: dataDir } });
    onTestFinished(() => server.close());
    await server.prepareStorage();
    expect(await server.readiness()).toEqual({ ready: true, reasons: [] });
    await rm(dataDir, { recursive: true, force: true });
    const { ready, reasons } = await server.readiness();
    expect(ready).toBe(false);
    expect(reasons[0]).toMatch(/^storage unreachable: .*cannot be written/);
  });
});
