/**
 * The PostgreSQL backend against the nedb backend: pseudo-random documents
 * (numbers, strings, booleans, null, Dates, arrays, nested objects, missing
 * fields), queries, sorts and updates in the language, run on both; the
 * results must be the same. This is what holds the SQL translation to
 * nedb's meaning. A mismatch names the seed and the case, to replay it.
 *
 * nedb's results are compared in the form its data file keeps them (JSON:
 * an array's holes are nulls, properties JSON does not store are gone),
 * which is what a nedb server gives back after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { NekoError } from '../../src/errors.js';
import type { Document, ManagedDatabase } from '../../src/storage/database.js';
import { NedbStorage } from '../../src/storage/nedb/storage.js';
import { dotValue } from '../../src/storage/postgres/projection.js';
import { PostgresStorage } from '../../src/storage/postgres/storage.js';

const SEED = 0x5eed18;
const ROUNDS = 20;
const DOCS = 24;
const QUERIES = 30;
const UPDATES = 12;

/** mulberry32: a small seeded generator. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = generator(seed);
  }
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const NUMBERS = [-2, -1, 0, 1, 1.5, 2, 3, 10, 0.1];
const STRINGS = ['', 'a', 'b', 'ab', 'ba', 'B', 'Ab', 'abc', 'é', 'zz', '0', 'a b'];
const DATES = [0, 1000, 2000, -5000, 1_700_000_000_000].map((ms) => new Date(ms));
const FIELDS = ['a', 'b', 'c', 'd'];
const INNER = ['x', 'y'];
const PATHS = ['a', 'b', 'c', 'd', 'a.x', 'b.y', 'a.0', 'b.1', 'c.x.y', 'a.x.0', 'd.0.x', 'b.0'];
const PATTERNS = ['^a', 'b$', 'a', '^$', '[ab]+', '^A', 'b.', '^(a|z)+$', '\\d', 'é'];

function scalar(g: Gen): unknown {
  switch (g.int(6)) {
    case 0:
      return g.pick(NUMBERS);
    case 1:
    case 2:
      return g.pick(STRINGS);
    case 3:
      return g.chance(0.5);
    case 4:
      return null;
    default:
      return g.pick(DATES);
  }
}

function value(g: Gen, depth: number): unknown {
  const kind = depth >= 2 ? 0 : g.int(10);
  if (kind < 6) return scalar(g);
  if (kind < 8) return Array.from({ length: g.int(4) }, () => value(g, depth + 1));
  const obj: Record<string, unknown> = {};
  for (const field of INNER) if (g.chance(0.6)) obj[field] = value(g, depth + 1);
  return obj;
}

function document(g: Gen, id: string): Record<string, unknown> {
  const doc: Record<string, unknown> = { _id: id };
  for (const field of FIELDS) if (g.chance(0.75)) doc[field] = value(g, 0);
  return doc;
}

function condition(g: Gen): unknown {
  switch (g.int(12)) {
    case 0:
    case 1:
      return value(g, 1);
    case 2:
      return { [g.pick(['$lt', '$lte', '$gt', '$gte'])]: g.pick([...NUMBERS, ...STRINGS, ...DATES]) };
    case 3:
      return { $gte: g.pick(NUMBERS), $lt: g.pick(NUMBERS) };
    case 4:
      return { $ne: value(g, 1) };
    case 5:
      return { $in: Array.from({ length: g.int(4) }, () => value(g, 1)) };
    case 6:
      return { $nin: Array.from({ length: g.int(4) }, () => value(g, 1)) };
    case 7:
      return { $exists: g.chance(0.5) };
    case 8:
      return g.chance(0.5) ? { $regex: g.pick(PATTERNS) } : { $regex: g.pick(PATTERNS), $options: 'i' };
    case 9:
      return { $gt: g.pick(DATES) };
    case 10:
      return { $ne: null, $exists: true };
    default:
      return g.pick([null, [], {}, [g.pick(STRINGS)]]);
  }
}

function query(g: Gen, depth = 0): Record<string, unknown> {
  const q: Record<string, unknown> = {};
  const n = g.int(3);
  for (let i = 0; i < n; i++) q[g.pick(PATHS)] = condition(g);
  if (depth < 2 && g.chance(0.25)) {
    const op = g.pick(['$and', '$or', '$not']);
    q[op] =
      op === '$not' ? query(g, depth + 1) : Array.from({ length: 1 + g.int(3) }, () => query(g, depth + 1));
  }
  return q;
}

/**
 * An update. With `shared`, the values of $set, $push and $addToSet are
 * numbers, strings, booleans, null or Dates: nedb puts the update's own
 * array or object into every document a multi update changes (one object
 * in all of them, so a later $push to one shows in all), which is nedb's
 * slip, not the language's meaning.
 */
