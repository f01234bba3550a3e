/**
 * Durability on PostgreSQL against a crash of the NekoConnect server: clients
 * add todo items as fast as the acknowledgements come, the server process
 * is killed with SIGKILL mid-stream, round after round on one database, and
 * every item acknowledged before a kill is there afterwards (as
 * kill-9.test.ts and plugins/todo/crash.test.ts prove it for nedb).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import type { NekoClient } from '../../src/client/client.js';
import { assertBuilt } from '../cli/run-cli.js';
import {
  TODO_PLUGIN,
  Todo,
  addTodo,
  client,
  directStorage,
  expectLossNoticed,
  freshDatabase,
  lostItems,
  startServer,
  type TodoItem,
} from './postgres-processes.js';

const ROUNDS = 3;
/** Clients streaming adds at once, each on its own connection. */
const STREAMS = 4;
/** How many acknowledged adds (all streams together) to wait for before the kill, in each round. */
const ACKS_BEFORE_KILL = 150;

let pg: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  pg = await startPostgres();
}, 60_000);

afterAll(async () => {
  await pg?.stop();
});

/** What the clients of one round saw. */
interface Round {
  acknowledged: string[];
  /** Adds sent, acknowledged or not. */
  sent: number;
}

/**
 * Streams adds from STREAMS clients into a server on `url` and kills it with
 * SIGKILL once ACKS_BEFORE_KILL were acknowledged; resolves once every
 * stream has ended with the connection closed under it.
 */
async function writeUntilKilled(url: string, round: number): Promise<Round> {
  const { cli, port } = await startServer(url, TODO_PLUGIN);
  const clients: NekoClient[] = await Promise.all(Array.from({ length: STREAMS }, () => client(port)));
  const seen: Round = { acknowledged: [], sent: 0 };
  let killed = false;
  const streams = clients.map(async (c, s) => {
    for (let i = 0; ; i++) {
      seen.sent++;
      const id = await addTodo(c, `round ${round} stream ${s} item ${i}`);
      seen.acknowledged.push(id);
      if (!killed && seen.acknowledged.length >= ACKS_BEFORE_KILL) {
        killed = true;
        cli.child.kill('SIGKILL');
      }
    }
  });
  const ends = await Promise.all(
    streams.map((stream) =>
      stream.then(
        () => undefined,
        (err: unknown) => err,
      ),
    ),
  );
  expect(await cli.exited).toEqual({ code: null, signal: 'SIGKILL' });
  // Each stream ended because its connection went with the process, not on a failed write.
  for (const end of ends) expect(end).toMatchObject({ code: 'NEKO_ERR_CLIENT_CLOSED' });
  expect(seen.acknowledged.length).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);
  return seen;
}

describe('kill -9 of a server on PostgreSQL', () => {
  it(
    'loses no acknowledged todo item, round after round, and a fresh server serves them all',
    { timeout: 60_000 },
    async () => {
      const url = await freshDatabase(pg, 'kill9');
      const db = await (await directStorage(url)).open('todo');
      const acknowledged: string[] = [];
      let sent = 0;

      for (let round = 1; round <= ROUNDS; round++) {
        const seen = await writeUntilKilled(url, round);
        acknowledged.push(...seen.acknowledged);
        sent += seen.sent;

        expect(await lostItems(db, acknowledged), `round ${round}: acknowledged items lost`).toEqual([]);
        // An add is acknowledged after its item and its count were committed; one cut short by the
        // kill may have committed its item (and its count) without being acknowledged.
        const stored = await db.count({});
        expect(stored).toBeGreaterThanOrEqual(acknowledged.length);
        expect(stored).toBeLessThanOrEqual(sent);
        const added = await db.get<number>('added');
        expect(added).toBeGreaterThanOrEqual(acknowledged.length);
        expect(added).toBeLessThanOrEqual(stored);
      }
      await expectLossNoticed(db, acknowledged);

      // A fresh server on the same database serves every item stored.
      const { port } = await startServer(url, TODO_PLUGIN);
      const c = await client(port);
      const items = (await c.request('todo', '', { op: Todo.List })).json<TodoItem[]>();
      const listed = new Set(items.map((item) => item._id));
      expect(acknowledged.filter((id) => !listed.has(id))).toEqual([]);
      expect(items).toHaveLength(await db.count({}));
      // And it takes new items.
      const after = await addTodo(c, 'after the crashes');
      expect(await lostItems(db, [after])).toEqual([]);
    },
  );
});
