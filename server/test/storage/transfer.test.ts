import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NekoError } from '../../src/errors.js';
import { dataFileName, greeterOfFileName } from '../../src/storage/nedb/file-name.js';
import { NedbStorage, type StorageWarning } from '../../src/storage/nedb/storage.js';
import { exportDatabase, importRecords, parseRecords } from '../../src/storage/transfer.js';

const opened: NedbStorage[] = [];
afterEach(async () => {
  for (const storage of opened.splice(0)) await storage.closeAll();
});

function memory(): NedbStorage {
  const storage = new NedbStorage({ inMemory: true });
  opened.push(storage);
  return storage;
}

async function lines(storage: NedbStorage, greeter: string): Promise<string[]> {
  const out: string[] = [];
  await exportDatabase(await storage.open(greeter), greeter, (line) => void out.push(line));
  return out;
}

function refusal(run: () => unknown): NekoError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(NekoError);
    expect((err as NekoError).code).toBe('NEKO_ERR_DATA_LINE');
    return err as NekoError;
  }
  throw new Error('expected NEKO_ERR_DATA_LINE');
}

describe('JSON Lines export and import of one database', () => {
  it('writes documents by _id with sorted keys and Dates as $date, then cells by name, undecoded', async () => {
    const storage = memory();
    const db = await storage.open('todo');
    await db.insert({ _id: 'b', z: 1, a: { y: [new Date('2026-01-02T03:04:05.678Z'), 2], x: null } });
    await db.insert({ _id: 'a', text: 'eggs' });
    await db.set('weird', { $date: 'x' });
    await db.set('count', 3);
    expect(await lines(storage, 'todo')).toEqual([
      '{"kind":"document","greeter":"todo","document":{"_id":"a","text":"eggs"}}',
      '{"kind":"document","greeter":"todo","document":{"_id":"b","a":{"x":null,"y":[{"$date":"2026-01-02T03:04:05.678Z"},2]},"z":1}}',
      '{"kind":"cell","greeter":"todo","name":"count","value":3}',
      '{"kind":"cell","greeter":"todo","name":"weird","value":{"$date":"x"}}',
    ]);
  });

  it('round-trips: Dates come back as Dates, a cell holding {"$date"} as that object, twice the same', async () => {
    const from = memory();
    const db = await from.open('todo');
    const at = new Date('2026-05-06T07:08:09.010Z');
    await db.insert({ _id: 'k1', at, list: [{ at }, 'x', [1, [2]]], deep: { er: { at } } });
    await db.set('weird', { $date: '2026-05-06T07:08:09.010Z' });
    await db.set('list', [1, 'two', { three: 3 }]);
    const text = (await lines(from, 'todo')).join('\n') + '\n';

    const to = memory();
    const records = parseRecords(text);
    expect(await importRecords(await to.open('todo'), records)).toEqual({ documents: 1, cells: 2 });
    const copy = await to.open('todo');
    const doc = await copy.findOne({ _id: 'k1' });
    expect(doc).toEqual({ _id: 'k1', at, list: [{ at }, 'x', [1, [2]]], deep: { er: { at } } });
    expect(doc?.['at']).toBeInstanceOf(Date);
    expect(await copy.get('weird')).toEqual({ $date: '2026-05-06T07:08:09.010Z' });
    // Importing again changes nothing: documents are upserted by _id, cells set.
    await importRecords(copy, parseRecords(text));
    expect(await copy.count()).toBe(1);
    expect((await lines(to, 'todo')).join('\n') + '\n').toBe(text);
  });

  it('replaces a document with the same _id and keeps the others', async () => {
    const storage = memory();
    const db = await storage.open('todo');
    await db.insert({ _id: 'same', text: 'old', extra: true });
    await db.insert({ _id: 'other', text: 'kept' });
    await importRecords(
      db,
      parseRecords('{"kind":"document","greeter":"todo","document":{"_id":"same","text":"new"}}'),
    );
    expect(await db.find({}, { sort: { _id: 1 } })).toEqual([
      { _id: 'other', text: 'kept' },
      { _id: 'same', text: 'new' },
    ]);
  });

  it('writes the last of several records of one document or cell, whatever the concurrency', async () => {
    const lines = [
      ...Array.from(
        { length: 40 },
        (_, i) => `{"kind":"document","greeter":"t","document":{"_id":"d${i % 4}","v":${i}}}`,
      ),
      ...Array.from(
        { length: 40 },
        (_, i) => `{"kind":"cell","greeter":"t","name":"c${i % 4}","value":${i}}`,
      ),
    ];
    for (const concurrency of [1, 8, 100]) {
      const db = await memory().open('t');
      expect(await importRecords(db, parseRecords(lines.join('\n')), concurrency)).toEqual({
        documents: 4,
        cells: 4,
      });
      expect(await db.find({}, { sort: { _id: 1 } })).toEqual(
        [36, 37, 38, 39].map((v, i) => ({ _id: `d${i}`, v })),
      );
      expect(await db.cells()).toEqual([36, 37, 38, 39].map((value, i) => ({ name: `c${i}`, value })));
    }
  });

  it('keeps the lines of one greeter only when asked, and skips blank lines and CRLF ends', () => {
    const text =
      '{"kind":"cell","greeter":"a","name":"n","value":1}\r\n\n   \n{"kind":"cell","greeter":"b","name":"n","value":2}\n';
    expect(parseRecords(text).map((r) => r.greeter)).toEqual(['a', 'b']);
    expect(parseRecords(text, 'b')).toEqual([{ kind: 'cell', greeter: 'b', name: 'n', value: 2 }]);
  });

  it('refuses a malformed line naming its number and what is wrong', () => {
    const good = '{"kind":"cell","greeter":"a","name":"n","value":1}';
    const cases: [string, RegExp][] = [
      ['{"kind":"cell"', /not JSON/],
      ['[1]', /not a JSON object/],
      ['{"kind":"row","greeter":"a"}', /"kind" must be "document" or "cell", got "row"/],
      ['{"kind":"cell","greeter":"","name":"n","value":1}', /"greeter" must be a non-empty string/],
      ['{"kind":"cell","greeter":"a","name":"n"}', /needs its "value"/],
      ['{"kind":"cell","greeter":"a","name":"","value":1}', /cell name/],
      ['{"kind":"cell","greeter":"a","name":"n","value":1e400}', /cannot be stored as JSON/],
      ['{"kind":"cell","greeter":"a","name":"n","value":1,"x":2}', /no "x"/],
      ['{"kind":"document","greeter":"a","document":{"text":"no id"}}', /needs an "_id" string/],
      ['{"kind":"document","greeter":"a","document":[1]}', /must be a JSON object/],
      ['{"kind":"document","greeter":"a","document":{"_id":"1","at":{"$date":"soon"}}}', /"\$date"/],
      ['{"kind":"document","greeter":"a","document":{"_id":"1","at":{"$date":"2026-01-01","x":1}}}', /alone/],
      [
        '{"kind":"document","greeter":"a","document":{"_id":"1","x":{"$gt":1}}}',
        /document\.x has the field "\$gt"/,
      ],
      ['{"kind":"document","greeter":"a","document":{"_id":"1","a.b":1}}', /a\.b/],
      ['{"kind":"document","greeter":"a","document":{"_id":"1","__nekoCell":"x"}}', /__nekoCell/],
    ];
    for (const [line, problem] of cases) {
      const err = refusal(() => parseRecords(`${good}\n${good}\n${line}\n${good}\n`));
      expect(err.message).toMatch(/^line 3: /);
      expect(err.message).toMatch(problem);
      expect(err.message).toMatch(/nothing was imported/);
    }
  });
});

