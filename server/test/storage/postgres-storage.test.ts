/**
 * The PostgreSQL backend beyond the conformance suite, against a real
 * PostgreSQL server: its schema and migrations, atomic writes from two
 * pools (as two server processes have), values that look like SQL stored
 * and matched literally, and an unreachable server.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import pg, { type Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import type { Document } from '../../src/storage/database.js';
import { PostgresStorage } from '../../src/storage/postgres/storage.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/storage/postgres/schema.js';
import { rejectsWith } from './helpers.js';

let server: RunningPostgres;
let admin: Pool;

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Pool({ connectionString: server.url, max: 2 });
}, 60_000);

afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

/** The URL of a new, empty database on the test server. */
async function freshDatabase(): Promise<string> {
  const name = `neko_${randomBytes(6).toString('hex')}`;
  // DDL takes no parameters; the name is made here of hex digits only.
  await admin.query(`CREATE DATABASE ${name}`);
  return server.url.replace(new RegExp(`/${server.database}$`), `/${name}`);
}

/** A storage on url, closed when the test finishes. */
function storageOn(url: string): PostgresStorage {
  const storage = new PostgresStorage({ url });
  onTestFinished(() => storage.closeAll().catch(() => undefined));
  return storage;
}

/** A pool on url, ended when the test finishes. */
function poolOn(url: string): Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  onTestFinished(() => pool.end().catch(() => undefined));
  return pool;
}

describe('the schema', () => {
  it('is created on a fresh database, and migrating again changes nothing', async () => {
    const url = await freshDatabase();
    const first = storageOn(url);
    await first.prepare();
    const db = await first.open('todo');
    await db.insert({ _id: 'kept', n: 1 });
    await db.set('count', 3);
    await first.closeAll();

    const second = storageOn(url);
    await second.prepare();
    const pool = poolOn(url);
    const { rows } = await pool.query<{ version: number; name: string }>(
      'SELECT version, name FROM neko_schema_migrations ORDER BY version',
    );
    expect(rows).toEqual(MIGRATIONS.map(({ version, name }) => ({ version, name })));
    const again = await second.open('todo');
    expect(await again.findOne({ _id: 'kept' })).toEqual({ _id: 'kept', n: 1 });
    expect(await again.get('count')).toBe(3);
  });

  it('is migrated once when two storages prepare a fresh database at the same time', async () => {
    const url = await freshDatabase();
    const storages = Array.from({ length: 4 }, () => storageOn(url));
    await Promise.all(storages.map((storage) => storage.prepare()));
    const pool = poolOn(url);
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::integer AS n FROM neko_schema_migrations',
    );
    expect(rows[0]!.n).toBe(MIGRATIONS.length);
    const dbs = await Promise.all(storages.map((storage) => storage.open('shared')));
    await Promise.all(dbs.map((db, i) => db.insert({ i })));
    expect(await dbs[0]!.count()).toBe(4);
  });

  it('refuses a database migrated by a newer NekoConnect with NEKO_ERR_STORAGE_SCHEMA, naming both versions', async () => {
    const url = await freshDatabase();
    await storageOn(url).prepare();
    const pool = poolOn(url);
    await pool.query('INSERT INTO neko_schema_migrations (version, name) VALUES ($1, $2)', [
      SCHEMA_VERSION + 1,
      'from the future',
    ]);
    const err = await rejectsWith(storageOn(url).prepare(), 'NEKO_ERR_STORAGE_SCHEMA');
    expect(err.message).toContain(`schema version ${SCHEMA_VERSION + 1}`);
    expect(err.message).toContain(`version ${SCHEMA_VERSION}`);
    expect(err.hint).toMatch(/upgrade NekoConnect/i);
    expect(`${err.message}${err.hint}`).not.toContain(server.password);
    const opening = storageOn(url).open('todo');
    await rejectsWith(opening, 'NEKO_ERR_STORAGE_SCHEMA');
  });

  it('keys documents by (greeter, id) and cells by (greeter, name): an _id lookup and a greeter scan use the key', async () => {
    const url = await freshDatabase();
    const storage = storageOn(url);
    const db = await storage.open('todo');
    await db.insertMany(Array.from({ length: 2000 }, (_, i) => ({ _id: `t${i}`, n: i })));
    const other = await storage.open('chat');
    await other.insertMany(Array.from({ length: 2000 }, (_, i) => ({ n: i })));
    const pool = poolOn(url);
    const keys = await pool.query<{ table: string; columns: string }>(
      `SELECT t.relname AS table, string_agg(a.attname, ',' ORDER BY k.ord) AS columns
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
       WHERE i.indisprimary AND t.relname IN ('neko_documents', 'neko_cells')
       GROUP BY t.relname ORDER BY t.relname`,
    );
    expect(keys.rows).toEqual([
      { table: 'neko_cells', columns: 'greeter,name' },
      { table: 'neko_documents', columns: 'greeter,id' },
    ]);
    await pool.query('ANALYZE neko_documents');
    const plan = async (sql: string, values: unknown[]): Promise<string> =>
      (await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, values)).rows
        .map((row) => row['QUERY PLAN'])
        .join('\n');
    // The statement find({ _id }) runs.
    const byId = await plan(
      'SELECT doc FROM neko_documents WHERE greeter = $1 AND (id = $2::jsonb) ORDER BY seq LIMIT 1',
      ['todo', '"t7"'],
    );
    expect(byId).toMatch(
      /Index Scan using neko_documents_pkey|Index Cond: \(\(greeter = 'todo'::text\) AND \(id = '"t7"'::jsonb\)\)/,
    );
    expect(byId).not.toMatch(/Seq Scan/);
    expect(await db.findOne({ _id: 't7' })).toEqual({ _id: 't7', n: 7 });
  });
});

