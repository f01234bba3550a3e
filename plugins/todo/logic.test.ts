import { describe, expect, it } from 'vitest';
import { client, serve, tempDir } from '../test-support/serve.js';
import { Op } from './logic.js';

interface Item {
  _id: string;
  title: string;
  done: boolean;
  createdAt: number;
}

describe('todo plugin', () => {
  it('adds, lists, completes and removes items, with stats from a key-value cell', async () => {
    const { port } = await serve('todo');
    const c = await client(port);
    const milk = (
      await c.request('todo', JSON.stringify({ title: 'buy milk' }), { op: Op.Add })
    ).json<Item>();
    expect(milk).toMatchObject({ title: 'buy milk', done: false });
    expect(milk._id).toMatch(/\S+/);
    const cat = (
      await c.request('todo', JSON.stringify({ title: ' feed the cat ' }), { op: Op.Add })
    ).json<Item>();
    expect(cat.title).toBe('feed the cat');

    const list = (await c.request('todo', '', { op: Op.List })).json<Item[]>();
    expect(list.map((i) => i.title)).toEqual(['buy milk', 'feed the cat']);

    expect((await c.request('todo', JSON.stringify({ id: milk._id }), { op: Op.Done })).json()).toEqual({
      updated: 1,
    });
    expect((await c.request('todo', JSON.stringify({ id: cat._id }), { op: Op.Remove })).json()).toEqual({
      removed: 1,
    });
    expect((await c.request('todo', JSON.stringify({ id: cat._id }), { op: Op.Remove })).json()).toEqual({
      removed: 0,
    });
    expect((await c.request('todo', '', { op: Op.Stats })).json()).toEqual({ open: 0, done: 1, added: 2 });
  });

  it('answers bad input with op 9 and keeps serving', async () => {
    const { port } = await serve('todo');
    const c = await client(port);
    const notJson = await c.request('todo', '{oops', { op: Op.Add });
    expect([notJson.op, notJson.json()]).toEqual([Op.Error, { error: 'the data must be JSON' }]);
    expect((await c.request('todo', '{}', { op: Op.Add })).json<{ error: string }>().error).toMatch(/title/);
    expect((await c.request('todo', '{}', { op: Op.Done })).json()).toEqual({ error: 'DONE needs {"id"}' });
    expect((await c.request('todo', '', { op: 77 })).json<{ error: string }>().error).toMatch(
      /^unknown op 77/,
    );
    expect((await c.request('todo', '', { op: Op.List })).json()).toEqual([]);
  });

  it('keeps its items across a restart of the server', async () => {
    const dataDir = await tempDir();
    const first = await serve('todo', { dataDir });
    const c1 = await client(first.port);
    await c1.request('todo', JSON.stringify({ title: 'persist me' }), { op: Op.Add });
    await c1.close();
    await first.server.close();

    const second = await serve('todo', { dataDir });
    const c2 = await client(second.port);
    const items = (await c2.request('todo', '', { op: Op.List })).json<Item[]>();
    expect(items.map((i) => i.title)).toEqual(['persist me']);
    expect((await c2.request('todo', '', { op: Op.Stats })).json()).toEqual({ open: 1, done: 0, added: 1 });
  });
});
