import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NedbStorage } from '../../src/storage/nedb/storage.js';
import { REPO_ROOT, assertBuilt, startCli } from './run-cli.js';
import { AT, runData, seedNedb, tempDir } from './data-run.js';

beforeAll(assertBuilt);

describe('nekoconnect data export and import (nedb)', () => {
  it('round-trips every greeter nedb → nedb: the two exports are the same bytes, Dates stay Dates', async () => {
    const from = await tempDir();
    const to = await tempDir();
    await seedNedb(from);

    const first = await runData(['data', 'export', '--all', '--data-dir', from]);
    expect(first.code).toBe(0);
    // The data on stdout, one record a line; the counts on stderr, a line per greeter.
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { greeter: string; kind: string }).greeter)).toEqual([
      'Chat/room',
      'Chat/room',
      'score',
      'todo',
      'todo',
      'todo',
      'todo',
    ]);
    expect(first.stdout).toContain('{"kind":"cell","greeter":"todo","name":"weird","value":{"$date":"x"}}');
    expect(first.stdout).toContain(`"at":{"$date":"${AT.toISOString()}"}`);
    expect(first.stderr).toMatch(/^Chat\/room: 1 document, 1 cell$/m);
    expect(first.stderr).toMatch(/^score: 0 documents, 1 cell$/m);
    expect(first.stderr).toMatch(/^todo: 2 documents, 2 cells$/m);
    expect(first.stderr).toMatch(/exported 3 greeters \(3 documents, 4 cells\)/);
    expect(first.stderr).not.toMatch(/empty/);

    const imported = await runData(['data', 'import', '--data-dir', to], { stdin: first.stdout });
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^todo: 2 documents, 2 cells$/m);
    expect(imported.stdout).toMatch(/imported 3 greeters \(3 documents, 4 cells\) from stdin/);

    const second = await runData(['data', 'export', '--all', '--data-dir', to]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);

    // What the plugin sees in the copy: a Date, and the plain object of the cell.
    const storage = new NedbStorage({ dataDir: to });
    try {
      const todo = await storage.open('todo');
      const t2 = await todo.findOne<{ at: unknown; tags: unknown[] }>({ _id: 't2' });
      expect(t2?.at).toEqual(AT);
      expect(t2?.at).toBeInstanceOf(Date);
      expect(t2?.tags).toEqual(['shop', { at: AT }]);
      expect(await todo.get('weird')).toEqual({ $date: 'x' });
    } finally {
      await storage.closeAll();
    }
  });

  it('exports named greeters to --out (counts on stdout), and imports a file twice to the same data', async () => {
    const from = await tempDir();
    const to = await tempDir();
    await seedNedb(from);
    const file = join(await tempDir(), 'todo.jsonl');
    const exported = await runData(['data', 'export', 'todo', 'nobody', '--data-dir', from, '--out', file]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/^todo: 2 documents, 2 cells$/m);
    expect(exported.stdout).toMatch(/^nobody: 0 documents, 0 cells \(nothing stored\)$/m);
    const text = await readFile(file, 'utf8');
    expect(text.trimEnd().split('\n')).toHaveLength(4);
    // An export opens no database of a greeter without data (on nedb that would make its file).
    expect(await readdir(from)).not.toContain('nobody.db');
    // No temp file left beside the export.
    expect(await readdir(join(file, '..'))).toEqual(['todo.jsonl']);

    for (let i = 0; i < 2; i++) {
      const imported = await runData(['data', 'import', file, '--data-dir', to]);
      expect(imported.code).toBe(0);
    }
    const again = await runData(['data', 'export', 'todo', '--data-dir', to]);
    expect(again.stdout).toBe(text);
  });

  it('imports only the lines of --greeter', async () => {
    const from = await tempDir();
    const to = await tempDir();
    await seedNedb(from);
    const all = await runData(['data', 'export', '--all', '--data-dir', from]);
    const imported = await runData(['data', 'import', '--greeter', 'score', '--data-dir', to], {
      stdin: all.stdout,
    });
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/imported 1 greeter of greeter score \(0 documents, 1 cell\)/);
    const back = await runData(['data', 'export', '--all', '--data-dir', to]);
    expect(back.stdout).toBe('{"kind":"cell","greeter":"score","name":"best","value":99.5}\n');
  });

  it('refuses a malformed line with its number and what is wrong, having written nothing', async () => {
    const to = await tempDir();
    const good = '{"kind":"cell","greeter":"todo","name":"count","value":1}';
    const input = [
      good,
      good,
      '{"kind":"document","greeter":"todo","document":{"title":"no id"}}',
      good,
    ].join('\n');
    const file = join(await tempDir(), 'bad.jsonl');
    await writeFile(file, input);
    const result = await runData(['data', 'import', file, '--data-dir', to]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NEKO_ERR_DATA_LINE/);
    expect(result.stderr).toMatch(/line 3: the document needs an "_id" string; nothing was imported/);
    expect(await readdir(to)).toEqual([]);

    const notJson = await runData(['data', 'import', '--data-dir', to], { stdin: `${good}\n{oops\n` });
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/line 2: not JSON/);
    expect(await readdir(to)).toEqual([]);
  });

  it('says what it needs: greeters or --all, not both; a missing file is coded', async () => {
    const dir = await tempDir();
    const none = await runData(['data', 'export', '--data-dir', dir]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/NEKO_ERR_CLI_USAGE[\s\S]*give greeters or --all/);
    const both = await runData(['data', 'export', 'todo', '--all', '--data-dir', dir]);
    expect(both.code).toBe(2);
    const missing = await runData(['data', 'import', join(dir, 'nope.jsonl'), '--data-dir', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NEKO_ERR_DATA_FILE[\s\S]*nope\.jsonl/);
    const bare = await runData(['data']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/needs a command: export or import/);
    const help = await runData(['data', 'export', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: nekoconnect data export \[greeter\.\.\.\] \[options\]/);
    expect(help.stdout).toMatch(/nekoconnect data export --all --out all\.jsonl/);
    const main = await runData(['--help']);
    expect(main.stdout).toMatch(/^ {2}data +export and import plugin data/m);
  });

  it('takes the data directory of a running server like a second server would: refused, with a hint', async () => {
    const dir = await tempDir();
    await seedNedb(dir);
    const server = startCli(['start', join(REPO_ROOT, 'plugins'), '--port', '0', '--data-dir', dir], {
      NEKOCONNECT_SECRET: 's',
    });
    await server.waitFor(/listening on/);
    for (const args of [
      ['data', 'export', '--all', '--data-dir', dir],
      ['data', 'import', '--storage', dir],
    ]) {
      const result = await runData(args, { stdin: '{"kind":"cell","greeter":"x","name":"n","value":1}\n' });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/NEKO_ERR_STORAGE_LOCKED/);
      expect(result.stderr).toMatch(/stop that server first/);
      expect(result.stderr).toMatch(/PostgreSQL/);
    }
    server.child.kill('SIGINT');
    expect((await server.exited).code).toBe(0);
    // Stopped, the directory is free again.
    expect((await runData(['data', 'export', '--all', '--data-dir', dir])).code).toBe(0);
  });
});
