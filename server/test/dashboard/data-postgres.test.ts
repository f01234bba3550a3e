import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createDashboard } from '../../src/dashboard/dashboard.js';
import { PostgresStorage } from '../../src/storage/postgres/storage.js';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { connectClient, startServer } from '../helpers/server.js';
import { http } from './harness.js';

const TODO = join(import.meta.dirname, '..', '..', '..', 'plugins', 'todo');

let postgres: RunningPostgres;

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(() => postgres?.stop());

describe("the dashboard's Data tab on PostgreSQL", () => {
  it("pages a plugin's documents (with a query) and its cells from the database", async () => {
    // Data stored before the server starts, by another process's storage: a Date among it.
    const other = new PostgresStorage({ url: postgres.url });
    const at = new Date('2026-02-03T04:05:06.007Z');
    const stored = await other.open('todo');
    await stored.insert({ _id: 'early', title: 'stored before', done: true, createdAt: 1, at });
    await other.closeAll();

    const { server, port } = await startServer({ storage: { backend: 'postgres', url: postgres.url } });
    const dashboard = createDashboard(server, { port: 0 });
    onTestFinished(() => dashboard.close());
    await server.loadPlugins(TODO);
    const address = await dashboard.listen();
    const get = async <T>(path: string): Promise<T> => {
      const answer = await http(address.port, path, {
        headers: { authorization: `Bearer ${dashboard.token}` },
      });
      expect([path, answer.status]).toEqual([path, 200]);
      return answer.json<T>();
    };

    const client = await connectClient(port);
    for (const title of ['one', 'two', 'three']) {
      await client.request('todo', JSON.stringify({ title }), { op: 1 });
    }

    type Page = { total: number; documents: { _id: string; title: string; at?: unknown }[] };
    const all = await get<Page>('/api/plugins/todo/documents?limit=2');
    expect(all.total).toBe(4);
    expect(all.documents).toHaveLength(2);
    const rest = await get<Page>('/api/plugins/todo/documents?offset=2&limit=2');
    const titles = [...all.documents, ...rest.documents].map((d) => d.title).sort();
    expect(titles).toEqual(['one', 'stored before', 'three', 'two']);
    const query = encodeURIComponent(JSON.stringify({ done: true }));
    const done = await get<Page>(`/api/plugins/todo/documents?query=${query}`);
    expect(done.total).toBe(1);
    expect(done.documents[0]).toMatchObject({ _id: 'early', title: 'stored before' });
    expect(JSON.stringify(done.documents[0]!.at)).toContain('2026-02-03T04:05:06.007Z');

    const cells = await get<{ total: number; cells: { name: string; value: unknown }[] }>(
      '/api/plugins/todo/cells',
    );
    expect(cells.cells).toEqual([{ name: 'added', value: 3 }]);
    const settings = await get<{ server: { dataDir: string | null } }>('/api/settings');
    expect(JSON.stringify(settings)).not.toContain(postgres.password);
  });
});
