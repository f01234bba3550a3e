import { readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import nodePlop from 'node-plop';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/versions.js';
import { createPlop, generatePlugin, readOps } from '../src/index.js';
import { REPO_ROOT, readTree, tempDir } from './helpers/dirs.js';

const BUILT_PLOPFILE = join(PACKAGE_ROOT, 'dist', 'plopfile.js');

interface Prompt {
  name: string;
  validate?: (value: string) => true | string;
  default?: unknown;
}

describe('the plopfile', () => {
  it('registers the plugin, add-plugin, ci and add-op generators, as plop loads them from the built file', async () => {
    const plop = await nodePlop(BUILT_PLOPFILE, { destBasePath: await tempDir(), force: false });
    expect(plop.getGeneratorList().map((g) => g.name)).toEqual(['plugin', 'add-plugin', 'ci', 'add-op']);
  });

  it('asks in the order of the bypass arguments, and checks each answer like the functions do', async () => {
    const plop = await createPlop({ destBasePath: await tempDir() });
    const names = (generator: string): string[] =>
      (plop.getGenerator(generator).prompts as unknown as Prompt[]).map((p) => p.name);
    expect(names('plugin')).toEqual(['dir', 'name', 'greeter', 'description', 'packageName']);
    expect(names('add-plugin')).toEqual(['pluginsDir', 'name', 'greeter', 'description', 'folder']);
    expect(names('add-op')).toEqual(['op', 'code', 'dir']);
    expect(names('ci')).toEqual(['dir', 'name', 'lockfile']);

    const prompts = plop.getGenerator('plugin').prompts as unknown as Prompt[];
    const greeter = prompts.find((p) => p.name === 'greeter')!;
    expect(greeter.validate!('auth')).toBe('greeter "auth" is reserved by the protocol');
    expect((greeter.default as (a: object) => string)({ dir: 'some/dice-game' })).toBe('dice-game');
  });

  it('takes every answer on the command line (plop bypass) and refuses a bad one', async () => {
    const plop = await createPlop({ destBasePath: await tempDir() });
    const generator = plop.getGenerator('plugin');
    expect(await generator.runPrompts(['dice', 'Dice', 'dice', 'Rolls.', 'dice'])).toEqual({
      dir: 'dice',
      name: 'Dice',
      greeter: 'dice',
      description: 'Rolls.',
      packageName: 'dice',
    });
    await expect(generator.runPrompts(['dice', 'Dice', 'my dice', '', 'dice'])).rejects.toThrow(
      `bad greeter "my dice": character ' ' (U+0020) at position 3 is not printable ASCII (0x21-0x7E)`,
    );
  });

  it("writes through plop's own action runner the files the function writes", async () => {
    const [viaPlop, viaFunction] = [await tempDir(), await tempDir()];
    const answers = {
      dir: 'dice',
      name: 'Dice',
      greeter: 'dice',
      description: 'Rolls.',
      packageName: 'dice',
    };
    const plop = await nodePlop(BUILT_PLOPFILE, { destBasePath: viaPlop, force: false });
    const { failures } = await plop.getGenerator('plugin').runActions({ ...answers });
    expect(failures).toEqual([]);
    const { dir, ...rest } = answers;
    await generatePlugin({ destBasePath: viaFunction, dir, answers: rest });
    expect(await readTree(viaPlop)).toEqual(await readTree(viaFunction));
  });

  it("is the generated project's plopfile: add-op runs from it", async () => {
    const project = await tempDir();
    await generatePlugin({
      destBasePath: project,
      dir: '.',
      answers: { name: 'Dice', greeter: 'dice', description: '', packageName: 'dice' },
    });
    await symlink(join(REPO_ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
    const plop = await nodePlop(join(project, 'plopfile.js'), { destBasePath: project, force: false });
    const { changes, failures } = await plop
      .getGenerator('add-op')
      .runActions({ op: 'roll', code: '', dir: '.' });
    expect(failures).toEqual([]);
    expect(changes.map((c) => c.path)).toEqual(['op Roll = 3: logic.ts, logic.test.ts, README.md']);
    expect(readOps(await readFile(join(project, 'logic.ts'), 'utf8'))?.map((o) => o.name)).toContain('Roll');
  });

  it('reports a failed check as a plop failure, with the message of the function', async () => {
    const dest = await tempDir();
    const plop = await createPlop({ destBasePath: dest });
    const { changes, failures } = await plop
      .getGenerator('plugin')
      .runActions({ dir: 'x', name: 'X', greeter: 'auth', description: '', packageName: 'x' });
    expect(changes).toEqual([]);
    expect(failures[0]).toMatchObject({
      type: 'neko-prepare-project',
      error: 'greeter "auth" is reserved by the protocol',
    });
    expect(failures.slice(1).every((f) => f.error === 'Aborted due to previous action failure')).toBe(true);
    expect(await readTree(dest)).toEqual({});
  });
});
