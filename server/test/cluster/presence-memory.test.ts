import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../../src/cluster/memory-presence.js';
import { presenceConformance } from './presence-conformance.js';

presenceConformance('memory', () => new MemoryPresenceStore({ sweepIntervalMs: 50 }));

describe('MemoryPresenceStore', () => {
  it('sweeps expired keys nobody reads again, then stops its timer', async () => {
    const store = new MemoryPresenceStore({ sweepIntervalMs: 20 });
    const p = store.forPlugin('sweep');
    for (let i = 0; i < 100; i++) await p.set(`k${i}`, i, { ttlMs: 30 });
    await p.set('forever', 1);
    expect(store.size).toBe(101);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(store.size).toBe(1);
    await store.close();
  });

  it('reports a subscriber that throws with its plugin and channel', async () => {
    const reported: [string, string, string][] = [];
    const store = new MemoryPresenceStore({
      onHandlerError: (greeter, channel, err) => reported.push([greeter, channel, (err as Error).message]),
    });
    const p = store.forPlugin('chat');
    await p.subscribe('room', () => {
      throw new Error('boom');
    });
    await p.publish('room', 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(reported).toEqual([['chat', 'room', 'boom']]);
    expect(store.subscriptionCount('chat')).toBe(1);
    await store.close();
    expect(store.subscriptionCount('chat')).toBe(0);
  });
});
