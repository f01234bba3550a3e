import { existsSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { NekoError } from '../../src/errors.js';
import { NedbStorage, DEFAULT_DATA_DIR, MEMORY_LOCATION } from '../../src/storage/nedb/storage.js';
import { fileStorage, openDb, rejectsWith, tempDir } from './helpers.js';

interface Task extends Record<string, unknown> {
  title: string;
  due: number;
  done: boolean;
}

const TASKS: Task[] = [
  { title: 'a', due: 3, done: false },
  { title: 'b', due: 1, done: true },
  { title: 'c', due: 2, done: false },
  { title: 'd', due: 5, done: true },
];

/** The data lines of a file, parsed. */
async function fileLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('NedbStorage: documents', () => {
  it('inserts and finds documents, with sort, skip, limit and projection', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'todo');
    const one = await db.insert({ title: 'first', due: 9, done: false });
    expect(typeof one._id).toBe('string');
    expect(one).toMatchObject({ title: 'first', due: 9, done: false });
    const many = await db.insertMany(TASKS);
    expect(many.map((t) => t.title)).toEqual(['a', 'b', 'c', 'd']);
    expect(new Set(many.map((t) => t._id)).size).toBe(4);

    expect((await db.find<Task>({ done: false }, { sort: { due: 1 } })).map((t) => t.title)).toEqual([
      'c',
      'a',
      'first',
    ]);
    const page = await db.find<Task>({}, { sort: { due: -1 }, skip: 1, limit: 2 });
    expect(page.map((t) => t.title)).toEqual(['d', 'a']);
    const titles = await db.find({ due: { $lt: 3 } }, { sort: { due: 1 }, projection: { title: 1, _id: 0 } });
    expect(titles).toEqual([{ title: 'b' }, { title: 'c' }]);
    expect(await db.findOne({ title: 'd' }, { projection: { due: 1 } })).toEqual({
      due: 5,
      _id: many[3]!._id,
    });
    expect(await db.findOne({ title: 'nope' })).toBeNull();
    expect(await db.count()).toBe(5);
    expect(await db.count({ $or: [{ title: 'a' }, { done: true }] })).toBe(3);
  });

  it('updates one or many documents, upserts, and reports the number changed', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'todo');
    await db.insertMany(TASKS);
    expect(await db.update({ done: false }, { $set: { done: true } })).toBe(1);
    expect(await db.count({ done: true })).toBe(3);
    expect(await db.update({ done: true }, { $inc: { due: 10 } }, { multi: true })).toBe(3);
    expect(await db.count({ due: { $gt: 10 } })).toBe(3);
    expect(await db.update({ title: 'zzz' }, { $set: { done: true } })).toBe(0);

    // An upsert with operators builds the new document from the query's fields, as nedb does.
    expect(await db.update({ title: 'new' }, { $set: { due: 7 } }, { upsert: true })).toBe(1);
    expect(await db.findOne({ title: 'new' }, { projection: { _id: 0 } })).toEqual({ title: 'new', due: 7 });
    // A replacement upsert inserts the replacement.
    expect(await db.update({ title: 'other' }, { title: 'other', due: 1 }, { upsert: true })).toBe(1);
    expect(await db.count({ title: 'other' })).toBe(1);
    // A replacement keeps the _id.
    const b = await db.findOne<Task>({ title: 'b' });
    expect(await db.update({ _id: b!._id }, { title: 'B' })).toBe(1);
    expect(await db.findOne({ _id: b!._id })).toEqual({ title: 'B', _id: b!._id });
  });

  it('removes one or many documents and reports the number removed', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'todo');
    await db.insertMany(TASKS);
    expect(await db.remove({ done: true })).toBe(1);
    expect(await db.count()).toBe(3);
    expect(await db.remove({ done: false }, { multi: true })).toBe(2);
    expect(await db.remove({ title: 'none' }, { multi: true })).toBe(0);
    // One of the two done tasks went first; the other is what is left.
    const left = await db.find<Task>({});
    expect(left.map((t) => t.done)).toEqual([true]);
    expect(['b', 'd']).toContain(left[0]!.title);
  });

  it('keeps documents and cells across a reopen by a new backend', async () => {
    const { storage, dataDir } = await fileStorage();
    const db = await storage.open('todo');
    await db.insertMany(TASKS);
    await db.update({ title: 'a' }, { $set: { done: true } });
    await db.remove({ title: 'b' });
    await db.set('counter', 41);
    await db.set('counter', 42);
    await db.close();

    const again = await openDb(new NedbStorage({ dataDir, compactionIntervalMs: 0 }), 'todo');
    expect((await again.find<Task>({}, { sort: { title: 1 } })).map((t) => [t.title, t.done])).toEqual([
      ['a', true],
      ['c', false],
      ['d', true],
    ]);
    expect(await again.get('counter')).toBe(42);
  });

  it('keeps strings holding U+2028, U+2029 and U+0085, which nedb alone would split into corrupt lines', async () => {
    const { storage, dataDir } = await fileStorage();
    const db = await storage.open('text');
    const text = 'line\u2028sep\u2029para\u0085next \\u2028 literal';
    const doc = await db.insert({ text, ['key\u2028']: 1 });
    await db.set('note', { text });
    await db.close();
    const raw = await readFile(storage.fileOf('text'), 'utf8');
    expect(raw).not.toMatch(/[\u2028\u2029\u0085]/);

    const again = await openDb(new NedbStorage({ dataDir, compactionIntervalMs: 0 }), 'text');
    expect(await again.findOne({ _id: doc._id })).toEqual({ text, ['key\u2028']: 1, _id: doc._id });
    expect(await again.get('note')).toEqual({ text });
  });
});

