import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  CONFIG_FILE_NAMES,
  findConfigFile,
  loadConfig,
  loadConfigFile,
} from '../../src/config/load-config.js';
import { NekoError } from '../../src/errors.js';
import { cacheFolderOf, privateTempDir } from '../../src/build/bundle.js';
import { REPO_ROOT, assertBuilt } from '../cli/run-cli.js';
import { tempDir } from './cli-in-dir.js';

async function write(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
}

async function rejection(promise: Promise<unknown>): Promise<NekoError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NekoError);
  return err as NekoError;
}

describe('findConfigFile', () => {
  it('finds each name, and nothing in a folder without one', async () => {
    const dir = await tempDir();
    expect(await findConfigFile(dir)).toBeUndefined();
    for (const name of CONFIG_FILE_NAMES) {
      await writeFile(path.join(dir, name), '{}');
      expect(await findConfigFile(dir)).toBe(path.join(dir, name));
      await rm(path.join(dir, name));
    }
  });

  it('ignores a folder with a config name', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'nekoconnect.config.ts'));
    expect(await findConfigFile(dir)).toBeUndefined();
  });

  it('refuses two config files, naming both', async () => {
    const dir = await tempDir();
    await write(dir, { 'nekoconnect.config.ts': 'export default {};', 'nekoconnect.config.json': '{}' });
    const err = await rejection(findConfigFile(dir));
    expect(err.code).toBe('NEKO_ERR_CONFIG_AMBIGUOUS');
    expect(err.message).toBe(
      `2 config files in ${dir}: nekoconnect.config.ts, nekoconnect.config.json; which one is meant is unclear`,
    );
    expect(err.hint).toBe(
      'keep one of nekoconnect.config.ts, nekoconnect.config.json, or pick one with --config <file>',
    );
    // Naming one explicitly settles it.
    expect((await loadConfig(dir, { configFile: 'nekoconnect.config.json' }))?.config).toEqual({});
  });
});

