import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { REPO_ROOT, assertBuilt, runCli, startCli } from '../cli/run-cli.js';

beforeAll(assertBuilt);

const PROBE = pathToFileURL(join(import.meta.dirname, 'module-probe.mjs')).href;
/** A module file of ts-morph or the TypeScript compiler. */
const TS_MORPH = /[\\/](ts-morph|@ts-morph|typescript)[\\/]/;

/** The environment that makes a CLI process list its CommonJS modules in `out` when it exits. */
async function probe(): Promise<{ env: NodeJS.ProcessEnv; modules: () => Promise<string[]> }> {
  const dir = await mkdtemp(join(tmpdir(), 'neko-probe-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'modules.txt');
  return {
    env: { NODE_OPTIONS: `--import=${PROBE}`, NEKO_MODULE_PROBE_OUT: out },
    modules: async () => (await readFile(out, 'utf8')).split('\n').filter((l) => l !== ''),
  };
}

describe('ts-morph stays out of `nekoconnect start`', () => {
  it('start serves the example plugins and shuts down without ever loading ts-morph or TypeScript', async () => {
    const { env, modules } = await probe();
    const dataDir = await mkdtemp(join(tmpdir(), 'neko-probe-data-'));
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    const cli = startCli(['start', join(REPO_ROOT, 'plugins'), '--port', '0', '--data-dir', dataDir], {
      ...env,
      NEKOCONNECT_SECRET: 'probe-secret',
    });
    await cli.waitFor(/listening on tcp:\/\//);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    const loaded = await modules();
    // The probe saw the CommonJS modules start did load (esbuild, nedb).
    expect(loaded.some((m) => /[\\/]esbuild[\\/]/.test(m))).toBe(true);
    expect(loaded.filter((m) => TS_MORPH.test(m))).toEqual([]);
  });

  it('the probe does see ts-morph when validate loads it', async () => {
    const { env, modules } = await probe();
    const { code } = await runCli(['validate', join(REPO_ROOT, 'plugins', 'echo')], env);
    expect(code).toBe(0);
    expect((await modules()).some((m) => TS_MORPH.test(m))).toBe(true);
  });
});
