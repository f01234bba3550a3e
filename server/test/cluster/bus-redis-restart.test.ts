/**
 * Redis restarted (empty) under a running cluster of two servers: local
 * delivery goes on meanwhile, cross-process calls fail with the coded
 * error, logged once per outage; once Redis is back the subscriptions,
 * the heartbeat and this process's sessions and groups are there again,
 * and broadcasts flow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NekoStatusError } from '../../src/client/client.js';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { clusterServer, freshCluster, roomClient, roomPlugins } from './bus-support.js';

let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  await redis?.stop();
});

const UNREACHABLE = 'NEKO_ERR_CLUSTER_UNREACHABLE';

describe('Redis restarted while the cluster runs', () => {
  it('keeps local delivery, fails cross-process calls with one coded log line per outage, and resumes', async () => {
    const plugins = await roomPlugins();
    const cluster = { redis: redis.url, name: freshCluster(), heartbeatTtlMs: 1_000 };
    const a = await clusterServer(plugins, cluster);
    const b = await clusterServer(plugins, cluster);
    const a1 = await roomClient(a.port);
    const a2 = await roomClient(a.port);
    const b1 = await roomClient(b.port);
    for (const client of [a1, b1]) expect(await client.say('join')).toBe('true');
    expect(await a1.say('all before')).toBe('sent 1');
    await expect.poll(() => b1.texts(8)).toEqual(['before']);

    await redis.restart(async () => {
      await expect.poll(() => a.server.bus!.status().reachable).toBe(false);
      // Local delivery goes on.
      expect(await a1.say('all during')).toBe('sent 1');
      await expect.poll(() => a2.texts(8)).toEqual(['before', 'during']);
      // A direct message to the other process cannot be routed: the handler fails with the coded error.
      const failed = await a1.client.request('room', `dm ${b1.id} lost`).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failed).toBeInstanceOf(NekoStatusError);
      expect(a.server.bus!.counters().failures).toBeGreaterThan(1);
    });

    // Back: broadcasts flow again (the subscriber subscribed again), routing and groups were written again.
    let n = 0;
    await expect
      .poll(
        async () => {
          await a1.say(`all after${n++}`);
          return b1.texts(8).some((t) => t.startsWith('after'));
        },
        { timeout: 10_000, interval: 100 },
      )
      .toBe(true);
    await expect.poll(() => b.server.bus!.status().reachable).toBe(true);
    expect(a.server.bus!.status().reachable).toBe(true);
    await expect.poll(() => a1.say(`dm ${b1.id} found`), { timeout: 5_000 }).toBe('delivered');
    // Redis came back empty: each process wrote its members again (in the order the processes got to it).
    expect((JSON.parse(await b1.say('who')) as string[]).sort()).toEqual([a1.id, b1.id].sort());
    expect(b1.texts(8)).not.toContain('during');

    for (const server of [a, b]) {
      const outages = server.logs.filter((r) => r.code === UNREACHABLE);
      expect(outages).toHaveLength(1);
      expect(outages[0]!.message).toContain(`127.0.0.1:${redis.port}`);
      expect(outages[0]!.message).not.toContain(redis.password);
      expect(server.logs.some((r) => r.level === 'info' && /answers again/.test(r.message))).toBe(true);
      expect(server.server.bus!.counters().reconnects).toBeGreaterThanOrEqual(2);
    }
  }, 30_000);
});
