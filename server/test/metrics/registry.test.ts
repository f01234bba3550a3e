/**
 * The metrics of one server, in process: /readyz while plugins load (over
 * HTTP, on a metrics port), the bound on op labels, exact histogram buckets,
 * and docs/metrics.md held to what /metrics returns, both ways.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MetricsServer } from '../../src/metrics/metrics-server.js';
import { LATENCY_BUCKETS_SECONDS, metricsOf } from '../../src/metrics/registry.js';
import { LatencyHistogram, MAX_TRACKED_OPS, PluginStats, declaredOps } from '../../src/plugins/stats.js';
import { createServer, type NekoServer } from '../../src/server/server.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';
import { labelValues, parseScrape, scrape, valueOf } from './prometheus.js';

const DOCS = path.join(import.meta.dirname, '..', '..', '..', 'docs', 'metrics.md');

async function metricsPort(server: NekoServer): Promise<string> {
  const metrics = new MetricsServer(server, { port: 0 });
  onTestFinished(() => metrics.close());
  const { port } = await metrics.listen();
  return `http://127.0.0.1:${port}`;
}

describe('/readyz', () => {
  it('answers 503 while a plugin onLoad runs, then 200; 503 again once the server shuts down', async () => {
    const key = `__nekoMetricsRelease${process.pid}`;
    const plugins = await makePluginsDir([
      {
        greeter: 'slow',
        logic: `export class Logic {
  async onLoad() { await new Promise((resolve) => { globalThis.${key} = resolve; }); }
  recv(ctx) { ctx.send('ok'); }
}
`,
      },
    ]);
    const server = createServer({ secret: SECRET, storage: { backend: 'memory' }, port: 0 });
    onTestFinished(() => server.close());
    const base = await metricsPort(server);
    const loading = server.loadPlugins(plugins);
    const globals = globalThis as unknown as Record<string, (() => void) | undefined>;
    while (globals[key] === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    const waiting = await fetch(`${base}/readyz`);
    expect([waiting.status, await waiting.json()]).toEqual([
      503,
      { ready: false, reasons: ['loading plugins'] },
    ]);
    // Alive all the same.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    globals[key]!();
    delete globals[key];
    expect((await loading).loaded.map((p) => p.spec.greeter)).toEqual(['slow']);
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true, reasons: [] }]);
    const closing = server.close();
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { reasons: string[] }).reasons).toContain('shutting down');
    await closing;
  });
});

describe('fault closes and separate servers', () => {
  it('counts a slow reader under its code, and each server only its own', async () => {
    const plugins = await makePluginsDir([
      {
        greeter: 'flood',
        logic: `export class Logic {
  recv(ctx) { for (let i = 0; i < 100; i++) if (!ctx.send(new Uint8Array(64 * 1024), { op: 1 })) return; }
}
`,
      },
    ]);
    const { server, port } = await startServer({ plugins, limits: { maxPendingBytes: 256 * 1024 } });
    const other = await startServer({ plugins });
    const slow = await RawPeer.connect(port);
    await slow.handshake(SECRET);
    slow.socket.pause();
    await slow.packet('flood', '', { op: 1 });
    const base = await metricsPort(server);
    const until = Date.now() + 5_000;
    let s = await scrape(base);
    while (valueOf(s, 'nekoconnect_fault_closes_total', { code: 'NEKO_ERR_SESSION_SLOW_READER' }) === 0) {
      expect(Date.now()).toBeLessThan(until);
      await new Promise((resolve) => setTimeout(resolve, 20));
      s = await scrape(base);
    }
    expect(valueOf(s, 'nekoconnect_fault_closes_total', { code: 'NEKO_ERR_SESSION_SLOW_READER' })).toBe(1);
    expect(valueOf(s, 'nekoconnect_handshakes_total')).toBe(1);
    expect(valueOf(s, 'nekoconnect_connections', { transport: 'tcp' })).toBe(0);
    // What was queued before the cap counts as sent; the packet that passed it does not.
    const sent = valueOf(s, 'nekoconnect_packets_out_total', { plugin: 'flood', op: '1' });
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(100);
    slow.socket.resume();
    // The other server, in the same process, has metrics of its own.
    const mine = parseScrape(await metricsOf(other.server).text());
    expect(valueOf(mine, 'nekoconnect_handshakes_total')).toBe(0);
    expect(valueOf(mine, 'nekoconnect_fault_closes_total', { code: 'NEKO_ERR_SESSION_SLOW_READER' })).toBe(0);
    expect(metricsOf(other.server)).not.toBe(metricsOf(server));
    expect(metricsOf(server)).toBe(metricsOf(server));
  });
});

describe('op labels are bounded', () => {
  it('a plugin answering 100 undeclared ops gives at most 65 op values; a declared op keeps its own', async () => {
    const plugins = await makePluginsDir([
      {
        greeter: 'wide',
        logic: `export const Op = { Ping: 7 };
export class Logic { recv(ctx) { ctx.send('r' + ctx.op, { op: ctx.op }); } }
`,
      },
    ]);
    const { server, port } = await startServer({ plugins });
    const client = await connectClient(port);
    for (let op = 1000; op < 1100; op++) {
      expect((await client.request('wide', '', { op, replyOp: op })).text()).toBe(`r${op}`);
    }
    // Op 7 comes after the cap is reached: declared, it is counted on its own all the same.
    await client.request('wide', '', { op: 7, replyOp: 7 });
    const s = await scrape(await metricsPort(server));
    for (const name of ['nekoconnect_packets_in_total', 'nekoconnect_packets_out_total']) {
      const ops = labelValues(s, name, 'op', { plugin: 'wide' });
      expect(ops.size, name).toBe(MAX_TRACKED_OPS + 2);
      expect(ops.has('other') && ops.has('7') && ops.has('1000') && ops.has('1063')).toBe(true);
      expect(ops.has('1064')).toBe(false);
      expect(valueOf(s, name, { plugin: 'wide', op: 'other' })).toBe(100 - MAX_TRACKED_OPS);
    }
    const timed = labelValues(s, 'nekoconnect_handler_duration_seconds_count', 'op', { plugin: 'wide' });
    expect(timed.size).toBe(MAX_TRACKED_OPS + 2);
    // Without the declared op: 64 and other, 65 in all.
    expect([...timed].filter((op) => op !== '7')).toHaveLength(65);
  });

  it('declaredOps reads the op codes of an Op table, and nothing else', () => {
    expect(declaredOps({ Op: { A: 1, B: 2, C: 2 } })).toEqual([1, 2]);
    expect(declaredOps({ Op: { A: -1, B: 1.5, C: '3', D: 2 ** 32, E: 4294967295 } })).toEqual([4294967295]);
    expect(declaredOps({})).toEqual([]);
    expect(declaredOps({ Op: 3 })).toEqual([]);
  });

  it('the dashboard follows the same rule: declared ops, then the first 64 others, then other', () => {
    const stats = new PluginStats();
    stats.declare([500]);
    for (let op = 0; op < 70; op++) stats.handled(1, op);
    stats.handled(1, 500);
    stats.sentPackets(600, 3);
    const ops = stats.ops();
    expect(ops.map((o) => o.op)).toEqual([...Array.from({ length: 64 }, (_, i) => i), 500, 'other']);
    expect(ops.at(-1)!.packets).toBe(6);
    expect(ops.at(-1)!.sent).toBe(3);
    expect(stats.sent).toBe(3);
  });
});

describe('histogram buckets', () => {
  it('counts up to each bound exactly, and sums in ms', () => {
    const h = new LatencyHistogram();
    // On each side of 1.024 ms and 4.096 ms, bounds of the metrics.
    for (const ms of [0.5, 1.0, 1.02, 1.03, 4.0, 4.2, 100_000_000]) h.record(ms);
    const bounds = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);
    const counts = h.countsUpTo(bounds);
    expect(counts[bounds.indexOf(1.024)]).toBe(3);
    expect(counts[bounds.indexOf(4.096)]).toBe(5);
    expect(counts.at(-1)).toBe(6);
    expect(h.count).toBe(7);
    expect(h.sum).toBeCloseTo(0.5 + 1 + 1.02 + 1.03 + 4 + 4.2 + 100_000_000, 6);
  });
});

/** The metric rows of docs/metrics.md's tables: name → type, and the ones marked (Linux). */
async function documented(): Promise<{
  types: Map<string, string>;
  linuxOnly: Set<string>;
  clusterOnly: Set<string>;
  workersOnly: Set<string>;
}> {
  const doc = await readFile(DOCS, 'utf8');
  const types = new Map<string, string>();
  const linuxOnly = new Set<string>();
  const clusterOnly = new Set<string>();
  const workersOnly = new Set<string>();
  for (const line of doc.split('\n')) {
    const m = /^\| `([a-z0-9_]+)` +\| (counter|gauge|histogram|summary) +\|[^|]*\|(.*)\|$/.exec(line);
    if (!m) continue;
    expect(types.has(m[1]!), `${m[1]} listed twice`).toBe(false);
    types.set(m[1]!, m[2]!);
    if (m[3]!.includes('(Linux)')) linuxOnly.add(m[1]!);
    if (m[3]!.includes('(cluster)')) clusterOnly.add(m[1]!);
    if (m[3]!.includes('(--workers)')) workersOnly.add(m[1]!);
  }
  return { types, linuxOnly, clusterOnly, workersOnly };
}

