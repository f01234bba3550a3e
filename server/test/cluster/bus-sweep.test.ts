/**
 * The sweep of a dead process: a server of the cluster in a process of its
 * own is killed with SIGKILL; one of the two survivors (servers in this
 * test process) runs the plugins' onSessionGone once per session, and the
 * dead process's sessions leave Redis within twice the heartbeat TTL.
 */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { clusterServer, freshCluster, roomClient, roomPlugins, startBusProcess } from './bus-support.js';
import { bundleFixtures } from './ipc-support.js';

let redis: RunningRedis;
let bundle: string;
let removeBundle: (() => Promise<void>) | undefined;

beforeAll(async () => {
  redis = await startRedis();
  const bundled = await bundleFixtures(['bus-process']);
  removeBundle = bundled.remove;
  bundle = bundled.paths['bus-process']!;
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  await removeBundle?.();
});

/** The fixture server in a process of its own; killed when the test ends. */
function startProcess(env: Record<string, string>): ReturnType<typeof startBusProcess> {
  return startBusProcess(bundle, env);
}

describe('a process killed with SIGKILL', () => {
  it('is swept by one survivor: onSessionGone once per session (reading its owned presence), then its presence, sessions and groups gone within 2×TTL', async () => {
    const ttl = 1_000;
    const name = freshCluster();
    const cluster = { redis: redis.url, name, heartbeatTtlMs: ttl };
    const s1 = await clusterServer(await roomPlugins(), cluster);
    const s2 = await clusterServer(await roomPlugins(), cluster);
    const doomed = await startProcess({
      NEKO_TEST_REDIS: redis.url,
      NEKO_TEST_CLUSTER: name,
      NEKO_TEST_PLUGINS: await roomPlugins(),
      NEKO_TEST_TTL_MS: String(ttl),
    });

    const a = await roomClient(s1.port);
    const b = await roomClient(s2.port);
    const c1 = await roomClient(doomed.port);
    const c2 = await roomClient(doomed.port);
    for (const client of [a, b, c1, c2]) expect(await client.say('join')).toBe('true');
    await c1.say('own mimi');
    await c2.say('own tama');
    expect(await a.say(`peek ${c1.id}`)).toBe('"mimi"');
    expect(await a.say('who')).toBe(JSON.stringify([a.id, b.id, c1.id, c2.id]));

    const raw = new Redis(redis.url);
    onTestFinished(() => raw.quit().then(() => undefined));
    const sessions = `nc:${name}:sessions`;
    expect(await raw.hget(sessions, c1.id)).toBe(doomed.processId);
    expect(await raw.hexists(`nc:${name}:procs`, doomed.processId)).toBe(1);

    doomed.child.kill('SIGKILL');
    const killedAt = Date.now();
    await expect
      .poll(async () => [await raw.hexists(sessions, c1.id), await raw.hexists(sessions, c2.id)], {
        timeout: 4 * ttl,
        interval: 25,
      })
      .toEqual([0, 0]);
    const took = Date.now() - killedAt;
    expect(took).toBeLessThan(2 * ttl);
    await expect.poll(() => raw.hexists(`nc:${name}:procs`, doomed.processId)).toBe(0);
    expect(await raw.exists(`nc:${name}:pgreeters:${doomed.processId}`)).toBe(0);
    expect(await raw.exists(`nc:${name}:psess:${doomed.processId}:room`)).toBe(0);

    // One survivor told its plugin, once per session; the hook's broadcast reached both survivors' clients.
    const told = [
      ...(JSON.parse(await a.say('gone')) as object[]),
      ...(JSON.parse(await b.say('gone')) as object[]),
    ];
    const expected = (id: string, nick: string): object => ({
      greeter: 'room',
      sessionId: id,
      processId: doomed.processId,
      hostname: hostname(),
      reason: 'process-gone',
      nick,
    });
    expect(told).toHaveLength(2);
    expect(told).toEqual(expect.arrayContaining([expected(c1.id, 'mimi'), expected(c2.id, 'tama')]));
    // After the hook, what the sessions owned in presence is gone.
    expect(await b.say(`peek ${c1.id}`)).toBe('null');
    expect(await b.say(`peek ${c2.id}`)).toBe('null');
    const swept = s1.server.bus!.counters().swept + s2.server.bus!.counters().swept;
    expect(swept).toBe(1);
    for (const client of [a, b]) {
      await expect.poll(() => client.texts(4).sort()).toEqual([`gone ${c1.id}`, `gone ${c2.id}`].sort());
    }
    expect(await a.say('who')).toBe(JSON.stringify([a.id, b.id]));
    expect(await a.say(`dm ${c1.id} hello?`)).toBe('gone');
    console.log(`sweep: the killed process's sessions left Redis ${took} ms after the kill (TTL ${ttl} ms)`);
  }, 30_000);
});
