/**
 * The cluster bus between two servers of one cluster in this process (each
 * with its own bus and Redis connections), on a real redis-server:
 * broadcasts, direct messages and groups across processes, and the order
 * of a storm of broadcasts.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { clusterServer, freshCluster, roomClient, roomPlugins } from './bus-support.js';

let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  await redis?.stop();
});

async function twoServers(options: { sendToTimeoutMs?: number } = {}) {
  const plugins = await roomPlugins();
  const cluster = { redis: redis.url, name: freshCluster(), ...options };
  const a = await clusterServer(plugins, cluster);
  const b = await clusterServer(plugins, cluster);
  return { a, b, cluster };
}

describe('broadcast across processes', () => {
  it('reaches the sessions of the other process, except those left out, and says how many it reached here', async () => {
    const { a, b } = await twoServers();
    expect(a.server.processId).not.toBe(b.server.processId);
    expect(a.server.cluster?.redis).not.toContain(redis.password);
    const a1 = await roomClient(a.port);
    const a2 = await roomClient(a.port);
    const b1 = await roomClient(b.port);
    const b2 = await roomClient(b.port);
    expect(new Set([a1.id, a2.id, b1.id, b2.id]).size).toBe(4);

    // Local count: only a2 is on a1's process (a1 left itself out).
    expect(await a1.say('all meow')).toBe('sent 1');
    await expect.poll(() => [a2.texts(8), b1.texts(8), b2.texts(8)]).toEqual([['meow'], ['meow'], ['meow']]);
    expect(a1.texts(8)).toEqual([]);

    // except names a session of the other process.
    expect(await a1.say(`allx ${b2.id} purr`)).toBe('sent 1');
    await expect.poll(() => b1.texts(8)).toEqual(['meow', 'purr']);
    // (A client takes a push that comes while it waits for an answer as that answer: b1 asks once purr is in.)
    expect(await b1.say('all done')).toBe('sent 1');
    await expect.poll(() => a1.texts(8)).toEqual(['done']);
    // b2 got done, never purr.
    await expect.poll(() => b2.texts(8)).toEqual(['meow', 'done']);
    await expect.poll(() => a2.texts(8)).toEqual(['meow', 'purr', 'done']);

    const bus = b.server.bus!;
    expect(bus.counters().received).toBeGreaterThanOrEqual(2);
    expect(bus.counters().latency.count).toBeGreaterThanOrEqual(2);
    expect(bus.status().reachable).toBe(true);
  });

  it('carries bytes as they are', async () => {
    const { a, b } = await twoServers();
    const a1 = await roomClient(a.port);
    const b1 = await roomClient(b.port);
    await a1.say('bin');
    await expect.poll(() => b1.pushes.length).toBe(1);
    expect([...b1.pushes[0]!.data]).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });
});

describe('sendTo across processes', () => {
  it('is delivered to a session of the other process, and gone once it left or for an unknown id', async () => {
    const { a, b } = await twoServers();
    const a1 = await roomClient(a.port);
    const b1 = await roomClient(b.port);
    expect(await a1.say(`dm ${b1.id} psst`)).toBe('delivered');
    await expect.poll(() => b1.texts(9)).toEqual(['psst']);
    expect(await b1.say(`dm ${a1.id} back`)).toBe('delivered');
    await expect.poll(() => a1.texts(9)).toEqual(['back']);
    expect(await a1.say('dm s-nobody hello')).toBe('gone');

    await b1.client.close();
    await expect.poll(() => a1.say(`dm ${b1.id} late`)).toBe('gone');
  });

  it('is gone when the process named for the session does not answer within sendToTimeoutMs', async () => {
    const { a, cluster } = await twoServers({ sendToTimeoutMs: 400 });
    const a1 = await roomClient(a.port);
    // A session the map gives to a process that listens to nothing.
    const raw = new Redis(redis.url);
    await raw.hset(`nc:${cluster.name}:sessions`, 's-silent', 'feedfacefeedface');
    await raw.quit();
    const started = Date.now();
    expect(await a1.say('dm s-silent anyone')).toBe('gone');
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });
});

describe('groups across processes', () => {
  it('adds sessions of either process, lists them in the order added, broadcasts to them, and forgets those that leave', async () => {
    const { a, b, cluster } = await twoServers();
    const a1 = await roomClient(a.port);
    const b1 = await roomClient(b.port);
    const b2 = await roomClient(b.port);

    expect(await a1.say('join')).toBe('true');
    // a1 adds b1, a session of the other process.
    expect(await a1.say(`join ${b1.id}`)).toBe('true');
    expect(await a1.say('join s-nobody')).toBe('false');
    expect(await b2.say('who')).toBe(JSON.stringify([a1.id, b1.id]));

    // b1's group broadcast reaches a1 on the other process; b2 is not in the group.
    expect(await b1.say('say hello')).toBe('sent 0');
    await expect.poll(() => a1.texts(7)).toEqual(['hello']);
    expect(await a1.say('say hi')).toBe('sent 0');
    await expect.poll(() => b1.texts(7)).toEqual(['hi']);
    expect(b2.texts(7)).toEqual([]);

    // Removing a session of the other process.
    expect(await a1.say(`part ${b1.id}`)).toBe('true');
    expect(await a1.say(`part ${b1.id}`)).toBe('false');
    expect(await a1.say('say again')).toBe('sent 0');
    expect(await a1.say(`join ${b2.id}`)).toBe('true');
    expect(await a1.say('who')).toBe(JSON.stringify([a1.id, b2.id]));

    // A session that leaves leaves its groups, on every process's view.
    await b2.client.close();
    await expect.poll(() => a1.say('who')).toBe(JSON.stringify([a1.id]));
    expect(b1.texts(7)).toEqual(['hi']);
    const raw = new Redis(redis.url);
    expect(await raw.hexists(`nc:${cluster.name}:sessions`, b2.id)).toBe(0);
    expect(await raw.hget(`nc:${cluster.name}:sessions`, b1.id)).toBe(b.server.processId);
    await raw.quit();
  });
});

describe('a storm of broadcasts', () => {
  it('keeps each publisher order: 2,000 group broadcasts from each of two processes', async () => {
    const { a, b } = await twoServers();
    const receivers = [await roomClient(a.port), await roomClient(b.port)];
    for (const r of receivers) expect(await r.say('join')).toBe('true');
    const pa = await roomClient(a.port);
    const pb = await roomClient(b.port);
    const n = 2_000;
    const started = performance.now();
    await Promise.all([pa.say(`storm ${n} A`), pb.say(`storm ${n} B`)]);
    for (const r of receivers) {
      await expect.poll(() => r.texts(5).length, { timeout: 20_000 }).toBe(2 * n);
    }
    const ms = performance.now() - started;
    for (const r of receivers) {
      const texts = r.texts(5);
      for (const tag of ['A', 'B']) {
        const seen = texts.filter((t) => t.startsWith(`${tag}:`)).map((t) => Number(t.slice(2)));
        expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
      }
    }
    const latency = b.server.bus!.counters().latency;
    console.log(
      `storm: ${4 * n} deliveries in ${ms.toFixed(0)} ms; cross-process mean ${(latency.sum / latency.count).toFixed(2)} ms over ${latency.count} messages`,
    );
  }, 30_000);
});

describe('cross-process latency', () => {
  it('is measured against the same broadcast within one process (client to client, one at a time)', async () => {
    const { a, b } = await twoServers();
    const sender = await roomClient(a.port);
    const local = await roomClient(a.port);
    const remote = await roomClient(b.port);
    const arrival = (client: typeof local, text: string): Promise<number> =>
      new Promise((resolve) => {
        const onPacket = (packet: { op: number; text(): string }): void => {
          if (packet.op !== 8 || packet.text() !== text) return;
          client.client.off('packet', onPacket);
          resolve(performance.now());
        };
        client.client.on('packet', onPacket);
      });
    const localMs: number[] = [];
    const remoteMs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const text = `t${i}`;
      const atLocal = arrival(local, text);
      const atRemote = arrival(remote, text);
      const sent = performance.now();
      await sender.say(`all ${text}`);
      localMs.push((await atLocal) - sent);
      remoteMs.push((await atRemote) - sent);
    }
    const pct = (list: number[], p: number): number =>
      [...list].sort((x, y) => x - y)[Math.min(list.length - 1, Math.floor((p / 100) * list.length))]!;
    expect(local.texts(8)).toHaveLength(300);
    expect(remote.texts(8)).toHaveLength(300);
    console.log(
      `broadcast latency over 300: same process p50 ${pct(localMs, 50).toFixed(2)} ms p99 ${pct(localMs, 99).toFixed(2)} ms; ` +
        `other process p50 ${pct(remoteMs, 50).toFixed(2)} ms p99 ${pct(remoteMs, 99).toFixed(2)} ms`,
    );
  }, 30_000);
});
