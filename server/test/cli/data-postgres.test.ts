import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/client.js';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { REPO_ROOT, assertBuilt, startCli } from './run-cli.js';
import { runData, seedNedb, tempDir } from './data-run.js';

let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  postgres = await startPostgres();
}, 60_000);
afterAll(() => postgres?.stop());

/** A new, empty database on the test's server: its URL (with the password). */
async function freshDatabase(): Promise<string> {
  const name = `neko_data_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    // The name is made here of hex digits: no input reaches this statement.
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgres.url);
  url.pathname = `/${name}`;
  return url.href;
}

describe('nekoconnect data on PostgreSQL', () => {
  it('moves every greeter nedb → PostgreSQL → nedb: the exports are the same bytes', async () => {
    const from = await tempDir();
    const back = await tempDir();
    const url = await freshDatabase();
    await seedNedb(from);

    const first = await runData(['data', 'export', '--all', '--data-dir', from]);
    expect(first.code).toBe(0);
    const intoPg = await runData(['data', 'import', '--storage', url], { stdin: first.stdout });
    expect(intoPg.stderr).toBe('');
    expect(intoPg.code).toBe(0);
    expect(intoPg.stdout).toMatch(
      /imported 3 greeters \(3 documents, 4 cells\) from stdin into PostgreSQL at/,
    );

    // The URL by the environment this time; the export of PostgreSQL is the export of nedb.
    const fromPg = await runData(['data', 'export', '--all'], { env: { NEKOCONNECT_DATABASE_URL: url } });
    expect(fromPg.code).toBe(0);
    expect(fromPg.stdout).toBe(first.stdout);
    expect(fromPg.stderr).toMatch(/^todo: 2 documents, 2 cells$/m);

    const file = join(await tempDir(), 'pg.jsonl');
    await writeFile(file, fromPg.stdout);
    const intoNedb = await runData(['data', 'import', file, '--storage', back]);
    expect(intoNedb.code).toBe(0);
    const last = await runData(['data', 'export', '--all', '--data-dir', back]);
    expect(last.stdout).toBe(first.stdout);

    // Importing again into PostgreSQL changes nothing.
    await runData(['data', 'import', file, '--storage', url]);
    expect((await runData(['data', 'export', '--all', '--storage', url])).stdout).toBe(first.stdout);

    // The password never shows in what the commands print.
    for (const text of [intoPg.stdout, fromPg.stderr, intoNedb.stdout]) {
      expect(text).not.toContain(postgres.password);
    }
    expect(intoPg.stdout).toContain(':***@');
  });

  it('exports named greeters from the config storage, and refuses a bad line with nothing written', async () => {
    const url = await freshDatabase();
    const cwd = await tempDir();
    await writeFile(
      join(cwd, 'nekoconnect.config.json'),
      JSON.stringify({ storage: { backend: 'postgres', url } }),
    );
    const bad = [
      '{"kind":"cell","greeter":"a","name":"n","value":1}',
      '{"kind":"document","greeter":"a","document":{"_id":"x","when":{"$date":"yesterday"}}}',
    ].join('\n');
    const refused = await runData(['data', 'import'], { cwd, stdin: bad });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 2: document\.when has a "\$date"/);
    expect((await runData(['data', 'export', '--all'], { cwd })).stdout).toBe('');

    const good = '{"kind":"cell","greeter":"a","name":"n","value":1}\n';
    expect((await runData(['data', 'import'], { cwd, stdin: good })).code).toBe(0);
    const named = await runData(['data', 'export', 'a', 'b'], { cwd });
    expect(named.stdout).toBe(good);
    expect(named.stderr).toMatch(/^b: 0 documents, 0 cells \(nothing stored\)$/m);
    // No data directory was made for a PostgreSQL storage.
    expect(await readdir(cwd)).toEqual(['nekoconnect.config.json']);
  });

  it('fails with NEKO_ERR_STORAGE_UNREACHABLE naming host and port, never the password', async () => {
    const url = `postgres://neko:hunter2-unreachable@127.0.0.1:1/neko`;
    const result = await runData(['data', 'export', '--all', '--storage', url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NEKO_ERR_STORAGE_UNREACHABLE/);
    expect(result.stderr).toMatch(/127\.0\.0\.1:1/);
    expect(result.stderr).not.toContain('hunter2');
  });
});

