import { connect as netConnect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, type NekoClient } from '../../src/client/client.js';
import { isNekoError } from '../../src/errors.js';
import { assertBuilt, runCli, startCli } from '../cli/run-cli.js';
import { SECRET, startServer, tempDir, until, writeConfig, writePlugin } from './ops.js';

beforeAll(assertBuilt);

/** Op 1 answers after 1.5 s; op 2 at once. */
const SLOW = `
export class Logic {
  async recv(ctx) {
    if (ctx.op === 1) await new Promise((resolve) => setTimeout(resolve, 1500));
    ctx.send('done ' + ctx.op, { op: ctx.op });
  }
}
`;

/** What a client's `close` event said, and when. */
function closeOf(client: NekoClient): Promise<{ status?: number; error?: Error; at: number }> {
  return new Promise((resolve) => client.once('close', (info) => resolve({ ...info, at: Date.now() })));
}

async function readiness(
  port: number,
): Promise<{ status: number; body: { ready: boolean; reasons: string[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; reasons: string[] } };
}

/** Whether a TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('drain (SIGUSR2, nekoconnect drain)', () => {
  it('stops accepting, turns not ready, lets a request in flight finish, sends 503 to each client, and exits 0 within the bound', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'slow', SLOW);
    const config = await writeConfig(dir, { limits: { drainTimeoutMs: 8000 }, websocket: { port: 0 } });
    const { cli, port, dashboardPort } = await startServer(dir);
    const [, wsPort] = await cli.waitFor(/listening for WebSocket on ws:\/\/127\.0\.0\.1:(\d+)\//);
    const url = `ws://127.0.0.1:${wsPort}/`;
    expect((await readiness(dashboardPort!)).status).toBe(200);

    const idle = await connect({ secret: SECRET, port });
    const busy = await connect({ secret: SECRET, port });
    expect((await busy.request('slow', '', { op: 2 })).text()).toBe('done 2');
    const overWs = await connect({ secret: SECRET, url });
    const wsClosed = closeOf(overWs);
    const idleClosed = closeOf(idle);
    const busyClosed = closeOf(busy);
    const inFlight = busy.request('slow', '', { op: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));

    // --wait: the command returns once the server has exited.
    const drain = startCli(['drain', '--config', config, '--wait']);
    await drain.waitFor(/sent SIGUSR2 to the server of .*data \(pid \d+\): it drains/);
    const drainedAt = Date.now();

    // Not ready, and no new connection.
    await until(() => cli.stdout().includes('SIGUSR2: draining'), 'the drain to begin');
    const ready = await readiness(dashboardPort!);
    expect(ready.status).toBe(503);
    expect(ready.body.reasons).toContain('draining');
    expect(await refused(port)).toBe(true);
    expect(await refused(Number(wsPort))).toBe(true);

    // The idle client is told at once; the busy one gets its answer first, then the notice.
    const idleClose = await idleClosed;
    expect(idleClose.status).toBe(503);
    expect(isNekoError(idleClose.error, 'NEKO_ERR_CLIENT_SERVER_SHUTDOWN')).toBe(true);
    expect(idleClose.at - drainedAt).toBeLessThan(1000);
    const wsClose = await wsClosed;
    expect(wsClose.status).toBe(503);
    expect(isNekoError(wsClose.error, 'NEKO_ERR_CLIENT_SERVER_SHUTDOWN')).toBe(true);
    expect((await inFlight).text()).toBe('done 1');
    const busyClose = await busyClosed;
    expect(busyClose.status).toBe(503);
    expect(isNekoError(busyClose.error, 'NEKO_ERR_CLIENT_SERVER_SHUTDOWN')).toBe(true);

    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - drainedAt).toBeLessThan(8000);
    expect(await drain.exited).toEqual({ code: 0, signal: null });
    expect(drain.stdout()).toMatch(/the server \(pid \d+\) has exited, \d+\.\d s after the signal/);
    expect(cli.stdout()).toMatch(/drain: every connection closed/);
    expect(cli.stdout()).toMatch(/drained: shutting down/);
    expect(cli.stdout()).toMatch(/stopped/);
  }, 60_000);

  it('shuts down at --drain-timeout-ms when a conversation goes on', async () => {
    const dir = await tempDir();
    await writePlugin(
      dir,
      'chat',
      `export class Logic {
  async recv(ctx) {
    // A conversation: it waits for the client's next packet (up to 30 s).
    ctx.send('say more', { op: 1 });
    try { await ctx.recv(); } catch {}
  }
}
`,
    );
    await writeConfig(dir);
    const { cli, port } = await startServer(dir, ['--no-dashboard', '--drain-timeout-ms', '600']);
    const client = await connect({ secret: SECRET, port });
    const closed = closeOf(client);
    expect((await client.request('chat', 'hi', { op: 1 })).text()).toBe('say more');
    const signalledAt = Date.now();
    cli.child.kill('SIGUSR2');
    const close = await closed;
    // Told at the drain's bound, by the shutdown that follows it.
    expect(close.at - signalledAt).toBeGreaterThanOrEqual(550);
    expect(close.status).toBe(503);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stderr()).toMatch(/drain: 1 connection\(s\) still in a conversation after 600 ms/);
  }, 30_000);
});

describe('nekoconnect reload and drain, when no server runs', () => {
  it('says so with a coded error and exit code 1: no lock file, a stale lock, another machine', async () => {
    const dir = await tempDir();
    const none = await runCli(['drain', '--data-dir', dir]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no server runs on .*: it has no lock file/);
    expect(none.stderr).toMatch(/NEKO_ERR_SIGNAL_NO_SERVER/);

    // A lock whose process is gone: a process that has exited.
    const { spawnSync } = await import('node:child_process');
    const gone = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    const { hostname } = await import('node:os');
    const { writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const lock = (host: string, pid: number): string =>
      JSON.stringify({ pid, hostname: host, startedAt: '2026-01-01T00:00:00.000Z' });
    await writeFile(join(dir, 'nekoconnect.lock'), lock(hostname(), Number(gone)));
    const stale = await runCli(['reload', '--data-dir', dir]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(
      new RegExp(
        `names pid ${gone}, started 2026-01-01T00:00:00.000Z, and that process is gone \\(a stale lock\\)`,
      ),
    );
    expect(stale.stderr).toMatch(/NEKO_ERR_SIGNAL_NO_SERVER/);

    await writeFile(join(dir, 'nekoconnect.lock'), lock('elsewhere.example', process.pid));
    const other = await runCli(['reload', '--data-dir', dir]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/runs on another machine \(elsewhere\.example, pid \d+/);
    expect(other.stderr).toMatch(/NEKO_ERR_SIGNAL_DENIED/);

    const usage = await runCli(['reload', 'extra']);
    expect(usage.code).toBe(2);
  }, 30_000);
});
