import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { REPO_ROOT, assertBuilt, runCli } from '../cli/run-cli.js';

beforeAll(assertBuilt);

/** Node.js 22.1 and later have their own compile cache, which the validator uses instead. */
const builtIn = typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === 'function';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neko-cache-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The cache entries under a temporary folder, with their mtimes. */
async function entries(temp: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const name of await readdir(temp, { recursive: true })) {
    if (name.endsWith('.bin')) found.set(name, (await stat(join(temp, name))).mtimeMs);
  }
  return found;
}

describe.skipIf(builtIn)('the code cache of ts-morph (Node.js 20)', () => {
  it('is written by a first validation and read, not rewritten, by the next', async () => {
    const temp = await tempDir();
    const env = { TMPDIR: temp, TMP: temp, TEMP: temp };
    const echo = join(REPO_ROOT, 'plugins', 'echo');
    expect((await runCli(['validate', echo], env)).code).toBe(0);
    const first = await entries(temp);
    // typescript.js, ts-morph's own files, and a few small ones.
    expect(first.size).toBeGreaterThanOrEqual(3);

    expect((await runCli(['validate', echo], env)).code).toBe(0);
    expect(await entries(temp)).toEqual(first);
  });

  it('is neither read nor written with NODE_DISABLE_COMPILE_CACHE', async () => {
    const temp = await tempDir();
    const env = { TMPDIR: temp, TMP: temp, TEMP: temp, NODE_DISABLE_COMPILE_CACHE: '1' };
    expect((await runCli(['validate', join(REPO_ROOT, 'plugins', 'echo')], env)).code).toBe(0);
    expect((await entries(temp)).size).toBe(0);
  });
});
