import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Context } from 'nekoconnect';
import { Logic, Op } from './logic.js';

/**
 * Just enough of a Context for ADD, over a store whose every call takes a
 * turn of the event loop, as a real database does: two handlers running at
 * once interleave their reads and writes.
 */
function addContext(title: string, cells: Map<string, unknown>, sent: string[]): Context {
  const data = Buffer.from(JSON.stringify({ title }));
  const fake = {
    op: Op.Add,
    data,
    len: data.length,
    json: () => JSON.parse(data.toString()) as unknown,
    db: { insert: async (doc: object) => (await tick(), { ...doc, _id: title }) },
    dbGet: async (cell: string) => (await tick(), cells.get(cell)),
    dbStore: async (cell: string, value: unknown) => {
      await tick();
      cells.set(cell, value);
    },
    send: (text: string) => sent.push(text) > 0,
  };
  return fake as unknown as Context;
}

describe('todo plugin counter', () => {
  it('counts every add when handlers run at once (no lost update)', async () => {
    const logic = new Logic();
    const cells = new Map<string, unknown>();
    const sent: string[] = [];
    await Promise.all(['a', 'b', 'c', 'd'].map((t) => logic.recv(addContext(t, cells, sent))));
    expect(sent).toHaveLength(4);
    expect(cells.get('added')).toBe(4);
  });
});