describe('NedbStorage: key-value cells', () => {
  it('stores JSON values, overwrites them, and gives undefined for a missing cell', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'kv');
    expect(await db.get('missing')).toBeUndefined();
    const value = { 'a.b': 1, $x: [1, { y: null }], nested: { list: ['s', true, -0.5] } };
    await db.set('weird', value);
    expect(await db.get('weird')).toEqual(value);
    await db.set('n', 1);
    await db.set('n', 2);
    expect(await db.get('n')).toBe(2);
    await db.set('n', null);
    expect(await db.get('n')).toBeNull();
    await db.set('s', 'text');
    expect(await db.get<string>('s')).toBe('text');
  });

  it('keeps cells out of every document operation', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'kv');
    await db.set('score', 10);
    await db.set('json', { title: 'a' });
    await db.insert({ title: 'a' });
    expect(await db.count()).toBe(1);
    expect(await db.find({})).toHaveLength(1);
    expect(await db.find({ $not: { title: 'x' } })).toHaveLength(1);
    expect(await db.findOne({ json: { $exists: true } })).toBeNull();
    expect(await db.update({}, { $set: { touched: true } }, { multi: true })).toBe(1);
    expect(await db.remove({}, { multi: true })).toBe(1);
    expect(await db.count()).toBe(0);
    expect([await db.get('score'), await db.get('json')]).toEqual([10, { title: 'a' }]);
  });

  it('refuses documents, updates and queries that use the reserved cell field', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'kv');
    await db.set('score', 10);
    const refusals: Promise<unknown>[] = [
      db.insert({ __nekoCell: 'score', json: '99' }),
      db.insertMany([{ ok: 1 }, { __nekoCell: 'x' }]),
      db.find({ __nekoCell: 'score' }),
      db.count({ '__nekoCell.x': 1 }),
      db.update({ title: 'a' }, { $set: { __nekoCell: 'score' } }),
      db.update({ title: 'a' }, { $unset: { __nekoCell: true } }, { multi: true }),
      db.update({ title: 'a' }, { $rename: { title: '__nekoCell' } }),
      db.update({ title: 'a' }, { __nekoCell: 'x' }),
      db.update({ __nekoCell: 'forged' }, { $set: { json: '1' } }, { upsert: true }),
      db.remove({ __nekoCell: 'score' }),
    ];
    for (const refusal of refusals) {
      const err = await rejectsWith(refusal, 'NEKO_ERR_STORAGE_QUERY');
      expect(err.message).toContain('__nekoCell');
    }
    expect(await db.count()).toBe(0);
    expect(await db.get('score')).toBe(10);
    expect(await db.get('forged')).toBeUndefined();
  });

  it('refuses values that do not survive JSON, and bad cell names', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'kv');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const bad: [unknown, string][] = [
      [undefined, 'the value is undefined'],
      [() => 1, 'the value is a function'],
      [10n, 'the value is a bigint'],
      [Number.NaN, 'NaN'],
      [{ when: new Date(0) }, 'the value.when is a Date'],
      [new Map(), 'a Map'],
      [{ a: [1, undefined] }, 'the value.a[1] is undefined'],
      [cyclic, 'the value.self refers back to itself'],
    ];
    for (const [value, message] of bad) {
      const err = await rejectsWith(db.set('cell', value), 'NEKO_ERR_STORAGE_CELL');
      expect(err.message).toContain(message);
    }
    await rejectsWith(db.set('', 1), 'NEKO_ERR_STORAGE_CELL');
    await rejectsWith(db.get(5 as unknown as string), 'NEKO_ERR_STORAGE_CELL');
    expect(await db.get('cell')).toBeUndefined();
  });
});

