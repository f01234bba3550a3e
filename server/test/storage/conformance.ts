/**
 * The storage contract (`server/src/storage/database.ts`) as tests: every
 * backend runs this suite, with a factory that gives a fresh backend, e.g.
 *
 * ```ts
 * storageConformance('nedb on files', async () => (await fileStorage()).storage, { persistent: true });
 * ```
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Document, ManagedDatabase, StorageBackend } from '../../src/storage/database.js';
import { FIELD_OPERATORS, LOGICAL_OPERATORS, UPDATE_OPERATORS } from '../../src/storage/language.js';
import { rejectsWith } from './helpers.js';

export interface ConformanceOptions {
  /** The data outlives a database's close (true for files and servers, false in memory). */
  persistent: boolean;
}

type Row = Document & { _id: string };

/** The `_id`-less documents, for comparing. */
function bare(docs: readonly Row[]): Record<string, unknown>[] {
  return docs.map(({ _id, ...rest }) => rest);
}

/**
 * Runs every case of the storage contract against the backends `makeBackend`
 * gives (one per test; the factory arranges their cleanup, the suite closes
 * what it opens).
 */
export function storageConformance(
  name: string,
  makeBackend: () => Promise<StorageBackend> | StorageBackend,
  options: ConformanceOptions,
): void {
  let greeters = 0;
  /** A fresh backend and a database of a fresh greeter in it. */
  async function fresh(): Promise<{ backend: StorageBackend; db: ManagedDatabase; greeter: string }> {
    const backend = await makeBackend();
    onTestFinished(() => backend.closeAll().catch(() => undefined));
    const greeter = `conformance-${++greeters}`;
    const db = await backend.open(greeter);
    return { backend, db, greeter };
  }

  async function seeded(docs: readonly Record<string, unknown>[]): Promise<ManagedDatabase> {
    const { db } = await fresh();
    await db.insertMany(docs);
    return db;
  }

  /** The values of `field` of the documents `query` finds, sorted by `n`. */
  async function pick(db: ManagedDatabase, query: Record<string, unknown>, field = 'n'): Promise<unknown[]> {
    const docs = await db.find<Row>(query, { sort: { n: 1 } });
    return docs.map((doc) => doc[field]);
  }

  describe(`storage conformance: ${name}`, () => {
    describe('documents', () => {
      it('inserts, finds, counts, updates and removes documents', async () => {
        const { db } = await fresh();
        const one = await db.insert({ title: 'a', n: 1 });
        expect(typeof one._id).toBe('string');
        expect(one).toMatchObject({ title: 'a', n: 1 });
        const many = await db.insertMany([
          { title: 'b', n: 2 },
          { _id: 'own-id', title: 'c', n: 3 },
        ]);
        expect(many.map((doc) => doc._id)).toEqual([expect.any(String), 'own-id']);
        expect(new Set([one._id, many[0]!._id, 'own-id']).size).toBe(3);
        expect(await db.count()).toBe(3);
        expect(await db.count({ n: { $gt: 1 } })).toBe(2);
        expect(await db.findOne({ _id: 'own-id' })).toEqual({ _id: 'own-id', title: 'c', n: 3 });
        expect(await db.findOne({ title: 'none' })).toBeNull();
        expect(bare(await db.find<Row>({}, { sort: { n: 1 } }))).toEqual([
          { title: 'a', n: 1 },
          { title: 'b', n: 2 },
          { title: 'c', n: 3 },
        ]);
        expect(await db.update({ title: 'a' }, { $set: { n: 10 } })).toBe(1);
        expect(await db.update({ title: 'none' }, { $set: { n: 10 } })).toBe(0);
        expect(await db.remove({ _id: 'own-id' })).toBe(1);
        expect(await db.remove({ _id: 'own-id' })).toBe(0);
        expect(bare(await db.find<Row>({}, { sort: { n: 1 } }))).toEqual([
          { title: 'b', n: 2 },
          { title: 'a', n: 10 },
        ]);
        await rejectsWith(db.insert({ _id: one._id, n: 0 }), 'NEKO_ERR_STORAGE_QUERY');
        await rejectsWith(db.insertMany([{ n: 20 }, { _id: one._id, n: 21 }]), 'NEKO_ERR_STORAGE_QUERY');
        await rejectsWith(db.insertMany([{ n: 20 }, { $bad: 1 }]), 'NEKO_ERR_STORAGE_QUERY');
        expect(await db.count()).toBe(2);
      });

      it('gives back numbers, strings, booleans, null, arrays, nested objects and Dates as they went in', async () => {
        const { db } = await fresh();
        const doc = {
          n: -1.5,
          s: 'héllo\u2028',
          t: true,
          f: false,
          z: null,
          list: [1, 'two', { three: 3 }],
          nested: { a: { b: 'c' } },
          at: new Date('2024-05-06T07:08:09.010Z'),
        };
        const saved = await db.insert(doc);
        const found = await db.findOne<Row>({ _id: saved._id });
        expect(found).toEqual({ ...doc, _id: saved._id });
        expect(found!['at']).toBeInstanceOf(Date);
      });
    });

    describe('queries', () => {
      const docs = [
        { n: 1, name: 'Mimi', tags: ['cat', 'black'], address: { city: 'Kyoto' }, score: 10 },
        { n: 2, name: 'tama', tags: ['cat'], address: { city: 'Osaka' }, score: 20 },
        { n: 3, name: 'kuro', tags: [], address: { city: 'Kyoto', zip: '600' }, score: null },
        { n: 4, name: 'pochi', tags: ['dog'] },
      ];

      it('matches equality on fields, dot paths and array elements', async () => {
        const db = await seeded(docs);
        expect(await pick(db, { name: 'tama' })).toEqual([2]);
        expect(await pick(db, { 'address.city': 'Kyoto' })).toEqual([1, 3]);
        expect(await pick(db, { tags: 'cat' })).toEqual([1, 2]);
        expect(await pick(db, { tags: ['cat'] })).toEqual([2]);
        expect(await pick(db, { address: { city: 'Osaka' } })).toEqual([2]);
        expect(await pick(db, { score: null })).toEqual(expect.arrayContaining([3]));
        expect(await pick(db, { name: 'tama', n: 1 })).toEqual([]);
        expect(await pick(db, {})).toEqual([1, 2, 3, 4]);
      });

      it('compares with $lt, $lte, $gt, $gte on numbers, strings and Dates', async () => {
        const db = await seeded(docs);
        expect(await pick(db, { n: { $lt: 2 } })).toEqual([1]);
        expect(await pick(db, { n: { $lte: 2 } })).toEqual([1, 2]);
        expect(await pick(db, { n: { $gt: 2 } })).toEqual([3, 4]);
        expect(await pick(db, { n: { $gte: 2, $lt: 4 } })).toEqual([2, 3]);
        expect(await pick(db, { name: { $gt: 'n' } })).toEqual([2, 4]);
        expect(await pick(db, { 'address.city': { $lt: 'L' } })).toEqual([1, 3]);
        const dated = await seeded([
          { n: 1, at: new Date('2024-01-01T00:00:00Z') },
          { n: 2, at: new Date('2024-06-01T00:00:00Z') },
        ]);
        expect(await pick(dated, { at: { $gt: new Date('2024-03-01T00:00:00Z') } })).toEqual([2]);
      });

      it('matches $ne, $in, $nin, $exists, also on array elements', async () => {
        const db = await seeded(docs);
        expect(await pick(db, { name: { $ne: 'tama' } })).toEqual([1, 3, 4]);
        expect(await pick(db, { name: { $in: ['tama', 'kuro', 'nobody'] } })).toEqual([2, 3]);
        expect(await pick(db, { name: { $nin: ['tama', 'kuro'] } })).toEqual([1, 4]);
        expect(await pick(db, { tags: { $in: ['dog', 'black'] } })).toEqual([1, 4]);
        expect(await pick(db, { address: { $exists: true } })).toEqual([1, 2, 3]);
        expect(await pick(db, { address: { $exists: false } })).toEqual([4]);
        expect(await pick(db, { 'address.zip': { $exists: true } })).toEqual([3]);
      });

      it('combines queries with $and, $or and $not', async () => {
        const db = await seeded(docs);
        expect(await pick(db, { $and: [{ tags: 'cat' }, { n: { $gt: 1 } }] })).toEqual([2]);
        expect(await pick(db, { $or: [{ name: 'Mimi' }, { 'address.city': 'Osaka' }] })).toEqual([1, 2]);
        expect(await pick(db, { $not: { tags: 'cat' } })).toEqual([3, 4]);
        expect(await pick(db, { n: { $lt: 4 }, $or: [{ n: 1 }, { $not: { tags: 'cat' } }] })).toEqual([1, 3]);
      });

      it('matches $regex with a string pattern, and with $options: i', async () => {
        const db = await seeded(docs);
        expect(await pick(db, { name: { $regex: '^[mt]' } })).toEqual([2]);
        expect(await pick(db, { name: { $regex: '^[mt]', $options: 'i' } })).toEqual([1, 2]);
        expect(await pick(db, { 'address.city': { $regex: 'to$' } })).toEqual([1, 3]);
      });
    });

    describe('find options', () => {
      it('sorts numbers, strings, booleans and Dates, missing values first ascending and last descending', async () => {
        const db = await seeded([
          { n: 3, s: 'b', b: true, at: new Date(3000) },
          { n: 1, s: 'c', b: false, at: new Date(1000) },
          { n: 2, s: 'a', at: new Date(2000) },
          { k: 'missing everything' },
          { n: null, k: 'null' },
        ]);
        const order = async (sort: Record<string, 1 | -1>, field: string): Promise<unknown[]> =>
          (await db.find<Row>({}, { sort })).map((doc) => doc[field]);
        expect(await order({ n: 1 }, 'n')).toEqual([undefined, null, 1, 2, 3]);
        expect(await order({ n: -1 }, 'n')).toEqual([3, 2, 1, null, undefined]);
        expect((await order({ s: 1 }, 's')).slice(2)).toEqual(['a', 'b', 'c']);
        expect((await order({ s: -1 }, 's')).slice(0, 3)).toEqual(['c', 'b', 'a']);
        expect((await order({ b: 1 }, 'b')).slice(3)).toEqual([false, true]);
        expect((await order({ at: -1 }, 'at')).slice(0, 3)).toEqual([
          new Date(3000),
          new Date(2000),
          new Date(1000),
        ]);
      });

      it('sorts by several fields, the first first', async () => {
        const db = await seeded([
          { n: 1, group: 'b', rank: 2 },
          { n: 2, group: 'a', rank: 2 },
          { n: 3, group: 'b', rank: 1 },
          { n: 4, group: 'a', rank: 1 },
        ]);
        const docs = await db.find<Row>({}, { sort: { group: 1, rank: -1 } });
        expect(docs.map((doc) => doc['n'])).toEqual([2, 4, 1, 3]);
      });

      it('skips, limits and projects', async () => {
        const db = await seeded([1, 2, 3, 4, 5].map((n) => ({ n, sq: n * n, nested: { a: n, b: -n } })));
        const page = await db.find<Row>({}, { sort: { n: -1 }, skip: 1, limit: 2 });
        expect(page.map((doc) => doc['n'])).toEqual([4, 3]);
        expect(await db.find({}, { sort: { n: 1 }, skip: 5 })).toEqual([]);
        expect(await db.find({}, { limit: 0 })).toHaveLength(5);
        const kept = await db.find<Row>({ n: 2 }, { projection: { sq: 1 } });
        expect(kept).toEqual([{ _id: expect.any(String), sq: 4 }]);
        const keptNoId = await db.find({ n: 2 }, { projection: { sq: 1, 'nested.a': 1, _id: 0 } });
        expect(keptNoId).toEqual([{ sq: 4, nested: { a: 2 } }]);
        const dropped = await db.find({ n: 2 }, { projection: { sq: 0, nested: 0, _id: 0 } });
        expect(dropped).toEqual([{ n: 2 }]);
        expect(await db.findOne({ n: 3 }, { projection: { n: 1, _id: 0 } })).toEqual({ n: 3 });
        await rejectsWith(db.find({}, { projection: { n: 1, sq: 0 } }), 'NEKO_ERR_STORAGE_QUERY');
        await rejectsWith(db.find({}, { skip: -1 }), 'NEKO_ERR_STORAGE_QUERY');
        await rejectsWith(db.find({}, { limit: 1.5 }), 'NEKO_ERR_STORAGE_QUERY');
        await rejectsWith(db.find({}, { sort: { n: 0 as 1 } }), 'NEKO_ERR_STORAGE_QUERY');
      });
    });

    describe('updates', () => {
      async function one(update: Record<string, unknown>, start: Record<string, unknown>): Promise<unknown> {
        const { db } = await fresh();
        const { _id } = await db.insert(start);
        expect(await db.update({ _id }, update)).toBe(1);
        const { _id: id, ...rest } = (await db.findOne<Row>({ _id }))!;
        expect(id).toBe(_id);
        return rest;
      }

      it('$set sets fields and dot paths, creating what is missing', async () => {
        expect(await one({ $set: { a: 2, 'b.c': 'x', 'n.m': true } }, { a: 1, b: { d: 1 } })).toEqual({
          a: 2,
          b: { c: 'x', d: 1 },
          n: { m: true },
        });
      });

      it('$unset removes fields and dot paths', async () => {
        expect(
          await one({ $unset: { a: true, 'b.c': true, none: true } }, { a: 1, b: { c: 1, d: 2 } }),
        ).toEqual({
          b: { d: 2 },
        });
      });

      it('$inc adds to numbers, starting missing ones at 0', async () => {
        expect(await one({ $inc: { a: 5, 'b.c': -2, fresh: 1.5 } }, { a: 1, b: { c: 1 } })).toEqual({
          a: 6,
          b: { c: -1 },
          fresh: 1.5,
        });
        const { db } = await fresh();
        await db.insert({ a: 'text' });
        await rejectsWith(db.update({}, { $inc: { a: 1 } }), 'NEKO_ERR_STORAGE_QUERY');
      });

      it('$push appends, $addToSet appends when absent, $pull removes every equal element', async () => {
        expect(await one({ $push: { list: 'c', fresh: { o: 1 } } }, { list: ['a', 'b'] })).toEqual({
          list: ['a', 'b', 'c'],
          fresh: [{ o: 1 }],
        });
        expect(await one({ $addToSet: { list: 'a', other: 'z' } }, { list: ['a', 'b'], other: [] })).toEqual({
          list: ['a', 'b'],
          other: ['z'],
        });
        expect(
          await one(
            { $pull: { list: 'a', objs: { k: 1 } } },
            { list: ['a', 'b', 'a'], objs: [{ k: 1 }, { k: 2 }] },
          ),
        ).toEqual({
          list: ['b'],
          objs: [{ k: 2 }],
        });
      });

      it('replaces the whole document when the update has no operator, keeping its _id', async () => {
        expect(await one({ b: 2 }, { a: 1 })).toEqual({ b: 2 });
      });

      it('changes the first match, or every match with multi', async () => {
        const db = await seeded([
          { n: 1, k: 'x' },
          { n: 2, k: 'x' },
          { n: 3, k: 'y' },
        ]);
        expect(await db.update({ k: 'x' }, { $set: { seen: true } })).toBe(1);
        expect(await db.count({ seen: true })).toBe(1);
        expect(await db.update({ k: 'x' }, { $set: { seen: true } }, { multi: true })).toBe(2);
        expect(await pick(db, { seen: true })).toEqual([1, 2]);
        expect(await db.remove({ k: 'x' })).toBe(1);
        expect(await db.remove({ k: { $in: ['x', 'y'] } }, { multi: true })).toBe(2);
        expect(await db.count()).toBe(0);
      });

      it('upserts: inserts the query equality fields with the update applied, then updates', async () => {
        const { db } = await fresh();
        expect(await db.update({ player: 'neko' }, { $inc: { points: 5 } }, { upsert: true })).toBe(1);
        expect(bare(await db.find<Row>({}))).toEqual([{ player: 'neko', points: 5 }]);
        expect(await db.update({ player: 'neko' }, { $inc: { points: 5 } }, { upsert: true })).toBe(1);
        expect(bare(await db.find<Row>({}))).toEqual([{ player: 'neko', points: 10 }]);
        expect(await db.update({ player: 'tama' }, { player: 'tama', points: 1 }, { upsert: true })).toBe(1);
        expect(await db.count()).toBe(2);
        expect(await db.update({ player: 'nobody' }, { $inc: { points: 1 } })).toBe(0);
        expect(await db.count()).toBe(2);
      });

      it('loses no concurrent $inc', async () => {
        const { db } = await fresh();
        const { _id } = await db.insert({ hits: 0 });
        await Promise.all(Array.from({ length: 100 }, () => db.update({ _id }, { $inc: { hits: 1 } })));
        expect((await db.findOne<Row>({ _id }))!['hits']).toBe(100);
      });
    });

    describe('refusals', () => {
      it('refuses query operators outside the language, naming the operator and listing the allowed ones', async () => {
        const { db } = await fresh();
        await db.insert({ a: 1, list: [1, 2] });
        const cases: [Promise<unknown>, string][] = [
          [db.find({ $where: () => true } as Record<string, unknown>), '$where'],
          [db.find({ list: { $elemMatch: { $gt: 1 } } }), '$elemMatch'],
          [db.find({ list: { $size: 2 } }), '$size'],
          [db.count({ $nor: [{ a: 1 }] }), '$nor'],
          [db.remove({ a: { $mod: [2, 1] } }), '$mod'],
          [db.update({ a: { $type: 'number' } }, { $set: { b: 1 } }), '$type'],
        ];
        for (const [operation, operator] of cases) {
          const err = await rejectsWith(operation, 'NEKO_ERR_STORAGE_QUERY');
          expect(err.message).toContain(operator);
          for (const allowed of [...LOGICAL_OPERATORS, ...FIELD_OPERATORS])
            expect(err.message).toContain(allowed);
        }
      });

      it('refuses update operators outside the language, and modifiers such as $each', async () => {
        const { db } = await fresh();
        await db.insert({ a: 1, list: [1] });
        const cases: [Record<string, unknown>, string][] = [
          [{ $rename: { a: 'b' } }, '$rename'],
          [{ $min: { a: 0 } }, '$min'],
          [{ $max: { a: 9 } }, '$max'],
          [{ $pop: { list: 1 } }, '$pop'],
          [{ $mul: { a: 2 } }, '$mul'],
          [{ $push: { list: { $each: [2, 3] } } }, '$each'],
          [{ $addToSet: { list: { $each: [2] } } }, '$each'],
          [{ $push: { list: { $each: [2], $slice: -1 } } }, '$each'],
        ];
        for (const [update, operator] of cases) {
          const err = await rejectsWith(db.update({ a: 1 }, update), 'NEKO_ERR_STORAGE_QUERY');
          expect(err.message).toContain(operator);
          for (const allowed of UPDATE_OPERATORS) expect(err.message).toContain(allowed);
        }
        expect(bare(await db.find<Row>({}))).toEqual([{ a: 1, list: [1] }]);
      });

      it('refuses functions, RegExp values, $regex flags other than i, and bad field names', async () => {
        const { db } = await fresh();
        await db.insert({ a: 'x' });
        const refusals: Promise<unknown>[] = [
          db.insert({ f: () => 1 }),
          db.find({ a: /x/ }),
          db.find({ a: { $regex: /x/ } }),
          db.find({ a: { $regex: 'x', $options: 'g' } }),
          db.find({ a: { $regex: '(' } }),
          db.find({ a: { $options: 'i' } }),
          db.find({ a: { $in: 'x' } }),
          db.find({ a: { $exists: 1 } }),
          db.find({ $or: [] }),
          db.find({ a: { $gt: 1, b: 2 } }),
          db.find({ a: { $not: { $gt: 1 } } }),
          db.insert({ $a: 1 }),
          db.insert({ 'a.b': 1 }),
          db.insert({ nested: { $x: 1 } }),
          db.update({}, { $set: { 'a..b': 1 } }),
          db.update({}, { $set: { a: 1 }, b: 2 }),
          db.update({}, { $inc: { a: '1' } }),
        ];
        for (const refusal of refusals) await rejectsWith(refusal, 'NEKO_ERR_STORAGE_QUERY');
        expect(bare(await db.find<Row>({}))).toEqual([{ a: 'x' }]);
      });
    });

    describe('key-value cells', () => {
      it('stores and gets JSON values, undefined for a cell never stored', async () => {
        const { db } = await fresh();
        expect(await db.get('score')).toBeUndefined();
        await db.set('score', 10);
        await db.set('settings', { map: 'forest', admins: ['mimi'], 'a.b': { $x: null } });
        expect(await db.get('score')).toBe(10);
        await db.set('score', 11);
        expect(await db.get('score')).toBe(11);
        expect(await db.get('settings')).toEqual({ map: 'forest', admins: ['mimi'], 'a.b': { $x: null } });
        await rejectsWith(db.set('', 1), 'NEKO_ERR_STORAGE_CELL');
        await rejectsWith(db.set('bad', undefined), 'NEKO_ERR_STORAGE_CELL');
      });

      it('keeps cells out of every document operation', async () => {
        const { db } = await fresh();
        await db.set('score', 10);
        await db.insert({ n: 1 });
        expect(await db.count()).toBe(1);
        expect(await db.find({})).toHaveLength(1);
        expect(await db.find({ json: { $exists: true } })).toEqual([]);
        expect(await db.update({}, { $set: { seen: true } }, { multi: true })).toBe(1);
        expect(await db.remove({}, { multi: true })).toBe(1);
        expect(await db.count()).toBe(0);
        expect(await db.get('score')).toBe(10);
      });

      it('increments a cell atomically, from 0 when never stored, and refuses a cell that is no number', async () => {
        const { db } = await fresh();
        expect(await db.incr('visits')).toBe(1);
        expect(await db.incr('visits', 10)).toBe(11);
        expect(await db.incr('visits', -0.5)).toBe(10.5);
        expect(await db.get('visits')).toBe(10.5);
        const results = await Promise.all(Array.from({ length: 100 }, () => db.incr('hits')));
        expect(new Set(results).size).toBe(100);
        expect(Math.max(...results)).toBe(100);
        expect(await db.get('hits')).toBe(100);
        await db.set('name', 'mimi');
        await rejectsWith(db.incr('name'), 'NEKO_ERR_STORAGE_CELL');
        expect(await db.get('name')).toBe('mimi');
        await rejectsWith(db.incr('visits', Number.NaN), 'NEKO_ERR_STORAGE_CELL');
        await rejectsWith(db.incr('visits', '1' as unknown as number), 'NEKO_ERR_STORAGE_CELL');
        await db.set('big', Number.MAX_VALUE);
        await rejectsWith(db.incr('big', Number.MAX_VALUE), 'NEKO_ERR_STORAGE_CELL');
        expect(await db.get('big')).toBe(Number.MAX_VALUE);
        await rejectsWith(db.incr(''), 'NEKO_ERR_STORAGE_CELL');
        expect(await db.get('visits')).toBe(10.5);
        expect(await db.count()).toBe(0);
      });
    });

    describe('listing cells', () => {
      it('lists every cell once, by name, with its newest value, and no document', async () => {
        const { db } = await fresh();
        expect(await db.cells()).toEqual([]);
        await db.insert({ n: 1, name: 'a document' });
        await db.set('zeta', { players: ['mimi', 'tama'], 'a.b': { $x: null } });
        await db.set('Beta', null);
        await db.set('alpha', 1);
        await db.set('alpha', 2);
        await db.set('émoji 🐱', 'cat');
        expect(await db.cells()).toEqual([
          { name: 'Beta', value: null },
          { name: 'alpha', value: 2 },
          { name: 'zeta', value: { players: ['mimi', 'tama'], 'a.b': { $x: null } } },
          { name: 'émoji 🐱', value: 'cat' },
        ]);
        // Listing cells leaves documents alone, and documents leave cells alone.
        expect(await db.count()).toBe(1);
        await db.remove({}, { multi: true });
        expect((await db.cells()).map((c) => c.name)).toEqual(['Beta', 'alpha', 'zeta', 'émoji 🐱']);
      });

      it(`lists the cells kept across a close${options.persistent ? '' : ' (none in memory)'}, and refuses after close`, async () => {
        const { backend, db, greeter } = await fresh();
        await db.set('kept', { n: 1 });
        await db.close();
        await rejectsWith(db.cells(), 'NEKO_ERR_STORAGE_CLOSED');
        const again = await backend.open(greeter);
        expect(await again.cells()).toEqual(options.persistent ? [{ name: 'kept', value: { n: 1 } }] : []);
      });
    });

    describe('opening and closing', () => {
      it('gives the same open database for a greeter opened twice, another for another greeter', async () => {
        const { backend, db, greeter } = await fresh();
        const [again, other] = await Promise.all([backend.open(greeter), backend.open(`${greeter}-other`)]);
        expect(again).toBe(db);
        expect(other).not.toBe(db);
        await db.insert({ n: 1 });
        expect(await other.count()).toBe(0);
        await rejectsWith(backend.open(''), 'NEKO_ERR_SPEC_BAD_GREETER');
      });

      it('refuses every operation after close with NEKO_ERR_STORAGE_CLOSED, and opens afresh after it', async () => {
        const { backend, db, greeter } = await fresh();
        await db.insert({ n: 1 });
        await db.set('cell', 1);
        const under = db.insert({ n: 2 });
        const closing = db.close();
        expect(db.close()).toBe(closing);
        await closing;
        await under;
        const calls: Promise<unknown>[] = [
          db.insert({ n: 3 }),
          db.insertMany([{ n: 3 }]),
          db.find({}),
          db.findOne({}),
          db.count(),
          db.update({}, { $set: { n: 0 } }),
          db.remove({}),
          db.get('cell'),
          db.set('cell', 2),
        ];
        for (const call of calls) await rejectsWith(call, 'NEKO_ERR_STORAGE_CLOSED');
        const reopened = await backend.open(greeter);
        expect(reopened).not.toBe(db);
        if (options.persistent) {
          expect(await reopened.count()).toBe(2);
          expect(await reopened.get('cell')).toBe(1);
        }
        await reopened.close();
      });

      it('closes every open database with closeAll', async () => {
        const { backend, db } = await fresh();
        const other = await backend.open('conformance-closeall');
        await backend.closeAll();
        await rejectsWith(db.count(), 'NEKO_ERR_STORAGE_CLOSED');
        await rejectsWith(other.get('x'), 'NEKO_ERR_STORAGE_CLOSED');
        await backend.closeAll();
      });
    });
  });
}
