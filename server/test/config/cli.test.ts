/**
 * The config file through the real CLI: spawned in a temp working directory
 * holding a config, checked by the port it listens on and the limits in force.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NekoStatusError, connect } from '../../src/client/client.js';
import { assertBuilt } from '../cli/run-cli.js';
import { runCliIn, startCliIn, tempDir } from './cli-in-dir.js';

beforeAll(assertBuilt);

const ENV = { NEKOCONNECT_SECRET: 's' };
const LISTENING = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/;

/** A temp cwd with an echo plugin in `plugins/echo` and the given files. */
async function project(files: Record<string, string> = {}): Promise<string> {
  const dir = await tempDir('neko-config-cli-');
  const all = {
    'plugins/echo/spec.conf': '$name {"Echo"};\n$greet {"echo"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    'plugins/echo/logic.mjs': 'export class Logic { recv(ctx) { ctx.send(ctx.data); } }\n',
    ...files,
  };
  for (const [name, text] of Object.entries(all)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

/** The status a request of `bytes` bytes to echo gets: 200 when echoed. */
async function statusFor(port: number, bytes: number): Promise<number> {
  const client = await connect({ secret: 's', port });
  try {
    const reply = await client.request('echo', Buffer.alloc(bytes, 'x'));
    expect(reply.data.length).toBe(bytes);
    return 200;
  } catch (err) {
    if (err instanceof NekoStatusError) return err.status;
    throw err;
  } finally {
    await client.close().catch(() => {});
  }
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('nekoconnect start with a config file', () => {
  it('listens on the config port and says which config it used; a flag beats the file', async () => {
    const port = await freePort();
    const dir = await project({
      'nekoconnect.config.json': JSON.stringify({ port, plugins: 'plugins' }),
    });
    const fromFile = startCliIn(dir, ['start'], ENV);
    const [, listened] = await fromFile.waitFor(LISTENING);
    expect(Number(listened)).toBe(port);
    expect(fromFile.stdout()).toMatch(/^config from nekoconnect\.config\.json$/m);
    expect(fromFile.stdout()).toMatch(/plugins from plugins: 1 loaded, 0 failed/);

    // The config's port is taken by the first server: the flag must win for this one to start
    // (with a data directory of its own: the first holds the default one).
    const fromFlag = startCliIn(dir, ['start', '--port', '0', '--data-dir', 'data-2'], ENV);
    const [, other] = await fromFlag.waitFor(LISTENING);
    expect(Number(other)).not.toBe(port);
    expect(await statusFor(Number(other), 10)).toBe(200);
  });

  it('applies the config limits (a packet above maxPacketBytes gets 413); a flag beats them', async () => {
    const dir = await project({
      'nekoconnect.config.ts':
        'const limits = { maxPacketBytes: 256 };\nexport default { port: 0, plugins: "plugins", limits };\n',
    });
    const fromFile = startCliIn(dir, ['start'], ENV);
    const port = Number((await fromFile.waitFor(LISTENING))[1]);
    expect(fromFile.stdout()).toMatch(/^config from nekoconnect\.config\.ts$/m);
    expect(await statusFor(port, 100)).toBe(200);
    expect(await statusFor(port, 1000)).toBe(413);

    const fromFlag = startCliIn(dir, ['start', '--max-packet-bytes', '4096', '--data-dir', 'data-2'], ENV);
    expect(await statusFor(Number((await fromFlag.waitFor(LISTENING))[1]), 1000)).toBe(200);
  });

  it('the default limit holds without a config, and --no-config ignores the file', async () => {
    const dir = await project({
      'nekoconnect.config.json': JSON.stringify({ limits: { maxPacketBytes: 256 }, port: 1 }),
    });
    const cli = startCliIn(dir, ['start', 'plugins', '--no-config', '--port', '0'], ENV);
    const port = Number((await cli.waitFor(LISTENING))[1]);
    expect(await statusFor(port, 1000)).toBe(200);
    expect(cli.stdout()).not.toContain('config from');
  });

  it('--config picks a file whose relative paths are resolved against its folder; [dir] beats plugins', async () => {
    const dir = await project({
      'conf/server.json': JSON.stringify({ port: 0, plugins: '../plugins/echo' }),
      // An unusable config in cwd: --config must bypass it.
      'nekoconnect.config.json': '{ "nope": 1 }',
    });
    const cli = startCliIn(dir, ['start', '--config', 'conf/server.json'], ENV);
    await cli.waitFor(LISTENING);
    expect(cli.stdout()).toMatch(/^config from conf\/server\.json$/m);
    expect(cli.stdout()).toMatch(/plugins from plugins\/echo: 1 loaded/);

    const missing = await runCliIn(
      dir,
      ['start', 'nowhere', '--config', 'conf/server.json', '--port', '0', '--data-dir', 'data-2'],
      ENV,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('NEKO_ERR_PLUGINS_DIR');
    expect(missing.stderr).toContain(path.join(dir, 'nowhere'));
  });

  it('an invalid value exits 2, naming the file, the key path and the range, with a code frame', async () => {
    const dir = await project({
      'nekoconnect.config.json': '{\n  "port": 0,\n  "limits": { "maxPacketBytes": 8 }\n}\n',
    });
    const { code, stderr } = await runCliIn(dir, ['start'], ENV);
    expect(code).toBe(2);
    expect(stderr).toContain(`${path.join(dir, 'nekoconnect.config.json')}:3:33 NEKO_ERR_CONFIG_INVALID`);
    expect(stderr).toContain(
      'invalid config nekoconnect.config.json: limits.maxPacketBytes must be a whole number from 16 to 4294967295, got 8',
    );
    expect(stderr).toMatch(/> 3 \| {3}"limits": \{ "maxPacketBytes": 8 \}/);
    expect(stderr).toContain('fix: docs/config.md');
  });

  it('an unknown key exits 2 with a suggestion; a secret in the config is refused', async () => {
    const typo = await runCliIn(
      await project({ 'nekoconnect.config.mjs': 'export default { prot: 1 };\n' }),
      ['start'],
    );
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown key "prot" (did you mean "port"?)');

    const secret = await runCliIn(
      await project({ 'nekoconnect.config.json': '{ "secret": "hunter2" }' }),
      ['start'],
      ENV,
    );
    expect(secret.code).toBe(2);
    expect(secret.stderr).toContain('"secret" is not allowed in a config file');
    expect(secret.stderr).toContain('NEKOCONNECT_SECRET');
    // No code frame: it would copy the secret into whatever collects the output.
    expect(secret.stderr).not.toContain('hunter2');
  });

  it('a syntax error exits 2 with file:line:col and a code frame, for JSON and TypeScript', async () => {
    const json = await project({ 'nekoconnect.config.json': '{\n  "port": 0,\n}\n' });
    const jsonRun = await runCliIn(json, ['start'], ENV);
    expect(jsonRun.code).toBe(2);
    expect(jsonRun.stderr).toContain(
      `${path.join(json, 'nekoconnect.config.json')}:2:12 NEKO_ERR_CONFIG_LOAD`,
    );
    expect(jsonRun.stderr).toMatch(/> 2 \| {3}"port": 0,/);

    const ts = await project({ 'nekoconnect.config.ts': 'export default {\n  port: 0 +\n};\n' });
    const tsRun = await runCliIn(ts, ['start'], ENV);
    expect(tsRun.code).toBe(2);
    expect(tsRun.stderr).toContain(`${path.join(ts, 'nekoconnect.config.ts')}:3:1 NEKO_ERR_CONFIG_LOAD`);
    expect(tsRun.stderr).toMatch(/> 3 \| \};/);
  });

  it('two config files exit 2, naming both', async () => {
    const dir = await project({
      'nekoconnect.config.js': 'export default {};\n',
      'nekoconnect.config.json': '{}',
    });
    const { code, stderr } = await runCliIn(dir, ['start'], ENV);
    expect(code).toBe(2);
    expect(stderr).toContain('NEKO_ERR_CONFIG_AMBIGUOUS');
    expect(stderr).toContain('nekoconnect.config.js, nekoconnect.config.json');
  });

  it('--config with --no-config is a usage error', async () => {
    const { code, stderr } = await runCliIn(
      await project(),
      ['start', '--config', 'x.json', '--no-config'],
      ENV,
    );
    expect(code).toBe(2);
    expect(stderr).toContain('--config and --no-config contradict each other');
  });
});
