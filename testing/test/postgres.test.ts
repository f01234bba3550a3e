import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../scripts/test-support/postgres.js';
import { createTestServer } from '../src/index.js';

const TODO = join(import.meta.dirname, '..', '..', 'plugins', 'todo');

let postgres: RunningPostgres;

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(() => postgres?.stop());

describe('a test server on PostgreSQL (config.storage)', () => {
  it("serves the plugin from the database, and server.db() reads and writes that plugin's data", async () => {
    const storage = { backend: 'postgres' as const, url: postgres.url };
    const server = await createTestServer({ plugin: TODO, config: { storage } });
    const client = await server.connect();
    await client.request('todo', JSON.stringify({ title: 'from a test client' }), { op: 1 });
    const db = server.db('todo');
    expect((await db.find<{ title: string }>({})).map((item) => item.title)).toEqual(['from a test client']);
    expect(await db.get('added')).toBe(1);
    await db.insert({ title: 'from server.db()', done: true, createdAt: 0 });
    await server.close();

    // The data is in PostgreSQL, not in the server: a new server on the same database sees it all.
    const again = await createTestServer({ plugin: TODO, config: { storage } });
    const list = (await (await again.connect()).request('todo', '', { op: 2 })).json<{ title: string }[]>();
    expect(list.map((item) => item.title)).toEqual(['from server.db()', 'from a test client']);
    expect(await again.db('todo').count({ done: true })).toBe(1);
  });
});
