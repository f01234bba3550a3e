import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, listTree, runCli, tempDir, writeTree } from './helpers/cli.js';

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

describe('create-nekoplugin and the project folder', () => {
  it('refuses a folder that is not empty, and leaves it as it was', async () => {
    const cwd = await tempDir();
    await writeTree(cwd, { 'taken/notes.txt': 'mine' });
    const { code, stderr } = await runCli(['taken', '--yes', '--no-install', '--no-git'], { cwd });
    expect(code).toBe(2);
    expect(stderr).toContain('error NEKO_ERR_CREATE_NOT_EMPTY\n  ./taken is not empty (it holds notes.txt)');
    expect(stderr).toContain('--force');
    expect(await listTree(cwd)).toEqual(['taken/', 'taken/notes.txt']);
  });

  it('with --force, writes into it: same names replaced, other files kept', async () => {
    const cwd = await tempDir();
    await writeTree(cwd, { 'taken/notes.txt': 'mine', 'taken/logic.ts': 'old' });
    const { code } = await runCli(['taken', '--yes', '--force', '--no-install', '--no-git'], { cwd });
    expect(code).toBe(0);
    expect(await listTree(join(cwd, 'taken'))).toEqual([...PROJECT, 'notes.txt'].sort());
    expect(await readFile(join(cwd, 'taken', 'notes.txt'), 'utf8')).toBe('mine');
    expect(await readFile(join(cwd, 'taken', 'logic.ts'), 'utf8')).toContain('export class Logic');
    expect(await listTree(cwd)).not.toContainEqual(expect.stringMatching(/^\.create-nekoplugin-/));
  });

  it('writes into an empty folder, and into the working directory with "."', async () => {
    const cwd = await tempDir();
    await mkdir(join(cwd, 'empty'));
    expect((await runCli(['empty', '--yes', '--no-install', '--no-git'], { cwd })).code).toBe(0);
    expect(await listTree(join(cwd, 'empty'))).toEqual(PROJECT);
    const here = join(cwd, 'here');
    await mkdir(here);
    const { code, stdout } = await runCli(['.', '--yes', '--no-install', '--no-git'], { cwd: here });
    expect(code).toBe(0);
    expect(await spec(here)).toContain('$greet {"here"};');
    expect(stdout).not.toContain('  cd ');
  });

  it.each([
    [['--greeter', 'auth'], 'greeter "auth" is reserved by the protocol'],
    [
      ['--greeter', 'my chat'],
      `bad greeter "my chat": character ' ' (U+0020) at position 3 is not printable ASCII (0x21-0x7E)`,
    ],
    [['--name', 'say "hi"'], `a plugin name cannot hold '"': spec.conf values have no escapes`],
    [['--package-name', 'My Chat'], 'bad package name "My Chat": it has capital letters'],
    [
      ['--description', 'one\ntwo'],
      'a description is one line of text; it holds a control character (U+000A)',
    ],
  ])('refuses %j with a clear message, and leaves the folder as it was', async (flags, message) => {
    const cwd = await tempDir();
    await mkdir(join(cwd, 'empty'));
    for (const dir of ['new', 'empty']) {
      const { code, stderr } = await runCli([dir, '--yes', ...flags], { cwd });
      expect(code).toBe(2);
      expect(stderr).toContain(`error NEKO_ERR_CREATE_INVALID_VALUE\n  ${message}\n`);
      expect(stderr).toContain(`(${flags[0]})`);
    }
    expect(await listTree(cwd)).toEqual(['empty/']);
  });

  it('refuses a folder it cannot create (a file is in the way), and writes nothing', async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'file'), 'x');
    for (const dir of ['file/plugin', 'file']) {
      const { code, stderr } = await runCli([dir, '--yes', '--no-install', '--no-git'], { cwd });
      expect(code).toBe(1);
      expect(stderr).toContain('error NEKO_ERR_CREATE_TARGET');
    }
    const nested = await runCli(['file/a/b', '--yes'], { cwd });
    expect(nested.stderr).toContain(
      `cannot create ${join(cwd, 'file', 'a', 'b')}: ${join(cwd, 'file')} is a file, not a folder`,
    );
    expect(await listTree(cwd)).toEqual(['file']);
  });

  it('refuses a folder it may not write to, and writes nothing', async () => {
    if (process.getuid?.() === 0) return; // root writes anywhere: the path-under-a-file case above covers it
    const cwd = await tempDir();
    await mkdir(join(cwd, 'locked'), { mode: 0o555 });
    const { code, stderr } = await runCli(['locked/plugin', '--yes', '--no-install', '--no-git'], { cwd });
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot write ${join(cwd, 'locked', 'plugin')}: permission denied`);
  });

  it('refuses unknown flags and extra arguments', async () => {
    const cwd = await tempDir();
    const unknown = await runCli(['x', '--frobnicate'], { cwd });
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      expect.stringContaining("NEKO_ERR_CREATE_USAGE\n  Unknown option '--frobnicate'"),
    ]);
    const extra = await runCli(['a', 'b', '--yes'], { cwd });
    expect([extra.code, extra.stderr]).toEqual([
      2,
      expect.stringContaining('unexpected argument "b": give one folder'),
    ]);
    const noValue = await runCli(['a', '--name'], { cwd });
    expect(noValue.code).toBe(2);
    expect(await listTree(cwd)).toEqual([]);
  });
});
