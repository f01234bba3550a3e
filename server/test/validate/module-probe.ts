/**
 * Which modules a CLI process loaded: `module-probe.mjs`, preloaded with
 * `--import`, writes the CommonJS modules it saw when the process exits
 * (how the tests prove that `start` never loads ts-morph unless asked).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';

const PROBE = pathToFileURL(join(import.meta.dirname, 'module-probe.mjs')).href;

/** A module file of ts-morph or the TypeScript compiler. */
export const TS_MORPH = /[\\/](ts-morph|@ts-morph|typescript)[\\/]/;

/** The environment that makes a CLI process list its CommonJS modules when it exits, and how to read them. */
export async function moduleProbe(): Promise<{ env: NodeJS.ProcessEnv; modules: () => Promise<string[]> }> {
  const dir = await mkdtemp(join(tmpdir(), 'neko-probe-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'modules.txt');
  return {
    env: { NODE_OPTIONS: `--import=${PROBE}`, NEKO_MODULE_PROBE_OUT: out },
    modules: async () => (await readFile(out, 'utf8')).split('\n').filter((l) => l !== ''),
  };
}
