/**
 * /metrics, /healthz and /readyz of a real `nekoconnect start`, over HTTP:
 * on --metrics-port with the dashboard off, and on the dashboard's port
 * without its token (every other dashboard path still needs it). The values
 * are checked against what real TCP clients did.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect, type NekoClient } from '../../src/client/client.js';
import { assertBuilt, runCli, startCli, type RunningCli } from '../cli/run-cli.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { labelValues, scrape, valueOf, type Scrape } from './prometheus.js';

const SECRET = 'metrics-scrape-secret';

beforeAll(assertBuilt);

/** Op 1 echoes, op 2 throws, op 3 stores the text in a cell and answers what it reads back. */
const PROBE = `export const Op = { Echo: 1, Fail: 2, Store: 3 };
export class Logic {
  async recv(ctx) {
    if (ctx.op === 2) throw new Error('the probe fails on purpose');
    if (ctx.op === 3) {
      await ctx.db.set('last', ctx.text());
      ctx.send(String(await ctx.db.get('last')), { op: 3 });
      return;
    }
    ctx.send(ctx.text(), { op: ctx.op });
  }
}
`;

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function client(port: number, secret = SECRET): Promise<NekoClient> {
  const c = await connect({ secret, port });
  onTestFinished(() => c.close());
  return c;
}

/** A client with the wrong secret: refused at the handshake. */
async function badHandshake(port: number): Promise<void> {
  await expect(connect({ secret: 'not-the-secret', port })).rejects.toMatchObject({
    code: 'NEKO_ERR_CLIENT_AUTH',
  });
}

/** A TCP connection that closes before sending anything. */
async function leaveBeforeHandshake(port: number): Promise<void> {
  const socket = netConnect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.end();
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
}

/** Waits until a scrape satisfies `ok` (the server sees a close a moment after the client does). */
async function scrapeUntil(base: string, ok: (s: Scrape) => boolean, timeoutMs = 5_000): Promise<Scrape> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(base);
    if (ok(s) || Date.now() > until) return s;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function startProbe(extra: string[]): Promise<{ cli: RunningCli; port: number }> {
  const plugins = await makePluginsDir([{ greeter: 'probe', logic: PROBE }]);
  const cli = startCli(['start', plugins, '--port', '0', ...extra], { NEKOCONNECT_SECRET: SECRET });
  const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
  return { cli, port: Number(port) };
}

