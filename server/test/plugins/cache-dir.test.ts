/**
 * Plugin bundles go to a cache dir, never into the plugin folder, and still
 * import the packages of the plugin's own node_modules (and of its parents)
 * as Node.js would from the source.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Context, Logic } from '../../src/context/context.js';
import { cacheFolderOf, privateTempDir } from '../../src/build/bundle.js';
import { resolveStartOptions } from '../../src/config/start-options.js';
import { NekoError } from '../../src/errors.js';
import { loadPlugin } from '../../src/plugins/loader.js';
import { createServer } from '../../src/server/server.js';
import { connectClient, startServer } from '../helpers/server.js';
import { ownPackagesAnswer, writeOwnPackagesPlugin } from './own-packages.js';

async function tempDir(prefix = 'neko-cache-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  onTestFinished(async () => {
    await chmodTree(dir, true);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Every file and folder under `dir`, with its size and modification time: what a write would change. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const file = path.join(folder, entry.name);
      const info = await stat(file);
      out.push(`${path.relative(dir, file)} ${info.size} ${info.mtimeMs} ${(info.mode & 0o777).toString(8)}`);
      if (entry.isDirectory()) await walk(file);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Makes a tree read-only (0555 folders, 0444 files), or writable again. */
async function chmodTree(dir: string, writable = false): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  if (writable) await chmod(dir, 0o755).catch(() => undefined);
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await chmodTree(file, writable);
    else await chmod(file, writable ? 0o644 : 0o444);
  }
  if (!writable) await chmod(dir, 0o555);
}

async function answer(logic: Logic, text: string): Promise<string[]> {
  const sent: string[] = [];
  const ctx = { text: () => text, send: (s: string) => sent.push(s) > 0 };
  await logic.recv(ctx as unknown as Context);
  return sent;
}

