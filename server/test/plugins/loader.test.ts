import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, it, expect, onTestFinished } from 'vitest';
import { bundleLoaderForNode } from '../helpers/node-loader.js';
import { NekoError } from '../../src/errors.js';
import type { NekoErrorCode } from '../../src/errors.js';
import type { Context, Logic } from '../../src/context/context.js';
import {
  loadPlugin,
  loadPluginsDir,
  loadPluginWithSpec,
  resolveLogicFile,
} from '../../src/plugins/loader.js';
import { parseSpecText, readSpec } from '../../src/plugins/spec.js';
import { cacheFolderOf } from '../../src/build/bundle.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'plugins');
const fixture = (name: string): string => path.join(FIXTURES, name);

/** A spec.conf for a temp plugin. */
function specText(greeter: string, logic = 'logic'): string {
  return `$name {"${greeter}"};\n$greet {"${greeter}"};\n$logic {"${logic}"};\n$version {"1.0.0"};\n`;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'neko-loader-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (relative path → content) under a new temp folder and returns it. */
async function tempPlugin(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

/** Runs `promise`, expects it to reject with a NekoError of `code`, returns the error. */
async function rejection(promise: Promise<unknown>, code: NekoErrorCode): Promise<NekoError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected ${code}, but it resolved`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NekoError);
  expect((err as NekoError).code).toBe(code);
  expect((err as NekoError).hint).toEqual(expect.any(String));
  return err as NekoError;
}

/** Calls `logic.recv` with a minimal context and returns what it sent, as text. */
async function sendTo(logic: Logic, text: string, op = 0): Promise<string[]> {
  const sent: string[] = [];
  const data = Buffer.from(text);
  const ctx = {
    op,
    data,
    len: data.length,
    text: () => text,
    send: (out: Uint8Array | string) => {
      sent.push(typeof out === 'string' ? out : Buffer.from(out).toString());
      return true;
    },
  };
  await logic.recv(ctx as unknown as Context);
  return sent;
}

/** A new cache dir for a test's bundles. */
const tempCache = (): Promise<string> => tempDir();

/** The files of plugin folder `dir`'s folder in `cacheDir`: its bundles. */
async function builds(cacheDir: string, dir: string): Promise<string[]> {
  return readdir(cacheFolderOf(cacheDir, dir)).catch(() => []);
}

describe('resolveLogicFile', () => {
  it('tries <logic>.ts, then .js, then .mjs', async () => {
    const dir = await tempPlugin({
      'spec.conf': specText('order'),
      'logic.ts': '',
      'logic.js': '',
      'logic.mjs': '',
    });
    const spec = await readSpec(dir);
    expect(await resolveLogicFile(dir, spec)).toBe(path.join(dir, 'logic.ts'));
    await rm(path.join(dir, 'logic.ts'));
    expect(await resolveLogicFile(dir, spec)).toBe(path.join(dir, 'logic.js'));
    await rm(path.join(dir, 'logic.js'));
    expect(await resolveLogicFile(dir, spec)).toBe(path.join(dir, 'logic.mjs'));
  });

  it('skips a directory that has the logic name', async () => {
    const dir = await tempPlugin({ 'spec.conf': specText('dir'), 'logic.ts/x': '', 'logic.mjs': '' });
    expect(await resolveLogicFile(dir, await readSpec(dir))).toBe(path.join(dir, 'logic.mjs'));
  });

  it('lists the three paths tried, located at the $logic value', async () => {
    const dir = fixture('missing-logic-file');
    const err = await rejection(
      resolveLogicFile(dir, await readSpec(dir)),
      'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND',
    );
    expect(err.message).toBe(
      `no logic file for $logic {"main"}: tried ${path.join(dir, 'main.ts')}, ${path.join(dir, 'main.js')}, ${path.join(dir, 'main.mjs')}`,
    );
    expect(err.location).toEqual({ file: path.join(dir, 'spec.conf'), line: 3, column: 10 });
    expect(err.hint).toBe(
      `create ${path.join(dir, 'main.ts')} exporting \`class Logic\`, or fix the $logic entry`,
    );
  });

  it('hints to drop the extension when $logic has one', async () => {
    const spec = parseSpecText(specText('ext', 'logic.ts'), 'x/spec.conf');
    const err = await rejection(resolveLogicFile('x', spec), 'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND');
    expect(err.message).toBe(
      'no logic file for $logic {"logic.ts"}: tried x/logic.ts.ts, x/logic.ts.js, x/logic.ts.mjs',
    );
    expect(err.hint).toBe('write $logic without the extension, e.g. $logic {"logic"};');
  });
});

