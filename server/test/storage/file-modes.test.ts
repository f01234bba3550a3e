/**
 * The nedb backend's files are its user's only: the data directory it
 * creates is 0700, and every data file it writes or rewrites (compaction
 * replaces the file) is 0600, whatever the process's umask lets through.
 */
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { NedbStorage } from '../../src/storage/nedb/storage.js';

async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'neko-modes-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = async (file: string): Promise<string> => ((await stat(file)).mode & 0o777).toString(8);

describe('nedb file modes', () => {
  it('creates the data directory 0700 (each folder it makes) and its data files 0600', async () => {
    const root = await tempRoot();
    // The process's umask lets a wider mode through (0644 under the usual 022): the modes below are chosen.
    await writeFile(path.join(root, 'control'), '');
    expect(await modeOf(path.join(root, 'control'))).not.toBe('600');
    const dataDir = path.join(root, 'var', 'data');
    const storage = new NedbStorage({ dataDir, compactionIntervalMs: 0 });
    const db = await storage.open('chat');
    await db.insert({ text: 'hi' });
    expect(await modeOf(path.join(root, 'var'))).toBe('700');
    expect(await modeOf(dataDir)).toBe('700');
    expect(await modeOf(storage.fileOf('chat'))).toBe('600');
    await storage.closeAll();
    // Closing compacts: the file nedb wrote in its place is 0600 too.
    expect(await modeOf(storage.fileOf('chat'))).toBe('600');
  });

  it('a data file written before with a wider mode is 0600 once opened (compacted)', async () => {
    const root = await tempRoot();
    const storage = new NedbStorage({ dataDir: root, compactionIntervalMs: 0 });
    const file = storage.fileOf('todo');
    await writeFile(file, '{"_id":"a","title":"kept"}\n');
    await chmod(file, 0o644);
    const db = await storage.open('todo');
    expect(await db.find({})).toEqual([{ _id: 'a', title: 'kept' }]);
    expect(await modeOf(file)).toBe('600');
    await storage.closeAll();
  });
});
