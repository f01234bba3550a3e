import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { assertBuilt, fakeCommands, listTree, runCli, tempDir } from './helpers/cli.js';

const HAS_GIT = (() => {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

beforeAll(assertBuilt);

describe('create-nekoplugin installs and runs git', () => {
  it("installs with the user's package manager, showing progress, then lists its commands", async () => {
    const fake = await fakeCommands({ pnpm: 'mkdir -p node_modules && echo ok > node_modules/.installed' });
    const cwd = await tempDir();
    const { code, stdout } = await runCli(['dice', '--yes', '--no-git'], {
      cwd,
      env: {
        PATH: `${fake.dir}${delimiter}${process.env.PATH}`,
        npm_config_user_agent: 'pnpm/9.12.0 npm/? node/v20.19.0 linux x64',
      },
    });
    expect(code).toBe(0);
    expect(await fake.calls()).toEqual([
      expect.stringMatching(/^pnpm install @ .*\.create-nekoplugin-\w+\/dice$/),
    ]);
    expect(stdout).toContain('Installing dependencies with pnpm…\n  done after');
    expect(await readFile(join(cwd, 'dice', 'node_modules', '.installed'), 'utf8')).toBe('ok\n');
    expect(stdout).toMatch(/ {2}pnpm test +validate the plugin, then run its tests/);
    expect(stdout).toMatch(/ {2}pnpm dev +serve/);
    expect(stdout).not.toContain('pnpm install ');
  });

  it('writes a workflow that installs with npm ci and caches npm when the install wrote package-lock.json', async () => {
    const fake = await fakeCommands({ npm: 'echo "{}" > package-lock.json' });
    const cwd = await tempDir();
    const { code, stdout } = await runCli(['dice', '--yes', '--no-git'], {
      cwd,
      env: { PATH: `${fake.dir}${delimiter}${process.env.PATH}` },
    });
    expect(code).toBe(0);
    expect(stdout).toContain('wrote .github/workflows/ci.yml (npm ci: package-lock.json is there)');
    const workflow = parse(await readFile(join(cwd, 'dice', '.github', 'workflows', 'ci.yml'), 'utf8')) as {
      jobs: { test: { steps: Array<Record<string, unknown>> } };
    };
    const [, setup, installStep] = workflow.jobs.test.steps;
    expect(setup!.with).toEqual({ 'node-version': '${{ matrix.node }}', cache: 'npm' });
    expect(installStep).toEqual({ name: 'Install', run: 'npm ci' });
  });

  it('leaves nothing behind when the install fails, and shows its output', async () => {
    const fake = await fakeCommands({ npm: 'echo "npm error 404 Not Found - nekoconnect" >&2; exit 1' });
    const cwd = await tempDir();
    const { code, stdout, stderr } = await runCli(['new/dice', '--yes'], {
      cwd,
      env: { PATH: `${fake.dir}${delimiter}${process.env.PATH}` },
    });
    expect(code).toBe(1);
    expect(stdout).toContain('Installing dependencies with npm…\n  failed after');
    expect(stderr).toContain(
      'error NEKO_ERR_CREATE_INSTALL\n  npm install failed (exit code 1); its last lines:\n',
    );
    expect(stderr).toContain('npm error 404 Not Found - nekoconnect');
    expect(stderr).toContain('nothing was created');
    expect(await listTree(cwd)).toEqual([]);

    // An existing folder (the staging folder is then inside it) is left empty too.
    await mkdir(join(cwd, 'empty'));
    const again = await runCli(['empty', '--yes'], {
      cwd,
      env: { PATH: `${fake.dir}${delimiter}${process.env.PATH}` },
    });
    expect(again.code).toBe(1);
    expect(await listTree(cwd)).toEqual(['empty/']);
  });

  it('says so when the package manager is not on PATH', async () => {
    const fake = await fakeCommands({});
    const cwd = await tempDir();
    const { code, stderr } = await runCli(['dice', '--yes', '--no-git'], {
      cwd,
      env: { PATH: fake.dir, npm_config_user_agent: 'yarn/1.22.22 npm/? node/v20.19.0 linux x64' },
    });
    expect(code).toBe(1);
    expect(stderr).toContain('error NEKO_ERR_CREATE_INSTALL\n  yarn was not found on PATH');
    expect(await listTree(cwd)).toEqual([]);
  });

  it('removes everything when interrupted during the install, and exits 130', async () => {
    const fake = await fakeCommands({ npm: 'sleep 20' });
    const cwd = await tempDir();
    const { code, stderr } = await runCli(['dice', '--yes', '--no-git'], {
      cwd,
      env: { PATH: `${fake.dir}${delimiter}${process.env.PATH}` },
      onOutput: {
        pattern: /Installing dependencies/,
        then: (child) => setTimeout(() => child.kill('SIGINT'), 200),
      },
    });
    expect(code).toBe(130);
    expect(stderr).toContain('error NEKO_ERR_CREATE_CANCELLED\n  interrupted: nothing was created');
    expect(await listTree(cwd)).toEqual([]);
  });

  it.runIf(HAS_GIT)('runs git init, but not with --no-git nor inside a repository', async () => {
    const cwd = await tempDir();
    const env = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
    const first = await runCli(['repo', '--yes', '--no-install'], { cwd, env });
    expect(first.stdout).toContain('initialized a git repository');
    expect(existsSync(join(cwd, 'repo', '.git', 'HEAD'))).toBe(true);
    await runCli(['plain', '--yes', '--no-install', '--no-git'], { cwd, env });
    expect(existsSync(join(cwd, 'plain', '.git'))).toBe(false);
    const inner = await runCli(['repo/plugins/inner', '--yes', '--no-install'], { cwd, env });
    expect(inner.stdout).toContain('inside a git repository already: no new one created');
    expect(existsSync(join(cwd, 'repo', 'plugins', 'inner', '.git'))).toBe(false);
  });
});