describe("nedb's greeters(): what export --all exports", () => {
  it('decodes the data file names back to greeters, and nothing else', () => {
    for (const greeter of ['todo', 'Chat/room', '.env', 'con', 'a b^c%d', 'ねこ', 'x'.repeat(150)]) {
      expect(greeterOfFileName(dataFileName(greeter))).toBe(greeter);
    }
    for (const name of ['A.db', '%61.db', 'todo.db~', 'nekoconnect.lock', '^.db', '%4.db', '.db']) {
      expect(greeterOfFileName(name)).toBeUndefined();
    }
    expect(greeterOfFileName(dataFileName('x'.repeat(300)))).toBeUndefined();
  });

  it('lists the greeters with data in the data directory, sorted; in memory, the open ones with data', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'neko-greeters-'));
    try {
      const warnings: StorageWarning[] = [];
      const storage = new NedbStorage({ dataDir: dir, onWarning: (w) => warnings.push(w) });
      opened.push(storage);
      expect(await storage.greeters()).toEqual([]);
      await (await storage.open('b/Two')).insert({ x: 1 });
      await (await storage.open('a')).set('n', 1);
      await storage.open('empty');
      await (await storage.open('y'.repeat(300))).set('n', 1);
      await writeFile(path.join(dir, 'notes.txt'), 'not a data file');
      expect(await storage.greeters()).toEqual(['a', 'b/Two']);
      expect(warnings.map((w) => w.message)).toEqual([
        expect.stringMatching(/too long to be read from its file name: export it by its greeter/),
      ]);

      await storage.closeAll();

      const inMemory = memory();
      await (await inMemory.open('m2')).insert({ x: 1 });
      await (await inMemory.open('m1')).set('n', 1);
      await inMemory.open('m0');
      expect(await inMemory.greeters()).toEqual(['m1', 'm2']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('has no greeters in a data directory that does not exist', async () => {
    const storage = new NedbStorage({ dataDir: path.join(tmpdir(), 'neko-no-such-dir-x9') });
    expect(await storage.greeters()).toEqual([]);
  });
});