describe('loadPlugin: plugins that load', () => {
  it('loads a TypeScript plugin, bundled into its folder of the cache dir', async () => {
    const dir = fixture('good-ts');
    const cacheDir = await tempCache();
    const before = Date.now();
    const plugin = await loadPlugin(dir, { cacheDir });
    expect(plugin.dir).toBe(dir);
    expect(plugin.logicFile).toBe(path.join(dir, 'logic.ts'));
    expect(plugin.spec).toMatchObject({
      name: 'Good TS',
      greeter: 'good-ts',
      logic: 'logic',
      version: '1.0.0',
    });
    expect(plugin.loadedAt).toBeGreaterThanOrEqual(before);
    expect(plugin.loadedAt).toBeLessThanOrEqual(Date.now());
    expect(await sendTo(plugin.logic, 'hello')).toEqual(['hello']);
    expect(await sendTo(plugin.logic, 'hello', 1)).toEqual(['HELLO']);

    const built = await builds(cacheDir, dir);
    expect(built).toHaveLength(1);
    expect(built[0]).toMatch(/^logic\.[0-9a-f]{10}\.mjs$/);
    expect(await readdir(cacheDir)).toEqual([path.basename(cacheFolderOf(cacheDir, dir))]);
    expect(path.basename(cacheFolderOf(cacheDir, dir))).toMatch(/^good-ts-[0-9a-f]{8}$/);
    const code = await readFile(path.join(cacheFolderOf(cacheDir, dir), built[0] ?? ''), 'utf8');
    expect(code).toContain('//# sourceMappingURL=data:application/json;base64,');
  });

  it('loads a .js logic file named by $logic, without building it', async () => {
    const dir = fixture('good-js');
    const cacheDir = await tempCache();
    const plugin = await loadPlugin(dir, { cacheDir });
    expect(plugin.logicFile).toBe(path.join(dir, 'main.js'));
    expect(await sendTo(plugin.logic, 'ping')).toEqual(['pong']);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('loads a .mjs logic file', async () => {
    const plugin = await loadPlugin(fixture('good-mjs'));
    expect(plugin.logicFile).toBe(path.join(fixture('good-mjs'), 'logic.mjs'));
    expect(await sendTo(plugin.logic, 'x')).toEqual(['mjs']);
  });

  it('bundles sibling .ts files a logic file imports', async () => {
    const plugin = await loadPlugin(fixture('good-multi-file'));
    expect(await sendTo(plugin.logic, 'hi')).toEqual(['HI!']);
  });

  it('imports a package by the file Node resolves from the plugin folder (a hoisted package here)', async () => {
    const dir = fixture('good-bare-import');
    const cacheDir = await tempCache();
    const plugin = await loadPlugin(dir, { cacheDir });
    expect(await sendTo(plugin.logic, 'x')).toEqual(['function']);
    const [built] = await builds(cacheDir, dir);
    const code = await readFile(path.join(cacheFolderOf(cacheDir, dir), built ?? ''), 'utf8');
    // The repository's node_modules, found from the fixture's folder up; kleur's `exports` give
    // index.mjs to `import` and index.js to `require`.
    const required = createRequire(path.join(dir, 'logic.ts')).resolve('kleur');
    expect(path.basename(required)).toBe('index.js');
    const imported = pathToFileURL(path.join(path.dirname(required), 'index.mjs')).href;
    expect(code).toContain(`import kleur from "${imported}";`);
  });

  it('accepts a recv inherited from a base class', async () => {
    const plugin = await loadPlugin(fixture('inherited-recv'));
    expect(await sendTo(plugin.logic, 'x')).toEqual(['base']);
  });

  it('loadPluginWithSpec skips reading spec.conf', async () => {
    const dir = fixture('good-ts');
    const spec = parseSpecText(specText('other-greeter'), 'elsewhere/spec.conf');
    const plugin = await loadPluginWithSpec(dir, spec);
    expect(plugin.spec).toBe(spec);
    expect(plugin.logicFile).toBe(path.join(dir, 'logic.ts'));
  });
});

describe('loadPlugin: hot reload', () => {
  it('gets fresh code when the logic file changed, and keeps one build', async () => {
    const dir = await tempPlugin({
      'spec.conf': specText('reload'),
      'logic.ts': `export class Logic { recv(ctx: { send(s: string): boolean }): void { ctx.send('v1'); } }\n`,
    });
    const cacheDir = await tempCache();
    const first = await loadPlugin(dir, { cacheDir });
    expect(await sendTo(first.logic, 'x')).toEqual(['v1']);

    await writeFile(
      path.join(dir, 'logic.ts'),
      `export class Logic { recv(ctx: { send(s: string): boolean }): void { ctx.send('v2'); } }\n`,
    );
    const second = await loadPlugin(dir, { cacheDir });
    expect(await sendTo(second.logic, 'x')).toEqual(['v2']);
    expect(await sendTo(first.logic, 'x')).toEqual(['v1']);
    expect(await builds(cacheDir, dir)).toHaveLength(1);
  });

  it('evaluates the module again even when the code did not change', async () => {
    const key = `nekoLoaderTest${process.pid}${Date.now()}`;
    const dir = await tempPlugin({
      'spec.conf': specText('same'),
      'logic.ts': [
        `const g = globalThis as Record<string, unknown>;`,
        `g['${key}'] = ((g['${key}'] as number | undefined) ?? 0) + 1;`,
        `export class Logic { recv(): void {} }`,
      ].join('\n'),
    });
    const g = globalThis as Record<string, unknown>;
    onTestFinished(() => {
      delete g[key];
    });
    const cacheDir = await tempCache();
    const first = await loadPlugin(dir, { cacheDir });
    const second = await loadPlugin(dir, { cacheDir });
    expect(g[key]).toBe(2);
    expect(first.logic.constructor).not.toBe(second.logic.constructor);
    expect(await builds(cacheDir, dir)).toHaveLength(1);
  });

  it('does not rewrite a build that exists, and removes only stale builds of this logic', async () => {
    const dir = await tempPlugin({
      'spec.conf': specText('stale'),
      'logic.ts': 'export class Logic { recv(): void {} }\n',
    });
    const cacheDir = await tempCache();
    const folder = cacheFolderOf(cacheDir, dir);
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'logic.0123456789.mjs'), 'stale');
    await writeFile(path.join(folder, 'other.0123456789.mjs'), 'another logic name');
    await writeFile(path.join(folder, 'notes.txt'), 'kept');
    await loadPlugin(dir, { cacheDir });
    const after = await builds(cacheDir, dir);
    const current = after.find(
      (name) => /^logic\.[0-9a-f]{10}\.mjs$/.test(name) && name !== 'logic.0123456789.mjs',
    );
    expect(after.sort()).toEqual([current, 'notes.txt', 'other.0123456789.mjs'].sort());

    const file = path.join(folder, current ?? '');
    const { mtimeMs } = await stat(file);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await loadPlugin(dir, { cacheDir });
    expect((await stat(file)).mtimeMs).toBe(mtimeMs);
  });

  it('reloads a .js logic file too', async () => {
    const dir = await tempPlugin({
      'spec.conf': specText('reload-js'),
      'logic.mjs': `export class Logic { recv(ctx) { ctx.send('v1'); } }\n`,
    });
    expect(await sendTo((await loadPlugin(dir)).logic, 'x')).toEqual(['v1']);
    await writeFile(path.join(dir, 'logic.mjs'), `export class Logic { recv(ctx) { ctx.send('v2'); } }\n`);
    expect(await sendTo((await loadPlugin(dir)).logic, 'x')).toEqual(['v2']);
  });
});