describe('plugin bundles in the cache dir', () => {
  it("imports the plugin's own ESM and CommonJS packages, from a read-only plugin folder left untouched", async () => {
    const root = await tempDir();
    const dir = path.join(root, 'owned');
    await writeOwnPackagesPlugin(dir, 'owned');
    await chmodTree(dir);
    const before = await snapshot(dir);
    const cacheDir = path.join(root, 'cache');

    const plugin = await loadPlugin(dir, { cacheDir });
    expect(await answer(plugin.logic, 'hi')).toEqual([ownPackagesAnswer('hi')]);
    expect(await snapshot(dir)).toEqual(before);

    // One folder for the plugin, private; its bundle imports the files Node resolves from the plugin folder.
    const folder = cacheFolderOf(cacheDir, dir);
    expect(await readdir(cacheDir)).toEqual([path.basename(folder)]);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    const [bundle] = await readdir(folder);
    expect(bundle).toMatch(/^logic\.[0-9a-f]{10}\.mjs$/);
    expect((await stat(path.join(folder, bundle ?? ''))).mode & 0o777).toBe(0o600);
    const code = await readFile(path.join(folder, bundle ?? ''), 'utf8');
    const url = (file: string): string => pathToFileURL(path.join(dir, 'node_modules', file)).href;
    expect(code).toContain(`import { shout } from "${url('neko-esm/esm.mjs')}";`);
    expect(code).toContain(`import { tail } from "${url('neko-esm/tail.mjs')}";`);
    expect(code).toContain(`import greet from "${url('neko-cjs/main.js')}";`);
    expect(code).toContain('import { createHash } from "node:crypto";');
    expect(code).toContain('import path from "path";');
  });

  it('gives plugin folders of the same name their own cache folders', async () => {
    const root = await tempDir();
    const cacheDir = path.join(root, 'cache');
    const logic = (text: string): string =>
      `export class Logic { recv(ctx: { send(s: string): boolean }): void { ctx.send('${text}'); } }\n`;
    const spec = '$name {"chat"};\n$greet {"chat"};\n$logic {"logic"};\n$version {"1.0.0"};\n';
    for (const team of ['red', 'blue']) {
      await mkdir(path.join(root, team, 'chat'), { recursive: true });
      await writeFile(path.join(root, team, 'chat', 'spec.conf'), spec);
      await writeFile(path.join(root, team, 'chat', 'logic.ts'), logic(team));
    }
    const red = await loadPlugin(path.join(root, 'red', 'chat'), { cacheDir });
    const blue = await loadPlugin(path.join(root, 'blue', 'chat'), { cacheDir });
    expect(await answer(red.logic, '')).toEqual(['red']);
    expect(await answer(blue.logic, '')).toEqual(['blue']);
    const folders = (await readdir(cacheDir)).sort();
    expect(folders).toHaveLength(2);
    expect(folders.every((name) => /^chat-[0-9a-f]{8}$/.test(name))).toBe(true);
    // Loading red again keeps blue's build: stale builds are removed per plugin folder.
    await loadPlugin(path.join(root, 'red', 'chat'), { cacheDir });
    expect(await readdir(cacheFolderOf(cacheDir, path.join(root, 'blue', 'chat')))).toHaveLength(1);
  });

  it('names a package that cannot be resolved, at its import in the plugin file', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'missing');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'spec.conf'),
      '$name {"m"};\n$greet {"m"};\n$logic {"logic"};\n$version {"1"};\n',
    );
    await writeFile(
      path.join(dir, 'logic.ts'),
      "import { x } from './local.js';\nimport { nope } from 'neko-not-installed/sub';\nexport class Logic { recv(): void { void nope; void x; } }\n",
    );
    await writeFile(path.join(dir, 'local.ts'), 'export const x = 1;\n');
    const err = await loadPlugin(dir, { cacheDir: path.join(root, 'cache') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NekoError);
    const error = err as NekoError;
    const file = path.join(dir, 'logic.ts');
    expect(error.code).toBe('NEKO_ERR_PLUGIN_TRANSPILE');
    expect(error.message).toBe(
      `cannot transpile ${file}: cannot resolve the import "neko-not-installed/sub" from ${file}: ` +
        `no such package in the node_modules folders from ${dir} up`,
    );
    expect(error.location).toEqual({ file, line: 2, column: 22 });
    expect(error.hint).toBe(
      `install the package where the source can import it (npm install in ${dir} or a folder above it), or fix the import`,
    );
  });

  it('gives each source file its own import.meta, so a plugin reads the files beside its source', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'assets');
    await mkdir(path.join(dir, 'lib'), { recursive: true });
    await writeFile(
      path.join(dir, 'spec.conf'),
      '$name {"a"};\n$greet {"a"};\n$logic {"logic"};\n$version {"1"};\n',
    );
    await writeFile(path.join(dir, 'motd.txt'), 'welcome');
    await writeFile(path.join(dir, 'lib', 'words.txt'), 'neko');
    await writeFile(
      path.join(dir, 'lib', 'words.ts'),
      [
        "import { readFileSync } from 'node:fs';",
        "export const word = readFileSync(new URL('./words.txt', import.meta.url), 'utf8');",
        'export const where = [import.meta.dirname, import.meta.filename];',
      ].join('\n'),
    );
    await writeFile(
      path.join(dir, 'logic.ts'),
      [
        "import { readFileSync } from 'node:fs';",
        "import path from 'node:path';",
        "import { word, where } from './lib/words.js';",
        "const motd = readFileSync(path.join(import.meta.dirname, 'motd.txt'), 'utf8');",
        'export class Logic {',
        '  recv(ctx: { send(s: string): boolean }): void {',
        "    ctx.send([motd, word, import.meta.url, import.meta.filename, ...where].join('|'));",
        '  }',
        '}',
      ].join('\n'),
    );
    await chmodTree(dir);
    const plugin = await loadPlugin(dir, { cacheDir: path.join(root, 'cache') });
    const logic = path.join(dir, 'logic.ts');
    expect(await answer(plugin.logic, '')).toEqual([
      [
        'welcome',
        'neko',
        pathToFileURL(logic).href,
        logic,
        path.join(dir, 'lib'),
        path.join(dir, 'lib', 'words.ts'),
      ].join('|'),
    ]);
  });

  it("bundles the plugin's own sources imported through a tsconfig paths alias", async () => {
    const root = await tempDir();
    const dir = path.join(root, 'aliased');
    await mkdir(path.join(dir, 'src', 'lib'), { recursive: true });
    await writeFile(
      path.join(dir, 'spec.conf'),
      '$name {"al"};\n$greet {"al"};\n$logic {"logic"};\n$version {"1"};\n',
    );
    await writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '@lib/*': ['src/lib/*'] } } }),
    );
    await writeFile(
      path.join(dir, 'src', 'lib', 'greet.ts'),
      "export const greet = (n: string): string => 'hi ' + n;\n",
    );
    await writeFile(
      path.join(dir, 'logic.ts'),
      "import { greet } from '@lib/greet';\nexport class Logic { recv(ctx: { send(s: string): boolean }): void { ctx.send(greet('neko')); } }\n",
    );
    const cacheDir = path.join(root, 'cache');
    const plugin = await loadPlugin(dir, { cacheDir });
    expect(await answer(plugin.logic, '')).toEqual(['hi neko']);
    const [bundle] = await readdir(cacheFolderOf(cacheDir, dir));
    expect(await readFile(path.join(cacheFolderOf(cacheDir, dir), bundle ?? ''), 'utf8')).not.toContain(
      'greet.ts"',
    );
  });

  it('locates an error on the first line of a file that reads import.meta at its own column', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'first-line');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'spec.conf'),
      '$name {"f"};\n$greet {"f"};\n$logic {"logic"};\n$version {"1"};\n',
    );
    await writeFile(
      path.join(dir, 'logic.ts'),
      'const here = import.meta.url; const broken = ;\nexport class Logic { recv(): void {} }\n',
    );
    const err = await loadPlugin(dir, { cacheDir: path.join(root, 'cache') }).catch((e: unknown) => e);
    expect((err as NekoError).code).toBe('NEKO_ERR_PLUGIN_TRANSPILE');
    expect((err as NekoError).location).toEqual({ file: path.join(dir, 'logic.ts'), line: 1, column: 46 });
  });

  it('leaves a dynamic import of a package that is not installed to run time, so optional packages work', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'optional');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'spec.conf'),
      '$name {"o"};\n$greet {"o"};\n$logic {"logic"};\n$version {"1"};\n',
    );
    await writeFile(
      path.join(dir, 'logic.ts'),
      [
        'export class Logic {',
        '  async recv(ctx: { send(s: string): boolean }): Promise<void> {',
        "    const extra = await import('neko-optional-extra').then(() => 'present', () => 'absent');",
        '    ctx.send(extra);',
        '  }',
        '}',
      ].join('\n'),
    );
    const plugin = await loadPlugin(dir, { cacheDir: path.join(root, 'cache') });
    expect(await answer(plugin.logic, '')).toEqual(['absent']);
  });
});

