import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, type NekoClient } from '../../src/client/client.js';
import { assertBuilt, runCli, startCli } from '../cli/run-cli.js';
import { SECRET, startServer, tempDir, writeConfig, writePlugin } from './ops.js';

beforeAll(assertBuilt);

/**
 * The plugin of these tests: op 1 answers its version and how many packets
 * this session sent it (kept in ctx.state, which a reload keeps); op 2 waits
 * in ctx.recv() with the default wait and answers how long it waited.
 */
const counter = (version: string): string => `
export class Logic {
  async recv(ctx) {
    if (ctx.op === 2) {
      const started = Date.now();
      // Something sent first, so that no 100 status answers the request while it waits.
      ctx.send('waiting', { op: 3 });
      try {
        await ctx.recv();
      } catch (err) {
        ctx.send(JSON.stringify({ waited: Date.now() - started, code: err.code }), { op: 2 });
      }
      return;
    }
    ctx.state.count = (ctx.state.count ?? 0) + 1;
    ctx.send(JSON.stringify({ version: '${version}', count: ctx.state.count }), { op: 1 });
  }
}
`;

async function ask(client: NekoClient): Promise<{ version: string; count: number }> {
  const reply = await client.request('counter', 'x', { op: 1, replyOp: 1 });
  return JSON.parse(reply.text()) as { version: string; count: number };
}

describe('reload (SIGHUP, nekoconnect reload)', () => {
  it('keeps a SIGHUP that comes during the start-up for once the server listens', async () => {
    const dir = await tempDir();
    await writePlugin(
      dir,
      'counter',
      counter('v1').replace(
        'export class Logic {',
        'export class Logic {\n  async onLoad() { await new Promise((resolve) => setTimeout(resolve, 800)); }',
      ),
    );
    await writeConfig(dir);
    const cli = startCli(['start', '--config', join(dir, 'nekoconnect.config.json'), '--no-dashboard'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    await cli.waitFor(/config from /);
    await new Promise((resolve) => setTimeout(resolve, 200));
    cli.child.kill('SIGHUP');
    await cli.waitFor(/listening on tcp:/);
    await cli.waitFor(/reload done: 1 plugin reloaded, 0 failed/);
    expect(cli.stdout().indexOf('SIGHUP: reloading')).toBeGreaterThan(cli.stdout().indexOf('listening on'));
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('applies a changed log level and format live', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'counter', counter('v1'));
    await writeConfig(dir, { log: { level: 'info', format: 'pretty' } });
    const { cli, port } = await startServer(dir, ['--no-dashboard']);
    const quiet = await connect({ secret: SECRET, port });
    await quiet.close();
    expect(cli.stdout()).not.toMatch(/accepted over tcp/);

    await writeConfig(dir, { log: { level: 'debug', format: 'json' } });
    cli.child.kill('SIGHUP');
    await cli.waitFor(
      /"message":"reload done: 1 plugin reloaded, 0 failed; applied: log\.level \(debug\), log\.format \(json\)/,
    );
    // From now on every line is a JSON record, debug lines included.
    const client = await connect({ secret: SECRET, port });
    await cli.waitFor(/"level":"debug"[^\n]*accepted over tcp/);
    await client.close();
    const after = cli.stdout().slice(cli.stdout().indexOf('"message":"reload done'));
    const lines = after
      .slice(after.indexOf('\n') + 1)
      .split('\n')
      .filter((line) => line !== '');
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('swaps a changed plugin in and applies a changed limit under 20 live clients, none dropped', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'counter', counter('v1'));
    await writeConfig(dir, { limits: { recvTimeoutMs: 30_000 } });
    const { cli, port } = await startServer(dir, ['--no-dashboard']);

    const clients = await Promise.all(Array.from({ length: 20 }, () => connect({ secret: SECRET, port })));
    const closed: number[] = [];
    clients.forEach((client, i) => client.on('close', () => closed.push(i)));
    for (const client of clients) expect(await ask(client)).toEqual({ version: 'v1', count: 1 });

    // Requests keep flowing while the reload runs.
    let running = true;
    const traffic = clients.map(async (client) => {
      let sent = 0;
      while (running) {
        await ask(client);
        sent++;
      }
      return sent;
    });

    await writePlugin(dir, 'counter', counter('v2'));
    await writeConfig(dir, { limits: { recvTimeoutMs: 300 } });
    cli.child.kill('SIGHUP');
    await cli.waitFor(
      /reload done: 1 plugin reloaded, 0 failed; applied: limits\.recvTimeoutMs; needs a restart: nothing/,
    );
    expect(cli.stdout()).toMatch(/reload: limits\.recvTimeoutMs 30000 → 300/);
    running = false;
    const sent = await Promise.all(traffic);
    expect(sent.every((n) => n > 0)).toBe(true);

    // Every client is still connected, on the new version, with its session state kept.
    expect(closed).toEqual([]);
    for (const [i, client] of clients.entries()) {
      expect(client.state).toBe('open');
      expect(await ask(client)).toEqual({ version: 'v2', count: 1 + sent[i]! + 1 });
    }
    // The limit is in force: ctx.recv() now gives up after 300 ms, not 30 s.
    const wait = await clients[0]!.request('counter', '', { op: 2, replyOp: 2 });
    const { waited, code } = JSON.parse(wait.text()) as { waited: number; code: string };
    expect(code).toBe('NEKO_ERR_CONTEXT_RECV_TIMEOUT');
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(5_000);

    await Promise.all(clients.map((client) => client.close()));
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('keeps the serving version of a plugin that fails to reload, logs a changed port as needing a restart, and serves on through a bad config', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'counter', counter('v1'));
    const config = await writeConfig(dir);
    const { cli, port } = await startServer(dir, ['--no-dashboard']);
    const client = await connect({ secret: SECRET, port });
    expect(await ask(client)).toEqual({ version: 'v1', count: 1 });

    // A broken plugin and a new port, through `nekoconnect reload`, which finds the server by its config.
    await writePlugin(dir, 'counter', 'export class Logic { recv(ctx) { ctx.send( } }');
    await writeConfig(dir, { port: port + 1 });
    const reload = await runCli(['reload', '--config', config]);
    expect(reload.code).toBe(0);
    expect(reload.stdout).toMatch(/sent SIGHUP to the server of .*data \(pid \d+\): it reloads/);
    await cli.waitFor(/reload done: 0 plugins reloaded, 1 failed; applied: nothing; needs a restart: port/);
    expect(cli.stderr()).toMatch(/reload: port changed in the config; it takes effect after a restart/);
    expect(cli.stderr()).toMatch(/failed to load: .*\(v1 of .* keeps serving\)/);
    expect(await ask(client)).toEqual({ version: 'v1', count: 2 });

    // A config that cannot be read: the coded error, and nothing changes.
    await writeFile(join(dir, 'nekoconnect.config.json'), '{ "port": ');
    cli.child.kill('SIGHUP');
    await cli.waitForStderr(/reload failed, nothing changed, serving on: [\s\S]*\(NEKO_ERR_CONFIG_LOAD\)/);
    expect(await ask(client)).toEqual({ version: 'v1', count: 3 });

    // Fixed again: the next reload serves the fixed plugin.
    await writePlugin(dir, 'counter', counter('v3'));
    await writeConfig(dir);
    cli.child.kill('SIGHUP');
    await cli.waitFor(/reload done: 1 plugin reloaded, 0 failed/);
    expect(await ask(client)).toEqual({ version: 'v3', count: 4 });

    await client.close();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});
