import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestServer } from '@nekoconnect/testing';
import { validatePlugins } from 'nekoconnect/validate';
import {
  PROJECT_FILES,
  dependencyVersions,
  generatePlugin,
  isNekoTemplatesError,
  type PluginAnswers,
} from '../src/index.js';
import { parseSpecText } from '../../server/src/plugins/spec.js';
import { REPO_ROOT, projectDir, readTree, tempDir } from './helpers/dirs.js';

const ANSWERS: PluginAnswers = {
  name: 'My Chat',
  greeter: 'my-chat',
  description: 'A room to chat in.',
  packageName: 'my-chat',
};

const FILES = [
  '.gitignore',
  'README.md',
  'logic.test.ts',
  'logic.ts',
  'package.json',
  'plopfile.js',
  'spec.conf',
  'tsconfig.json',
];

async function versionOf(folder: string): Promise<string> {
  return (JSON.parse(await readFile(join(REPO_ROOT, folder, 'package.json'), 'utf8')) as { version: string })
    .version;
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

describe('generatePlugin', () => {
  it('writes the eight files of a plugin project, and says so', async () => {
    const dest = await tempDir();
    const { files } = await generatePlugin({ destBasePath: dest, dir: 'my-chat', answers: ANSWERS });
    expect([...files].sort()).toEqual(FILES.map((f) => join('my-chat', f)));
    expect((await readdir(join(dest, 'my-chat'))).sort()).toEqual(FILES);
    expect(PROJECT_FILES.map(([, file]) => file).sort()).toEqual(FILES);
  });

  it('is deterministic: the same answers give the same tree, byte for byte', async () => {
    const [a, b] = [await tempDir(), await tempDir()];
    await generatePlugin({ destBasePath: a, dir: 'x', answers: ANSWERS });
    await generatePlugin({ destBasePath: b, dir: 'x', answers: ANSWERS });
    const [treeA, treeB] = [await readTree(a), await readTree(b)];
    expect(Object.keys(treeA)).toHaveLength(8);
    expect(treeA).toEqual(treeB);
  });

  it('generates into the destination itself with dir "."', async () => {
    const dest = await tempDir();
    await generatePlugin({ destBasePath: dest, dir: '.', answers: ANSWERS });
    expect((await readdir(dest)).sort()).toEqual(FILES);
  });

  it('writes a spec.conf that the server parses, with a comment header on each entry', async () => {
    const dest = await tempDir();
    await generatePlugin({ destBasePath: dest, dir: '.', answers: ANSWERS });
    const text = await readFile(join(dest, 'spec.conf'), 'utf8');
    const spec = parseSpecText(text, 'spec.conf');
    expect([spec.name, spec.greeter, spec.logic, spec.version]).toEqual([
      'My Chat',
      'my-chat',
      'logic',
      '0.1.0',
    ]);
    expect(text.split('\n')[0]).toBe('# My Chat: A room to chat in.');
    for (const key of ['name', 'greet', 'logic', 'version'])
      expect(text).toMatch(new RegExp(`^#\\s+${key}\\s+\\S`, 'm'));
  });

  it('writes a package.json with the scripts and the current versions of the packages', async () => {
    const dest = await tempDir();
    await generatePlugin({ destBasePath: dest, dir: '.', answers: ANSWERS });
    const pkg = JSON.parse(await readFile(join(dest, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string>
    >;
    expect(pkg.name).toBe('my-chat');
    expect(pkg.description).toBe('A room to chat in.');
    expect(pkg.type).toBe('module');
    expect(pkg.scripts).toMatchObject({
      dev: 'nekoconnect dev',
      test: 'nekoconnect validate && vitest run',
      validate: 'nekoconnect validate',
      pack: 'nekoconnect pack',
      start: 'nekoconnect start',
    });
    expect(pkg.dependencies).toEqual({ nekoconnect: `^${await versionOf('server')}` });
    expect(pkg.devDependencies).toMatchObject({
      '@nekoconnect/testing': `^${await versionOf('testing')}`,
      '@nekoconnect/templates': `^${await versionOf('templates')}`,
      vitest: expect.stringMatching(/^\^4\./),
      typescript: expect.stringMatching(/^\^5\.9/),
    });
    expect(dependencyVersions()).toEqual({
      nekoconnect: await versionOf('server'),
      testing: await versionOf('testing'),
      templates: await versionOf('templates'),
    });
  });

  it('quotes every value for the file it goes into', async () => {
    const dest = await tempDir();
    const answers: PluginAnswers = {
      name: "Tom & Jerry's <Room> */ {{x}}",
      greeter: `it's\\*/<b>`,
      description: 'Says "hi" & <waves> */ \\o/',
      packageName: '@me/room',
    };
    await generatePlugin({ destBasePath: dest, dir: '.', answers });
    const spec = parseSpecText(await readFile(join(dest, 'spec.conf'), 'utf8'), 'spec.conf');
    expect([spec.name, spec.greeter]).toEqual([answers.name, answers.greeter]);
    const pkg = JSON.parse(await readFile(join(dest, 'package.json'), 'utf8')) as Record<string, string>;
    expect([pkg.name, pkg.description]).toEqual([answers.packageName, answers.description]);
    const test = await readFile(join(dest, 'logic.test.ts'), 'utf8');
    expect(test).toContain(`const GREETER = 'it\\'s\\\\*/<b>';`);
    expect(test).toContain(`describe('Tom & Jerry\\'s <Room> */ {{x}}', () => {`);
    const readme = await readFile(join(dest, 'README.md'), 'utf8');
    expect(readme.split('\n').slice(0, 3)).toEqual([`# ${answers.name}`, '', answers.description]);
    // No `*/` ends a doc comment early: the only `*/` in logic.ts close comments.
    const logic = await readFile(join(dest, 'logic.ts'), 'utf8');
    expect(logic).toContain('Says "hi" & <waves> *\\/ \\o/');
    expect(logic).not.toContain('&amp;');
  });

  it('writes a plugin that loads, answers as its test says, and validates without a problem', async () => {
    const dest = join(await projectDir(), 'my-chat');
    await generatePlugin({ destBasePath: dest, dir: '.', answers: ANSWERS });
    const server = await createTestServer({ plugin: dest });
    const client = await server.connect();
    expect((await client.request('my-chat', 'Mimi', { op: 1 })).text()).toBe('hello, Mimi!');
    expect((await client.request('my-chat', '', { op: 2 })).json()).toEqual({ name: 'Mimi', packets: 2 });
    expect((await client.request('my-chat', '', { op: 77 })).json()).toEqual({ error: 'unknown op 77' });

    const report = await validatePlugins(dest);
    expect(report.problems).toEqual([]);
  });

  it('refuses a folder that is not empty, and leaves it as it was', async () => {
    const dest = await tempDir();
    await mkdir(join(dest, 'taken'));
    await writeFile(join(dest, 'taken', 'notes.txt'), 'mine');
    const err = await errorOf(generatePlugin({ destBasePath: dest, dir: 'taken', answers: ANSWERS }));
    expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_TARGET_NOT_EMPTY')).toBe(true);
    expect((err as Error).message).toBe(`${join(dest, 'taken')} is not empty (it holds notes.txt)`);
    expect(await readTree(dest)).toEqual({ [join('taken', 'notes.txt')]: 'mine' });
  });

  it('writes into a folder that is not empty with force, replacing the files it generates only', async () => {
    const dest = await tempDir();
    await writeFile(join(dest, 'notes.txt'), 'mine');
    await writeFile(join(dest, 'logic.ts'), 'old');
    await generatePlugin({ destBasePath: dest, dir: '.', answers: ANSWERS, force: true });
    const tree = await readTree(dest);
    expect(tree['notes.txt']).toBe('mine');
    expect(tree['logic.ts']).toContain('export class Logic');
  });

  it('refuses bad answers with their code before writing anything', async () => {
    const dest = await tempDir();
    for (const [bad, code] of [
      [{ greeter: 'auth' }, 'NEKO_ERR_TEMPLATES_BAD_GREETER'],
      [{ greeter: 'my chat' }, 'NEKO_ERR_TEMPLATES_BAD_GREETER'],
      [{ name: 'say "hi"' }, 'NEKO_ERR_TEMPLATES_BAD_NAME'],
      [{ packageName: 'My Chat' }, 'NEKO_ERR_TEMPLATES_BAD_PACKAGE_NAME'],
      [{ description: 'one\ntwo' }, 'NEKO_ERR_TEMPLATES_BAD_DESCRIPTION'],
    ] as const) {
      const err = await errorOf(
        generatePlugin({ destBasePath: dest, dir: 'x', answers: { ...ANSWERS, ...bad } }),
      );
      expect(isNekoTemplatesError(err, code), `${JSON.stringify(bad)}: ${String(err)}`).toBe(true);
    }
    expect(await readdir(dest)).toEqual([]);
  });

  it('reports a folder it cannot write to as a generator failure', async () => {
    const dest = await tempDir();
    await writeFile(join(dest, 'file'), '');
    const err = await errorOf(generatePlugin({ destBasePath: dest, dir: 'file/x', answers: ANSWERS }));
    expect(isNekoTemplatesError(err)).toBe(true);
    expect((err as Error).message).toMatch(/ENOTDIR|not a directory/);
  });
});
