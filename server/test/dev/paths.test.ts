import type { Stats } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isIgnored,
  isSourceFile,
  listPluginFolders,
  pluginFolderOf,
  type WatchScope,
} from '../../src/dev/paths.js';
import { makePluginsDir } from '../helpers/plugins.js';

const ROOT = path.resolve('/work/plugins');
const DIR = { isFile: () => false } as Stats;
const FILE = { isFile: () => true } as Stats;
const scope: WatchScope = {
  root: ROOT,
  single: false,
  dataDir: path.join(ROOT, 'todo', 'data'),
  cacheDir: path.join(ROOT, 'bundles'),
};
const at = (...parts: string[]): string => path.join(ROOT, ...parts);

describe('what the dev watcher looks at', () => {
  it('spec.conf and source files are watched; tests, notes, data and editor leftovers are not', () => {
    for (const file of [
      'spec.conf',
      'logic.ts',
      'logic.js',
      'x.mjs',
      'x.cts',
      'x.tsx',
      'tsconfig.json',
      'package.json',
    ]) {
      expect(isSourceFile(at('todo', file)), file).toBe(true);
    }
    for (const file of [
      'logic.test.ts',
      'logic.spec.js',
      'README.md',
      'todo.db',
      'todo.db~',
      'logic.ts~',
      'logic.ts.swp',
      '4913',
    ]) {
      expect(isSourceFile(at('todo', file)), file).toBe(false);
    }
  });

  it('never looks into node_modules, build output, dot folders, the data directory or the cache dir', () => {
    expect(isIgnored(scope, ROOT)).toBe(false);
    expect(isIgnored(scope, at('todo'), DIR)).toBe(false);
    expect(isIgnored(scope, at('todo', 'lib'))).toBe(false);
    expect(isIgnored(scope, at('todo', 'lib', 'util.ts'), FILE)).toBe(false);
    for (const ignored of [
      at('node_modules'),
      at('todo', 'node_modules', 'dep', 'index.js'),
      at('todo', 'dist', 'logic.js'),
      at('todo', '.nekoconnect', 'build', 'logic.1234.mjs'),
      at('.git', 'index'),
      at('todo', '.logic.ts.swp'),
      at('todo', 'data'),
      at('todo', 'data', 'todo.json'),
      at('bundles'),
      at('bundles', 'todo-0123abcd', 'logic.0123456789.mjs'),
      path.resolve('/elsewhere/logic.ts'),
    ]) {
      expect(isIgnored(scope, ignored), ignored).toBe(true);
    }
    expect(isIgnored(scope, at('todo', 'notes.md'), FILE)).toBe(true);
    // Without stats (chokidar does not always pass them), a file is judged by the folders on its path only.
    expect(isIgnored(scope, at('todo', 'notes.md'))).toBe(false);
  });

  it('only the folders below the watched one count: a plugins directory may live under dist/', () => {
    const nested: WatchScope = { root: path.resolve('/srv/dist/.app/plugins'), single: false };
    expect(isIgnored(nested, path.join(nested.root, 'todo', 'logic.ts'), FILE)).toBe(false);
  });

  it('a data directory that is the plugins directory, or above it, leaves the plugins watched', () => {
    expect(isIgnored({ root: ROOT, single: false, dataDir: ROOT }, at('todo', 'logic.ts'), FILE)).toBe(false);
    expect(
      isIgnored({ root: ROOT, single: false, dataDir: path.dirname(ROOT) }, at('todo', 'logic.ts'), FILE),
    ).toBe(false);
    expect(isIgnored({ root: ROOT, single: false, dataDir: ROOT }, at('todo.db'), FILE)).toBe(true);
  });

  it('maps a changed path to its plugin folder; a file directly in the plugins directory concerns them all', () => {
    expect(pluginFolderOf(scope, at('todo', 'logic.ts'))).toBe(at('todo'));
    expect(pluginFolderOf(scope, at('todo', 'lib', 'deep', 'x.ts'))).toBe(at('todo'));
    expect(pluginFolderOf(scope, at('todo'), true)).toBe(at('todo'));
    expect(pluginFolderOf(scope, at('package.json'))).toBeUndefined();
    expect(pluginFolderOf({ root: at('todo'), single: true }, at('todo', 'lib', 'x.ts'))).toBe(at('todo'));
  });

  it('lists the plugin folders as the loader finds them', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'b', logic: '' },
      { greeter: 'a', logic: '' },
    ]);
    await mkdir(path.join(plugins, 'no-spec'));
    await mkdir(path.join(plugins, '.hidden'));
    await writeFile(path.join(plugins, '.hidden', 'spec.conf'), '');
    expect(await listPluginFolders({ root: plugins, single: false })).toEqual([
      path.join(plugins, 'a'),
      path.join(plugins, 'b'),
    ]);
    expect(await listPluginFolders({ root: path.join(plugins, 'a'), single: true })).toEqual([
      path.join(plugins, 'a'),
    ]);
    expect(await listPluginFolders({ root: path.join(plugins, 'missing'), single: false })).toEqual([]);
  });
});
