/**
 * The operations side of a cluster, with two servers of one cluster in this
 * process on a real Redis: the bus's figures in /metrics (held to
 * docs/metrics.md's "(cluster)" rows both ways, and to what the servers
 * did), /readyz while Redis is away, and the dashboard's settings naming
 * the cluster, this process and its host.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { createDashboard } from '../../src/dashboard/dashboard.js';
import { metricsOf } from '../../src/metrics/registry.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';
import { parseScrape, valueOf } from '../metrics/prometheus.js';
import { clusterName } from './cluster-processes.js';

const DOCS = path.join(import.meta.dirname, '..', '..', '..', 'docs', 'metrics.md');

/** Op 1 joins (answers ok); op 2 broadcasts its text to everyone else with op 8. */
const ROOM = `export class Logic {
  recv(ctx) {
    if (ctx.op === 2) ctx.broadcast(ctx.text(), { op: 8, except: ctx.session.id });
    ctx.send('ok', { op: ctx.op });
  }
}
`;

let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(() => redis?.stop());

async function twoServers() {
  const plugins = await makePluginsDir([{ greeter: 'room', logic: ROOM }]);
  const cluster = { redis: redis.url, name: clusterName(), heartbeatTtlMs: 1_000 };
  return Promise.all([startServer({ plugins, cluster }), startServer({ plugins, cluster })]);
}

/** The "(cluster)" rows of docs/metrics.md: name → type. */
async function clusterRows(): Promise<Map<string, string>> {
  const rows = new Map<string, string>();
  for (const line of (await readFile(DOCS, 'utf8')).split('\n')) {
    const m = /^\| `(nekoconnect_[a-z0-9_]+)` +\| (counter|gauge|histogram) +\|([^|]*)\|(.*)\|$/.exec(line);
    if (m && m[4]!.includes('(cluster)')) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe('the bus in /metrics', () => {
  it('has exactly the "(cluster)" metrics of docs/metrics.md, counting what crossed between the processes', async () => {
    const [a, b] = await twoServers();
    const sender = await connectClient(a.port);
    const receiver = await connectClient(b.port);
    const heard: string[] = [];
    receiver.on('packet', (p) => heard.push(p.text()));
    await receiver.request('room', '', { op: 1 });
    await sender.request('room', '', { op: 1 });
    for (let i = 0; i < 5; i++) await sender.request('room', `m${i}`, { op: 2, replyOp: 2 });
    await expect.poll(() => heard, { timeout: 5_000 }).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);

    const sa = parseScrape(await metricsOf(a.server).text());
    const sb = parseScrape(await metricsOf(b.server).text());
    const rows = await clusterRows();
    expect(rows.size).toBe(9);
    const ours = (types: ReadonlyMap<string, string>) =>
      Object.fromEntries([...types].filter(([name]) => name.startsWith('nekoconnect_cluster_')));
    expect(ours(sa.types)).toEqual(Object.fromEntries(rows));
    expect(valueOf(sa, 'nekoconnect_cluster_redis_up')).toBe(1);
    expect(valueOf(sa, 'nekoconnect_cluster_messages_published_total')).toBeGreaterThanOrEqual(5);
    expect(valueOf(sb, 'nekoconnect_cluster_messages_received_total')).toBeGreaterThanOrEqual(5);
    expect(valueOf(sb, 'nekoconnect_cluster_packets_delivered_total')).toBeGreaterThanOrEqual(5);
    // Every broadcast b received was timed; the buckets are cumulative up to the count.
    const count = valueOf(sb, 'nekoconnect_cluster_latency_seconds_count');
    expect(count).toBeGreaterThanOrEqual(5);
    expect(valueOf(sb, 'nekoconnect_cluster_latency_seconds_bucket', { le: '+Inf' })).toBe(count);
    expect(valueOf(sb, 'nekoconnect_cluster_latency_seconds_bucket', { le: '1' })).toBeLessThanOrEqual(count);
    expect(valueOf(sb, 'nekoconnect_cluster_latency_seconds_sum')).toBeGreaterThan(0);
    expect(valueOf(sa, 'nekoconnect_cluster_redis_reconnects_total')).toBe(0);
    // Both processes alive, as each sees it at its next check of the heartbeats.
    for (const server of [a.server, b.server]) {
      await expect
        .poll(
          async () => valueOf(parseScrape(await metricsOf(server).text()), 'nekoconnect_cluster_processes'),
          {
            timeout: 10_000,
          },
        )
        .toBe(2);
    }
  }, 30_000);

  it('a server on its own has none of them', async () => {
    const alone = await startServer({
      plugins: await makePluginsDir([{ greeter: 'room', logic: ROOM }]),
    });
    const scrape = parseScrape(await metricsOf(alone.server).text());
    expect([...scrape.types.keys()].filter((name) => name.startsWith('nekoconnect_cluster_'))).toEqual([]);
    expect(alone.server.cluster).toBeUndefined();
  });
});

describe('/readyz and the metrics while Redis is away', () => {
  it('is not ready, naming Redis by host and port without the password; ready again, with a reconnect counted, once it is back', async () => {
    const [a] = await twoServers();
    expect(await a.server.readiness()).toEqual({ ready: true, reasons: [] });
    await redis.restart(async () => {
      await expect.poll(async () => (await a.server.readiness()).ready, { timeout: 5_000 }).toBe(false);
      const { reasons } = await a.server.readiness();
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toMatch(
        new RegExp(
          `^cluster bus unreachable: Redis at 127\\.0\\.0\\.1:${redis.port} \\(cluster t[0-9a-f]+\\) since \\d{4}-`,
        ),
      );
      expect(reasons[0]).not.toContain(redis.password);
      const down = parseScrape(await metricsOf(a.server).text());
      expect(valueOf(down, 'nekoconnect_cluster_redis_up')).toBe(0);
    });
    await expect.poll(async () => (await a.server.readiness()).ready, { timeout: 10_000 }).toBe(true);
    const up = parseScrape(await metricsOf(a.server).text());
    expect(valueOf(up, 'nekoconnect_cluster_redis_up')).toBe(1);
    expect(valueOf(up, 'nekoconnect_cluster_redis_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(valueOf(up, 'nekoconnect_cluster_redis_failures_total')).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

describe('the dashboard', () => {
  it('names the cluster, this process and its host in the settings and the overview, the URL without its password', async () => {
    const [a] = await twoServers();
    const dashboard = createDashboard(a.server, { port: 0, open: true });
    onTestFinished(() => dashboard.close());
    const { port } = await dashboard.listen();
    const get = async (api: string) => (await fetch(`http://127.0.0.1:${port}/${api}`)).json();
    const cluster = {
      name: a.server.cluster!.name,
      processId: a.server.processId,
      hostname: hostname(),
      via: `Redis at 127.0.0.1:${redis.port}`,
      redis: `redis://:***@127.0.0.1:${redis.port}`,
    };
    const settings = (await get('api/settings')) as { cluster: typeof cluster };
    expect({ ...settings.cluster, redis: settings.cluster.redis.replace(/\/$/, '') }).toEqual(cluster);
    const overview = (await get('api/overview')) as { server: { processId: string; hostname: string } };
    expect([overview.server.processId, overview.server.hostname]).toEqual([a.server.processId, hostname()]);
    expect(JSON.stringify([settings, overview])).not.toContain(redis.password);
  }, 30_000);
});