describe('atomic writes from two pools', () => {
  it('loses no $inc and no incr when two storages (two pools, as two servers) write at once', async () => {
    const url = await freshDatabase();
    const [a, b] = [storageOn(url), storageOn(url)];
    const [dbA, dbB] = [await a.open('counter'), await b.open('counter')];
    await dbA.insert({ _id: 'hits', n: 0 });
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const db = i % 2 === 0 ? dbA : dbB;
      writes.push(db.update({ _id: 'hits' }, { $inc: { n: 1 } }));
      writes.push(db.incr('visits'));
    }
    const results = await Promise.all(writes);
    expect(await dbB.findOne({ _id: 'hits' })).toEqual({ _id: 'hits', n: 200 });
    expect(await dbA.get('visits')).toBe(200);
    // Each incr resolved with its own new value: 1 to 200, each once.
    const counts = results.filter((_, i) => i % 2 === 1) as number[];
    expect([...counts].sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('makes one document of 50 concurrent upserts by a query other than _id', async () => {
    const url = await freshDatabase();
    const [a, b] = [storageOn(url), storageOn(url)];
    const [dbA, dbB] = [await a.open('scores'), await b.open('scores')];
    const upserts = Array.from({ length: 50 }, (_, i) =>
      (i % 2 === 0 ? dbA : dbB).update({ player: 'neko' }, { $inc: { points: 2 } }, { upsert: true }),
    );
    expect(await Promise.all(upserts)).toEqual(Array.from({ length: 50 }, () => 1));
    const docs = await dbA.find<Document>({});
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ player: 'neko', points: 100 });
  });

  it('makes one document of 50 concurrent upserts by _id', async () => {
    const url = await freshDatabase();
    const [a, b] = [storageOn(url), storageOn(url)];
    const [dbA, dbB] = [await a.open('scores'), await b.open('scores')];
    const upserts = Array.from({ length: 50 }, (_, i) =>
      (i % 2 === 0 ? dbA : dbB).update(
        { _id: 'neko' },
        { $inc: { points: 1 }, $set: { seen: true } },
        { upsert: true },
      ),
    );
    await Promise.all(upserts);
    expect(await dbB.find({})).toEqual([{ _id: 'neko', points: 50, seen: true }]);
  });

  it('gives each of 40 concurrent single updates its own document when each changes what the query matches', async () => {
    const url = await freshDatabase();
    const [a, b] = [storageOn(url), storageOn(url)];
    const [dbA, dbB] = [await a.open('tasks'), await b.open('tasks')];
    await dbA.insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: `task-${i}`, claimed: false })));
    const claims = Array.from({ length: 40 }, (_, i) =>
      (i % 2 === 0 ? dbA : dbB).update({ claimed: false }, { $set: { claimed: true }, $inc: { claims: 1 } }),
    );
    expect(await Promise.all(claims)).toEqual(Array.from({ length: 40 }, () => 1));
    expect(await dbA.count({ claimed: true, claims: 1 })).toBe(40);
    expect(await dbB.update({ claimed: false }, { $set: { claimed: true } })).toBe(0);
  });

  it('inserts every document of an insertMany or none', async () => {
    const url = await freshDatabase();
    const db = await storageOn(url).open('batch');
    await db.insert({ _id: 'taken' });
    await rejectsWith(
      db.insertMany([{ _id: 'new-1' }, { _id: 'new-2' }, { _id: 'taken' }]),
      'NEKO_ERR_STORAGE_QUERY',
    );
    expect(await db.count()).toBe(1);
  });
});

