/**
 * The backup recipe of docs/deploy.md (its `backup.sh` block), run as
 * written with `sh` against a live data directory while clients keep adding
 * todos, each add acknowledged once its write resolved. What the guide
 * promises, checked: every copy loads in a fresh server, with every todo
 * acknowledged before the copy began; and that holds while the data file is
 * compacted (rewritten and renamed) under the copy.
 *
 * Substituted: the recipe's two folders (`/var/lib/nekoconnect`, the live
 * data directory, and `/var/backups/nekoconnect`, where copies go) become
 * temp folders. The rest of the script runs as it is.
 */
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, type NekoClient } from '../../src/client/index.js';
import { scanDataFile } from '../../src/storage/nedb/data-file.js';
import { assertBuilt, REPO_ROOT, startCli } from '../cli/run-cli.js';
import { startServer, SECRET } from '../helpers/server.js';
import { run, titledBlock } from './guide.js';

const TODO_ADD = 1;
const TODO_LIST = 2;

/** A temp folder removed when the test ends. */
async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `neko-deploy-${name}-`));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A plugins folder with the example todo and echo plugins: two data files to copy. */
async function pluginsDir(): Promise<string> {
  const dir = await tempDir('plugins');
  for (const plugin of ['todo', 'echo']) {
    await mkdir(join(dir, plugin));
    for (const file of ['spec.conf', 'logic.ts']) {
      await cp(join(REPO_ROOT, 'plugins', plugin, file), join(dir, plugin, file));
    }
  }
  return dir;
}

/**
 * Runs the guide's backup recipe as written, with its folders moved to
 * `live` and `backups`; resolves with the folder it made (its `$backup`).
 */
async function backUp(live: string, backups: string): Promise<string> {
  const recipe = titledBlock('backup.sh').body;
  for (const folder of ['/var/lib/nekoconnect', '/var/backups/nekoconnect']) {
    if (!recipe.includes(folder))
      throw new Error(`the backup recipe no longer names ${folder}: update this test`);
  }
  const script = recipe
    .replaceAll('/var/lib/nekoconnect', live)
    .replaceAll('/var/backups/nekoconnect', backups);
  const { stdout } = await run('/bin/sh', ['-euc', `${script}\nprintf '%s' "$backup"`]);
  return stdout;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Clients adding todos as fast as they are answered; `acked` holds the title of every add answered. */
function load(port: number, clients: number, pauseMs = 0) {
  const acked = new Set<string>();
  let stopped = false;
  const opened: NekoClient[] = [];
  const done = Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = await connect({ host: '127.0.0.1', port, secret: SECRET });
      opened.push(client);
      for (let i = 0; !stopped; i++) {
        const title = `c${c}-${i}-${randomUUID().slice(0, 8)}`;
        const reply = await client.request('todo', JSON.stringify({ title }), { op: TODO_ADD });
        if (reply.op !== TODO_ADD) throw new Error(`todo add answered ${reply.op}: ${reply.text()}`);
        acked.add(title);
        if (pauseMs > 0) await pause(pauseMs);
      }
    }),
  );
  return {
    acked,
    /** Resolves once every client's last add is answered, and the clients are closed. */
    async stop(): Promise<void> {
      stopped = true;
      await done;
      await Promise.all(opened.map((c) => c.close()));
    },
  };
}

/** The titles of the todos a server on `port` lists. */
async function listedTitles(port: number): Promise<Set<string>> {
  const client = await connect({ host: '127.0.0.1', port, secret: SECRET });
  try {
    const reply = await client.request('todo', '', { op: TODO_LIST });
    return new Set((JSON.parse(reply.text()) as Array<{ title: string }>).map((t) => t.title));
  } finally {
    await client.close();
  }
}

/** What nedb would load from a data file's bytes: the live documents' titles (a torn last line is left out). */
function replayedTitles(bytes: Buffer): Set<string> {
  const scan = scanDataFile(bytes);
  if (scan.bad.length > 0) throw new Error(`a copy has bad lines: ${JSON.stringify(scan.bad.slice(0, 3))}`);
  const text = bytes.toString('utf8', 0, scan.tornTail?.offset ?? bytes.length);
  const docs = new Map<string, { title?: string }>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const record = JSON.parse(line) as { _id?: string; $$deleted?: boolean; title?: string };
    if (record._id === undefined) continue;
    if (record.$$deleted === true) docs.delete(record._id);
    else docs.set(record._id, record);
  }
  return new Set([...docs.values()].flatMap((d) => (d.title === undefined ? [] : [d.title])));
}