describe('/metrics on --metrics-port, with --no-dashboard', () => {
  it('counts what real clients did: handshakes, packets in and out per op, a handler error, storage', async () => {
    const { cli, port } = await startProbe(['--metrics-port', '0', '--no-dashboard']);
    const [, metricsPort] = await cli.waitFor(
      /metrics http:\/\/127\.0\.0\.1:(\d+)\/metrics {2}\(\/healthz, \/readyz, \/metrics; no token; this machine only\)/,
    );
    expect(cli.stdout()).not.toMatch(/^dashboard /m);
    const base = `http://127.0.0.1:${metricsPort}`;
    const before = await scrape(base);

    const clients = [await client(port), await client(port), await client(port)];
    for (let i = 0; i < 4; i++) await badHandshake(port);
    await leaveBeforeHandshake(port);
    for (const c of clients) {
      expect((await c.request('probe', 'a', { op: 1, replyOp: 1 })).text()).toBe('a');
      expect((await c.request('probe', 'b', { op: 1, replyOp: 1 })).text()).toBe('b');
    }
    await expect(clients[0]!.request('probe', 'x', { op: 2 })).rejects.toMatchObject({ status: 500 });
    expect((await clients[1]!.request('probe', 'kept', { op: 3, replyOp: 3 })).text()).toBe('kept');

    const after = await scrapeUntil(
      base,
      (s) => valueOf(s, 'nekoconnect_handshake_failures_total', { reason: 'closed' }) > 0,
    );
    const diff = (name: string, labels?: Record<string, string>): number =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(diff('nekoconnect_handshakes_total')).toBe(3);
    expect(diff('nekoconnect_handshake_failures_total', { reason: 'NEKO_ERR_AUTH_BAD_HASH' })).toBe(4);
    expect(diff('nekoconnect_handshake_failures_total', { reason: 'closed' })).toBe(1);
    expect(diff('nekoconnect_fault_closes_total', { code: 'NEKO_ERR_AUTH_BAD_HASH' })).toBe(4);
    expect(valueOf(after, 'nekoconnect_connections', { transport: 'tcp' })).toBe(3);
    expect(valueOf(after, 'nekoconnect_sessions', { state: 'open' })).toBe(3);
    expect(valueOf(after, 'nekoconnect_sessions', { state: 'handshake' })).toBe(0);
    expect(valueOf(after, 'nekoconnect_plugins', { state: 'loaded' })).toBe(1);

    const probe = (op: string): Record<string, string> => ({ plugin: 'probe', op });
    expect(valueOf(after, 'nekoconnect_packets_in_total', probe('1'))).toBe(6);
    expect(valueOf(after, 'nekoconnect_packets_in_total', probe('2'))).toBe(1);
    expect(valueOf(after, 'nekoconnect_packets_in_total', probe('3'))).toBe(1);
    expect(valueOf(after, 'nekoconnect_packets_out_total', probe('1'))).toBe(6);
    expect(valueOf(after, 'nekoconnect_packets_out_total', probe('3'))).toBe(1);
    expect(valueOf(after, 'nekoconnect_packets_out_total', probe('2'))).toBe(0);
    expect(valueOf(after, 'nekoconnect_handler_errors_total', { plugin: 'probe' })).toBe(1);

    // The handler histogram: 6 packets of op 1, cumulative buckets ending at +Inf.
    expect(valueOf(after, 'nekoconnect_handler_duration_seconds_count', probe('1'))).toBe(6);
    expect(valueOf(after, 'nekoconnect_handler_duration_seconds_bucket', { ...probe('1'), le: '+Inf' })).toBe(
      6,
    );
    const buckets = [...after.samples]
      .filter(
        ([key]) => key.startsWith('nekoconnect_handler_duration_seconds_bucket{') && key.includes('op="1"'),
      )
      .map(([key, value]) => [Number(/le="([^"]+)"/.exec(key)![1]), value] as const)
      .sort((a, b) => a[0] - b[0]);
    expect(buckets).toHaveLength(14);
    for (let i = 1; i < buckets.length; i++)
      expect(buckets[i]![1]).toBeGreaterThanOrEqual(buckets[i - 1]![1]);
    expect(valueOf(after, 'nekoconnect_handler_duration_seconds_sum', probe('1'))).toBeGreaterThan(0);

    // The database: one set and one get of the probe, on the nedb backend.
    const storage = (operation: string): Record<string, string> => ({
      plugin: 'probe',
      backend: 'nedb',
      operation,
    });
    expect(valueOf(after, 'nekoconnect_storage_operation_duration_seconds_count', storage('set'))).toBe(1);
    expect(valueOf(after, 'nekoconnect_storage_operation_duration_seconds_count', storage('get'))).toBe(1);
    expect(labelValues(after, 'nekoconnect_storage_operation_duration_seconds_count', 'operation')).toEqual(
      new Set(['set', 'get']),
    );

    // The process: event-loop lag and memory.
    expect(after.samples.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(valueOf(after, 'process_resident_memory_bytes')).toBeGreaterThan(1_000_000);

    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true, reasons: [] }]);
    // The metrics port serves these three paths and nothing else.
    for (const p of ['/', '/api/overview', '/metrics/', '/index.html']) {
      expect([p, (await fetch(`${base}${p}`)).status]).toEqual([p, 404]);
    }
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);

    for (const c of clients) await c.close();
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    // Closed with the server.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('a metrics port in use stops the start with NEKO_ERR_METRICS_LISTEN before any database opens', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const taken = (blocker.address() as AddressInfo).port;
    const plugins = await makePluginsDir([{ greeter: 'probe', logic: PROBE }]);
    const dataDir = await tempDir('neko-metrics-data-');
    const { code, stdout, stderr } = await runCli(
      [
        'start',
        plugins,
        '--port',
        '0',
        '--no-dashboard',
        '--metrics-port',
        String(taken),
        '--data-dir',
        dataDir,
      ],
      { NEKOCONNECT_SECRET: SECRET },
    );
    expect(code).toBe(1);
    expect(stderr).toContain('NEKO_ERR_METRICS_LISTEN');
    expect(stderr).toContain(`127.0.0.1:${taken}: EADDRINUSE`);
    expect(stdout).not.toContain('listening on');
    // No lock taken, no plugin database opened.
    expect(await readdir(dataDir)).toEqual([]);
  });
});

describe('/healthz, /readyz and /metrics on the dashboard port', () => {
  it('are served without the token; every other path still needs it', async () => {
    const { cli, port } = await startProbe([]);
    const [, url, token] = await cli.waitFor(/dashboard (http:\/\/127\.0\.0\.1:\d+)\/\?token=([\w-]{43})/);
    expect(cli.stdout()).not.toMatch(/^metrics /m);
    const before = await scrape(url!);
    await client(port);
    await badHandshake(port);
    await badHandshake(port);
    const after = await scrapeUntil(
      url!,
      (s) => valueOf(s, 'nekoconnect_handshake_failures_total', { reason: 'NEKO_ERR_AUTH_BAD_HASH' }) >= 2,
    );
    expect(
      valueOf(after, 'nekoconnect_handshakes_total') - valueOf(before, 'nekoconnect_handshakes_total'),
    ).toBe(1);
    expect(valueOf(after, 'nekoconnect_handshake_failures_total', { reason: 'NEKO_ERR_AUTH_BAD_HASH' })).toBe(
      2,
    );

    const health = await fetch(`${url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true, reasons: [] }]);
    expect((await fetch(`${url}/healthz`, { method: 'HEAD' })).status).toBe(200);

    // Exactly these three paths: anything near them, and every page and API path, needs the token.
    for (const p of [
      '/',
      '/index.html',
      '/app.js',
      '/api/overview',
      '/api/sessions',
      '/api/logs',
      '/api/metrics',
      '/healthz/',
      '/healthzz',
      '/metrics/',
      '/metrics.txt',
      '/READYZ',
      '/%6detrics',
    ]) {
      const res = await fetch(`${url}${p}`);
      expect([p, res.status]).toEqual([p, 401]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NEKO_ERR_DASHBOARD_TOKEN');
    }
    const overview = await fetch(`${url}/api/overview`, { headers: { authorization: `Bearer ${token}` } });
    expect(overview.status).toBe(200);
    // The loopback Host check still applies to the health paths.
    const rebound = await new Promise<number>((resolve, reject) => {
      const socket = netConnect({ port: Number(new URL(url!).port), host: '127.0.0.1' }, () => {
        socket.write('GET /metrics HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n');
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])));
      socket.on('error', reject);
    });
    expect(rebound).toBe(403);
  });
});