describe('what PostgreSQL refuses', () => {
  it('refuses a pattern its regular expressions cannot compile, a write that a stored document cannot keep, an _id that is no string or number, and an overflow', async () => {
    const db = await storageOn(await freshDatabase()).open('refusals');
    await db.insert({ _id: 'one', name: 'mimi', at: new Date(5), list: [1], n: 1e308 });
    // JavaScript knows named groups; PostgreSQL does not.
    const pattern = await rejectsWith(
      db.find({ name: { $regex: '(?<first>m)imi' } }),
      'NEKO_ERR_STORAGE_QUERY',
    );
    expect(pattern.message).toMatch(/regex|regular expression/);
    expect(await db.count({ name: { $regex: '^(m)i(?=m)' } })).toBe(1);
    const date = await rejectsWith(db.update({}, { $set: { 'at.day': 1 } }), 'NEKO_ERR_STORAGE_QUERY');
    expect(date.message).toContain('a Date');
    const array = await rejectsWith(db.update({}, { $push: { 'list.more': 2 } }), 'NEKO_ERR_STORAGE_QUERY');
    expect(array.message).toContain('an array');
    expect(await db.update({}, { $unset: { 'at.day': true, 'list.more': true } })).toBe(1);
    await rejectsWith(db.insert({ _id: { not: 'a string' } }), 'NEKO_ERR_STORAGE_QUERY');
    const nul = await rejectsWith(db.insert({ text: 'a\u0000b' }), 'NEKO_ERR_STORAGE_QUERY');
    expect(nul.message).toContain('U+0000');
    await db.set('with nul', 'a\u0000b');
    expect(await db.get('with nul')).toBe('a\u0000b');
    await rejectsWith(db.update({}, { $inc: { n: 1e308 } }), 'NEKO_ERR_STORAGE_QUERY');
    await db.set('big', 1e308);
    await rejectsWith(db.incr('big', 1e308), 'NEKO_ERR_STORAGE_CELL');
    await db.set('text', 'x');
    await rejectsWith(db.incr('text'), 'NEKO_ERR_STORAGE_CELL');
    expect(await db.get('big')).toBe(1e308);
    expect(await db.find({})).toEqual([{ _id: 'one', name: 'mimi', at: new Date(5), list: [1], n: 1e308 }]);
  });
});

describe('values that look like SQL', () => {
  const odd = [`'`, `"`, `;`, `--`, `$1`, `'); DROP TABLE neko_documents; --`, `\\`, `$$`, `%_`];

  it('are stored and matched literally in field names, values, patterns, cell names and greeters', async () => {
    const url = await freshDatabase();
    const storage = storageOn(url);
    for (const text of odd) {
      const db = await storage.open(`greeter ${text}`);
      const field = `f ${text}`;
      const doc = { [field]: text, nested: { [field]: [text] } };
      const { _id } = await db.insert(doc);
      await db.insert({ [field]: 'other' });
      expect(await db.find({ [field]: text })).toEqual([{ ...doc, _id }]);
      expect(await db.count({ [`nested.${field}`]: text })).toBe(1);
      expect(await db.count({ [field]: { $in: [text] } })).toBe(1);
      expect(await db.count({ [field]: { $ne: text } })).toBe(1);
      const pattern = text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
      expect(await db.count({ [field]: { $regex: `^${pattern}$` } })).toBe(1);
      expect(
        await db.update(
          { [field]: text },
          { $set: { [`nested.${field}`]: `${text}!` }, $push: { list: text } },
        ),
      ).toBe(1);
      expect(await db.findOne({ _id })).toEqual({
        _id,
        [field]: text,
        nested: { [field]: `${text}!` },
        list: [text],
      });
      expect(await db.find({}, { sort: { [field]: 1 } })).toHaveLength(2);
      await db.set(`cell ${text}`, { [text]: text });
      expect(await db.get(`cell ${text}`)).toEqual({ [text]: text });
      expect(await db.incr(`count ${text}`, 2)).toBe(2);
      const own = await db.insert({ _id: `id ${text}`, n: 1 });
      expect(await db.findOne({ _id: own._id })).toEqual({ _id: `id ${text}`, n: 1 });
    }
    expect(await storage.greeters()).toEqual(odd.map((text) => `greeter ${text}`).sort());
    const pool = poolOn(url);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::integer AS n FROM neko_documents');
    expect(rows[0]!.n).toBe(odd.length * 3);
  });
});