function missing(expected: Iterable<string>, found: Set<string>): string[] {
  return [...expected].filter((t) => !found.has(t));
}

describe('the backup recipe of docs/deploy.md', () => {
  it('copies a live nekoconnect start under load into backups that load in a fresh server with every acknowledged write', async () => {
    assertBuilt();
    const plugins = await pluginsDir();
    const live = await tempDir('live');
    const env = { NEKOCONNECT_SECRET: SECRET };
    const server = startCli(['start', plugins, '--data-dir', live, '--port', '0', '--no-dashboard'], env);
    const port = Number((await server.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/))[1]);

    const writers = load(port, 6);
    const copies: Array<{ dir: string; before: Set<string> }> = [];
    for (let i = 0; i < 3; i++) {
      await pause(400);
      const before = new Set(writers.acked);
      copies.push({ dir: await backUp(live, await tempDir(`backups-${i}`)), before });
    }
    await writers.stop();
    expect(copies[0]!.before.size).toBeGreaterThan(20);

    for (const { dir, before } of copies) {
      // The recipe copies the data files, and nothing else: no lock naming the live server, no cache.
      const { stdout } = await run('ls', ['-A', dir]);
      expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['echo.db', 'todo.db']);
      const fresh = startCli(['start', plugins, '--data-dir', dir, '--port', '0', '--no-dashboard'], env);
      const freshPort = Number((await fresh.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/))[1]);
      expect(missing(before, await listedTitles(freshPort))).toEqual([]);
      fresh.child.kill('SIGTERM');
      expect((await fresh.exited).code).toBe(0);
    }
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 90_000);

  it('gives copies that load while the data file is compacted under them', async () => {
    const plugins = await pluginsDir();
    const live = await tempDir('live');
    // A data file big enough that copying and compacting it take a while: 10,000 todos.
    const lines = Array.from(
      { length: 10_000 },
      (_, i) => `${JSON.stringify({ title: `old-${i}`, done: false, createdAt: i, _id: `old${i}` })}\n`,
    );
    await writeFile(join(live, 'todo.db'), lines.join(''));
    const { port, server } = await startServer({
      plugins,
      storage: { backend: 'nedb', dir: live, compactionIntervalMs: 5_000 },
    });
    expect(server.plugins().length).toBe(2);

    const writers = load(port, 4, 5);
    const copies: Array<{ dir: string; before: Set<string>; inode: number }> = [];
    const started = Date.now();
    // A copy every 50 ms or so for 7 s: a scheduled compaction (every 5 s) happens among them.
    while (Date.now() - started < 7_000) {
      const before = new Set(writers.acked);
      const dir = await backUp(live, await tempDir(`backups-${copies.length}`));
      copies.push({ dir, before, inode: (await stat(join(live, 'todo.db'))).ino });
      await pause(25);
    }
    await writers.stop();
    const inodes = new Set(copies.map((c) => c.inode));
    expect(
      inodes.size,
      'the data file was compacted (renamed over) while copies were taken',
    ).toBeGreaterThanOrEqual(2);
    expect(copies.length).toBeGreaterThan(50);
    expect(writers.acked.size).toBeGreaterThan(500);

    // Every copy holds what nedb would load, with every todo acknowledged before it began.
    for (const [i, { dir, before }] of copies.entries()) {
      const titles = replayedTitles(await readFile(join(dir, 'todo.db')));
      expect(missing(before, titles), `copy ${i}`).toEqual([]);
      expect(titles.has('old-9999'), `copy ${i}`).toBe(true);
    }
    // And the copies taken right after each compaction, and the last one, load in a fresh server.
    const picks = copies.filter(
      (c, i) => i === copies.length - 1 || (i > 0 && c.inode !== copies[i - 1]!.inode),
    );
    for (const { dir, before } of picks) {
      const fresh = await startServer({
        plugins,
        storage: { backend: 'nedb', dir, compactionIntervalMs: 0 },
      });
      const titles = await listedTitles(fresh.port);
      expect(missing(before, titles)).toEqual([]);
      expect(titles.size).toBeGreaterThanOrEqual(10_000 + before.size);
      await fresh.server.close();
    }
  }, 90_000);
});
