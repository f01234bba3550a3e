import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { moduleProbe, TS_MORPH } from './module-probe.js';
import { REPO_ROOT, assertBuilt, runCli, startCli } from '../cli/run-cli.js';

beforeAll(assertBuilt);

describe('ts-morph stays out of `nekoconnect start`', () => {
  it('start serves the example plugins and shuts down without ever loading ts-morph or TypeScript', async () => {
    const { env, modules } = await moduleProbe();
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
    const { env, modules } = await moduleProbe();
    const { code } = await runCli(['validate', join(REPO_ROOT, 'plugins', 'echo')], env);
    expect(code).toBe(0);
    expect((await modules()).some((m) => TS_MORPH.test(m))).toBe(true);
  });
});