describe('an unreachable server', () => {
  it('fails prepare() and open() with NEKO_ERR_STORAGE_UNREACHABLE naming host and port, never the password', async () => {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as AddressInfo;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    const password = 'hunter2-secret';
    const storage = storageOn(`postgres://neko:${password}@127.0.0.1:${port}/neko`);
    expect(storage.location).toBe(`postgres://neko:***@127.0.0.1:${port}/neko`);
    for (const attempt of [storage.prepare(), storage.open('todo'), storage.ping()]) {
      const err = await rejectsWith(attempt, 'NEKO_ERR_STORAGE_UNREACHABLE');
      expect(err.message).toContain(`127.0.0.1:${port}`);
      expect(`${err.message}\n${err.hint ?? ''}\n${String(err)}\n${err.stack ?? ''}`).not.toContain(password);
    }
  });

  it('fails an operation under way with NEKO_ERR_STORAGE_UNREACHABLE when its connection is ended, and works again after', async () => {
    const url = await freshDatabase();
    const warnings: string[] = [];
    const storage = new PostgresStorage({ url, onWarning: (warning) => warnings.push(warning.message) });
    onTestFinished(() => storage.closeAll().catch(() => undefined));
    const db = await storage.open('todo');
    await db.insert({ n: 1 });
    await db.count(); // A second idle connection, to be ended while idle.
    // Hold the table, so that the next count waits on its connection.
    const holder = await poolOn(url).connect();
    onTestFinished(() => holder.release());
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE neko_documents IN ACCESS EXCLUSIVE MODE');
    const waiting = db.count();
    // It may fail while the terminate below is still awaited: handled here, checked after.
    waiting.catch(() => undefined);
    const database = new URL(url).pathname.slice(1);
    const others = 'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()';
    const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // Wait until the count is blocked on the lock, then end every connection of the storage, as a
    // restart of PostgreSQL does.
    await expect
      .poll(async () => (await admin.query(`${others} AND wait_event_type = 'Lock'`, [database])).rowCount)
      .toBe(1);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM (${others} AND pid <> $2) AS p`, [
      database,
      holderPid,
    ]);
    const err = await rejectsWith(waiting, 'NEKO_ERR_STORAGE_UNREACHABLE');
    expect(err.message).toContain(`127.0.0.1:${server.port}`);
    expect(err.message).toContain('count');
    expect(String(err)).not.toContain(server.password);
    await holder.query('ROLLBACK');
    // The pool opens new connections.
    expect(await db.count()).toBe(1);
    await db.insert({ n: 2 });
    expect(await db.count()).toBe(2);
    expect(warnings.join('\n')).not.toContain(server.password);
  });

  it('reports an idle connection ended by the server through onWarning, without the password, and connects again', async () => {
    const url = await freshDatabase();
    const warnings: { greeter: string; location: string; message: string; code?: string }[] = [];
    const storage = new PostgresStorage({
      url,
      onWarning: ({ greeter, location, message, error }) =>
        warnings.push({ greeter, location, message, ...(error ? { code: error.code } : {}) }),
    });
    onTestFinished(() => storage.closeAll().catch(() => undefined));
    const db = await storage.open('todo');
    await db.insert({ n: 1 });
    const database = new URL(url).pathname.slice(1);
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    await expect.poll(() => warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toMatchObject({
      greeter: '',
      location: storage.location,
      code: 'NEKO_ERR_STORAGE_UNREACHABLE',
    });
    expect(warnings[0]!.message).toContain(`127.0.0.1:${server.port}`);
    expect(JSON.stringify(warnings)).not.toContain(server.password);
    expect(await db.count()).toBe(1);
  });
});
