/**
 * Data files that are damaged, torn by a crash, or not files at all: the
 * database either loads everything or fails naming the file, and never
 * drops data without a backup.
 */
import { appendFile, chmod, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NedbStorage } from '../../src/storage/nedb/storage.js';
import { fileStorage, openDb, rejectsWith, tempDir } from './helpers.js';

/** Writes three documents and a cell through a backend, closes it, and returns the file and the documents' ids. */
async function storedFile(): Promise<{ dataDir: string; file: string; ids: string[] }> {
  const { storage, dataDir } = await fileStorage();
  const db = await storage.open('notes');
  const docs = await db.insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
  await db.set('cell', 'kept');
  await db.close();
  return { dataDir, file: db.location, ids: docs.map((d) => d._id) };
}

/** A second backend over the same directory, collecting warnings. */
function reopen(dataDir: string): { storage: NedbStorage; warnings: string[] } {
  const warnings: string[] = [];
  const storage = new NedbStorage({
    dataDir,
    compactionIntervalMs: 0,
    onWarning: (w) => warnings.push(w.message),
  });
  return { storage, warnings };
}

/** Inserts `line` as line number `at` (from 1) of the file. */
async function insertLine(file: string, at: number, line: string): Promise<void> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  lines.splice(at - 1, 0, line);
  await writeFile(file, lines.join('\n'));
}

describe('a data file with a bad line', () => {
  it('fails to load, naming the file and the line, and leaves every byte as it was', async () => {
    const { dataDir, file } = await storedFile();
    await insertLine(file, 3, '{"n": 4, "_id": "x"');
    const before = await readFile(file);
    const { storage } = reopen(dataDir);

    const err = await rejectsWith(storage.open('notes'), 'NEKO_ERR_STORAGE_CORRUPT');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/1 of its 6 lines is not a stored record \(line 3: not JSON: /);
    expect(err.location).toMatchObject({ file, line: 3 });
    expect(err.hint).toMatch(/left as it is/);
    expect(await readFile(file)).toEqual(before);
    expect(await readdir(dataDir)).toEqual(['notes.db']);

    // Not cached as a failure: once fixed, it opens.
    await rejectsWith(storage.open('notes'), 'NEKO_ERR_STORAGE_CORRUPT');
    await writeFile(file, before.toString('utf8').replace('{"n": 4, "_id": "x"\n', ''));
    const db = await openDb(storage, 'notes');
    expect(await db.count()).toBe(3);
  });

  it('counts every bad line, and refuses objects without an _id that nedb would silently drop', async () => {
    const { dataDir, file } = await storedFile();
    await insertLine(file, 1, '{"n": 0}');
    await insertLine(file, 3, '[1, 2]');
    await insertLine(file, 4, 'garbage');
    await insertLine(file, 5, '   ');
    const before = await readFile(file);
    const err = await rejectsWith(reopen(dataDir).storage.open('notes'), 'NEKO_ERR_STORAGE_CORRUPT');
    expect(err.message).toContain(
      '4 of its 9 lines are not a stored record (line 1: an object without an _id (nedb would drop it); ' +
        'line 3: not a JSON object; line 4: not JSON: ',
    );
    expect(err.message).toMatch(/; and 1 more\)$/);
    expect(await readFile(file)).toEqual(before);
  });

  it('fails when a bad line sits above a torn last line, and backs nothing up or cuts nothing', async () => {
    const { dataDir, file } = await storedFile();
    await insertLine(file, 2, 'not json');
    await appendFile(file, '{"n":5,"_i');
    const before = await readFile(file);
    await rejectsWith(reopen(dataDir).storage.open('notes'), 'NEKO_ERR_STORAGE_CORRUPT');
    expect(await readFile(file)).toEqual(before);
    expect(await readdir(dataDir)).toEqual(['notes.db']);
  });

  it('fails, untouched, when the stored documents break a unique index (two cells of one name)', async () => {
    const { dataDir, file } = await storedFile();
    await appendFile(file, '{"__nekoCell":"cell","json":"1","_id":"dup1"}\n');
    const before = await readFile(file);
    const err = await rejectsWith(reopen(dataDir).storage.open('notes'), 'NEKO_ERR_STORAGE_CORRUPT');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/unique constraint/);
    expect(await readFile(file)).toEqual(before);
  });
});

