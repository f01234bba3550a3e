/**
 * Presence on a real redis-server: the conformance suite (a fresh cluster
 * name per store), two stores as two processes of one cluster, an outage
 * and the recovery after it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import type { JsonValue } from '../../src/cluster/presence.js';
import { RedisPresenceStore } from '../../src/cluster/redis-presence.js';
import { connectRedis } from '../../src/cluster/redis.js';
import { eventually, presenceConformance, rejectsWithCode } from './presence-conformance.js';
import { startRelay } from '../helpers/proxy.js';

let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  await redis?.stop();
});

let clusters = 0;
function clusterName(): string {
  return `presence-${process.pid}-${++clusters}`;
}

function store(name: string, processId = randomBytes(8).toString('hex')): RedisPresenceStore {
  const made = new RedisPresenceStore({ redis: redis.url, name, processId });
  onTestFinished(() => made.close());
  return made;
}

presenceConformance(
  'redis',
  () => new RedisPresenceStore({ redis: redis.url, name: clusterName(), processId: 'p1' }),
);

describe('RedisPresenceStore', () => {
  it('two processes of one cluster see each other’s keys, claims and published values; another cluster sees none', async () => {
    const name = clusterName();
    const a = store(name, 'proc-a');
    const b = store(name, 'proc-b');
    const elsewhere = store(clusterName(), 'proc-c');
    const chatA = a.forPlugin('chat', 's-1');
    const chatB = b.forPlugin('chat', 's-1');
    expect(await chatA.hsetnx('nicks', 'mimi', 'on a', { owner: 'session' })).toBe(true);
    expect(await chatB.hsetnx('nicks', 'mimi', 'on b', { owner: 'session' })).toBe(false);
    expect(await chatB.hgetall('nicks')).toEqual({ mimi: 'on a' });
    expect(await elsewhere.forPlugin('chat').hgetall('nicks')).toEqual({});
    await chatB.sadd('online', 'b-1');
    expect(await chatA.smembers('online')).toEqual(['b-1']);

    const gotA: JsonValue[] = [];
    const gotB: JsonValue[] = [];
    const gotElsewhere: JsonValue[] = [];
    await chatA.subscribe('room', (v) => void gotA.push(v));
    await chatB.subscribe('room', (v) => void gotB.push(v));
    await b.forPlugin('chat').subscribe('room', (v) => void gotB.push(v));
    await elsewhere.forPlugin('chat').subscribe('room', (v) => void gotElsewhere.push(v));
    // Two processes have subscribers (b two of them): PUBLISH counts processes.
    expect(await chatA.publish('room', { say: 'hi' })).toBe(2);
    for (let i = 0; i < 20; i++) await chatB.publish('room', i);
    await eventually(() => expect(gotB).toHaveLength(42));
    await eventually(() => expect(gotA).toHaveLength(21));
    expect(gotA).toEqual([{ say: 'hi' }, ...Array.from({ length: 20 }, (_, i) => i)]);
    expect(gotElsewhere).toEqual([]);

    // Session s-1 of process b owns nothing: dropping it leaves a's claim of s-1 alone.
    await b.dropSession('s-1');
    expect(await chatB.hget('nicks', 'mimi')).toBe('on a');
    // Process b drops the sessions of dead process a (the sweep): a's claim goes.
    await b.dropSession('s-1', { processId: 'proc-a' });
    expect(await chatB.hget('nicks', 'mimi')).toBeUndefined();
  });

  it('keeps its keys under nc:<cluster>:p:<greeter>: and what a session owns under nc:<cluster>:owned:', async () => {
    const name = clusterName();
    const s = store(name, 'proc');
    await s.forPlugin('chat:x', 's-9').set('k', 1, { owner: 'session', ttlMs: 60_000 });
    await s.forPlugin('chat').hset('h', 'f', 'v');
    const raw = await connectRedis(redis.url);
    onTestFinished(async () => {
      await raw.quit();
    });
    expect((await raw.keys(`nc:${name}:*`)).sort()).toEqual([
      `nc:${name}:owned:proc/s-9`,
      `nc:${name}:p:chat%3Ax:k`,
      `nc:${name}:p:chat:h`,
    ]);
    expect(await raw.pttl(`nc:${name}:p:chat%3Ax:k`)).toBeGreaterThan(59_000);
    await s.dropSession('s-9');
    expect(await raw.keys(`nc:${name}:*`)).toEqual([`nc:${name}:p:chat:h`]);
  });

  it('rejects with NEKO_ERR_CLUSTER_UNREACHABLE while Redis is away, without the password, and works again once it is back', async () => {
    const name = clusterName();
    const s = store(name);
    const p = s.forPlugin('chat', 's-1');
    await p.set('before', 1);
    const got: JsonValue[] = [];
    await p.subscribe('room', (v) => void got.push(v));
    expect(await p.publish('room', 'first')).toBe(1);
    await eventually(() => expect(got).toEqual(['first']));

    const failures = await redis.restart(async () => {
      const errors = [
        await rejectsWithCode(p.get('before'), 'NEKO_ERR_CLUSTER_UNREACHABLE'),
        await rejectsWithCode(
          p.hsetnx('nicks', 'mimi', 1, { owner: 'session' }),
          'NEKO_ERR_CLUSTER_UNREACHABLE',
        ),
        await rejectsWithCode(p.publish('room', 'lost'), 'NEKO_ERR_CLUSTER_UNREACHABLE'),
        await rejectsWithCode(
          p.subscribe('other', () => undefined),
          'NEKO_ERR_CLUSTER_UNREACHABLE',
        ),
      ];
      return errors;
    });
    for (const err of failures ?? []) {
      expect(err.message).toContain(`127.0.0.1:${redis.port}`);
      expect(err.message).not.toContain(redis.password);
    }
    expect(failures).toHaveLength(4);
    expect(s.counters().failures).toBeGreaterThanOrEqual(4);

    // Redis restarted empty: calls work again once the connections are back, and the subscription is renewed.
    await eventually(
      async () => expect(await p.hsetnx('nicks', 'mimi', 2, { owner: 'session' })).toBe(true),
      10_000,
    );
    expect(await p.get('before')).toBeUndefined();
    await eventually(async () => {
      await p.publish('room', 'after');
      expect(got).toContain('after');
    }, 10_000);
    expect(got).not.toContain('lost');
    await s.dropSession('s-1');
    expect(await p.hgetall('nicks')).toEqual({});
  }, 30_000);

  it('a session drop that fails while the network to Redis is cut is tried again, and done, once it is back', async () => {
    const name = clusterName();
    const relay = await startRelay(redis.port);
    const viaRelay = new RedisPresenceStore({
      redis: `redis://:${encodeURIComponent(redis.password)}@127.0.0.1:${relay.port}`,
      name,
      processId: 'proc-r',
      commandTimeoutMs: 1000,
    });
    onTestFinished(() => viaRelay.close());
    const direct = store(name, 'proc-d').forPlugin('chat');
    const session = viaRelay.forPlugin('chat', 's-1');
    expect(await session.hsetnx('nicks', 'mimi', 1, { owner: 'session' })).toBe(true);
    await session.sadd('online', 's-1', { owner: 'session' });

    relay.refuse(true);
    relay.cut();
    // Once the store knows the connection is down, its calls fail at once (none is left in flight).
    await eventually(() =>
      rejectsWithCode(session.get('x'), 'NEKO_ERR_CLUSTER_UNREACHABLE').then(() => undefined),
    );
    await eventually(async () => {
      const started = Date.now();
      await rejectsWithCode(session.get('x'), 'NEKO_ERR_CLUSTER_UNREACHABLE');
      expect(Date.now() - started).toBeLessThan(500);
    });
    const err = await rejectsWithCode(
      viaRelay.dropSession('s-1', { greeter: 'chat' }),
      'NEKO_ERR_CLUSTER_UNREACHABLE',
    );
    expect(err.message).toContain('tried again');
    expect(err.message).not.toContain(redis.password);
    expect(viaRelay.pendingDrops).toBe(1);
    expect(viaRelay.counters().pendingDrops).toBe(1);
    // Redis kept the entries meanwhile.
    expect(await direct.hgetall('nicks')).toEqual({ mimi: 1 });

    relay.refuse(false);
    // Only the retry can drop them now: the failed drop never reached Redis.
    await eventually(async () => {
      expect(await direct.hgetall('nicks')).toEqual({});
      expect(await direct.smembers('online')).toEqual([]);
    }, 10_000);
    await eventually(() => expect(viaRelay.pendingDrops).toBe(0));
  }, 20_000);

  it('subscriptions ended while the network to Redis is cut are not renewed when it is back; the others are', async () => {
    const name = clusterName();
    const relay = await startRelay(redis.port);
    const viaRelay = new RedisPresenceStore({
      redis: `redis://:${encodeURIComponent(redis.password)}@127.0.0.1:${relay.port}`,
      name,
      processId: 'proc-r',
      commandTimeoutMs: 1000,
    });
    onTestFinished(() => viaRelay.close());
    const directChat = store(name, 'proc-d').forPlugin('chat');
    const directGame = store(name, 'proc-e').forPlugin('game');
    const got: string[] = [];
    await viaRelay.forPlugin('chat').subscribe('news', (v) => void got.push(`chat ${String(v)}`));
    await viaRelay.forPlugin('game').subscribe('news', (v) => void got.push(`game ${String(v)}`));
    expect(await directChat.publish('news', 1)).toBe(1);
    await eventually(() => expect(got).toEqual(['chat 1']));

    relay.refuse(true);
    relay.cut();
    await eventually(() =>
      rejectsWithCode(viaRelay.forPlugin('chat').get('x'), 'NEKO_ERR_CLUSTER_UNREACHABLE').then(
        () => undefined,
      ),
    );
    // The chat plugin unloads during the outage; the game plugin keeps its subscription.
    await viaRelay.endSubscriptions('chat');
    expect(viaRelay.subscriptionCount('chat')).toBe(0);
    expect(viaRelay.subscriptionCount('game')).toBe(1);

    relay.refuse(false);
    await eventually(async () => {
      expect(await directGame.publish('news', 2)).toBe(1);
      expect(got).toContain('game 2');
    }, 10_000);
    await eventually(async () => expect(await directChat.publish('news', 3)).toBe(0), 5_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(got.filter((g) => g.startsWith('chat'))).toEqual(['chat 1']);
  }, 20_000);

  it('an unreachable Redis at the first call is a coded error naming host and port', async () => {
    const s = new RedisPresenceStore({
      redis: 'redis://:s3cret@127.0.0.1:1',
      name: clusterName(),
      processId: 'p',
      connectTimeoutMs: 500,
    });
    onTestFinished(() => s.close());
    const err = await rejectsWithCode(s.forPlugin('chat').get('k'), 'NEKO_ERR_CLUSTER_UNREACHABLE');
    expect(err.message).toContain('127.0.0.1:1');
    expect(err.message).not.toContain('s3cret');
  });
});
