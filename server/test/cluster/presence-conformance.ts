/**
 * The presence contract (`server/src/cluster/presence.ts`) as tests: both
 * stores run this suite, with a factory that gives a fresh store (its
 * cleanup arranged by the factory or by the suite's close), e.g.
 *
 * ```ts
 * presenceConformance('memory', () => new MemoryPresenceStore());
 * ```
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { NekoError } from '../../src/errors.js';
import type { JsonValue, PresenceStore } from '../../src/cluster/presence.js';

/** Waits until `check` passes (or fails with its last error after `ms`). */
export async function eventually(check: () => void | Promise<void>, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Asserts that `promise` rejects with a NekoError of `code`; returns it. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<NekoError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a rejection with ${code}`).toBeInstanceOf(NekoError);
  expect((err as NekoError).code).toBe(code);
  return err as NekoError;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function presenceConformance(
  name: string,
  makeStore: () => Promise<PresenceStore> | PresenceStore,
): void {
  let greeters = 0;
  async function fresh(): Promise<{ store: PresenceStore; greeter: string }> {
    const store = await makeStore();
    onTestFinished(() => store.close());
    return { store, greeter: `conf-${++greeters}` };
  }

  describe(`presence conformance: ${name}`, () => {
    it('sets, gets and deletes JSON values, as copies', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      const values: JsonValue[] = [
        null,
        true,
        0,
        -12.5,
        'mimi',
        '',
        [1, 'two', { three: [] }],
        { a: { b: 'é✓' } },
      ];
      for (const [i, value] of values.entries()) await p.set(`k${i}`, value);
      for (const [i, value] of values.entries()) expect(await p.get(`k${i}`)).toEqual(value);
      const object = { n: 1 };
      await p.set('copy', object);
      object.n = 2;
      const read = await p.get<{ n: number }>('copy');
      expect(read).toEqual({ n: 1 });
      expect(await p.get('never')).toBeUndefined();
      // An object of an interface type goes in as it is, and comes out typed as asked.
      interface Player {
        name: string;
        score: number;
      }
      const player: Player = { name: 'mimi', score: 3 };
      await p.set('player', player);
      const back: Player | undefined = await p.get<Player>('player');
      expect(back).toEqual(player);
      expect(await p.del('k0')).toBe(true);
      expect(await p.del('k0')).toBe(false);
      expect(await p.get('k0')).toBeUndefined();
    });

    it('refuses what is not a JSON value, bad names and bad TTLs, with codes', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const bad: unknown[] = [
        undefined,
        NaN,
        Infinity,
        () => 1,
        10n,
        new Map(),
        new Date(0),
        { a: [1, undefined] },
        cyclic,
      ];
      for (const value of bad)
        await rejectsWithCode(p.set('x', value as JsonValue), 'NEKO_ERR_PRESENCE_VALUE');
      const nested = await rejectsWithCode(
        p.set('x', { a: [1, undefined] } as unknown as JsonValue),
        'NEKO_ERR_PRESENCE_VALUE',
      );
      expect(nested.message).toContain('a[1]');
      await rejectsWithCode(p.set('x', 'y'.repeat(1024 * 1024 + 1)), 'NEKO_ERR_PRESENCE_VALUE');
      await rejectsWithCode(p.set('', 1), 'NEKO_ERR_PRESENCE_KEY');
      await rejectsWithCode(p.set('k'.repeat(1025), 1), 'NEKO_ERR_PRESENCE_KEY');
      await rejectsWithCode(p.get(42 as unknown as string), 'NEKO_ERR_PRESENCE_KEY');
      await rejectsWithCode(p.hset('h', '', 1), 'NEKO_ERR_PRESENCE_KEY');
      await rejectsWithCode(p.sadd('s', ''), 'NEKO_ERR_PRESENCE_KEY');
      await rejectsWithCode(p.publish('', 1), 'NEKO_ERR_PRESENCE_KEY');
      await rejectsWithCode(p.set('half \uD83D', 1), 'NEKO_ERR_PRESENCE_KEY');
      await rejectsWithCode(p.hset('h', '\uDE00 half', 1), 'NEKO_ERR_PRESENCE_KEY');
      // Whole pairs are text like any other, in names and values.
      await p.hset('emoji 😺', 'field 😺', 'value 😺 \uD83D');
      expect(await p.hgetall('emoji 😺')).toEqual({ 'field 😺': 'value 😺 \uD83D' });
      for (const ttlMs of [0, -1, 1.5, NaN, '100', 101 * 24 * 3600 * 1000]) {
        await rejectsWithCode(p.set('x', 1, { ttlMs: ttlMs as number }), 'NEKO_ERR_PRESENCE_TTL');
      }
      await rejectsWithCode(p.expire('x', 0), 'NEKO_ERR_PRESENCE_TTL');
      await rejectsWithCode(p.set('x', 1, { owner: 'session' }), 'NEKO_ERR_PRESENCE_OWNER');
      await rejectsWithCode(p.hsetnx('x', 'f', 1, { owner: 'session' }), 'NEKO_ERR_PRESENCE_OWNER');
      await rejectsWithCode(
        store.forPlugin(greeter, 'sess').set('x', 1, { owner: 'process' as 'session' }),
        'NEKO_ERR_PRESENCE_OWNER',
      );
      // Nothing refused was stored.
      expect(await p.get('x')).toBeUndefined();
    });

    it('expires keys after their TTL; set without a TTL clears it; expire sets one', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      await p.set('short', 'v', { ttlMs: 150 });
      await p.set('kept', 'v', { ttlMs: 150 });
      await p.set('kept', 'w');
      await p.hset('hash', 'f', 1);
      expect(await p.expire('hash', 150)).toBe(true);
      expect(await p.expire('missing', 150)).toBe(false);
      expect(await p.get('short')).toBe('v');
      await sleep(300);
      expect(await p.get('short')).toBeUndefined();
      expect(await p.setnx('short', 'again')).toBe(true);
      expect(await p.get('kept')).toBe('w');
      expect(await p.hgetall('hash')).toEqual({});
      expect(await p.hlen('hash')).toBe(0);
    });

    it('counts with incr: from 0, by whole numbers, keeping the TTL, refusing non-integers', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      expect(await p.incr('n')).toBe(1);
      expect(await p.incr('n', 41)).toBe(42);
      expect(await p.incr('n', -50)).toBe(-8);
      expect(await p.get('n')).toBe(-8);
      await p.set('seven', 7);
      expect(await p.incr('seven')).toBe(8);
      await rejectsWithCode(p.incr('n', 1.5), 'NEKO_ERR_PRESENCE_VALUE');
      await p.set('text', 'abc');
      await rejectsWithCode(p.incr('text'), 'NEKO_ERR_PRESENCE_TYPE');
      await p.set('half', 1.5);
      await rejectsWithCode(p.incr('half'), 'NEKO_ERR_PRESENCE_TYPE');
      await p.set('big', Number.MAX_SAFE_INTEGER - 1);
      expect(await p.incr('big')).toBe(Number.MAX_SAFE_INTEGER);
      await rejectsWithCode(p.incr('big'), 'NEKO_ERR_PRESENCE_VALUE');
      expect(await p.get('big')).toBe(Number.MAX_SAFE_INTEGER);
      await p.hset('h', 'f', 1);
      await rejectsWithCode(p.incr('h'), 'NEKO_ERR_PRESENCE_TYPE');
      await p.set('ttl', 1, { ttlMs: 150 });
      expect(await p.incr('ttl')).toBe(2);
      await sleep(300);
      expect(await p.get('ttl')).toBeUndefined();
      // Concurrent increments lose nothing.
      await Promise.all(Array.from({ length: 50 }, () => p.incr('many')));
      expect(await p.get('many')).toBe(50);
    });

    it('keeps hashes: hset, hsetnx, hget, hdel, hgetall, hkeys, hlen', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      expect(await p.hset('nicks', 'mimi', { id: 's-1' })).toBe(true);
      expect(await p.hset('nicks', 'mimi', { id: 's-2' })).toBe(false);
      expect(await p.hsetnx('nicks', 'mimi', { id: 's-3' })).toBe(false);
      expect(await p.hsetnx('nicks', 'tora', { id: 's-4' })).toBe(true);
      expect(await p.hget('nicks', 'mimi')).toEqual({ id: 's-2' });
      expect(await p.hget('nicks', 'nobody')).toBeUndefined();
      expect(await p.hget('missing', 'f')).toBeUndefined();
      expect(await p.hgetall('nicks')).toEqual({ mimi: { id: 's-2' }, tora: { id: 's-4' } });
      expect((await p.hkeys('nicks')).sort()).toEqual(['mimi', 'tora']);
      expect(await p.hlen('nicks')).toBe(2);
      await p.hset('odd', '__proto__', 1);
      const odd = await p.hgetall('odd');
      expect(Object.keys(odd)).toEqual(['__proto__']);
      expect(Object.getPrototypeOf(odd)).toBe(Object.prototype);
      expect(await p.hdel('nicks', 'mimi')).toBe(true);
      expect(await p.hdel('nicks', 'mimi')).toBe(false);
      expect(await p.hdel('nicks', 'tora')).toBe(true);
      // The hash went with its last field: the key is free for another kind.
      expect(await p.setnx('nicks', 'now a value')).toBe(true);
      expect(await p.hgetall('missing')).toEqual({});
      expect(await p.hkeys('missing')).toEqual([]);
    });

    it('hsetnx is one atomic claim: of 20 racing claims exactly one wins', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => p.hsetnx('nicks', 'mimi', i)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await p.hget('nicks', 'mimi')).toBe(results.indexOf(true));
      const keyed = await Promise.all(Array.from({ length: 20 }, (_, i) => p.setnx('lock', i)));
      expect(keyed.filter(Boolean)).toHaveLength(1);
      expect(await p.get('lock')).toBe(keyed.indexOf(true));
    });

    it('keeps sets: sadd, srem, smembers, sismember, scard', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      expect(await p.sadd('room', 'a')).toBe(true);
      expect(await p.sadd('room', 'a')).toBe(false);
      expect(await p.sadd('room', 'b')).toBe(true);
      expect((await p.smembers('room')).sort()).toEqual(['a', 'b']);
      expect(await p.sismember('room', 'a')).toBe(true);
      expect(await p.sismember('room', 'z')).toBe(false);
      expect(await p.scard('room')).toBe(2);
      expect(await p.srem('room', 'a')).toBe(true);
      expect(await p.srem('room', 'a')).toBe(false);
      expect(await p.srem('room', 'b')).toBe(true);
      expect(await p.smembers('room')).toEqual([]);
      expect(await p.scard('room')).toBe(0);
      expect(await p.setnx('room', 1)).toBe(true);
    });

    it('refuses a key used as another kind than it holds (NEKO_ERR_PRESENCE_TYPE); set, del and expire take any kind', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      await p.set('v', 1);
      await p.hset('h', 'f', 1);
      await p.sadd('s', 'm');
      await rejectsWithCode(p.get('h'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.get('s'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.hget('v', 'f'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.hset('s', 'f', 1), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.hsetnx('v', 'f', 1), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.hgetall('v'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.hdel('s', 'f'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.hlen('v'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.hkeys('s'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.sadd('h', 'm'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.smembers('v'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.sismember('h', 'm'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.scard('v'), 'NEKO_ERR_PRESENCE_TYPE');
      await rejectsWithCode(p.srem('h', 'm'), 'NEKO_ERR_PRESENCE_TYPE');
      expect(await p.setnx('h', 'x')).toBe(false);
      expect(await p.expire('s', 10_000)).toBe(true);
      await p.set('h', 'replaced');
      expect(await p.get('h')).toBe('replaced');
      expect(await p.del('s')).toBe(true);
      expect(await p.sadd('s', 'again')).toBe(true);
    });

    it("keeps each plugin's keys and channels to itself", async () => {
      const { store, greeter } = await fresh();
      const a = store.forPlugin(greeter);
      const b = store.forPlugin(`${greeter}:x`);
      const c = store.forPlugin(greeter.slice(0, -1));
      await a.set('x:k', 'a');
      await b.set('k', 'b');
      expect(await a.get('x:k')).toBe('a');
      expect(await b.get('k')).toBe('b');
      expect(await c.get('x:k')).toBeUndefined();
      const got: JsonValue[] = [];
      await b.subscribe('news', (v) => void got.push(v));
      expect(await a.publish('news', 'for a')).toBe(0);
      expect(await b.publish('news', 'for b')).toBe(1);
      await eventually(() => expect(got).toEqual(['for b']));
    });

    it('publishes to every subscriber of the channel, in order, until it unsubscribes', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      const first: JsonValue[] = [];
      const second: JsonValue[] = [];
      const end = await p.subscribe('chan', (v) => void first.push(v));
      await p.subscribe('chan', (v) => void second.push(v));
      expect(await p.publish('chan', { n: 1 })).toBe(1);
      await p.publish('chan', [2]);
      await p.publish('chan', 'three');
      await eventually(() => expect(second).toEqual([{ n: 1 }, [2], 'three']));
      expect(first).toEqual([{ n: 1 }, [2], 'three']);
      expect(store.counters()).toMatchObject({ published: 3, delivered: 6, failures: 0, pendingDrops: 0 });
      // Each subscriber gets its own copy.
      (first[0] as { n: number }).n = 99;
      expect(second[0]).toEqual({ n: 1 });
      await end();
      await p.publish('chan', 4);
      await eventually(() => expect(second).toHaveLength(4));
      expect(first).toHaveLength(3);
      expect(await p.publish('nobody', 1)).toBe(0);
      await rejectsWithCode(p.publish('chan', undefined as unknown as JsonValue), 'NEKO_ERR_PRESENCE_VALUE');
    });

    it('a subscriber that throws does not keep the value from the others', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      const got: JsonValue[] = [];
      await p.subscribe('chan', () => {
        throw new Error('boom');
      });
      await p.subscribe('chan', () => Promise.reject(new Error('async boom')));
      await p.subscribe('chan', (v) => void got.push(v));
      await p.publish('chan', 1);
      await p.publish('chan', 2);
      await eventually(() => expect(got).toEqual([1, 2]));
    });

    it('endSubscriptions ends every subscription of one plugin, and only of that plugin', async () => {
      const { store, greeter } = await fresh();
      const p = store.forPlugin(greeter);
      const other = store.forPlugin(`${greeter}-other`);
      const mine: JsonValue[] = [];
      const theirs: JsonValue[] = [];
      await p.subscribe('chan', (v) => void mine.push(v));
      await store.forPlugin(greeter, 'sess').subscribe('chan', (v) => void mine.push(v));
      await other.subscribe('chan', (v) => void theirs.push(v));
      await store.endSubscriptions(greeter);
      expect(await p.publish('chan', 1)).toBe(0);
      expect(await other.publish('chan', 2)).toBe(1);
      await eventually(() => expect(theirs).toEqual([2]));
      expect(mine).toEqual([]);
    });

    it("owner 'session': dropSession removes what the session still owns, nothing else", async () => {
      const { store, greeter } = await fresh();
      const plugin = store.forPlugin(greeter);
      const a = store.forPlugin(greeter, 's-a');
      const b = store.forPlugin(greeter, 's-b');
      expect(await a.hsetnx('nicks', 'mimi', 's-a', { owner: 'session' })).toBe(true);
      await a.set('typing:a', true, { owner: 'session', ttlMs: 60_000 });
      expect(await a.setnx('lock', 'a', { owner: 'session' })).toBe(true);
      await a.sadd('online', 's-a', { owner: 'session' });
      await b.sadd('online', 's-b', { owner: 'session' });
      await plugin.hset('nicks', 'keep', 'plugin');
      // A's claim on "lock" was replaced by a write without owner: it is the plugin's now.
      await plugin.set('lock', 'plugin');
      await store.dropSession('s-a');
      expect(await plugin.hgetall('nicks')).toEqual({ keep: 'plugin' });
      expect(await plugin.get('typing:a')).toBeUndefined();
      expect(await plugin.get('lock')).toBe('plugin');
      expect(await plugin.smembers('online')).toEqual(['s-b']);
      // Again: nothing left to drop.
      await store.dropSession('s-a');
      expect(await plugin.smembers('online')).toEqual(['s-b']);
    });

    it('a nickname released by A and claimed by B is not removed by a late drop of A', async () => {
      const { store, greeter } = await fresh();
      const a = store.forPlugin(greeter, 's-a');
      const b = store.forPlugin(greeter, 's-b');
      expect(await a.hsetnx('nicks', 'mimi', true, { owner: 'session' })).toBe(true);
      expect(await b.hsetnx('nicks', 'mimi', true, { owner: 'session' })).toBe(false);
      expect(await a.hdel('nicks', 'mimi')).toBe(true);
      expect(await b.hsetnx('nicks', 'mimi', true, { owner: 'session' })).toBe(true);
      await a.set('k', 'same', { owner: 'session' });
      await b.set('k', 'same', { owner: 'session' });
      await store.dropSession('s-a');
      expect(await b.hget('nicks', 'mimi')).toBe(true);
      expect(await b.get('k')).toBe('same');
      await store.dropSession('s-b');
      expect(await b.hget('nicks', 'mimi')).toBeUndefined();
      expect(await b.get('k')).toBeUndefined();
    });

    it('dropSession with a greeter drops only that plugin’s entries of the session; a process id names whose session', async () => {
      const { store, greeter } = await fresh();
      const chat = store.forPlugin(greeter, 's-1');
      const game = store.forPlugin(`${greeter}-game`, 's-1');
      await chat.set('here', 1, { owner: 'session' });
      await game.set('here', 2, { owner: 'session' });
      await store.dropSession('s-1', { greeter: `${greeter}-game` });
      expect(await chat.get('here')).toBe(1);
      expect(await game.get('here')).toBeUndefined();
      await store.dropSession('s-1', { processId: 'another-process' });
      expect(await chat.get('here')).toBe(1);
      await store.dropSession('s-1');
      expect(await chat.get('here')).toBeUndefined();
    });
  });
}