describe('a data file torn by a crash', () => {
  it('cuts a torn last line after backing the file up, warns, and keeps every complete write', async () => {
    const { dataDir, file, ids } = await storedFile();
    const torn = '{"n":4,"text":"this write never compl';
    await appendFile(file, torn);
    const before = await readFile(file);
    const { storage, warnings } = reopen(dataDir);

    const db = await openDb(storage, 'notes');
    expect((await db.find({}, { sort: { n: 1 } })).map((d) => d._id)).toEqual(ids);
    expect(await db.get('cell')).toBe('kept');

    const backups = (await readdir(dataDir)).filter((name) => name.startsWith('notes.db.torn-'));
    expect(backups).toHaveLength(1);
    const backup = path.join(dataDir, backups[0]!);
    expect(backups[0]).toMatch(/^notes\.db\.torn-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/);
    expect(await readFile(backup)).toEqual(before);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);
    expect(warnings[0]).toContain(backup);
    expect(warnings[0]).toContain(`line 6, ${Buffer.byteLength(torn)} bytes`);
    expect(await readFile(file, 'utf8')).not.toContain('never compl');

    // The repaired file loads again without any warning.
    await db.close();
    const second = reopen(dataDir);
    const again = await openDb(second.storage, 'notes');
    expect(await again.count()).toBe(3);
    expect(second.warnings).toEqual([]);
  });

  it('cuts a file that is nothing but a torn line, and never overwrites an earlier backup', async () => {
    const dataDir = await tempDir();
    const file = path.join(dataDir, 'notes.db');
    for (const [round, bytes] of ['{"a":', '{"b":'].entries()) {
      await writeFile(file, bytes);
      const { storage, warnings } = reopen(dataDir);
      const db = await storage.open('notes');
      expect(await db.count()).toBe(0);
      await db.close();
      expect(warnings, `round ${round}`).toHaveLength(1);
    }
    const backups = (await readdir(dataDir)).filter((name) => name.includes('.torn-')).sort();
    expect(backups).toHaveLength(2);
    const contents = await Promise.all(backups.map((b) => readFile(path.join(dataDir, b), 'utf8')));
    expect(contents.sort()).toEqual(['{"a":', '{"b":']);
  });

  it('loads a complete last line that only lacks its newline, without a backup', async () => {
    const { dataDir, file } = await storedFile();
    await appendFile(file, '{"n":4,"_id":"last"}');
    const { storage, warnings } = reopen(dataDir);
    const db = await openDb(storage, 'notes');
    expect(await db.findOne({ _id: 'last' })).toEqual({ n: 4, _id: 'last' });
    expect(warnings).toEqual([]);
    expect(await readdir(dataDir)).toEqual(['notes.db']);
  });

  it("takes nedb's compaction temp file when the data file is missing, and says so", async () => {
    const { dataDir, file, ids } = await storedFile();
    await rename(file, `${file}~`);
    const { storage, warnings } = reopen(dataDir);
    const db = await openDb(storage, 'notes');
    expect((await db.find({})).map((d) => d._id).sort()).toEqual([...ids].sort());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${file}~`);
  });
});

describe('a data file that cannot be read or written', () => {
  it('fails with NEKO_ERR_STORAGE_UNREADABLE when a directory is where the file belongs', async () => {
    const { storage, dataDir } = await fileStorage();
    const file = storage.fileOf('notes');
    await mkdir(path.join(file, 'inside'), { recursive: true });
    const err = await rejectsWith(storage.open('notes'), 'NEKO_ERR_STORAGE_UNREADABLE');
    expect(err.message).toBe(`${file} is a directory, where a data file belongs`);
    expect(await readdir(path.join(dataDir, 'notes.db'))).toEqual(['inside']);
  });

  it('fails with NEKO_ERR_STORAGE_WRITE when the data directory cannot be created (a file is in the way)', async () => {
    const dir = await tempDir();
    const blocker = path.join(dir, 'afile');
    await writeFile(blocker, 'not a directory');
    const dataDir = path.join(blocker, 'sub');
    const storage = new NedbStorage({ dataDir, compactionIntervalMs: 0 });
    const err = await rejectsWith(storage.open('notes'), 'NEKO_ERR_STORAGE_WRITE');
    expect(err.message).toContain(dataDir);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
    expect(await readFile(blocker, 'utf8')).toBe('not a directory');
  });

  it.skipIf(process.getuid?.() === 0)(
    'fails with NEKO_ERR_STORAGE_UNREADABLE when the file may not be read (skipped as root)',
    async () => {
      const { dataDir, file } = await storedFile();
      await chmod(file, 0o200);
      const err = await rejectsWith(reopen(dataDir).storage.open('notes'), 'NEKO_ERR_STORAGE_UNREADABLE');
      expect(err.message).toContain(file);
      await chmod(file, 0o600);
    },
  );
});
