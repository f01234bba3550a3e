/**
 * Servers may share a cache dir. One loading another version of the same
 * plugin folder removes the bundle it finds stale, possibly between another
 * one's write and its import: the loader then writes its bundle again, once.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { Context } from '../../src/context/context.js';
import * as bundle from '../../src/build/bundle.js';
import { NekoError } from '../../src/errors.js';
import { loadPlugin } from '../../src/plugins/loader.js';

vi.mock('../../src/build/bundle.js', async () => {
  const actual = await vi.importActual<typeof bundle>('../../src/build/bundle.js');
  return { ...actual, importFresh: vi.fn(actual.importFresh) };
});

const actual = await vi.importActual<typeof bundle>('../../src/build/bundle.js');

async function plugin(logic: string): Promise<{ dir: string; cacheDir: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'neko-shared-cache-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  const dir = path.join(root, 'shared');
  await mkdir(dir);
  await writeFile(
    path.join(dir, 'spec.conf'),
    '$name {"s"};\n$greet {"s"};\n$logic {"logic"};\n$version {"1"};\n',
  );
  await writeFile(path.join(dir, 'logic.ts'), logic);
  return { dir, cacheDir: path.join(root, 'cache') };
}

describe('a bundle removed before its import', () => {
  it('is written again and imported', async () => {
    const { dir, cacheDir } = await plugin(
      "export class Logic { recv(ctx: { send(s: string): boolean }): void { ctx.send('here'); } }\n",
    );
    const importFresh = vi.mocked(bundle.importFresh);
    importFresh.mockClear();
    // What another process does: it removes the bundle just before this one imports it.
    importFresh.mockImplementationOnce(async (file) => {
      await rm(file);
      return actual.importFresh(file);
    });
    const loaded = await loadPlugin(dir, { cacheDir });
    expect(importFresh).toHaveBeenCalledTimes(2);
    const sent: string[] = [];
    await loaded.logic.recv({ send: (s: string) => sent.push(s) > 0 } as unknown as Context);
    expect(sent).toEqual(['here']);
    expect(await readdir(bundle.cacheFolderOf(cacheDir, dir))).toEqual([
      expect.stringMatching(/^logic\.[0-9a-f]{10}\.mjs$/),
    ]);
  });

  it('is not retried when the module itself fails to import', async () => {
    const { dir, cacheDir } = await plugin(
      "throw new Error('top-level failure');\nexport class Logic { recv(): void {} }\n",
    );
    const importFresh = vi.mocked(bundle.importFresh);
    importFresh.mockClear();
    const err = await loadPlugin(dir, { cacheDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NekoError);
    expect((err as NekoError).code).toBe('NEKO_ERR_PLUGIN_IMPORT');
    expect(importFresh).toHaveBeenCalledTimes(1);
  });
});