describe('loadConfigFile: each format', () => {
  it('loads JSON', async () => {
    const dir = await tempDir();
    await write(dir, {
      'nekoconnect.config.json': '\uFEFF{ "port": 4000, "limits": { "maxConnections": 5 } }',
    });
    const loaded = await loadConfigFile(path.join(dir, 'nekoconnect.config.json'));
    expect(loaded).toEqual({
      file: path.join(dir, 'nekoconnect.config.json'),
      dir,
      config: { port: 4000, limits: { maxConnections: 5 } },
    });
  });

  it('bundles TypeScript into the temporary folder, never the config folder, and imports its default export', async () => {
    const dir = await tempDir();
    await write(dir, {
      'nekoconnect.config.ts': [
        "import { PORT } from './settings';",
        'interface Shape { port: number; host: string }',
        "const config: Shape = { port: PORT, host: '0.0.0.0' };",
        'export default config;',
      ].join('\n'),
      'settings.ts': 'export const PORT: number = 4001;\n',
    });
    const loaded = await loadConfigFile(path.join(dir, 'nekoconnect.config.ts'));
    expect(loaded.config).toEqual({ port: 4001, host: '0.0.0.0' });
    expect((await readdir(dir)).sort()).toEqual(['nekoconnect.config.ts', 'settings.ts']);
    const buildDir = cacheFolderOf(path.join(privateTempDir(), 'config'), dir);
    const built = await readdir(buildDir);
    expect(built).toHaveLength(1);
    expect(built[0]).toMatch(/^nekoconnect\.config\.[0-9a-f]{10}\.mjs$/);
    expect((await stat(privateTempDir())).mode & 0o777).toBe(0o700);

    // A changed config is loaded afresh, and the older build goes.
    await write(dir, { 'settings.ts': 'export const PORT: number = 4002;\n' });
    expect((await loadConfigFile(path.join(dir, 'nekoconnect.config.ts'))).config.port).toBe(4002);
    expect(await readdir(buildDir)).toHaveLength(1);
    expect((await readdir(dir)).sort()).toEqual(['nekoconnect.config.ts', 'settings.ts']);
  });

  it("resolves a config's packages from its own folder's node_modules", async () => {
    const dir = await tempDir();
    await write(dir, {
      'node_modules/neko-port/package.json': JSON.stringify({
        name: 'neko-port',
        exports: { '.': { import: './port.mjs', require: './port.cjs' } },
      }),
      'node_modules/neko-port/port.mjs': 'export const port = 4100;\n',
      'node_modules/neko-port/port.cjs': 'exports.port = 4199;\n',
      'nekoconnect.config.ts': "import { port } from 'neko-port';\nexport default { port };\n",
    });
    expect((await loadConfigFile(path.join(dir, 'nekoconnect.config.ts'))).config).toEqual({ port: 4100 });
  });

  it('loads .js (ESM without "type": "module") and .mjs', async () => {
    const dir = await tempDir();
    await write(dir, {
      'package.json': '{}',
      'nekoconnect.config.js': "export default { host: 'localhost' };\n",
      'b/nekoconnect.config.mjs': 'export default { port: 0 };\n',
    });
    expect((await loadConfigFile(path.join(dir, 'nekoconnect.config.js'))).config).toEqual({
      host: 'localhost',
    });
    expect((await loadConfigFile(path.join(dir, 'b', 'nekoconnect.config.mjs'))).config).toEqual({ port: 0 });
  });

  it("types with defineConfig imported from 'nekoconnect'", async () => {
    assertBuilt();
    // Inside the repository (in a gitignored folder), so that 'nekoconnect' resolves.
    await mkdir(path.join(REPO_ROOT, '.nekoconnect'), { recursive: true });
    const dir = await mkdtemp(path.join(REPO_ROOT, '.nekoconnect', 'config-test-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await write(dir, {
      'nekoconnect.config.ts':
        "import { defineConfig } from 'nekoconnect';\n\nexport default defineConfig({ port: 4003, limits: { maxPacketBytes: 4096 } });\n",
    });
    const loaded = await loadConfigFile(path.join(dir, 'nekoconnect.config.ts'));
    expect(loaded.config).toEqual({ port: 4003, limits: { maxPacketBytes: 4096 } });
  });

  it('resolves a relative file against cwd and names it relative to cwd in messages', async () => {
    const dir = await tempDir();
    await write(dir, { 'conf/neko.json': '{ "port": "x" }' });
    const err = await rejection(loadConfigFile(path.join('conf', 'neko.json'), dir));
    expect(err.message).toBe(
      `invalid config ${path.join('conf', 'neko.json')}: port must be a whole number from 0 to 65535, got "x"`,
    );
    expect(err.location?.file).toBe(path.join(dir, 'conf', 'neko.json'));
  });
});

