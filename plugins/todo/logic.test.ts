import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createTestServer } from '@nekoconnect/testing';
import { Op } from './logic.js';

interface Item {
  _id: string;
  title: string;
  done: boolean;
  createdAt: number;
}

describe('todo plugin', () => {
  it('adds, lists, completes and removes items, with stats from a key-value cell', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const c = await server.connect();
    const milk = (await c.request('todo', { title: 'buy milk' }, { op: Op.Add })).json<Item>();
    expect(milk).toMatchObject({ title: 'buy milk', done: false });
    expect(milk._id).toMatch(/\S+/);
    const cat = (await c.request('todo', { title: ' feed the cat ' }, { op: Op.Add })).json<Item>();
    expect(cat.title).toBe('feed the cat');

    const list = (await c.request('todo', '', { op: Op.List })).json<Item[]>();
    expect(list.map((i) => i.title)).toEqual(['buy milk', 'feed the cat']);

    expect((await c.request('todo', { id: milk._id }, { op: Op.Done })).json()).toEqual({ updated: 1 });
    expect((await c.request('todo', { id: cat._id }, { op: Op.Remove })).json()).toEqual({ removed: 1 });
    expect((await c.request('todo', { id: cat._id }, { op: Op.Remove })).json()).toEqual({ removed: 0 });
    expect((await c.request('todo', '', { op: Op.Stats })).json()).toEqual({ open: 0, done: 1, added: 2 });

    // What the plugin stored, read straight from its database.
    expect(await server.db('todo').find({})).toEqual([{ ...milk, done: true }]);
    expect(await server.db('todo').get('added')).toBe(2);
  });

  it('lists what is already in its database', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    await server.db('todo').insertMany([
      { title: 'second', done: false, createdAt: 2 },
      { title: 'first', done: true, createdAt: 1 },
    ]);
    const c = await server.connect();
    const items = (await c.request('todo', '', { op: Op.List })).json<Item[]>();
    expect(items.map((i) => i.title)).toEqual(['first', 'second']);
    expect((await c.request('todo', '', { op: Op.Stats })).json()).toEqual({ open: 1, done: 1, added: 0 });
  });

  it('answers bad input with op 9 and keeps serving', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const c = await server.connect();
    const notJson = await c.request('todo', '{oops', { op: Op.Add });
    expect([notJson.op, notJson.json()]).toEqual([Op.Error, { error: 'the data must be JSON' }]);
    expect((await c.request('todo', {}, { op: Op.Add })).json<{ error: string }>().error).toMatch(/title/);
    expect((await c.request('todo', {}, { op: Op.Done })).json()).toEqual({ error: 'DONE needs {"id"}' });
    expect((await c.request('todo', '', { op: 77 })).json<{ error: string }>().error).toMatch(
      /^unknown op 77/,
    );
    expect((await c.request('todo', '', { op: Op.List })).json()).toEqual([]);
  });

  it('keeps its items across a restart of the server', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'neko-todo-test-'));
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    const first = await createTestServer({
      plugin: import.meta.dirname,
      config: { storage: { backend: 'nedb', dir: dataDir } },
    });
    const c1 = await first.connect();
    await c1.request('todo', { title: 'persist me' }, { op: Op.Add });
    await first.close();

    const second = await createTestServer({
      plugin: import.meta.dirname,
      config: { storage: { backend: 'nedb', dir: dataDir } },
    });
    const c2 = await second.connect();
    const items = (await c2.request('todo', '', { op: Op.List })).json<Item[]>();
    expect(items.map((i) => i.title)).toEqual(['persist me']);
    expect((await c2.request('todo', '', { op: Op.Stats })).json()).toEqual({ open: 1, done: 0, added: 1 });
  });
});
