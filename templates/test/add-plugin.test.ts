import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestServer } from '@nekoconnect/testing';
import { addPlugin, isNekoTemplatesError } from '../src/index.js';
import { readTree, tempDir } from './helpers/dirs.js';

const ANSWERS = { name: 'Dice', greeter: 'dice', description: 'Rolls dice.' };

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

describe('addPlugin', () => {
  it('adds spec.conf, logic.ts and logic.test.ts in a folder named after the greeter', async () => {
    const root = await tempDir();
    const { files } = await addPlugin({ destBasePath: root, pluginsDir: 'plugins', answers: ANSWERS });
    expect(files).toEqual(['spec.conf', 'logic.ts', 'logic.test.ts'].map((f) => join('plugins', 'dice', f)));
    const spec = await readFile(join(root, 'plugins', 'dice', 'spec.conf'), 'utf8');
    expect(spec).toContain('$greet {"dice"};');
    expect(spec).toContain('# The ops the plugin answers are listed in logic.ts (Op).\n');
  });

  it('adds plugins that a server loads side by side', async () => {
    const root = await tempDir();
    await addPlugin({ destBasePath: root, pluginsDir: 'plugins', answers: ANSWERS });
    await addPlugin({
      destBasePath: root,
      pluginsDir: 'plugins',
      folder: 'coin-flip',
      answers: { name: 'Coin', greeter: 'coin', description: '' },
    });
    expect((await readdir(join(root, 'plugins'))).sort()).toEqual(['coin-flip', 'dice']);
    const server = await createTestServer({ plugins: join(root, 'plugins') });
    const client = await server.connect();
    expect((await client.request('dice', 'Mimi', { op: 1 })).text()).toBe('hello, Mimi!');
    expect((await client.request('coin', 'Tama', { op: 1 })).text()).toBe('hello, Tama!');
  });

  it('names the folder after the greeter made safe for a folder name', async () => {
    const root = await tempDir();
    const { files } = await addPlugin({
      destBasePath: root,
      pluginsDir: 'plugins',
      answers: { name: 'Coin', greeter: 'Coin/Flip', description: '' },
    });
    expect(files[0]).toBe(join('plugins', 'coin-flip', 'spec.conf'));
    expect(await readFile(join(root, files[0]!), 'utf8')).toContain('$greet {"Coin/Flip"};');
  });

  it('refuses a greeter another plugin of the directory declares, naming it', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'plugins', 'old'), { recursive: true });
    await writeFile(
      join(root, 'plugins', 'old', 'spec.conf'),
      '$name {"Old"}; $greet {"dice"};\n$logic {"logic"};',
    );
    const before = await readTree(root);
    const err = await errorOf(addPlugin({ destBasePath: root, pluginsDir: 'plugins', answers: ANSWERS }));
    expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_GREETER_TAKEN')).toBe(true);
    expect((err as Error).message).toBe(
      `the greeter "dice" is already declared by ${join(root, 'plugins', 'old', 'spec.conf')}`,
    );
    expect(await readTree(root)).toEqual(before);
  });

  it('refuses a folder that holds files, and bad answers', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'plugins', 'dice'), { recursive: true });
    await writeFile(join(root, 'plugins', 'dice', 'x.txt'), '');
    const full = await errorOf(addPlugin({ destBasePath: root, pluginsDir: 'plugins', answers: ANSWERS }));
    expect(isNekoTemplatesError(full, 'NEKO_ERR_TEMPLATES_TARGET_NOT_EMPTY')).toBe(true);
    const reserved = await errorOf(
      addPlugin({
        destBasePath: root,
        pluginsDir: 'plugins',
        answers: { ...ANSWERS, greeter: 'nekoconnect-server' },
      }),
    );
    expect(isNekoTemplatesError(reserved, 'NEKO_ERR_TEMPLATES_BAD_GREETER')).toBe(true);
  });
});