describe('docs/metrics.md', () => {
  it('lists every metric /metrics returns, with its type, and nothing it does not return', async () => {
    const { server, port } = await startServer({
      plugins: await makePluginsDir([
        { greeter: 'doc', logic: `export class Logic { recv(ctx) { ctx.send('ok'); } }\n` },
      ]),
    });
    await (await connectClient(port)).request('doc', '');
    const text = await metricsOf(server).text();
    const { types } = parseScrape(text);
    const docs = await documented();
    // The cluster's metrics are held to a cluster's scrape in test/cluster/cluster-ops-metrics.test.ts,
    // the primary's under --workers to its scrape in test/workers/primary-dashboard.test.ts.
    expect([docs.types.size, docs.clusterOnly.size, docs.workersOnly.size]).toEqual([57, 9, 2]);
    const expected = new Map(
      [...docs.types].filter(
        ([name]) =>
          (process.platform === 'linux' || !docs.linuxOnly.has(name)) &&
          !docs.clusterOnly.has(name) &&
          !docs.workersOnly.has(name),
      ),
    );
    expect(Object.fromEntries(types)).toEqual(Object.fromEntries(expected));
    // Every metric of ours has the prefix.
    for (const name of types.keys()) {
      expect(/^(nekoconnect|process|nodejs)_/.test(name), name).toBe(true);
    }
  });

  it('lists the labels of each nekoconnect_ metric as /metrics has them', async () => {
    const { server, port } = await startServer({
      plugins: await makePluginsDir([
        {
          greeter: 'doc',
          logic: `export class Logic { async recv(ctx) { if (ctx.op === 2) throw new Error('x'); await ctx.db.set('a', 1); ctx.send('ok'); } }\n`,
        },
      ]),
    });
    const client = await connectClient(port);
    await client.request('doc', '', { op: 1 });
    await expect(client.request('doc', '', { op: 2 })).rejects.toMatchObject({ status: 500 });
    // A refused handshake: a failure by reason, and a fault close by code.
    await expect(connectClient(port, { secret: 'wrong' })).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_AUTH',
    });
    const s = parseScrape(await metricsOf(server).text());
    const doc = await readFile(DOCS, 'utf8');
    for (const line of doc.split('\n')) {
      const m = /^\| `(nekoconnect_[a-z0-9_]+)` +\| (\w+) +\| ([^|]*)\|/.exec(line);
      if (!m || line.includes('(cluster)') || line.includes('(--workers)')) continue;
      const labels = [...m[3]!.matchAll(/`(\w+)`/g)].map((l) => l[1]!).sort();
      const sample = [...s.samples.keys()].find(
        (key) => key === m[1] || key.startsWith(`${m[1]}{`) || key.startsWith(`${m[1]}_count{`),
      );
      expect(sample, `a sample of ${m[1]}`).toBeDefined();
      const seen = [...(sample!.match(/(\w+)="/g) ?? [])].map((l) => l.slice(0, -2)).sort();
      expect([m[1], seen]).toEqual([m[1], labels]);
    }
  });
});
