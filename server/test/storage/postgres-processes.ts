/**
 * For the tests that run NekoConnect servers as processes of their own on a
 * real PostgreSQL (postgres-cluster, postgres-kill-9, postgres-restart):
 * a fresh database per test, the built CLI started on it, clients, and the
 * check that no acknowledged todo item is missing.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect, onTestFinished } from 'vitest';
import type { RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { connect, type NekoClient } from '../../src/client/client.js';
import { PostgresStorage } from '../../src/storage/postgres/storage.js';
import type { ManagedDatabase } from '../../src/storage/database.js';
import { REPO_ROOT, startCli, type RunningCli } from '../cli/run-cli.js';

export const SECRET = 'postgres-processes-secret';

/** The todo example's op codes (plugins/todo/spec.conf). */
export const Todo = { Add: 1, List: 2, Stats: 5 } as const;

/** The counter fixture's op codes (fixtures/counter/spec.conf). */
export const Counter = { BumpById: 1, BumpByName: 2, Read: 3 } as const;

/** The todo example plugin folder, served as it is (its bundle goes to the server's own data directory). */
export const TODO_PLUGIN = path.join(REPO_ROOT, 'plugins', 'todo');

export interface TodoItem {
  _id: string;
  title: string;
  done: boolean;
  createdAt: number;
}

/**
 * A database of its own for one test on the running PostgreSQL (the test's
 * user owns it); resolves with its URL. Each test of a file starts from an
 * empty database this way, while the file starts PostgreSQL only once.
 */
export async function freshDatabase(pg: RunningPostgres, label: string): Promise<string> {
  const name = `${label}_${randomBytes(4).toString('hex')}`;
  const { default: pgClient } = await import('pg');
  // Over the trusted Unix socket in the server's directory, as startPostgres() made the first one.
  const admin = new pgClient.Client({ host: pg.dir, port: pg.port, user: pg.user, database: pg.database });
  await admin.connect();
  try {
    // An identifier cannot be a parameter: `name` is made here of [a-z0-9_] only.
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`not a database name: ${name}`);
    await admin.query(`CREATE DATABASE ${name} OWNER ${pg.user}`);
  } finally {
    await admin.end();
  }
  const url = new URL(pg.url);
  url.pathname = `/${name}`;
  return url.href;
}

/** A plugins directory of its own holding copies of the todo example and the counter fixture. */
export async function todoAndCounterPlugins(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-pg-plugins-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  for (const file of ['spec.conf', 'logic.ts']) {
    await cp(path.join(TODO_PLUGIN, file), path.join(dir, 'todo', file));
    await cp(path.join(import.meta.dirname, 'fixtures', 'counter', file), path.join(dir, 'counter', file));
  }
  return dir;
}

/** A server started by the built CLI (`start --storage <url>`), killed when the test ends. */
export interface ServerProcess {
  cli: RunningCli;
  port: number;
}

/**
 * Starts `nekoconnect start <plugins> --storage <url>` on a free port, with a
 * temporary data directory of its own (which, on PostgreSQL, holds only the
 * bundle cache), and waits until it listens. `extra` are more flags of `start`.
 */
export async function startServer(
  url: string,
  plugins: string,
  extra: string[] = [],
): Promise<ServerProcess> {
  const cli = startCli(['start', plugins, '--port', '0', '--storage', url, '--no-dashboard', ...extra], {
    NEKOCONNECT_SECRET: SECRET,
  });
  const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/, 30_000);
  return { cli, port: Number(port) };
}

/** A client of the server on `port`, closed when the test ends. */
export async function client(port: number): Promise<NekoClient> {
  const c = await connect({ secret: SECRET, port });
  onTestFinished(() => c.close());
  return c;
}

/** Adds a todo item; resolves with its id once the server acknowledged it. */
export async function addTodo(c: NekoClient, title: string): Promise<string> {
  const reply = await c.request('todo', JSON.stringify({ title }), { op: Todo.Add });
  if (reply.op !== Todo.Add) throw new Error(`todo answered op ${reply.op}: ${reply.text()}`);
  return reply.json<TodoItem>()._id;
}

/** The backend itself on `url`, prepared, with its pool ended when the test ends. */
export async function directStorage(url: string): Promise<PostgresStorage> {
  const storage = new PostgresStorage({ url });
  onTestFinished(() => storage.closeAll());
  await storage.prepare();
  return storage;
}

/** The acknowledged ids not stored in `db`, in the order given: empty when none was lost. */
export async function lostItems(db: ManagedDatabase, acknowledged: Iterable<string>): Promise<string[]> {
  const ids = [...acknowledged];
  const found = await db.find({ _id: { $in: ids } }, { projection: { _id: 1 } });
  const stored = new Set(found.map((doc) => doc._id));
  return ids.filter((id) => !stored.has(id));
}

/**
 * Proves that {@link lostItems} would notice a loss: takes one acknowledged
 * item out of the database, expects exactly it to be reported, and puts it back.
 */
export async function expectLossNoticed(db: ManagedDatabase, acknowledged: readonly string[]): Promise<void> {
  const victim = acknowledged[Math.floor(acknowledged.length / 2)]!;
  const item = await db.findOne({ _id: victim });
  expect(item).not.toBeNull();
  expect(await db.remove({ _id: victim })).toBe(1);
  expect(await lostItems(db, acknowledged)).toEqual([victim]);
  await db.insert(item!);
  expect(await lostItems(db, acknowledged)).toEqual([]);
}
