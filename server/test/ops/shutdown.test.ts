import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, NekoStatusError } from '../../src/client/client.js';
import { isNekoError } from '../../src/errors.js';
import { assertBuilt } from '../cli/run-cli.js';
import { SECRET, startServer, tempDir, writeConfig, writePlugin } from './ops.js';

beforeAll(assertBuilt);

/** Op 1 echoes; op 9 never settles (a hung handler). */
const PLUGIN = `
export class Logic {
  async recv(ctx) {
    if (ctx.op === 9) await new Promise(() => {});
    ctx.send(ctx.data, { op: ctx.op });
  }
}
`;

/** A TCP port free now (for a server restarted on the same port). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('shutdown', () => {
  it('tells each SDK client the server goes away: close with status 503 and NEKO_ERR_CLIENT_SERVER_SHUTDOWN', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'echo', PLUGIN);
    await writeConfig(dir);
    const { cli, port } = await startServer(dir, ['--no-dashboard']);
    const client = await connect({ secret: SECRET, port });
    expect((await client.request('echo', 'hi', { op: 1 })).text()).toBe('hi');
    const closed = new Promise<{ status?: number; error?: Error }>((resolve) =>
      client.once('close', resolve),
    );
    cli.child.kill('SIGTERM');
    const info = await closed;
    expect(info.status).toBe(503);
    expect(isNekoError(info.error, 'NEKO_ERR_CLIENT_SERVER_SHUTDOWN')).toBe(true);
    expect(info.error!.message).toMatch(/is shutting down: it sent 503 and closed the connection/);
    // A call after the close says why.
    await expect(client.request('echo', 'again')).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_SERVER_SHUTDOWN',
    });
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('lets a client with reconnect come back to the restarted server, on a new session', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'echo', PLUGIN);
    const port = await freePort();
    await writeConfig(dir, { port });
    const first = await startServer(dir, ['--no-dashboard']);
    const client = await connect({
      secret: SECRET,
      port,
      reconnect: { retries: 40, backoff: { initialMs: 50, maxMs: 200 } },
    });
    const reconnecting = new Promise<{ error?: Error }>((resolve) => client.once('reconnecting', resolve));
    const reconnected = new Promise<{ resumed: boolean }>((resolve) => client.once('reconnected', resolve));
    let closed = false;
    client.on('close', () => (closed = true));

    first.cli.child.kill('SIGTERM');
    const why = await reconnecting;
    expect(isNekoError(why.error, 'NEKO_ERR_CLIENT_SERVER_SHUTDOWN')).toBe(true);
    expect(await first.cli.exited).toEqual({ code: 0, signal: null });

    const second = await startServer(dir, ['--no-dashboard']);
    expect(second.port).toBe(port);
    expect(await reconnected).toEqual({ resumed: false });
    expect((await client.request('echo', 'back', { op: 1 })).text()).toBe('back');
    expect(closed).toBe(false);
    await client.close();
    second.cli.child.kill('SIGTERM');
    expect(await second.cli.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('cuts a handler still running at shutdownTimeoutMs: logged with plugin, op and session, exit code 1', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'echo', PLUGIN);
    await writeConfig(dir, { limits: { shutdownTimeoutMs: 500 } });
    const { cli, port } = await startServer(dir, ['--no-dashboard']);
    const client = await connect({ secret: SECRET, port });
    const hung = client.request('echo', 'forever', { op: 9 });
    const settled = hung.then(
      () => undefined,
      (err: unknown) => err,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const signalledAt = Date.now();
    cli.child.kill('SIGTERM');

    // The request in flight gets the 503 of the shutdown.
    const err = await settled;
    expect(err).toBeInstanceOf(NekoStatusError);
    expect((err as NekoStatusError).status).toBe(503);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(450);

    expect(await cli.exited).toEqual({ code: 1, signal: null });
    expect(cli.stderr()).toMatch(
      /\[echo\] s-1 shutdown: cut the echo handler of op 9 \(session s-1\): still running after 500 ms \(limits\.shutdownTimeoutMs\) \(NEKO_ERR_SERVER_HANDLER_CUT\)/,
    );
    expect(cli.stderr()).toMatch(/stopped; 1 handler\(s\) cut at limits\.shutdownTimeoutMs \(exit code 1\)/);
  }, 30_000);
});
