import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { assertBuilt, listTree, runCli, tempDir, PACKAGE_ROOT } from './helpers/cli.js';

const PROJECT = [
  '.github/',
  '.github/workflows/',
  '.github/workflows/ci.yml',
  '.gitignore',
  'README.md',
  'logic.test.ts',
  'logic.ts',
  'package.json',
  'plopfile.js',
  'spec.conf',
  'tsconfig.json',
];

beforeAll(assertBuilt);

async function spec(dir: string): Promise<string> {
  return readFile(join(dir, 'spec.conf'), 'utf8');
}

async function pkg(dir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
}

describe('create-nekoplugin --help and --version', () => {
  it('prints the usage with every flag, and exits 0', async () => {
    const { code, stdout, stderr } = await runCli(['--help'], { cwd: await tempDir() });
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(/^Usage: npm create nekoplugin \[dir\] -- \[options\]/);
    for (const flag of [
      '--name',
      '--greeter',
      '--description',
      '--package-name',
      '--yes',
      '--no-install',
      '--no-git',
      '--no-ci',
      '--force',
      '--help',
      '--version',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it('prints the version of the package', async () => {
    const { version } = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v']) {
      expect(await runCli([flag], { cwd: await tempDir() })).toMatchObject({
        code: 0,
        stdout: `${version}\n`,
      });
    }
  });
});

describe('create-nekoplugin without a terminal', () => {
  it('refuses to guess missing values without --yes, names them, and writes nothing', async () => {
    const cwd = await tempDir();
    const all = await runCli([], { cwd });
    expect(all.code).toBe(2);
    expect(all.stderr).toContain('error NEKO_ERR_CREATE_MISSING_VALUE');
    expect(all.stderr).toContain(
      'missing [dir], --name, --greeter, --description: there is no terminal to ask for them',
    );
    expect(all.stderr).toContain('--yes');
    const some = await runCli(['dice', '--name', 'Dice', '--description', ''], { cwd });
    expect(some.code).toBe(2);
    expect(some.stderr).toContain('missing --greeter: there is no terminal to ask for it');
    expect(await listTree(cwd)).toEqual([]);
  });

  it('takes every value from flags', async () => {
    const cwd = await tempDir();
    const args = [
      'dice',
      '--name',
      'Dice Roller',
      '--greeter',
      'dice',
      '--description',
      'Rolls dice.',
      '--package-name',
      '@me/dice',
    ];
    const { code, stdout, stderr } = await runCli([...args, '--no-install', '--no-git'], { cwd });
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toContain('Creating Dice Roller (greeter dice) in ./dice');
    expect(await listTree(join(cwd, 'dice'))).toEqual(PROJECT);
    expect(await spec(join(cwd, 'dice'))).toContain('$name {"Dice Roller"};\n$greet {"dice"};');
    expect(await pkg(join(cwd, 'dice'))).toMatchObject({ name: '@me/dice', description: 'Rolls dice.' });
  });

  it('with --yes, derives the values from the folder name', async () => {
    const cwd = await tempDir();
    const { code, stdout } = await runCli(['games/my-chat', '--yes', '--no-install', '--no-git'], { cwd });
    expect(code).toBe(0);
    const dir = join(cwd, 'games', 'my-chat');
    expect(await spec(dir)).toContain('$name {"My Chat"};\n$greet {"my-chat"};');
    expect(await pkg(dir)).toMatchObject({ name: 'my-chat', description: 'A NekoConnect plugin.' });
    expect(stdout).toContain(
      'wrote spec.conf, logic.ts, logic.test.ts, package.json, tsconfig.json, README.md, .gitignore, plopfile.js',
    );
  });

  it('with --yes and no folder, names it after --name, else my-plugin', async () => {
    const cwd = await tempDir();
    expect((await runCli(['--yes', '--no-install', '--no-git'], { cwd })).code).toBe(0);
    expect((await runCli(['-y', '-n', 'Dice Game', '--no-install', '--no-git'], { cwd })).code).toBe(0);
    expect(await listTree(cwd)).toEqual(
      ['dice-game/', 'my-plugin/', ...PROJECT.flatMap((f) => [`dice-game/${f}`, `my-plugin/${f}`])].sort(),
    );
    expect(await spec(join(cwd, 'dice-game'))).toContain('$name {"Dice Game"};\n$greet {"dice-game"};');
  });

  it('writes the CI workflow (npm install without an install), and not with --no-ci', async () => {
    const cwd = await tempDir();
    const { stdout } = await runCli(['dice', '--yes', '--no-install', '--no-git'], { cwd });
    expect(stdout).toContain('wrote .github/workflows/ci.yml (npm install: no package-lock.json yet)');
    const workflow = parse(await readFile(join(cwd, 'dice', '.github', 'workflows', 'ci.yml'), 'utf8')) as {
      jobs: { test: { strategy: { matrix: { node: number[] } }; steps: Array<Record<string, unknown>> } };
    };
    expect(workflow.jobs.test.strategy.matrix.node).toEqual([20, 22]);
    expect(workflow.jobs.test.steps.map((s) => s.run ?? s.uses)).toEqual([
      'actions/checkout@v4',
      'actions/setup-node@v4',
      'npm install',
      'npm run validate -- --reporter github',
      'npm test -- --reporter=default --reporter=github-actions',
    ]);
    // setup-node's npm cache needs a lockfile: not without one.
    expect(workflow.jobs.test.steps[1]!.with).toEqual({ 'node-version': '${{ matrix.node }}' });

    const without = await runCli(['plain', '--yes', '--no-install', '--no-git', '--no-ci'], { cwd });
    expect(without.code).toBe(0);
    expect(without.stdout).not.toContain('ci.yml');
    expect(await listTree(join(cwd, 'plain'))).toEqual(PROJECT.filter((f) => !f.startsWith('.github')));
  });

  it('prints the next steps', async () => {
    const cwd = await tempDir();
    const { stdout } = await runCli(['my chat', '--yes', '--no-install', '--no-git'], { cwd });
    expect(stdout).toContain("Done. My Chat is in ./my chat. Next steps:\n  cd 'my chat'\n  npm install");
    expect(stdout).toMatch(
      / {2}npm test +validate the plugin, then run its tests\n {2}npm run validate +check it against the Context contract\n {2}npm run dev +serve it, reloaded on every save\n$/,
    );
  });
});
