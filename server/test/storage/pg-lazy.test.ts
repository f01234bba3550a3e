import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, assertBuilt, startCli } from '../cli/run-cli.js';
import { tempDir } from '../cli/data-run.js';

const PROBE = pathToFileURL(join(import.meta.dirname, 'fixtures', 'pg-probe', 'probe.mjs')).href;

beforeAll(assertBuilt);

/** The files of the `pg` package that a CLI run loaded, from the probe preloaded into it. */
async function pgLoadedBy(args: string[], serves: boolean): Promise<string[]> {
  const file = join(await tempDir('neko-pg-probe-'), 'loaded.json');
  const cli = startCli(args, {
    NODE_OPTIONS: `--import ${PROBE}`,
    NEKO_PG_PROBE_FILE: file,
    NEKOCONNECT_SECRET: 'probe-secret',
    NEKOCONNECT_DATABASE_URL: '',
  });
  if (serves) {
    await cli.waitFor(/listening on/);
    cli.child.kill('SIGINT');
  }
  await cli.exited;
  return JSON.parse(await readFile(file, 'utf8')) as string[];
}

describe('pg is loaded only when PostgreSQL is selected', () => {
  it('a start on nedb never loads it', async () => {
    expect(await pgLoadedBy(['start', join(REPO_ROOT, 'plugins'), '--port', '0'], true)).toEqual([]);
    expect(await pgLoadedBy(['data', 'export', '--all', '--data-dir', await tempDir()], false)).toEqual([]);
  });

  it('a PostgreSQL URL loads it (the probe sees it), even when the server is unreachable', async () => {
    const url = 'postgres://neko:pw@127.0.0.1:1/neko';
    // The server fails to start (nothing listens there), having loaded pg to try.
    const start = await pgLoadedBy(
      ['start', join(REPO_ROOT, 'plugins'), '--port', '0', '--storage', url],
      false,
    );
    expect(start).toContainEqual(expect.stringMatching(/node_modules[\\/]pg[\\/]lib[\\/]index\.js$/));
    expect((await pgLoadedBy(['data', 'export', '--all', '--storage', url], false)).length).toBeGreaterThan(
      0,
    );
  });
});