describe('loadConfigFile: errors', () => {
  it('locates a JSON syntax error', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nekoconnect.config.json');
    await writeFile(file, '{\n  "port": 4000,\n  "host": localhost\n}\n');
    const err = await rejection(loadConfigFile(file, dir));
    expect(err.code).toBe('NEKO_ERR_CONFIG_LOAD');
    expect(err.message).toBe(
      'cannot parse the config file nekoconnect.config.json: Unexpected "localhost" in JSON',
    );
    expect(err.location).toEqual({ file, line: 3, column: 11 });
    expect(err.hint).toMatch(/no comments, no trailing commas/);

    await writeFile(file, '{\n  "port": 4000,\n}\n');
    const trailing = await rejection(loadConfigFile(file, dir));
    expect(trailing.message).toMatch(/trailing commas/);
    expect(trailing.location).toEqual({ file, line: 2, column: 15 });
  });

  it('locates a TypeScript syntax error', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nekoconnect.config.ts');
    await writeFile(file, 'export default {\n  port: 4000\n  host: "x",\n};\n');
    const err = await rejection(loadConfigFile(file, dir));
    expect(err.code).toBe('NEKO_ERR_CONFIG_LOAD');
    expect(err.message).toBe(`cannot transpile ${file}: Expected "}" but found "host"`);
    expect(err.location).toEqual({ file, line: 3, column: 3 });
  });

  it('locates an invalid JSON value at the value, and an unknown key at the key', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nekoconnect.config.json');
    await writeFile(file, '{\n  "port": 4000,\n  "limits": {\n    "maxPacketBytes": 3\n  }\n}\n');
    const err = await rejection(loadConfigFile(file, dir));
    expect(err.code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect(err.message).toBe(
      'invalid config nekoconnect.config.json: limits.maxPacketBytes must be a whole number from 16 to 4294967295, got 3',
    );
    expect(err.location).toEqual({ file, line: 4, column: 23 });
    expect(err.hint).toMatch(/docs\/config\.md/);

    await writeFile(file, '{\n  "port": 4000,\n  "limits": { "maxPacketByte": 30 }\n}\n');
    const unknown = await rejection(loadConfigFile(file, dir));
    expect(unknown.message).toMatch(
      /unknown limit "limits\.maxPacketByte" \(did you mean "limits\.maxPacketBytes"\?\)/,
    );
    expect(unknown.location).toEqual({ file, line: 3, column: 15 });
  });

  it('lists every problem, one per line', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nekoconnect.config.json');
    await writeFile(file, '{ "prot": 1, "host": "", "limits": { "idleTimeoutMs": -1 } }');
    const err = await rejection(loadConfigFile(file, dir));
    expect(err.message.split('\n')).toEqual([
      'invalid config nekoconnect.config.json, 3 problems:',
      expect.stringMatching(/^ {2}- unknown key "prot" \(did you mean "port"\?\)/),
      expect.stringMatching(/^ {2}- host must be a non-empty string/),
      '  - limits.idleTimeoutMs must be a whole number from 0 to 86400000, got -1',
    ]);
    expect(err.location).toEqual({ file, line: 1, column: 3 });
  });

  it('refuses a secret in a TypeScript config', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nekoconnect.config.ts');
    await writeFile(file, 'export default { secretFile: "secret.txt" };\n');
    const err = await rejection(loadConfigFile(file, dir));
    expect(err.code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect(err.message).toContain(
      '"secretFile" is not allowed in a config file: the shared secret comes only from the NEKOCONNECT_SECRET environment variable or --secret-file',
    );
    expect(err.location).toBeUndefined();

    // Nor a code frame for JSON, which would print the secret.
    const json = path.join(dir, 'neko.json');
    await writeFile(json, '{ "port": 1, "secret": "hunter2" }');
    const jsonErr = await rejection(loadConfigFile(json, dir));
    expect(jsonErr.message).toMatch(/"secret" is not allowed in a config file/);
    expect(jsonErr.location).toBeUndefined();
  });

  it('asks for the object when the default export is a function, or missing', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nekoconnect.config.ts');
    await writeFile(file, 'export default () => ({ port: 1 });\n');
    const fn = await rejection(loadConfigFile(file, dir));
    expect(fn.code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect(fn.message).toBe(
      'the default export of nekoconnect.config.ts is a function, not the config object',
    );
    expect(fn.hint).toMatch(/^export the object itself, not a function returning it/);

    await writeFile(file, 'export const config = { port: 1 };\n');
    const none = await rejection(loadConfigFile(file, dir));
    expect(none.message).toBe('the config file nekoconnect.config.ts has no default export');

    await writeFile(file, 'export default [1];\n');
    const array = await rejection(loadConfigFile(file, dir));
    expect(array.message).toMatch(/the config must be an object such as \{ port: 10390 \}, got an array$/);
  });

  it('reports a config module that throws', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'nekoconnect.config.ts');
    await writeFile(file, 'throw new Error("no config today");\nexport default {};\n');
    const err = await rejection(loadConfigFile(file, dir));
    expect(err.code).toBe('NEKO_ERR_CONFIG_LOAD');
    expect(err.message).toBe('importing the config file nekoconnect.config.ts threw: no config today');
    expect((err.cause as Error).message).toBe('no config today');
  });

  it('reports a missing file, a folder, and an unknown extension', async () => {
    const dir = await tempDir();
    const missing = await rejection(loadConfigFile('nope.json', dir));
    expect(missing.code).toBe('NEKO_ERR_CONFIG_LOAD');
    expect(missing.message).toBe('cannot read the config file nope.json: ENOENT');
    await mkdir(path.join(dir, 'folder.json'));
    const folder = await rejection(loadConfigFile('folder.json', dir));
    expect(folder.message).toBe('cannot read the config file folder.json: not a file');
    const yaml = await rejection(loadConfigFile('neko.yaml', dir));
    expect(yaml.message).toBe('cannot load the config file neko.yaml: unknown extension');
    expect(yaml.hint).toBe('a config file ends in .ts, .mts, .js, .mjs, .json');
  });

  it('loads a config from a read-only folder, writing nothing there', async () => {
    const dir = await tempDir();
    await write(dir, { 'nekoconnect.config.ts': 'export default { port: 4003 };\n' });
    await chmod(dir, 0o555);
    onTestFinished(() => chmod(dir, 0o755));
    expect((await loadConfigFile(path.join(dir, 'nekoconnect.config.ts'), dir)).config).toEqual({
      port: 4003,
    });
    expect(await readdir(dir)).toEqual(['nekoconnect.config.ts']);
  });

  it("refuses a temporary folder for bundles that is not this user's own", async () => {
    const dir = await tempDir();
    await write(dir, { 'nekoconnect.config.ts': 'export default {};\n' });
    const tmp = await tempDir();
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmp;
    onTestFinished(() => {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
    });
    const mine = privateTempDir();
    expect(path.dirname(mine)).toBe(tmp);

    // Open to other users, as someone else's planted folder could be.
    await mkdir(mine, { mode: 0o777 });
    await chmod(mine, 0o777);
    const open = await rejection(loadConfigFile(path.join(dir, 'nekoconnect.config.ts'), dir));
    expect(open.code).toBe('NEKO_ERR_CONFIG_LOAD');
    expect(open.message).toBe(
      `the folder ${mine} cannot hold this user's bundles safely: other users may use it (mode 777)`,
    );
    expect(open.hint).toBe(
      `remove ${mine} (the server makes it again, private to its user), or point TMPDIR elsewhere`,
    );

    // A link in its place.
    await rm(mine, { recursive: true });
    await symlink(await tempDir(), mine);
    const link = await rejection(loadConfigFile(path.join(dir, 'nekoconnect.config.ts'), dir));
    expect(link.message).toBe(
      `the folder ${mine} cannot hold this user's bundles safely: it is not a folder (a link or a file is in its place)`,
    );

    // Made afresh, private, once removed.
    await rm(mine);
    expect((await loadConfigFile(path.join(dir, 'nekoconnect.config.ts'), dir)).config).toEqual({});
    expect((await stat(mine)).mode & 0o777).toBe(0o700);
  });
});

describe('loadConfig', () => {
  it('uses the named file, else the one found, and none with noConfig', async () => {
    const dir = await tempDir();
    await write(dir, { 'nekoconnect.config.json': '{ "port": 1 }', 'other.json': '{ "port": 2 }' });
    expect((await loadConfig(dir))?.config.port).toBe(1);
    expect((await loadConfig(dir, { configFile: 'other.json' }))?.config.port).toBe(2);
    expect(await loadConfig(dir, { noConfig: true })).toBeUndefined();
    expect(await loadConfig(await tempDir())).toBeUndefined();
  });

  it('refuses a config file and noConfig together', async () => {
    const err = await rejection(loadConfig('.', { configFile: 'x.json', noConfig: true }));
    expect(err.code).toBe('NEKO_ERR_CLI_USAGE');
    expect(err.message).toBe('--config and --no-config contradict each other');
  });
});