describe('loadPlugin: errors', () => {
  it('passes spec.conf errors through', async () => {
    const dir = fixture('bad-spec');
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_SPEC_SYNTAX');
    expect(err.message).toBe(`expected '{' after $greet, found '"'`);
    expect(err.location).toEqual({ file: path.join(dir, 'spec.conf'), line: 2, column: 8 });
  });

  it('reports a folder without spec.conf', async () => {
    const dir = await tempPlugin({ 'logic.ts': '' });
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_SPEC_READ');
    expect(err.message).toContain(path.join(dir, 'spec.conf'));
  });

  it('reports a missing logic file', async () => {
    await rejection(loadPlugin(fixture('missing-logic-file')), 'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND');
  });

  it('reports a TypeScript syntax error at its position in the logic file', async () => {
    const dir = await tempPlugin({
      'spec.conf': specText('syntax'),
      'logic.ts': 'export class Logic {\n  recv(): void {\n    const x = 1 +;\n  }\n}\n',
    });
    const cacheDir = await tempCache();
    const err = await rejection(loadPlugin(dir, { cacheDir }), 'NEKO_ERR_PLUGIN_TRANSPILE');
    expect(err.message).toBe(`cannot transpile ${path.join(dir, 'logic.ts')}: Unexpected ";"`);
    expect(err.location).toEqual({ file: path.join(dir, 'logic.ts'), line: 3, column: 18 });
    expect(err.hint).toBe(
      'fix the error at this location; the logic file and the files it imports must be valid TypeScript',
    );
    expect(err.cause).toMatchObject({ errors: [expect.objectContaining({ text: 'Unexpected ";"' })] });
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('reports an error in an imported sibling file at its position in that file', async () => {
    const dir = await tempPlugin({
      'spec.conf': specText('sibling'),
      'logic.ts': `import { n } from './lib/helper.js';\nexport class Logic { recv(): number { return n; } }\n`,
      'lib/helper.ts': 'export const n: number = ;\n',
    });
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_TRANSPILE');
    expect(err.message).toBe(`cannot transpile ${path.join(dir, 'logic.ts')}: Unexpected ";"`);
    expect(err.location).toEqual({ file: path.join(dir, 'lib', 'helper.ts'), line: 1, column: 26 });
  });

  it('reports an import that does not resolve, and counts further errors', async () => {
    const dir = await tempPlugin({
      'spec.conf': specText('unresolved'),
      'logic.ts': `import { a } from './nope.js';\nimport { b } from './nada.js';\nexport class Logic { recv(): string { return a + b; } }\n`,
    });
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_TRANSPILE');
    expect(err.message).toBe(
      `cannot transpile ${path.join(dir, 'logic.ts')}: Could not resolve "./nope.js" (and 1 more error)`,
    );
    expect(err.location).toEqual({ file: path.join(dir, 'logic.ts'), line: 1, column: 19 });
  });

  it('reports a cache dir it cannot write', async () => {
    const dir = await tempPlugin({
      'spec.conf': specText('unwritable'),
      'logic.ts': 'export class Logic { recv(): void {} }\n',
    });
    // A file where the cache dir should be makes mkdir fail.
    const cacheDir = path.join(await tempDir(), 'cache');
    await writeFile(cacheDir, 'not a folder');
    const err = await rejection(loadPlugin(dir, { cacheDir }), 'NEKO_ERR_PLUGIN_TRANSPILE');
    expect(err.message).toMatch(
      new RegExp(
        `^cannot write the transpiled ${escape(path.join(dir, 'logic.ts'))} to ${escape(cacheFolderOf(cacheDir, dir))}/logic\\.[0-9a-f]{10}\\.mjs: `,
      ),
    );
    expect(err.hint).toBe(
      `the server needs write access to its cache dir ${cacheDir}; give it another with --cache-dir <dir>`,
    );
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('reports a module whose top level throws, with the error as cause', async () => {
    const dir = fixture('throws-on-import');
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_IMPORT');
    expect(err.message).toBe(`importing ${path.join(dir, 'logic.ts')} threw: logic module failed on purpose`);
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as Error).message).toBe('logic module failed on purpose');
  });

  it('reports a JavaScript logic file that does not parse as an import error', async () => {
    const dir = await tempPlugin({ 'spec.conf': specText('bad-js'), 'logic.mjs': 'export class Logic {\n' });
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_IMPORT');
    expect(err.message).toMatch(new RegExp(`^importing ${escape(path.join(dir, 'logic.mjs'))} threw: `));
    // Node reports a SyntaxError; under vitest the import goes through Vite, which wraps it.
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('reports a module without a Logic export', async () => {
    const dir = fixture('no-logic-export');
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT');
    expect(err.message).toBe(
      `${path.join(dir, 'logic.ts')} does not export a class named Logic (it exports Logics, version)`,
    );
  });

  it('reports a module with only a default export', async () => {
    const dir = fixture('default-export-only');
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT');
    expect(err.message).toBe(
      `${path.join(dir, 'logic.ts')} has only a default export; the server needs a named export Logic`,
    );
    expect(err.hint).toBe('write `export class Logic { … }` instead of `export default class …`');
  });

  it('reports a Logic export that is not a class', async () => {
    const dir = fixture('logic-not-class');
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT');
    expect(err.message).toBe(`${path.join(dir, 'logic.ts')} exports Logic as an object, not a class`);
  });

  it('reports a Logic class without recv', async () => {
    const dir = fixture('no-recv');
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_NO_RECV');
    expect(err.message).toBe(`the Logic class of ${path.join(dir, 'logic.ts')} has no recv method`);
  });

  it('does not count a recv class field as a method', async () => {
    const err = await rejection(loadPlugin(fixture('recv-field')), 'NEKO_ERR_PLUGIN_NO_RECV');
    expect(err.hint).toBe(
      'add a method `async recv(ctx: Context) { … }` to the Logic class (a method, not a class field)',
    );
  });

  it('reports a constructor that throws, with the error as cause', async () => {
    const dir = fixture('ctor-throws');
    const err = await rejection(loadPlugin(dir), 'NEKO_ERR_PLUGIN_CONSTRUCT');
    expect(err.message).toBe(`new Logic() in ${path.join(dir, 'logic.ts')} threw: no database configured`);
    expect((err.cause as Error).message).toBe('no database configured');
  });
});

describe('loadPluginsDir', () => {
  it('loads every plugin folder, in name order, and collects the failures', async () => {
    const { plugins, failures } = await loadPluginsDir(FIXTURES);
    expect(plugins.map((p) => path.basename(p.dir))).toEqual([
      'good-bare-import',
      'good-js',
      'good-mjs',
      'good-multi-file',
      'good-ts',
      'inherited-recv',
    ]);
    expect(failures.map((f) => [path.basename(f.dir), f.error.code, f.spec?.greeter])).toEqual([
      ['bad-spec', 'NEKO_ERR_SPEC_SYNTAX', undefined],
      ['ctor-throws', 'NEKO_ERR_PLUGIN_CONSTRUCT', 'ctor-throws'],
      ['default-export-only', 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT', 'default-export-only'],
      ['logic-not-class', 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT', 'logic-not-class'],
      ['missing-logic-file', 'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND', 'missing-logic-file'],
      ['no-logic-export', 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT', 'no-logic-export'],
      ['no-recv', 'NEKO_ERR_PLUGIN_NO_RECV', 'no-recv'],
      ['recv-field', 'NEKO_ERR_PLUGIN_NO_RECV', 'recv-field'],
      ['throws-on-import', 'NEKO_ERR_PLUGIN_IMPORT', 'throws-on-import'],
    ]);
    expect(failures.every((f) => f.error instanceof NekoError)).toBe(true);
    expect(plugins[0]?.dir).toBe(fixture('good-bare-import'));
  });

  it('serves none of the folders that declare one greeter, and names them all', async () => {
    const root = fixture('duplicates');
    const { plugins, failures } = await loadPluginsDir(root);
    expect(plugins.map((p) => p.dir)).toEqual([path.join(root, 'solo')]);
    const message = `greeter "dup" is declared by ${path.join(root, 'dup-a')}, ${path.join(root, 'dup-b')} and ${path.join(root, 'dup-c')}`;
    expect(failures).toHaveLength(3);
    for (const [i, name] of ['dup-a', 'dup-b', 'dup-c'].entries()) {
      const failure = failures[i];
      expect(failure?.dir).toBe(path.join(root, name));
      expect(failure?.spec?.greeter).toBe('dup');
      expect(failure?.error.code).toBe('NEKO_ERR_PLUGIN_DUPLICATE_GREETER');
      expect(failure?.error.message).toBe(message);
      expect(failure?.error.location).toEqual({
        file: path.join(root, name, 'spec.conf'),
        line: 2,
        column: 10,
      });
      expect(failure?.error.hint).toBe(
        'give each plugin its own $greet, or remove all but one of these folders',
      );
    }
  });

  it('names two duplicates with "and", and never runs their logic', async () => {
    const key = `nekoDupTest${process.pid}${Date.now()}`;
    const logic = `(globalThis as Record<string, unknown>)['${key}'] = true;\nexport class Logic { recv(): void {} }\n`;
    const root = await tempPlugin({
      'a/spec.conf': specText('same'),
      'a/logic.ts': logic,
      'b/spec.conf': specText('same'),
      'b/logic.ts': logic,
    });
    const { plugins, failures } = await loadPluginsDir(root);
    expect(plugins).toEqual([]);
    expect(failures.map((f) => f.error.message)).toEqual([
      `greeter "same" is declared by ${path.join(root, 'a')} and ${path.join(root, 'b')}`,
      `greeter "same" is declared by ${path.join(root, 'a')} and ${path.join(root, 'b')}`,
    ]);
    expect((globalThis as Record<string, unknown>)[key]).toBeUndefined();
  });

  it('skips dot folders, node_modules, folders without spec.conf, and files; follows symlinks', async () => {
    const good = 'export class Logic { recv(): void {} }\n';
    const root = await tempPlugin({
      'b/spec.conf': specText('b'),
      'b/logic.ts': good,
      'a/spec.conf': specText('a'),
      'a/logic.ts': good,
      'C/spec.conf': specText('c'),
      'C/logic.ts': good,
      '.hidden/spec.conf': specText('hidden'),
      'node_modules/spec.conf': specText('nm'),
      'no-spec/logic.ts': good,
      'spec-is-dir/spec.conf/x': '',
      'README.md': '# plugins\n',
    });
    const elsewhere = await tempPlugin({ 'spec.conf': specText('linked'), 'logic.ts': good });
    await symlink(elsewhere, path.join(root, 'linked'));

    const { plugins, failures } = await loadPluginsDir(root);
    expect(failures).toEqual([]);
    expect(plugins.map((p) => path.basename(p.dir))).toEqual(['C', 'a', 'b', 'linked']);
    expect(plugins.map((p) => p.spec.greeter)).toEqual(['c', 'a', 'b', 'linked']);
  });

  it('returns empty lists for an empty folder', async () => {
    expect(await loadPluginsDir(await tempDir())).toEqual({ plugins: [], failures: [] });
  });

  it('throws NEKO_ERR_PLUGINS_DIR for a missing folder or a file', async () => {
    const root = await tempDir();
    const missing = path.join(root, 'nope');
    const err = await rejection(loadPluginsDir(missing), 'NEKO_ERR_PLUGINS_DIR');
    expect(err.message).toBe(
      `cannot read the plugins directory ${missing}: ENOENT: no such file or directory, scandir '${missing}'`,
    );
    expect(err.cause).toMatchObject({ code: 'ENOENT' });

    const file = path.join(root, 'file');
    await writeFile(file, '');
    const notDir = await rejection(loadPluginsDir(file), 'NEKO_ERR_PLUGINS_DIR');
    expect(notDir.cause).toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('loadPluginsDir under plain Node', () => {
  // Under vitest, the loader's import() goes through Vite's module runner. This
  // runs the loader, bundled, in a child Node process: the path production takes.
  it('imports with Node itself: fresh modules per load, bare imports, source maps', async () => {
    const work = await bundleLoaderForNode('loader-smoke-');
    await writeFile(
      path.join(work, 'main.mjs'),
      `import { loadPlugin, loadPluginsDir } from './loader.mjs';
const [fixtures] = process.argv.slice(2);
const { plugins, failures } = await loadPluginsDir(fixtures);
const replies = {};
for (const p of plugins) {
  const sent = [];
  const ctx = { op: 0, data: Buffer.from('hi'), len: 2, text: () => 'hi', send: (s) => sent.push(String(s)) };
  await p.logic.recv(ctx);
  replies[p.spec.greeter] = sent;
}
const again = await loadPlugin(plugins[0].dir);
const thrown = failures.find((f) => f.error.code === 'NEKO_ERR_PLUGIN_IMPORT');
console.log(JSON.stringify({
  replies,
  failures: failures.map((f) => f.error.code),
  fresh: again.logic.constructor !== plugins[0].logic.constructor,
  importCause: thrown.error.cause.stack,
}));
`,
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--enable-source-maps', path.join(work, 'main.mjs'), FIXTURES],
      { timeout: 15_000 },
    );
    const result = JSON.parse(stdout) as {
      replies: Record<string, string[]>;
      failures: string[];
      fresh: boolean;
      importCause: string;
    };
    expect(result.replies).toEqual({
      'good-bare-import': ['function'],
      'good-js': ['pong'],
      'good-mjs': ['mjs'],
      'good-multi-file': ['HI!'],
      'good-ts': ['hi'],
      'inherited-recv': ['base'],
    });
    expect(result.failures).toHaveLength(9);
    expect(result.fresh).toBe(true);
    // The inline source map points the stack at the TypeScript source.
    expect(result.importCause).toContain(`${path.join(FIXTURES, 'throws-on-import', 'logic.ts')}:6:7`);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