function update(g: Gen, docs: readonly Document[], shared: boolean): Record<string, unknown> {
  if (g.chance(0.1)) {
    const doc: Record<string, unknown> = {};
    for (const field of FIELDS) if (g.chance(0.5)) doc[field] = value(g, 0);
    return doc;
  }
  const out: Record<string, Record<string, unknown>> = {};
  const n = 1 + g.int(2);
  for (let i = 0; i < n; i++) {
    const op = g.pick(['$set', '$unset', '$inc', '$inc', '$push', '$addToSet', '$pull']);
    const fields = (out[op] ??= {});
    // Nor a path inside another of the same update (which could make it go through a Date or an array).
    const taken = Object.values(out).flatMap((f) => Object.keys(f));
    const paths = PATHS.filter(
      (path) =>
        !docs.some((doc) => writesUnkept(doc, path)) &&
        !taken.some((other) => other.startsWith(`${path}.`) || path.startsWith(`${other}.`)),
    );
    if (paths.length === 0) continue;
    const path = g.pick(paths);
    fields[path] =
      op === '$inc'
        ? g.pick(NUMBERS)
        : op === '$unset'
          ? true
          : shared && op !== '$pull'
            ? scalar(g)
            : value(g, 1);
  }
  return out;
}

/** A value as nedb's data file would give it back: JSON, with Dates kept. */
function asStored(item: unknown): unknown {
  if (item instanceof Date) return new Date(item.getTime());
  if (Array.isArray(item))
    return Array.from(item, (element) => (element === undefined ? null : asStored(element)));
  if (item !== null && typeof item === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(item)) if (field !== undefined) out[key] = asStored(field);
    return out;
  }
  return item;
}

/**
 * True when an update of `path` would write a field of a Date or a named
 * field of an array in `doc`: nedb keeps such a write in memory only (its
 * file cannot), PostgreSQL refuses it. The generator leaves such paths out.
 */
function writesUnkept(doc: unknown, path: string): boolean {
  let at = doc;
  for (const part of path.split('.')) {
    if (at instanceof Date) return true;
    if (Array.isArray(at) && !/^(0|[1-9][0-9]*)$/.test(part)) return true;
    if (at === null || typeof at !== 'object') return false;
    at = (at as Record<string, unknown>)[part];
    if (at === undefined) return false;
  }
  return false;
}

/** True when a proper prefix of path holds null in doc (walking fields and array elements). */
function nullOnTheWay(doc: unknown, path: string): boolean {
  let at = doc;
  for (const part of path.split('.').slice(0, -1)) {
    if (at === null || typeof at !== 'object' || at instanceof Date) return false;
    at = (at as Record<string, unknown>)[part];
    if (at === null) return true;
  }
  return false;
}

