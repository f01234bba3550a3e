/**
 * A start-up with no side effects before it can serve: ports bound and TLS
 * material checked before the data directory is locked or a data file
 * opened; one server per data directory; --require-plugins.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/client.js';
import { makeCertificate } from '../../../scripts/test-support/tls.js';
import { LOGIC, makePluginsDir } from '../helpers/plugins.js';
import { REPO_ROOT, assertBuilt, runCli, startCli } from './run-cli.js';

const PLUGINS = join(REPO_ROOT, 'plugins');
const SECRET = { NEKOCONNECT_SECRET: 'startup-secret' };

beforeAll(assertBuilt);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neko-startup-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under a folder (by relative path) with the sha256 of its bytes. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    out[relative(dir, file)] = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  }
  return out;
}

/** Starts a server on the example plugins and writes a todo item, so its data dir has data files. */
async function runningServer(dataDir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const cli = startCli(['start', PLUGINS, '--port', '0', '--data-dir', dataDir], SECRET);
  const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
  const client = await connect({ secret: SECRET.NEKOCONNECT_SECRET, port: Number(port) });
  await client.request('todo', JSON.stringify({ title: 'kept as it is' }), { op: 1 });
  await client.close();
  return {
    port: Number(port),
    stop: async () => {
      cli.child.kill('SIGTERM');
      expect((await cli.exited).code).toBe(0);
    },
  };
}

describe('one server per data directory', () => {
  it('refuses a second server on a data directory in use, naming the first, and leaves its files byte-identical', async () => {
    const dataDir = await tempDir();
    const first = await runningServer(dataDir);
    const lock = JSON.parse(await readFile(join(dataDir, 'nekoconnect.lock'), 'utf8')) as {
      pid: number;
      hostname: string;
      startedAt: string;
    };
    expect(lock.hostname).toBe(hostname());
    expect(Number.isNaN(Date.parse(lock.startedAt))).toBe(false);
    const before = await snapshot(dataDir);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['todo.db', 'nekoconnect.lock']));

    const second = await runCli(['start', PLUGINS, '--port', '0', '--data-dir', dataDir], SECRET);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('NEKO_ERR_STORAGE_LOCKED');
    expect(second.stderr).toContain(`pid ${lock.pid}`);
    expect(second.stdout).not.toMatch(/loaded|listening/);
    expect(await snapshot(dataDir)).toEqual(before);

    await first.stop();
    // The lock goes with the server.
    expect((await readdir(dataDir)).includes('nekoconnect.lock')).toBe(false);
  });

  it("fails on a port in use before touching a running server's data directory", async () => {
    const dataDir = await tempDir();
    const first = await runningServer(dataDir);
    const before = await snapshot(dataDir);
    const second = await runCli(
      ['start', PLUGINS, '--port', String(first.port), '--data-dir', dataDir],
      SECRET,
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('NEKO_ERR_SERVER_LISTEN');
    expect(second.stderr).not.toContain('NEKO_ERR_STORAGE_LOCKED');
    expect(await snapshot(dataDir)).toEqual(before);
    await first.stop();
  });

  it('reports a plugins directory that cannot be read before the lock (exit 2)', async () => {
    const dataDir = await tempDir();
    const first = await runningServer(dataDir);
    const missing = join(dataDir, 'no-plugins-here');
    const second = await runCli(['start', missing, '--port', '0', '--data-dir', dataDir], SECRET);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('NEKO_ERR_PLUGINS_DIR');
    expect(second.stderr).toContain(missing);
    expect(second.stderr).not.toContain('NEKO_ERR_STORAGE_LOCKED');
    await first.stop();
  });

  it('takes over a stale lock left by a process that is gone', async () => {
    const dataDir = await tempDir();
    // A pid that existed and exited: its lock is stale.
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(
      join(dataDir, 'nekoconnect.lock'),
      JSON.stringify({ pid: gone, hostname: hostname(), startedAt: new Date(0).toISOString() }),
    );
    const cli = startCli(['start', PLUGINS, '--port', '0', '--data-dir', dataDir], SECRET);
    await cli.waitFor(/listening on/);
    const lock = JSON.parse(await readFile(join(dataDir, 'nekoconnect.lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(cli.child.pid);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });
});

describe('--require-plugins', () => {
  it('stops with exit 1 and NEKO_ERR_PLUGINS_REQUIRED when a plugin fails, and serves without it', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'echo', logic: LOGIC.echo },
      {
        greeter: 'broken',
        logic: 'export class Logic { constructor() { throw new Error("nope"); } recv() {} }\n',
      },
    ]);
    const required = await runCli(['start', plugins, '--port', '0', '--require-plugins'], SECRET);
    expect(required.code).toBe(1);
    expect(required.stderr).toContain('NEKO_ERR_PLUGIN_CONSTRUCT');
    expect(required.stderr).toContain('NEKO_ERR_PLUGINS_REQUIRED');
    expect(required.stdout).not.toContain('listening on');

    const lenient = startCli(['start', plugins, '--port', '0'], SECRET);
    await lenient.waitFor(/listening on/);
    expect(lenient.stdout()).toMatch(/1 loaded/);
  });

  it('is read from the config file as requirePlugins, which must be a boolean', async () => {
    const dir = await tempDir();
    const config = join(dir, 'nekoconnect.config.json');
    await writeFile(config, JSON.stringify({ requirePlugins: 'yes' }));
    const bad = await runCli(['start', PLUGINS, '--port', '0', '--config', config], SECRET);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('requirePlugins must be true or false');
  });
});

describe('TLS material is checked before anything is bound or written', () => {
  it('gives a coded error for a swapped key and certificate, a certificate that is not one, and a mismatch', async () => {
    const dir = await tempDir();
    const one = await makeCertificate();
    const other = await makeCertificate();
    const files = {
      key: join(dir, 'key.pem'),
      cert: join(dir, 'cert.pem'),
      otherKey: join(dir, 'other-key.pem'),
      junk: join(dir, 'junk.pem'),
    };
    await writeFile(files.key, one.key);
    await writeFile(files.cert, one.cert);
    await writeFile(files.otherKey, other.key);
    await writeFile(
      files.junk,
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    );
    const dataDir = join(dir, 'data');
    const start = (key: string, cert: string): ReturnType<typeof runCli> =>
      runCli(
        ['start', PLUGINS, '--port', '0', '--data-dir', dataDir, '--tls-key', key, '--tls-cert', cert],
        SECRET,
      );

    const swapped = await start(files.cert, files.key);
    expect(swapped.code).toBe(2);
    expect(swapped.stderr).toContain('NEKO_ERR_CONFIG_TLS_KEY');
    expect(swapped.stderr).toContain(files.cert);

    const junk = await start(files.key, files.junk);
    expect(junk.code).toBe(2);
    expect(junk.stderr).toContain('NEKO_ERR_CONFIG_TLS_CERT');

    const mismatch = await start(files.otherKey, files.cert);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain('NEKO_ERR_CONFIG_TLS_MISMATCH');

    for (const run of [swapped, junk, mismatch]) {
      expect(run.stderr).not.toMatch(/at \w+ \(node:|error:0[0-9A-F]{7}/); // no raw OpenSSL stack
    }
    // Nothing was written: not even the data directory.
    expect((await readdir(dir)).sort()).toEqual(['cert.pem', 'junk.pem', 'key.pem', 'other-key.pem']);
  });
});