describe('nekoconnect start --storage <postgres url>', () => {
  it('serves the todo example from PostgreSQL; a second start sees its items; no data-dir lock', async () => {
    const url = await freshDatabase();
    const dataDir = await tempDir();
    const secret = 'pg-start-secret';
    const first = startCli(
      ['start', join(REPO_ROOT, 'plugins'), '--port', '0', '--storage', url, '--data-dir', dataDir],
      { NEKOCONNECT_SECRET: secret },
    );
    const [, port] = await first.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    expect(first.stdout()).toMatch(
      /storage: PostgreSQL at postgres:\/\/[^:]+:\*\*\*@127\.0\.0\.1:\d+\/neko_data_/,
    );
    const client = await connect({ secret, port: Number(port) });
    for (const title of ['milk', 'eggs']) {
      await client.request('todo', JSON.stringify({ title }), { op: 1 });
    }
    await client.close();
    // The data dir holds the cache only: no lock, so a second server on the same dir and database starts too.
    expect(await readdir(dataDir)).not.toContain('nekoconnect.lock');

    const second = startCli(
      ['start', join(REPO_ROOT, 'plugins'), '--port', '0', '--data-dir', dataDir, '--no-dashboard'],
      { NEKOCONNECT_SECRET: secret, NEKOCONNECT_DATABASE_URL: url },
    );
    const [, port2] = await second.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const other = await connect({ secret, port: Number(port2) });
    const list = JSON.parse((await other.request('todo', '', { op: 2 })).text()) as { title: string }[];
    expect(list.map((item) => item.title)).toEqual(['milk', 'eggs']);
    const stats = JSON.parse((await other.request('todo', '', { op: 5 })).text()) as { added: number };
    expect(stats.added).toBe(2);
    await other.close();

    for (const cli of [first, second]) {
      cli.child.kill('SIGINT');
      expect((await cli.exited).code).toBe(0);
      expect(cli.stdout() + cli.stderr()).not.toContain(postgres.password);
    }
  });

  it('dev serves from PostgreSQL too', async () => {
    const url = await freshDatabase();
    const secret = 'pg-dev-secret';
    const dev = startCli(['dev', join(REPO_ROOT, 'plugins'), '--port', '0', '--storage', url], {
      NEKOCONNECT_SECRET: secret,
    });
    const [, port] = await dev.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    await dev.waitFor(/watching/);
    expect(dev.stdout()).toMatch(/storage: PostgreSQL at postgres:\/\/[^:]+:\*\*\*@/);
    const client = await connect({ secret, port: Number(port) });
    await client.request('todo', JSON.stringify({ title: 'from dev' }), { op: 1 });
    await client.close();
    dev.child.kill('SIGINT');
    expect((await dev.exited).code).toBe(0);
    const exported = await runData(['data', 'export', 'todo', '--storage', url]);
    expect(exported.stdout).toMatch(/"title":"from dev"/);
  });

  it('does not start when PostgreSQL cannot be reached: exit 1, host and port named, nothing listening', async () => {
    const url = 'postgres://neko:hunter2-start@127.0.0.1:1/neko';
    const cli = startCli(['start', join(REPO_ROOT, 'plugins'), '--port', '0', '--storage', url], {
      NEKOCONNECT_SECRET: 's',
    });
    const { code } = await cli.exited;
    expect(code).toBe(1);
    const output = cli.stdout() + cli.stderr();
    expect(output).toMatch(/NEKO_ERR_STORAGE_UNREACHABLE/);
    expect(output).toMatch(/127\.0\.0\.1:1/);
    expect(output).toMatch(/Is PostgreSQL running/);
    expect(output).not.toContain('hunter2');
    expect(output).not.toMatch(/listening on tcp/);
  });
});
