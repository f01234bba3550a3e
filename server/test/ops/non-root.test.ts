/**
 * A server run as it is in production: plugin code read-only and owned by
 * root, the server an unprivileged user (`nobody`) with a data directory of
 * its own. The built package and its runtime packages are copied into a
 * temp folder that user can read (the repository may sit under a 0700 home),
 * with the plugins under it: one with packages in its own node_modules (ES
 * module and CommonJS), one importing a package of the installation's
 * node_modules. The server must serve both to a real client, write nothing
 * under the read-only tree, and keep its data directory 0700 and every file
 * in it 0600.
 *
 * The CI runs as root, which this test needs to switch users; run by
 * another user, it does what that user can: the same tree made read-only
 * with chmod (which then binds the server too), the server as that user.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/client.js';
import { REPO_ROOT, assertBuilt } from '../cli/run-cli.js';
import { ownPackagesAnswer, writeOwnPackagesPlugin } from '../plugins/own-packages.js';

const IS_ROOT = process.getuid?.() === 0;
/** The user the server runs as: nobody (65534) when the test is root, else the current user. */
const SERVER_UID = IS_ROOT ? 65534 : (process.getuid?.() ?? 0);
const SERVER_GID = IS_ROOT ? 65534 : (process.getgid?.() ?? 0);
const SECRET = 'non-root-secret-9c1d';
const SERVER_DIR = path.join(REPO_ROOT, 'server');

beforeAll(assertBuilt);

/**
 * Copies the built `nekoconnect` package into `<app>/node_modules/nekoconnect`,
 * and every package it needs at run time (dependencies and the optional ones
 * installed, transitively) from the repository's node_modules, as an
 * installation would have them.
 */
async function installPackage(app: string): Promise<void> {
  const target = path.join(app, 'node_modules', 'nekoconnect');
  await mkdir(target, { recursive: true });
  await cp(path.join(SERVER_DIR, 'dist'), path.join(target, 'dist'), { recursive: true });
  await cp(path.join(SERVER_DIR, 'package.json'), path.join(target, 'package.json'));

  const hoisted = path.join(REPO_ROOT, 'node_modules');
  const copied = new Set<string>();
  const queue: { from: string; names: string[] }[] = [
    { from: SERVER_DIR, names: await runtimeDeps(SERVER_DIR) },
  ];
  while (queue.length > 0) {
    const { from, names } = queue.shift()!;
    for (const name of names) {
      const dir = findPackage(from, name);
      if (dir === undefined) continue; // an optional package not installed on this platform
      if (path.dirname(dir) === hoisted || path.dirname(path.dirname(dir)) === hoisted) {
        if (copied.has(name)) continue;
        copied.add(name);
        await cp(dir, path.join(app, 'node_modules', name), {
          recursive: true,
          filter: (file) => !file.split(path.sep).includes('.bin'),
        });
      }
      // A package nested in another's node_modules came with it.
      queue.push({ from: dir, names: await runtimeDeps(dir) });
    }
  }
  expect(copied).toContain('esbuild');
  expect(copied).toContain('nedb-promises');
}

async function runtimeDeps(dir: string): Promise<string[]> {
  const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
}

/** Where Node would find package `name` from `dir`: `node_modules/<name>` of it or a folder above, up to the repository. */
function findPackage(dir: string, name: string): string | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    const candidate = path.join(at, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (at === REPO_ROOT || path.dirname(at) === at) return undefined;
  }
}

/** Takes write permission away from a whole tree (folders keep x, executables keep theirs). */
async function readOnly(dir: string, exact?: { dir: number; file: number }): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await readOnly(file, exact);
    else await chmod(file, exact?.file ?? (await stat(file)).mode & 0o555);
  }
  await chmod(dir, exact?.dir ?? (await stat(dir)).mode & 0o555);
}

/** Gives write permission back, so the temp tree can be removed (also when not root). */
async function writable(dir: string): Promise<void> {
  await chmod(dir, 0o755).catch(() => undefined);
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await writable(file);
    else if (!entry.isSymbolicLink()) await chmod(file, 0o644).catch(() => undefined);
  }
}

/** Every entry under `dir`: path, type, size, mode, owner and modification time. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const name of await readdir(folder)) {
      const file = path.join(folder, name);
      const info = await lstat(file);
      out.push(
        [
          path.relative(dir, file),
          info.isDirectory() ? 'd' : 'f',
          info.size,
          (info.mode & 0o7777).toString(8),
          info.uid,
          info.mtimeMs,
        ].join(' '),
      );
      if (info.isDirectory()) await walk(file);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Every folder and file under `dir` (itself included) with its mode and owner. */
async function modes(dir: string): Promise<{ path: string; dir: boolean; mode: string; uid: number }[]> {
  const out: { path: string; dir: boolean; mode: string; uid: number }[] = [];
  const walk = async (file: string): Promise<void> => {
    const info = await lstat(file);
    out.push({
      path: path.relative(path.dirname(dir), file),
      dir: info.isDirectory(),
      mode: (info.mode & 0o777).toString(8),
      uid: info.uid,
    });
    if (info.isDirectory()) for (const name of await readdir(file)) await walk(path.join(file, name));
  };
  await walk(dir);
  return out;
}