describe('NedbStorage: errors from nedb', () => {
  it('turns what nedb refuses into NEKO_ERR_STORAGE_QUERY with nedb as the cause', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'q');
    const doc = await db.insert({ a: 1, s: 'text' });
    const cases: [Promise<unknown>, RegExp][] = [
      [db.insert({ _id: doc._id }), /unique constraint/],
      [db.update({ a: 1 }, { $inc: { s: 1 } }), /\$inc/],
      [db.update({ a: 1 }, { $set: { _id: 'other' } }), /_id/],
    ];
    for (const [operation, message] of cases) {
      const err = await rejectsWith(operation, 'NEKO_ERR_STORAGE_QUERY');
      expect(err.message).toMatch(message);
      expect(err.cause).toBeInstanceOf(Error);
    }
    expect(await db.count()).toBe(1);
  });

  it('refuses what is outside the query language before nedb sees it, naming the operator or field', async () => {
    const { storage } = await fileStorage();
    const db = await openDb(storage, 'q');
    await db.insert({ a: 1 });
    const cases: [Promise<unknown>, RegExp][] = [
      [db.find({ $bogus: 1 }), /the query operator \$bogus is not supported; the allowed ones are \$and, /],
      [db.find({ a: { $regex: 5 } }), /a\.\$regex takes a pattern as a string, not a number/],
      [db.update({ a: 1 }, { $bogus: { a: 2 } }), /the update operator \$bogus is not supported/],
      [db.insert({ $a: 1 }), /cannot begin with the \$ character/],
      [db.insert({ 'a.b': 1 }), /cannot contain a \./],
      [db.find({}, { projection: { a: 1, b: 0 } }), /can't both keep and omit/],
    ];
    for (const [operation, message] of cases) {
      const err = await rejectsWith(operation, 'NEKO_ERR_STORAGE_QUERY');
      expect(err.message).toMatch(message);
    }
    const [skip, limit, sort, query, and] = await Promise.all(
      [
        db.find({}, { skip: -1 }),
        db.find({}, { limit: 1.5 }),
        db.find({}, { sort: { a: 2 as 1 } }),
        db.count([] as unknown as Record<string, unknown>),
        db.find({ $and: { a: 1 } }),
      ].map((p) => rejectsWith(p, 'NEKO_ERR_STORAGE_QUERY')),
    );
    expect([skip!.message, limit!.message, sort!.message, query!.message, and!.message]).toEqual([
      'find refused: skip must be a whole number from 0, not -1',
      'find refused: limit must be a whole number from 0, not 1.5',
      'find refused: sort.a must be 1 or -1, not 2',
      'count refused: the query must be an object, not an array',
      "find refused: the query's $and must be an array of queries",
    ]);
    expect(await db.count()).toBe(1);
  });

  it('reports a failed append as NEKO_ERR_STORAGE_WRITE naming the file', async () => {
    const { storage, dataDir } = await fileStorage();
    const db = await openDb(storage, 'w');
    await db.insert({ a: 1 });
    await rm(dataDir, { recursive: true });
    const err = await rejectsWith(db.insert({ a: 2 }), 'NEKO_ERR_STORAGE_WRITE');
    expect(err.message).toContain(storage.fileOf('w'));
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('NedbStorage: opening and closing', () => {
  it('puts each greeter in its own file with a safe name, and returns the open database for the same greeter', async () => {
    const { storage, dataDir } = await fileStorage();
    const chat = await openDb(storage, 'chat');
    expect(await storage.open('chat')).toBe(chat);
    const [x, y] = await Promise.all([storage.open('a/b'), storage.open('a/b')]);
    expect(x).toBe(y);
    const upper = await openDb(storage, 'Chat');
    expect(upper).not.toBe(chat);
    await chat.insert({ from: 'chat' });
    await upper.insert({ from: 'Chat' });
    await x!.set('k', 'a/b');
    expect(await chat.find({}, { projection: { _id: 0 } })).toEqual([{ from: 'chat' }]);
    expect(await upper.find({}, { projection: { _id: 0 } })).toEqual([{ from: 'Chat' }]);
    expect(await chat.get('k')).toBeUndefined();

    expect(chat.location).toBe(path.join(dataDir, 'chat.db'));
    expect(x!.location).toBe(path.join(dataDir, 'a%2Fb.db'));
    expect(upper.location).toBe(path.join(dataDir, '^chat.db'));
    expect((await readdir(dataDir)).sort()).toEqual(['^chat.db', 'a%2Fb.db', 'chat.db']);
  });

  it('resolves the data directory against the working directory, by default .nekoconnect/data', () => {
    expect(new NedbStorage().dataDir).toBe(path.resolve(process.cwd(), DEFAULT_DATA_DIR));
    expect(new NedbStorage({ dataDir: 'x/y' }).dataDir).toBe(path.resolve(process.cwd(), 'x/y'));
  });

  it('refuses a bad compaction interval and an empty greeter', async () => {
    for (const compactionIntervalMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new NedbStorage({ compactionIntervalMs })).toThrow(
        expect.objectContaining({ code: 'NEKO_ERR_CONFIG_INVALID' }),
      );
    }
    await rejectsWith(new NedbStorage({ inMemory: true }).open(''), 'NEKO_ERR_SPEC_BAD_GREETER');
  });

  it('refuses operations after close, and opens the greeter afresh after it', async () => {
    const { storage } = await fileStorage();
    const db = await storage.open('c');
    await db.insert({ a: 1 });
    const closing = db.close();
    expect(db.close()).toBe(closing);
    const reopened = storage.open('c');
    await closing;
    for (const operation of [db.insert({ a: 2 }), db.find(), db.get('x'), db.set('x', 1), db.compact()]) {
      const err = await rejectsWith(operation, 'NEKO_ERR_STORAGE_CLOSED');
      expect(err.message).toContain(db.location);
    }
    const again = await reopened;
    onTestFinished(() => again.close());
    expect(again).not.toBe(db);
    expect(await again.count()).toBe(1);
  });

  it('lets operations under way finish before close() compacts', async () => {
    const { storage } = await fileStorage();
    const db = await storage.open('c');
    const writes = Array.from({ length: 50 }, (_, i) => db.insert({ i }));
    await db.close();
    expect(await Promise.all(writes)).toHaveLength(50);
    expect(await fileLines(db.location)).toHaveLength(51); // 50 documents and the cell index
  });

  it('closes every open database with closeAll()', async () => {
    const { storage } = await fileStorage();
    const a = await storage.open('a');
    const b = await storage.open('b');
    await storage.closeAll();
    await rejectsWith(a.count(), 'NEKO_ERR_STORAGE_CLOSED');
    await rejectsWith(b.count(), 'NEKO_ERR_STORAGE_CLOSED');
  });
});

describe('NedbStorage: compaction', () => {
  it('compact() and close() rewrite the file to one line per document', async () => {
    const { storage } = await fileStorage();
    const db = await storage.open('c');
    const doc = await db.insert({ n: 0 });
    for (let n = 1; n <= 20; n++) await db.update({ _id: doc._id }, { $set: { n } });
    await db.set('cell', 1);
    await db.set('cell', 2);
    // The cell index, the document, 20 updates, 2 cell writes: nedb appends a line per write.
    expect(await fileLines(db.location)).toHaveLength(24);
    await db.compact();
    const compacted = await fileLines(db.location);
    expect(compacted).toHaveLength(3);
    expect(compacted).toContainEqual({ n: 20, _id: doc._id });
    await db.remove({ _id: doc._id });
    expect(await fileLines(db.location)).toHaveLength(4);
    await db.close();
    expect((await fileLines(db.location)).map((line) => Object.keys(line).sort().join())).toEqual(
      expect.arrayContaining(['$$indexCreated', '__nekoCell,_id,json']),
    );
    expect(await fileLines(db.location)).toHaveLength(2);
  });

  it('compacts on the schedule, and stops when closed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { storage } = await fileStorage({ compactionIntervalMs: 1 });
      const db = await storage.open('c');
      const doc = await db.insert({ n: 0 });
      await db.update({ _id: doc._id }, { $set: { n: 1 } });
      expect(await fileLines(db.location)).toHaveLength(3);
      vi.advanceTimersByTime(4_999); // intervals under 5 s count as 5 s
      await db.count(); // let anything queued run
      expect(await fileLines(db.location)).toHaveLength(3);
      vi.advanceTimersByTime(1);
      await expect.poll(async () => (await fileLines(db.location)).length).toBe(2);
      await db.close();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reports a scheduled compaction that fails through onWarning, without crashing', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { storage, dataDir, warnings } = await fileStorage({ compactionIntervalMs: 5_000 });
      const db = await storage.open('c');
      await rm(dataDir, { recursive: true });
      vi.advanceTimersByTime(5_000);
      await expect.poll(() => warnings.length).toBe(1);
      expect(warnings[0]).toMatchObject({ greeter: 'c', location: db.location });
      expect(warnings[0]!.error).toBeInstanceOf(NekoError);
      expect(warnings[0]!.error!.code).toBe('NEKO_ERR_STORAGE_WRITE');
      expect(warnings[0]!.message).toContain(db.location);
      await rejectsWith(db.close(), 'NEKO_ERR_STORAGE_WRITE');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('NedbStorage: in memory', () => {
  it('offers the same API without touching the disk', async () => {
    const dir = await tempDir();
    const dataDir = path.join(dir, 'data');
    const storage = new NedbStorage({ inMemory: true, dataDir });
    const db = await storage.open('mem');
    expect(db.location).toBe(MEMORY_LOCATION);
    expect(await storage.open('mem')).toBe(db);
    await db.insertMany(TASKS);
    expect(await db.update({ done: false }, { $set: { done: true } }, { multi: true })).toBe(2);
    expect(await db.count({ done: true })).toBe(4);
    expect(await db.remove({ title: 'a' })).toBe(1);
    await db.set('cell', { x: 1 });
    expect(await db.get('cell')).toEqual({ x: 1 });
    expect(await db.count()).toBe(3);
    await db.compact();
    await db.close();
    expect(existsSync(dataDir)).toBe(false);
    expect(await readdir(dir)).toEqual([]);
    // A new database after close starts empty: nothing was kept.
    const fresh = await storage.open('mem');
    expect(await fresh.count()).toBe(0);
    await fresh.close();
  });
});
