import { describe, expect, it } from 'vitest';
import { createTestServer } from '@nekoconnect/testing';
import { Op } from './logic.js';

describe('todo plugin counter', () => {
  it('counts every add when many clients add at once (no lost update)', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const clients = await Promise.all(Array.from({ length: 4 }, () => server.connect()));
    await Promise.all(
      clients.flatMap((client, c) =>
        Array.from({ length: 10 }, (_, i) =>
          client.request('todo', { title: `item ${c}.${i}` }, { op: Op.Add }),
        ),
      ),
    );
    expect(await server.db('todo').count({})).toBe(40);
    expect(await server.db('todo').get('added')).toBe(40);
    const stats = (await clients[0]!.request('todo', '', { op: Op.Stats })).json();
    expect(stats).toEqual({ open: 40, done: 0, added: 40 });
  });
});
