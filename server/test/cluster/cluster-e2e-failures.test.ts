/**
 * A cluster of two `nekoconnect start` processes when things fail: one
 * process killed with SIGKILL (its users leave the survivor's `who` within
 * twice the heartbeat TTL, and the survivor's clients are told), and Redis
 * restarted under a running cluster (nothing crashes, the outage is coded
 * and logged, /readyz says why, and broadcasts reach the other process again).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { assertBuilt } from '../cli/run-cli.js';
import { freshDatabase } from '../storage/postgres-processes.js';
import {
  Chat,
  clusterName,
  clusterPlugins,
  nick,
  peer,
  say,
  startNode,
  who,
  type NodeOptions,
} from './cluster-processes.js';

const TTL_MS = 1_000;

let redis: RunningRedis;
let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

async function options(): Promise<NodeOptions> {
  return {
    redis: redis.url,
    database: await freshDatabase(postgres, 'cluster_fail'),
    plugins: await clusterPlugins(),
    name: clusterName(),
    heartbeatTtlMs: TTL_MS,
  };
}

describe('a cluster when a process dies', () => {
  it('kill -9: its users leave who within 2×TTL, and the survivor’s clients are told', async () => {
    const settings = await options();
    const [doomed, survivor] = await Promise.all([startNode(settings), startNode(settings)]);
    const mimi = await peer(doomed.port);
    const kiki = await peer(doomed.port);
    const tama = await peer(survivor.port);
    expect(await nick(mimi, 'mimi')).toEqual({ nick: 'mimi' });
    expect(await nick(kiki, 'kiki')).toEqual({ nick: 'kiki' });
    expect(await nick(tama, 'tama')).toEqual({ nick: 'tama' });
    expect(await who(tama)).toEqual(['kiki', 'mimi', 'tama']);

    const killed = Date.now();
    doomed.cli.child.kill('SIGKILL');
    const left = await Promise.all([
      tama.push(Chat.Left, (v: { nick: string }) => v.nick === 'mimi', 4 * TTL_MS),
      tama.push(Chat.Left, (v: { nick: string }) => v.nick === 'kiki', 4 * TTL_MS),
    ]);
    expect(left).toEqual([{ nick: 'mimi' }, { nick: 'kiki' }]);
    expect(await who(tama)).toEqual(['tama']);
    const elapsed = Date.now() - killed;
    expect(elapsed).toBeLessThan(2 * TTL_MS + 500);
    // Told once each: one survivor swept the dead process.
    await new Promise((resolve) => setTimeout(resolve, TTL_MS));
    expect(tama.pushes.filter((p) => p.op === Chat.Left)).toEqual([]);
    // Their nicknames are free again.
    const next = await peer(survivor.port);
    expect(await nick(next, 'mimi')).toEqual({ nick: 'mimi' });
    expect(survivor.cli.child.exitCode).toBeNull();
  }, 60_000);
});

describe('a cluster when Redis restarts', () => {
  it('keeps serving local clients, reports the outage coded (and /readyz names Redis), then broadcasts across again', async () => {
    const settings = await options();
    const [a, b] = await Promise.all([startNode(settings), startNode(settings)]);
    const mimi = await peer(a.port);
    const neighbour = await peer(a.port);
    const tama = await peer(b.port);
    await nick(mimi, 'mimi');
    await nick(neighbour, 'neighbour');
    await nick(tama, 'tama');
    await say(mimi, 'before');
    expect(await tama.push(Chat.Say)).toEqual({ nick: 'mimi', text: 'before' });
    expect(await neighbour.push(Chat.Say)).toEqual({ nick: 'mimi', text: 'before' });

    await redis.restart(async () => {
      // Redis is away: the process's own clients still hear each other.
      await say(mimi, 'during');
      expect(await neighbour.push(Chat.Say)).toEqual({ nick: 'mimi', text: 'during' });
      // /readyz is not ready, and says Redis cannot be reached, by host and port, without the password.
      await expect
        .poll(async () => (await fetch(`${a.metrics}/readyz`)).status, { timeout: 5_000 })
        .toBe(503);
      const answer = (await (await fetch(`${a.metrics}/readyz`)).json()) as { reasons: string[] };
      expect(answer.reasons.join(' ')).toContain(`127.0.0.1:${redis.port}`);
      expect(JSON.stringify(answer)).not.toContain(redis.password);
    });

    // Back: broadcasts reach the other process again (once its connections are back).
    await expect
      .poll(
        async () => {
          await say(mimi, 'after');
          return tama.pushes.some((p) => p.op === Chat.Say && p.json<{ text: string }>().text === 'after');
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBe(true);
    await expect.poll(async () => (await fetch(`${a.metrics}/readyz`)).status, { timeout: 5_000 }).toBe(200);
    // Nothing crashed; the outage was logged with its code, naming Redis without the password.
    expect([a.cli.child.exitCode, b.cli.child.exitCode]).toEqual([null, null]);
    const logs = a.cli.stdout() + a.cli.stderr();
    expect(logs).toContain('NEKO_ERR_CLUSTER_UNREACHABLE');
    expect(logs).toContain(`127.0.0.1:${redis.port}`);
    for (const node of [a, b]) expect(node.cli.stdout() + node.cli.stderr()).not.toContain(redis.password);
  }, 60_000);
});
