import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStartOptions } from '../../src/config/start-options.js';
import { NekoError } from '../../src/errors.js';
import { DEFAULT_PORT } from '../../src/protocol/constants.js';
import { DEFAULT_LIMITS } from '../../src/server/options.js';
import { makeCertificate } from '../../../scripts/test-support/tls.js';
import { tempDir } from './cli-in-dir.js';

/** A fresh environment for each start: reading the secret removes it from the environment it came from. */
const env = (): NodeJS.ProcessEnv => ({ NEKOCONNECT_SECRET: 'env-secret' });

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

describe('resolveStartOptions', () => {
  it('uses the defaults without a config file or flags', async () => {
    const cwd = await tempDir();
    const resolved = await resolveStartOptions(cwd, {}, env());
    expect(resolved).toEqual({
      serverOptions: {
        secret: 'env-secret',
        port: DEFAULT_PORT,
        host: '127.0.0.1',
        tls: undefined,
        websocket: undefined,
        cacheDir: path.join(cwd, '.nekoconnect', 'data', 'cache'),
        limits: DEFAULT_LIMITS,
      },
      plugins: cwd,
      dataDir: path.join(cwd, '.nekoconnect', 'data'),
      storage: {
        selection: { backend: 'nedb', dir: path.join(cwd, '.nekoconnect', 'data') },
        shown: path.join(cwd, '.nekoconnect', 'data'),
        dataDir: path.join(cwd, '.nekoconnect', 'data'),
        source: 'default',
      },
      cacheDir: path.join(cwd, '.nekoconnect', 'data', 'cache'),
      configFile: undefined,
      dashboard: { port: 10391, host: '127.0.0.1', open: false },
      metrics: undefined,
      requirePlugins: false,
      log: { format: 'pretty', level: 'info' },
      warnings: [],
    });
  });

  it('places the dashboard from flags over the config, and turns it off with either', async () => {
    const cwd = await tempDir();
    await write(cwd, { 'nekoconnect.config.json': '{ "dashboard": { "port": 5000, "host": "0.0.0.0" } }' });
    expect((await resolveStartOptions(cwd, {}, env())).dashboard).toEqual({
      port: 5000,
      host: '0.0.0.0',
      open: false,
    });
    expect((await resolveStartOptions(cwd, { dashboardPort: 0 }, env())).dashboard).toEqual({
      port: 0,
      host: '0.0.0.0',
      open: false,
    });
    expect((await resolveStartOptions(cwd, { dashboardHost: '127.0.0.2' }, env())).dashboard).toEqual({
      port: 5000,
      host: '127.0.0.2',
      open: false,
    });
    expect((await resolveStartOptions(cwd, { noDashboard: true }, env())).dashboard).toBeUndefined();
    await write(cwd, { 'nekoconnect.config.json': '{ "dashboard": false }' });
    expect((await resolveStartOptions(cwd, {}, env())).dashboard).toBeUndefined();
  });

  it('opens the dashboard (no token) from the flag or the config, on loopback only', async () => {
    const cwd = await tempDir();
    expect((await resolveStartOptions(cwd, { dashboardOpen: true }, env())).dashboard).toEqual({
      port: 10391,
      host: '127.0.0.1',
      open: true,
    });
    await write(cwd, { 'nekoconnect.config.json': '{ "dashboard": { "open": true, "host": "localhost" } }' });
    expect((await resolveStartOptions(cwd, {}, env())).dashboard).toEqual({
      port: 10391,
      host: 'localhost',
      open: true,
    });
    // A loopback host from the flag makes the config's open fine; another host does not.
    await write(cwd, { 'nekoconnect.config.json': '{ "dashboard": { "open": true, "host": "0.0.0.0" } }' });
    expect((await resolveStartOptions(cwd, { dashboardHost: '::1' }, env())).dashboard).toMatchObject({
      host: '::1',
      open: true,
    });
    const fromConfig = await rejection(resolveStartOptions(cwd, {}, env()));
    expect([fromConfig.code, fromConfig.message]).toEqual([
      'NEKO_ERR_CONFIG_INVALID',
      'dashboard.open (in nekoconnect.config.json) serves the dashboard without its access token, which is allowed only on loopback, but dashboard.host (in nekoconnect.config.json) binds it to 0.0.0.0',
    ]);
    expect(fromConfig.hint).toBe(
      'drop dashboard.open so that every request needs the printed token, or bind the dashboard to loopback (dashboard.host "127.0.0.1")',
    );
    const fromFlag = await rejection(
      resolveStartOptions(cwd, { noConfig: true, dashboardOpen: true, dashboardHost: '192.168.1.2' }, env()),
    );
    expect([fromFlag.code, fromFlag.message]).toEqual([
      'NEKO_ERR_CLI_USAGE',
      '--dashboard-open serves the dashboard without its access token, which is allowed only on loopback, but --dashboard-host binds it to 192.168.1.2',
    ]);
    expect(fromFlag.hint).toContain('--dashboard-host 127.0.0.1');
    // Turned off, it is neither open nor refused.
    expect((await resolveStartOptions(cwd, { noDashboard: true }, env())).dashboard).toBeUndefined();
  });

  it('flags beat the config file, which beats the defaults, limit by limit', async () => {
    const cwd = await tempDir();
    await write(cwd, {
      'nekoconnect.config.json': JSON.stringify({
        port: 4000,
        host: '0.0.0.0',
        limits: { maxPacketBytes: 256, idleTimeoutMs: 5000 },
      }),
    });
    const fromFile = await resolveStartOptions(cwd, {}, env());
    expect(fromFile.configFile).toBe(path.join(cwd, 'nekoconnect.config.json'));
    expect(fromFile.serverOptions).toMatchObject({ port: 4000, host: '0.0.0.0' });
    expect(fromFile.serverOptions.limits).toEqual({
      ...DEFAULT_LIMITS,
      maxPacketBytes: 256,
      idleTimeoutMs: 5000,
    });

    const fromFlags = await resolveStartOptions(
      cwd,
      { port: 0, host: '::1', limits: { maxPacketBytes: 4096, recvTimeoutMs: 7 } },
      env(),
    );
    expect(fromFlags.serverOptions).toMatchObject({ port: 0, host: '::1' });
    expect(fromFlags.serverOptions.limits).toEqual({
      ...DEFAULT_LIMITS,
      maxPacketBytes: 4096,
      idleTimeoutMs: 5000,
      recvTimeoutMs: 7,
    });

    const noConfig = await resolveStartOptions(cwd, { noConfig: true }, env());
    expect(noConfig.configFile).toBeUndefined();
    expect(noConfig.serverOptions).toMatchObject({ port: DEFAULT_PORT, limits: DEFAULT_LIMITS });
  });

  it("resolves the config's paths against its folder, and the flags' against cwd", async () => {
    const cwd = await tempDir();
    const [inConfig, byFlags] = [await makeCertificate(), await makeCertificate()];
    await write(cwd, {
      'conf/neko.json': JSON.stringify({
        plugins: '../my-plugins',
        dataDir: 'state',
        tls: { key: 'tls/key.pem', cert: 'tls/cert.pem' },
      }),
      'conf/tls/key.pem': inConfig.key,
      'conf/tls/cert.pem': inConfig.cert,
      'flag-key.pem': byFlags.key,
      'flag-cert.pem': byFlags.cert,
    });
    const fromFile = await resolveStartOptions(cwd, { config: 'conf/neko.json' }, env());
    expect(fromFile.configFile).toBe(path.join(cwd, 'conf', 'neko.json'));
    expect(fromFile.plugins).toBe(path.join(cwd, 'my-plugins'));
    expect(fromFile.dataDir).toBe(path.join(cwd, 'conf', 'state'));
    expect(fromFile.serverOptions.tls).toEqual({
      key: Buffer.from(inConfig.key),
      cert: Buffer.from(inConfig.cert),
    });

    const fromFlags = await resolveStartOptions(
      cwd,
      { config: 'conf/neko.json', dir: 'other', tlsKey: 'flag-key.pem', tlsCert: 'flag-cert.pem' },
      env(),
    );
    expect(fromFlags.plugins).toBe(path.join(cwd, 'other'));
    expect(fromFlags.serverOptions.tls).toEqual({
      key: Buffer.from(byFlags.key),
      cert: Buffer.from(byFlags.cert),
    });
  });

  it('puts dataDir in the config folder by default', async () => {
    const cwd = await tempDir();
    await write(cwd, { 'conf/nekoconnect.config.json': '{}' });
    const resolved = await resolveStartOptions(cwd, { config: 'conf/nekoconnect.config.json' }, env());
    expect(resolved.dataDir).toBe(path.join(cwd, 'conf', '.nekoconnect', 'data'));
    expect(resolved.plugins).toBe(cwd);
  });

  it('names the config entry of a TLS file it cannot read', async () => {
    const cwd = await tempDir();
    await write(cwd, {
      'nekoconnect.config.json': JSON.stringify({ tls: { key: 'key.pem', cert: 'cert.pem' } }),
    });
    const err = await rejection(resolveStartOptions(cwd, {}, env()));
    expect(err.code).toBe('NEKO_ERR_CONFIG_TLS');
    expect(err.message).toBe(
      `cannot read the TLS key ${path.join(cwd, 'key.pem')} (tls.key of nekoconnect.config.json): ENOENT`,
    );
    expect(err.hint).toBe(
      'check tls.key and tls.cert in nekoconnect.config.json; they are relative to its folder',
    );
  });

  it('reads the secret from the environment or --secret-file, never from the config', async () => {
    const cwd = await tempDir();
    await write(cwd, { secret: 'file-secret\n' });
    expect((await resolveStartOptions(cwd, { secretFile: 'secret' }, env())).serverOptions.secret).toBe(
      'file-secret',
    );
    const none = await rejection(resolveStartOptions(cwd, {}, {}));
    expect(none.code).toBe('NEKO_ERR_CONFIG_NO_SECRET');
  });

  it('refuses half a TLS pair of flags before loading anything', async () => {
    const cwd = await tempDir();
    await write(cwd, { 'nekoconnect.config.json': '{ "bad": 1 }' });
    const err = await rejection(resolveStartOptions(cwd, { tlsKey: 'k.pem' }, env()));
    expect(err.code).toBe('NEKO_ERR_CLI_USAGE');
    expect(err.message).toBe('--tls-key and --tls-cert go together: give both or neither');
  });
});
