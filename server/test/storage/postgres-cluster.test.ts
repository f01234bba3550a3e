/**
 * Two NekoConnect server processes on one PostgreSQL database: clients of
 * both write at once, and every acknowledged write is there exactly once,
 * counters exact (issue 18, "Real database in the tests").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { assertBuilt } from '../cli/run-cli.js';
import {
  Counter,
  Todo,
  addTodo,
  client,
  directStorage,
  expectLossNoticed,
  freshDatabase,
  lostItems,
  startServer,
  todoAndCounterPlugins,
  type TodoItem,
} from './postgres-processes.js';

/** Clients on each server, and what each one sends. */
const CLIENTS_PER_SERVER = 4;
const ADDS_PER_CLIENT = 40;
const BUMPS_PER_CLIENT = 40;

let pg: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  pg = await startPostgres();
}, 60_000);

afterAll(async () => {
  await pg?.stop();
});

/** Two servers on `url` serving `plugins`, and CLIENTS_PER_SERVER clients on each (first server's first). */
async function twoServers(url: string, plugins: string) {
  const servers = await Promise.all([startServer(url, plugins), startServer(url, plugins)]);
  const clients = await Promise.all(
    servers.flatMap(({ port }) => Array.from({ length: CLIENTS_PER_SERVER }, () => client(port))),
  );
  return { servers, clients };
}

describe('two server processes on one PostgreSQL database', () => {
  it(
    'keeps every todo item acknowledged by either server, and counts `added` exactly',
    { timeout: 60_000 },
    async () => {
      const url = await freshDatabase(pg, 'cluster_todo');
      const plugins = await todoAndCounterPlugins();
      const { servers, clients } = await twoServers(url, plugins);

      // Every client adds its items one after the other, all clients at once.
      const acknowledged = (
        await Promise.all(
          clients.map(async (c, n) => {
            const ids: string[] = [];
            for (let i = 0; i < ADDS_PER_CLIENT; i++) ids.push(await addTodo(c, `client ${n} item ${i}`));
            return ids;
          }),
        )
      ).flat();
      expect(acknowledged).toHaveLength(2 * CLIENTS_PER_SERVER * ADDS_PER_CLIENT);
      expect(new Set(acknowledged).size).toBe(acknowledged.length);

      // Both servers list the same items, each acknowledged one once, and count every add.
      for (const c of [clients[0]!, clients[CLIENTS_PER_SERVER]!]) {
        const items = (await c.request('todo', '', { op: Todo.List })).json<TodoItem[]>();
        expect(items.map((item) => item._id).sort()).toEqual([...acknowledged].sort());
        const stats = (await c.request('todo', '', { op: Todo.Stats })).json();
        expect(stats).toEqual({ open: acknowledged.length, done: 0, added: acknowledged.length });
      }

      // The database itself, read through the backend: the same.
      const db = await (await directStorage(url)).open('todo');
      expect(await lostItems(db, acknowledged)).toEqual([]);
      expect(await db.count({})).toBe(acknowledged.length);
      expect(await db.get('added')).toBe(acknowledged.length);
      await expectLossNoticed(db, acknowledged);

      // Both shut down cleanly, each closing its own pool.
      for (const { cli } of servers) cli.child.kill('SIGINT');
      for (const { cli } of servers) expect(await cli.exited).toEqual({ code: 0, signal: null });
    },
  );

  it(
    'applies concurrent $inc upserts from both servers exactly, by _id and by another query',
    { timeout: 60_000 },
    async () => {
      const url = await freshDatabase(pg, 'cluster_counter');
      const plugins = await todoAndCounterPlugins();
      const { clients } = await twoServers(url, plugins);

      // Every client alternates the two bumps; none is sent before the previous one was acknowledged.
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < BUMPS_PER_CLIENT; i++) {
            const op = i % 2 === 0 ? Counter.BumpById : Counter.BumpByName;
            const reply = await c.request('counter', '', { op });
            expect([reply.op, reply.json()]).toEqual([op, { ok: true }]);
          }
        }),
      );
      const total = clients.length * BUMPS_PER_CLIENT;

      // Both servers read the same counts: nothing lost, and the upsert by name made one document, not one per server.
      for (const c of [clients[0]!, clients[CLIENTS_PER_SERVER]!]) {
        const read = (await c.request('counter', '', { op: Counter.Read })).json();
        expect(read).toEqual({ byId: total / 2, byName: total / 2, named: 1 });
      }
      const db = await (await directStorage(url)).open('counter');
      expect(await db.find({}, { sort: { name: 1 }, projection: { _id: 0 } })).toEqual([
        { n: total / 2 },
        { name: 'shared', n: total / 2 },
      ]);
    },
  );
});