/** A key that orders documents the same way on both sides (for comparing sets). */
function canonical(item: unknown): string {
  if (item instanceof Date) return `D${item.getTime()}`;
  if (Array.isArray(item)) return `[${item.map(canonical).join(',')}]`;
  if (item !== null && typeof item === 'object') {
    const entries = Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([key, field]) => `${key}:${canonical(field)}`).join(',')}}`;
  }
  return JSON.stringify(item) ?? 'undefined';
}

/** The documents as a sorted list, ids of upserted documents (made by each store) blanked. */
function asSet(docs: readonly Document[]): string[] {
  return docs
    .map((doc) => asStored(doc) as Document)
    .map((doc) => canonical(/^d\d+$/.test(String(doc._id)) ? doc : { ...doc, _id: 'new' }))
    .sort();
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await run() };
  } catch (err) {
    if (err instanceof NekoError) return { ok: false, code: err.code };
    throw err;
  }
}

/** True when every value of the sort path is a number, string, boolean, Date, null or missing. */
function simpleValues(docs: readonly Document[], path: string): boolean {
  return docs.every((doc) => {
    const v = dotValue(doc, path.split('.'));
    return v === undefined || v === null || v instanceof Date || typeof v !== 'object';
  });
}

describe('the PostgreSQL backend gives the results of the nedb backend', () => {
  let server: RunningPostgres;
  let postgres: PostgresStorage;
  let nedb: NedbStorage;

  beforeAll(async () => {
    server = await startPostgres();
    postgres = new PostgresStorage({ url: server.url });
    nedb = new NedbStorage({ inMemory: true, compactionIntervalMs: 0 });
  }, 60_000);

  afterAll(async () => {
    await postgres?.closeAll();
    await nedb?.closeAll();
    await server?.stop();
  });

  it(`on ${ROUNDS} rounds of ${DOCS} documents, ${QUERIES} queries and ${UPDATES} updates each (seed ${SEED})`, async () => {
    let cases = 0;
    let matched = 0;
    let sorted = 0;
    let updated = 0;
    let updateRefused = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const g = new Gen(SEED + round);
      const greeter = `differential-${round}`;
      const pg = await postgres.open(greeter);
      const ne = await nedb.open(greeter);
      const docs = Array.from({ length: DOCS }, (_, i) => document(g, `d${String(i).padStart(2, '0')}`));
      await pg.insertMany(docs);
      await ne.insertMany(structuredClone(docs));

      const both = async (
        label: string,
        run: (db: ManagedDatabase) => Promise<unknown>,
      ): Promise<[Outcome, Outcome]> => {
        cases++;
        const [a, b] = [await outcome(() => run(ne)), await outcome(() => run(pg))];
        return [a, b];
      };
      const where = (label: string) => `seed ${SEED + round}, round ${round}, ${label}`;

      const compareAll = async (label: string): Promise<void> => {
        const [a, b] = await both(label, (db) => db.find({}));
        expect(b.ok, where(label)).toBe(true);
        expect(asSet(b.ok ? (b.value as Document[]) : []), where(label)).toEqual(
          asSet(a.ok ? (a.value as Document[]) : []),
        );
        // nedb keeps in memory what its file does not (a field set on a Date, a named property of an
        // array) until it reloads: reload it, so that it goes on from what a nedb server would.
        const stored = (await ne.find<Document>({})).map((doc) => asStored(doc) as Document);
        await ne.remove({}, { multi: true });
        await ne.insertMany(stored);
      };

      for (let i = 0; i < QUERIES; i++) {
        const q = query(g);
        const label = `query ${i}: ${canonical(q)}`;
        const [a, b] = await both(label, (db) => db.find(q));
        expect(b.ok ? 'ok' : b.code, where(label)).toBe(a.ok ? 'ok' : a.code);
        if (a.ok && b.ok) {
          expect(asSet(b.value as Document[]), where(label)).toEqual(asSet(a.value as Document[]));
          if ((a.value as Document[]).length > 0) matched++;
        }
        const projection: Record<string, 0 | 1> = {};
        const keep = g.pick([0, 1] as const);
        for (let n = 1 + g.int(2); n > 0; n--) projection[g.pick(PATHS)] = keep;
        if (g.chance(0.3)) projection['_id'] = 0;
        const [pa, pb] = await both(label, (db) => db.find(q, { projection }));
        const projected = `${label} projected ${canonical(projection)}`;
        expect(pb.ok, where(projected)).toBe(true);
        if (pa.ok) {
          expect(asSet(pb.ok ? (pb.value as Document[]) : []), where(projected)).toEqual(
            asSet(pa.value as Document[]),
          );
        } else {
          // nedb fails to drop a path through a null (its $unset reads a field of null); PostgreSQL
          // leaves such a document as it is. Nothing else may make nedb fail here.
          const dropped = keep === 0 ? Object.keys(projection).filter((path) => path !== '_id') : [];
          const found = a.ok ? (a.value as Document[]) : [];
          expect(
            found.some((doc) => dropped.some((path) => nullOnTheWay(doc, path))),
            where(`${projected}: nedb failed with ${pa.code}`),
          ).toBe(true);
        }
        const [ca, cb] = await both(label, (db) => db.count(q));
        expect(cb, where(`count of ${label}`)).toEqual(ca);

        const path = g.pick(PATHS);
        const dir = g.pick([1, -1] as const);
        const sortLabel = `${label} sorted by ${path} ${dir}`;
        const skip = g.int(4);
        const limit = g.int(6);
        const [sa, sb] = await both(sortLabel, (db) =>
          db.find(q, { sort: { [path]: dir, _id: 1 }, skip, limit }),
        );
        if (sa.ok && sb.ok && simpleValues(sa.value as Document[], path)) {
          const ids = (result: Outcome) =>
            result.ok ? (result.value as Document[]).map((doc) => doc._id) : [];
          expect(ids(sb), where(`${sortLabel} skip ${skip} limit ${limit}`)).toEqual(ids(sa));
          if (ids(sa).length > 1) sorted++;
        }
      }

      for (let i = 0; i < UPDATES; i++) {
        const q = query(g);
        const upsert = g.chance(0.2);
        const byId = g.chance(0.3);
        const u = update(g, await ne.find<Document>({}), !byId);
        // By _id: one of the documents, or (for an upsert to insert) one that is not there.
        const target = byId ? { _id: `d${String(g.int(DOCS + 6)).padStart(2, '0')}` } : q;
        const label = `update ${i}: ${canonical(target)} with ${canonical(u)}${upsert ? ' (upsert)' : ''}`;
        const matching = (await ne.find<Document>(target)).map(canonical).join(' ');
        const [a, b] = await both(label, (db) =>
          db.update(target, structuredClone(u), { multi: !byId, upsert }),
        );
        expect(b.ok ? b.value : b.code, where(`${label} on ${matching}`)).toEqual(a.ok ? a.value : a.code);
        if (!a.ok) updateRefused++;
        else if ((a.value as number) > 0) updated++;
        await compareAll(label);
      }

      const removeQuery = query(g);
      const [ra, rb] = await both('remove', (db) => db.remove(removeQuery, { multi: true }));
      expect(rb, where(`remove ${canonical(removeQuery)}`)).toEqual(ra);
      await compareAll('after remove');
    }
    // The generator must reach what it is meant to: queries that match, and refusals.
    expect(matched).toBeGreaterThan(ROUNDS * QUERIES * 0.3);
    expect(sorted).toBeGreaterThan(ROUNDS * QUERIES * 0.1);
    expect(updated).toBeGreaterThan(ROUNDS * UPDATES * 0.2);
    expect(updateRefused).toBeGreaterThan(0);
    console.log(
      `differential: ${cases} cases; ${matched} queries matching documents; ` +
        `${sorted} sorted pages of 2 or more; ${updated} updates changing documents, ${updateRefused} refused on both`,
    );
  }, 240_000);
});