describe('where a server puts its bundles', () => {
  const typed = `export class Logic { recv(ctx: { send(s: string): boolean }): void { ctx.send('typed'); } }\n`;

  async function pluginsDir(): Promise<string> {
    const root = await tempDir('neko-cache-plugins-');
    await mkdir(path.join(root, 'typed'));
    await writeFile(
      path.join(root, 'typed', 'spec.conf'),
      '$name {"t"};\n$greet {"typed"};\n$logic {"logic"};\n$version {"1"};\n',
    );
    await writeFile(path.join(root, 'typed', 'logic.ts'), typed);
    return root;
  }

  it('in <data dir>/cache with the nedb backend, 0700', async () => {
    const plugins = await pluginsDir();
    const data = path.join(await tempDir(), 'data');
    const { port, server } = await startServer({ plugins, storage: { backend: 'nedb', dir: data } });
    expect(server.options.cacheDir).toBe(path.join(data, 'cache'));
    const client = await connectClient(port);
    expect((await client.request('typed', '')).text()).toBe('typed');
    const folder = cacheFolderOf(path.join(data, 'cache'), path.join(plugins, 'typed'));
    expect(await readdir(folder)).toEqual([expect.stringMatching(/^logic\.[0-9a-f]{10}\.mjs$/)]);
    expect((await stat(path.join(data, 'cache'))).mode & 0o777).toBe(0o700);
    expect(await readdir(path.join(plugins, 'typed'))).toEqual(['logic.ts', 'spec.conf']);
  });

  it('in the cacheDir given, whatever the backend', async () => {
    const plugins = await pluginsDir();
    const cacheDir = path.join(await tempDir(), 'bundles');
    const { port } = await startServer({ plugins, cacheDir });
    const client = await connectClient(port);
    expect((await client.request('typed', '')).text()).toBe('typed');
    expect(await readdir(cacheFolderOf(cacheDir, path.join(plugins, 'typed')))).toHaveLength(1);
  });

  it("in a temporary folder of the server's own with the memory backend, removed when it closes", async () => {
    const plugins = await pluginsDir();
    const { port, server } = await startServer({ plugins });
    expect(server.options.cacheDir).toBeUndefined();
    const client = await connectClient(port);
    expect((await client.request('typed', '')).text()).toBe('typed');
    const mine = async (): Promise<string[]> => {
      const found: string[] = [];
      for (const name of await readdir(privateTempDir())) {
        if (!name.startsWith('cache-')) continue;
        const folder = cacheFolderOf(path.join(privateTempDir(), name), path.join(plugins, 'typed'));
        if ((await readdir(folder).catch(() => [])).length > 0) found.push(folder);
      }
      return found;
    };
    const [folder] = await mine();
    expect(folder).toBeDefined();
    expect((await stat(path.dirname(folder ?? ''))).mode & 0o777).toBe(0o700);
    await client.close();
    await server.close();
    expect(await mine()).toEqual([]);
    expect(existsSync(path.dirname(folder ?? ''))).toBe(false);
  });

  it('refuses an empty cacheDir', () => {
    expect(() => createServer({ secret: 's', cacheDir: '' })).toThrow(
      expect.objectContaining({
        code: 'NEKO_ERR_CONFIG_INVALID',
        message: 'cacheDir must be a non-empty path, got ""',
      }),
    );
  });

  it('start: --cache-dir, else the config, else <data dir>/cache', async () => {
    const cwd = await tempDir();
    const env = (): NodeJS.ProcessEnv => ({ NEKOCONNECT_SECRET: 'secret' });
    const plain = await resolveStartOptions(cwd, { noConfig: true, dataDir: 'state' }, env());
    expect(plain.cacheDir).toBe(path.join(cwd, 'state', 'cache'));
    expect(plain.serverOptions.cacheDir).toBe(plain.cacheDir);
    const flagged = await resolveStartOptions(cwd, { noConfig: true, cacheDir: 'bundles' }, env());
    expect(flagged.cacheDir).toBe(path.join(cwd, 'bundles'));
    await mkdir(path.join(cwd, 'conf'));
    await writeFile(path.join(cwd, 'conf', 'nekoconnect.config.json'), '{ "cacheDir": "../var/cache" }');
    const configured = await resolveStartOptions(cwd, { config: 'conf/nekoconnect.config.json' }, env());
    expect(configured.cacheDir).toBe(path.join(cwd, 'var', 'cache'));
    const both = await resolveStartOptions(
      cwd,
      { config: 'conf/nekoconnect.config.json', cacheDir: 'bundles' },
      env(),
    );
    expect(both.cacheDir).toBe(path.join(cwd, 'bundles'));
  });
});
