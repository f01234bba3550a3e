/**
 * PostgreSQL going away under a running NekoConnect server, and coming back:
 * requests meanwhile fail with a coded error, the server stays up, and once
 * the database is back it serves again without being restarted (its pool
 * reconnects). And a server started while the database is down does not
 * start: NEKO_ERR_STORAGE_UNREACHABLE naming host and port, never the password.
 */
import type { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { NekoStatusError } from '../../src/client/client.js';
import { connectPostgres } from '../../src/storage/postgres/connect.js';
import { assertBuilt, runCli } from '../cli/run-cli.js';
import {
  SECRET,
  TODO_PLUGIN,
  Todo,
  addTodo,
  client,
  directStorage,
  freshDatabase,
  lostItems,
  startServer,
} from './postgres-processes.js';

let pg: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  pg = await startPostgres();
}, 60_000);

afterAll(async () => {
  await pg?.stop();
});

/** A session of our own on the database at `url` (its errors, such as the restart ending it, are ignored). */
async function session(url: string): Promise<PgClient> {
  const { default: pgModule } = await import('pg');
  const own = new pgModule.Client({ connectionString: url });
  own.on('error', () => undefined);
  await own.connect();
  onTestFinished(() => own.end().catch(() => undefined));
  return own;
}

/** Resolves once `sessions` sessions of the database wait for a lock (the server's blocked inserts). */
async function waitingForALock(watcher: PgClient, sessions: number): Promise<void> {
  let waiting = 0;
  for (let tries = 0; tries < 200; tries++) {
    const { rows } = await watcher.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
    );
    waiting = Number(rows[0]!.n);
    if (waiting >= sessions) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${waiting} sessions waited for the lock within 5 s, not ${sessions}`);
}

/** How a request ended: acknowledged, or answered 500 (the plugin's handler failed). */
type Outcome = { ok: string } | { status: number };

describe('a PostgreSQL restart under a running server', () => {
  it('restart() stops PostgreSQL, runs the callback while nothing listens, and starts it again on the same port', async () => {
    const pool = await connectPostgres(pg.url, { timeoutMs: 2_000 });
    onTestFinished(() => pool.end());
    const pid = async () =>
      (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const first = await pid();
    const meanwhile = await pg.restart(async () => {
      const err = await connectPostgres(pg.url, { timeoutMs: 2_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'NEKO_ERR_STORAGE_UNREACHABLE' });
      return 'down';
    });
    expect(meanwhile).toBe('down');
    // The same pool works again: the restart ended its connection, and it opens a new one.
    expect(await pid()).not.toBe(first);
    const { rows } = await pool.query<{ port: number }>('SELECT inet_server_port() AS port');
    expect(rows[0]!.port).toBe(pg.port);
  });

  it(
    'fails the requests in flight and during the outage with 500, is not ready meanwhile, stays up, and serves again once the database is back',
    { timeout: 60_000 },
    async () => {
      const url = await freshDatabase(pg, 'restart');
      const { cli, port } = await startServer(url, TODO_PLUGIN, ['--metrics-port', '0']);
      const [, metricsPort] = await cli.waitFor(/metrics http:\/\/127\.0\.0\.1:(\d+)\/metrics/);
      const readyz = async () => {
        const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
        return { status: res.status, body: await res.text() };
      };
      expect(await readyz()).toEqual({ status: 200, body: JSON.stringify({ ready: true, reasons: [] }) });
      const c = await client(port);
      // Our own session can lock the documents table against writes (reads go on), so that
      // the server's inserts wait inside PostgreSQL, each on a connection of the server's pool.
      const locker = await session(url);
      const watcher = await session(url);
      const lockDocuments = async () => {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE neko_documents IN SHARE MODE');
      };

      // Three adds at once from three clients: the server's pool opens three connections,
      // idle once the adds are done (the restart breaks them while idle).
      await lockDocuments();
      const others = await Promise.all([client(port), client(port)]);
      const adding = Promise.all([c, ...others].map((each, i) => addTodo(each, `before the restart ${i}`)));
      await waitingForALock(watcher, 3);
      await locker.query('COMMIT');
      const before = await adding;

      // An add held in flight until the restart ends its connection.
      await lockDocuments();
      const inFlight = addTodo(c, 'in flight').then(
        (ok): Outcome => ({ ok }),
        (err: unknown): Outcome => {
          if (err instanceof NekoStatusError) return { status: err.status };
          throw err;
        },
      );
      await waitingForALock(watcher, 1);

      // Meanwhile a second client adds one item after the other, through the whole restart.
      const streamer = await client(port);
      let streaming = true;
      /** Whether the database is known to be back (a request after the restart succeeded). */
      let back = false;
      const outcomes: (Outcome & { sentWhenBack: boolean })[] = [];
      const stream = (async () => {
        for (let i = 0; streaming; i++) {
          const sentWhenBack = back;
          try {
            outcomes.push({ ok: await addTodo(streamer, `streamed ${i}`), sentWhenBack });
          } catch (err) {
            if (!(err instanceof NekoStatusError)) throw err;
            outcomes.push({ status: err.status, sentWhenBack });
            // The database is down: a failure comes at once, so do not spin.
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      })();

      const { down, notReady, startedMeanwhile } = (await pg.restart(async () => {
        // Nothing listens on the port now: a request fails, the server answers it with 500.
        const down = await addTodo(c, 'while down').then(
          (ok): Outcome => ({ ok }),
          (err: unknown): Outcome => ({ status: (err as NekoStatusError).status }),
        );
        // The server is not ready meanwhile, and says why.
        const notReady = await readyz();
        // A server started now does not start.
        const startedMeanwhile = await runCli(
          ['start', TODO_PLUGIN, '--port', '0', '--storage', url, '--no-dashboard'],
          { NEKOCONNECT_SECRET: SECRET },
        );
        return { down, notReady, startedMeanwhile };
      }))!;

      expect(await inFlight).toEqual({ status: 500 });
      expect(down).toEqual({ status: 500 });
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.body)).toMatchObject({ ready: false });
      expect(notReady.body).toContain(
        `storage unreachable: ping: cannot reach PostgreSQL at ${pg.host}:${pg.port} `,
      );
      expect(notReady.body).not.toContain(pg.password);

      expect(startedMeanwhile.code).toBe(1);
      expect(startedMeanwhile.stderr).toContain('NEKO_ERR_STORAGE_UNREACHABLE');
      expect(startedMeanwhile.stderr).toContain(`${pg.host}:${pg.port}`);
      expect(startedMeanwhile.stdout + startedMeanwhile.stderr).not.toContain(pg.password);

      // The database is back: the very next requests succeed, on the same server process.
      const after = await addTodo(c, 'after the restart');
      expect(await readyz()).toEqual({ status: 200, body: JSON.stringify({ ready: true, reasons: [] }) });
      back = true;
      await new Promise((resolve) => setTimeout(resolve, 300));
      streaming = false;
      await stream;
      const sentWhenBack = outcomes.filter((outcome) => outcome.sentWhenBack);
      expect(sentWhenBack.length).toBeGreaterThan(0);
      expect(sentWhenBack.filter((outcome) => !('ok' in outcome))).toEqual([]);
      // Whatever failed before, failed with 500 (the stream rejects on anything else).
      expect(outcomes.filter((outcome) => 'status' in outcome && outcome.status !== 500)).toEqual([]);
      expect(cli.child.exitCode).toBeNull();
      expect(cli.child.signalCode).toBeNull();

      // The server logged each failure as a handler's, saying why (host and port), and never the password.
      const log = cli.stdout() + cli.stderr();
      expect(log).toContain(
        `Todo: recv failed: NekoError [NEKO_ERR_STORAGE_UNREACHABLE]: insert: cannot reach PostgreSQL at ${pg.host}:${pg.port} `,
      );
      expect(log).toContain('NEKO_ERR_PLUGIN_HANDLER');
      // And the idle connections the restart broke: a warning with the storage's code.
      expect(log).toMatch(
        new RegExp(
          `warn .*an idle connection: cannot reach PostgreSQL at ${pg.host}:${pg.port} .*NEKO_ERR_STORAGE_UNREACHABLE`,
        ),
      );
      expect(log).not.toContain(pg.password);

      // Every acknowledged item is stored, read through the backend itself.
      const acknowledged = [
        ...before,
        after,
        ...outcomes.flatMap((outcome) => ('ok' in outcome ? [outcome.ok] : [])),
      ];
      const db = await (await directStorage(url)).open('todo');
      expect(await lostItems(db, acknowledged)).toEqual([]);
      const stats = (await c.request('todo', '', { op: Todo.Stats })).json<{ added: number }>();
      expect(stats.added).toBeGreaterThanOrEqual(acknowledged.length);

      // And it still shuts down cleanly.
      cli.child.kill('SIGINT');
      expect(await cli.exited).toEqual({ code: 0, signal: null });
    },
  );
});