/** Starts the copied CLI as the server's user; resolves with the port once it listens. */
function startAsServerUser(
  root: string,
  args: string[],
): { child: ChildProcess; port: Promise<number>; output: () => string; exited: Promise<number | null> } {
  const cli = path.join(root, 'app', 'node_modules', 'nekoconnect', 'dist', 'cli', 'main.js');
  const command = IS_ROOT ? 'setpriv' : process.execPath;
  const argv = IS_ROOT
    ? [`--reuid=${SERVER_UID}`, `--regid=${SERVER_GID}`, '--clear-groups', process.execPath, cli, ...args]
    : [cli, ...args];
  const child = spawn(command, argv, {
    cwd: path.join(root, 'app'),
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: path.join(root, 'var'), NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" within 30 s:\n${out}`)), 30_000);
    const check = (): void => {
      const match = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the server exited before listening:\n${out}`));
    });
  });
  return { child, port, output: () => out, exited };
}

describe(`a read-only plugin tree, the server as ${IS_ROOT ? 'nobody (the test is root)' : 'the current user (chmod read-only)'}`, () => {
  it(
    'serves the plugins, writes nothing under the plugin tree, keeps its data 0700/0600',
    { timeout: 90_000 },
    async () => {
      // /tmp, not the repository nor TMPDIR: either may sit under a home only its owner can enter.
      const root = await mkdtemp(
        path.join(process.platform === 'win32' ? os.tmpdir() : '/tmp', 'neko-non-root-'),
      );
      onTestFinished(async () => {
        await writable(root);
        await rm(root, { recursive: true, force: true });
      });
      await chmod(root, 0o755);
      const app = path.join(root, 'app');
      await installPackage(app);

      // Two plugins: one with its own node_modules, one using a package of the installation's.
      const plugins = path.join(app, 'plugins');
      await writeOwnPackagesPlugin(path.join(plugins, 'owned'), 'owned');
      await mkdir(path.join(plugins, 'hoisted'));
      await writeFile(
        path.join(plugins, 'hoisted', 'spec.conf'),
        '$name {"Hoisted"}; $greet {"hoisted"}; $logic {"logic"}; $version {"1.0.0"};\n',
      );
      await writeFile(
        path.join(plugins, 'hoisted', 'logic.ts'),
        [
          "import { readFileSync } from 'node:fs';",
          "import kleur from 'kleur';",
          "import type { Context } from 'nekoconnect';",
          "const motd = readFileSync(new URL('./motd.txt', import.meta.url), 'utf8');",
          'export class Logic {',
          '  async recv(ctx: Context): Promise<void> {',
          '    await ctx.db.insert({ seen: ctx.text() });',
          '    ctx.send(`${typeof kleur.bold} ${await ctx.db.count({})} ${motd}`);',
          '  }',
          '}',
        ].join('\n'),
      );
      await writeFile(path.join(plugins, 'hoisted', 'motd.txt'), 'welcome');
      await readOnly(app);
      await readOnly(plugins, { dir: 0o555, file: 0o444 });
      const before = await snapshot(app);
      expect(before.every((line) => line.split(' ')[4] === String(process.getuid?.()))).toBe(true);

      // The server's own places: a folder it owns, where it makes its data directory; its secret file.
      const own = path.join(root, 'var');
      await mkdir(own, { mode: 0o755 });
      const secretFile = path.join(own, 'secret');
      await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
      if (IS_ROOT) {
        await chown(own, SERVER_UID, SERVER_GID);
        await chown(secretFile, SERVER_UID, SERVER_GID);
      }
      const dataDir = path.join(own, 'data');

      const server = startAsServerUser(root, [
        'start',
        'plugins',
        '--no-config',
        '--port',
        '0',
        '--no-dashboard',
        '--secret-file',
        secretFile,
        '--data-dir',
        dataDir,
      ]);
      const port = await server.port;
      expect(server.output()).toMatch(/plugins from plugins: 2 loaded, 0 failed/);
      expect(server.output()).not.toContain('NEKO_ERR_');

      const client = await connect({ host: '127.0.0.1', port, secret: SECRET });
      try {
        expect((await client.request('owned', 'hi')).text()).toBe(ownPackagesAnswer('hi'));
        // kleur from the installation's node_modules; motd.txt beside the source (import.meta.url).
        expect((await client.request('hoisted', 'a')).text()).toBe('function 1 welcome');
        expect((await client.request('hoisted', 'b')).text()).toBe('function 2 welcome');
      } finally {
        await client.close();
      }

      const whileServing = await modes(dataDir);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);

      // Nothing under the plugin tree changed: no build folder, no touched file.
      expect(await snapshot(app)).toEqual(before);

      // The data directory and everything in it (lock, data files, cache of bundles): the server user's only.
      for (const listing of [whileServing, await modes(dataDir)]) {
        for (const entry of listing) {
          expect(entry.mode, entry.path).toBe(entry.dir ? '700' : '600');
          expect(entry.uid, entry.path).toBe(SERVER_UID);
        }
      }
      const names = whileServing.map((entry) => entry.path);
      expect(names).toContain(path.join('data', 'nekoconnect.lock'));
      expect(names).toContain(path.join('data', 'hoisted.db'));
      expect(names).toContain(path.join('data', 'cache'));
      expect(
        names.filter((name) =>
          /^data\/cache\/(owned|hoisted)-[0-9a-f]{8}\/logic\.[0-9a-f]{10}\.mjs$/.test(name),
        ),
      ).toHaveLength(2);
      // The data written survived the shutdown.
      expect(await readFile(path.join(dataDir, 'hoisted.db'), 'utf8')).toContain('"seen":"b"');
    },
  );
});
