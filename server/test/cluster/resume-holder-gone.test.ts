/**
 * A resume after the process that held the session died: the process that
 * held it (a server in a process of its own) is killed with SIGKILL while
 * the session waits for its client; the client, an SDK client with
 * `reconnect` behind a relay now pointing at a survivor, is refused with
 * 410 at once (not after a timeout), the survivor logs why with a code, and
 * the client starts a fresh session and says so.
 */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { connect } from '../../src/client/client.js';
import { SECRET } from '../helpers/server.js';
import { clusterServer, freshCluster, startBusProcess } from './bus-support.js';
import { bundleFixtures } from './ipc-support.js';
import { Redis } from 'ioredis';
import { ask, gamePlugins, resumablePeer, resume, shape } from './handover-support.js';
import { startRelay } from '../helpers/proxy.js';

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

describe('the process that held a waiting session is killed with SIGKILL', () => {
  it('a resume on a survivor is refused with 410 at once and logged with a code; the SDK starts a fresh session and says so', async () => {
    const name = freshCluster();
    const ttl = 5_000;
    // A long acknowledgement timeout: a refusal that waited for one would show.
    const survivor = await clusterServer((await gamePlugins()).plugins, {
      redis: redis.url,
      name,
      heartbeatTtlMs: ttl,
      sendToTimeoutMs: 5_000,
    });
    const doomed = await startProcess({
      NEKO_TEST_REDIS: redis.url,
      NEKO_TEST_CLUSTER: name,
      NEKO_TEST_PLUGINS: (await gamePlugins()).plugins,
      NEKO_TEST_TTL_MS: String(ttl),
    });
    const relay = await startRelay(doomed.port);
    const client = await connect({
      secret: SECRET,
      port: relay.port,
      reconnect: { retries: 50, backoff: { initialMs: 50, maxMs: 100 } },
    });
    onTestFinished(() => client.close());
    const events: string[] = [];
    client.on('resumed', () => events.push('resumed'));
    client.on('reconnected', ({ resumed }) => events.push(`reconnected resumed=${resumed}`));

    const first = (await client.request('game', 'me')).text();
    expect((await client.request('game', 'set cat')).text()).toBe('ok');
    expect((await client.request('game', 'join')).text()).toBe('true');

    // The connection drops; the session waits on its process, which then dies.
    relay.refuse(true);
    relay.cut();
    await expect.poll(() => client.state).toBe('reconnecting');
    await new Promise((resolve) => setTimeout(resolve, 200));
    doomed.child.kill('SIGKILL');
    await new Promise((resolve) => doomed.child.once('exit', resolve));
    // The client comes back through the relay, now to the survivor, well within the dead one's heartbeat TTL.
    relay.target = survivor.port;
    const backAt = Date.now();
    relay.refuse(false);

    await expect.poll(() => events, { timeout: 5_000 }).toEqual(['reconnected resumed=false']);
    expect(Date.now() - backAt).toBeLessThan(2_000);
    const logged = await survivor.waitForLog((r) => r.code === 'NEKO_ERR_SESSION_RESUME_HOLDER_GONE');
    expect(logged.level).toBe('warn');
    expect(logged.message).toContain(
      `the process that held the session (${doomed.processId} on ${hostname()}) is gone`,
    );
    // A fresh session on the survivor: another id, no state.
    const fresh = JSON.parse((await client.request('game', 'get')).text()) as {
      id: string;
      v: string | null;
    };
    expect(fresh.id).not.toBe(first);
    expect(fresh.v).toBeNull();
    expect(client.state).toBe('open');
    expect(survivor.server.sessions().map((s) => s.id)).toEqual([fresh.id]);
  });

  it('still refuses a resume as the dead process’s once a survivor swept it (its tokens are kept an hour)', async () => {
    const name = freshCluster();
    const ttl = 500;
    const survivor = await clusterServer((await gamePlugins()).plugins, {
      redis: redis.url,
      name,
      heartbeatTtlMs: ttl,
    });
    const doomed = await startProcess({
      NEKO_TEST_REDIS: redis.url,
      NEKO_TEST_CLUSTER: name,
      NEKO_TEST_PLUGINS: (await gamePlugins()).plugins,
      NEKO_TEST_TTL_MS: String(ttl),
    });
    const { peer, token } = await resumablePeer(doomed.port);
    expect(shape(await ask(peer, 'game', 'set cat'))).toEqual(['game', 1, 'ok']);
    peer.socket.destroy();
    doomed.child.kill('SIGKILL');
    const raw = new Redis(redis.url);
    onTestFinished(() => raw.quit().then(() => undefined));
    await expect
      .poll(() => raw.hexists(`nc:${name}:procs`, doomed.processId), { timeout: 4 * ttl, interval: 25 })
      .toBe(0);
    const kept = await raw.keys(`nc:${name}:token:*`);
    expect(kept).toHaveLength(1);
    expect(await raw.pttl(kept[0]!)).toBeGreaterThan(3_500_000);

    const { answer } = await resume(survivor.port, token);
    expect(shape(answer)).toEqual(['nekoconnect-server', 202, '410']);
    const logged = await survivor.waitForLog((r) => r.code === 'NEKO_ERR_SESSION_RESUME_HOLDER_GONE');
    expect(logged.message).toContain(`(${doomed.processId}) is gone`);
    expect(await raw.keys(`nc:${name}:token:*`)).toEqual([]);
  });
});
