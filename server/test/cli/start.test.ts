import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/client.js';
import { WsPeer } from '../helpers/ws-peer.js';
import { REPO_ROOT, assertBuilt, runCli, startCli } from './run-cli.js';

const PLUGINS = join(REPO_ROOT, 'plugins');
const ESC = '\u001b[';

beforeAll(assertBuilt);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neko-cli-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('nekoconnect start', () => {
  it('serves the plugins over TCP, keeps their data in --data-dir, and shuts down cleanly on SIGINT', async () => {
    const dataDir = await tempDir();
    const cli = startCli(['start', PLUGINS, '--port', '0', '--data-dir', dataDir], {
      NEKOCONNECT_SECRET: 'cli-secret',
    });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    expect(cli.stdout()).toMatch(/4 loaded, 0 failed/);

    const client = await connect({ secret: 'cli-secret', port: Number(port) });
    const reply = await client.request('echo', 'over the wire', { op: 12 });
    expect([reply.greeter, reply.op, reply.text()]).toEqual(['echo', 12, 'over the wire']);
    await client.request('todo', JSON.stringify({ title: 'from the CLI test' }), { op: 1 });
    await client.close();
    expect(await readFile(join(dataDir, 'todo.db'), 'utf8')).toContain('from the CLI test');

    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout()).toMatch(/SIGINT: shutting down/);
    expect(cli.stdout()).toMatch(/stopped/);
  });

  it('prints each plugin loaded and each load failure once, in the start-up report', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'bad'));
    await writeFile(
      join(dir, 'bad', 'spec.conf'),
      '$name {"Bad"};\n$greet {"bad"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    await writeFile(join(dir, 'bad', 'logic.js'), 'export class Logic { recv(ctx) {\n');
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    const cli = startCli(['start', dir, '--port', '0', '--no-dashboard'], { NEKOCONNECT_SECRET: 's' });
    await cli.waitFor(/listening on/);
    // stdout and stderr are two pipes: count once the process has ended and both are read.
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const output = cli.stdout() + cli.stderr();
    expect(output).toMatch(/0 loaded, 1 failed/);
    expect(output.match(/NEKO_ERR_PLUGIN_IMPORT/g)).toHaveLength(1);
    expect(output.match(/Unexpected end of input/g)).toHaveLength(1);
  });

  it('with --ws-port, also serves WebSocket clients: the same plugins, the same chain', async () => {
    const cli = startCli(['start', PLUGINS, '--port', '0', '--ws-port', '0'], {
      NEKOCONNECT_SECRET: 'ws-secret',
    });
    const [, wsPort] = await cli.waitFor(/listening for WebSocket on ws:\/\/127\.0\.0\.1:(\d+)\//);
    const peer = await WsPeer.connect(Number(wsPort));
    expect((await peer.handshake('ws-secret')).op).toBe(200);
    peer.packet('echo', 'over a WebSocket', { op: 5 });
    const echo = await peer.next();
    expect([echo.greeter, echo.op, echo.data.toString()]).toEqual(['echo', 5, 'over a WebSocket']);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses to start without a secret and says how to set one (exit 2)', async () => {
    const { code, stderr } = await runCli(['start', PLUGINS, '--port', '0']);
    expect(code).toBe(2);
    expect(stderr).toContain('NEKO_ERR_CONFIG_NO_SECRET');
    expect(stderr).toContain('NEKOCONNECT_SECRET');
    expect(stderr).toContain('--secret-file');
  });

  it('reads the secret from --secret-file, dropping the trailing line break', async () => {
    const dir = await tempDir();
    const file = join(dir, 'secret');
    await writeFile(file, 'from-a-file\n');
    const cli = startCli(['start', PLUGINS, '--port', '0', '--secret-file', file]);
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const client = await connect({ secret: 'from-a-file', port: Number(port) });
    expect((await client.request('echo', 'x')).text()).toBe('x');
    await client.close();
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });

  it('names an unreadable or empty secret file (exit 2)', async () => {
    const dir = await tempDir();
    const missing = await runCli(['start', PLUGINS, '--secret-file', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('NEKO_ERR_CONFIG_SECRET_FILE');
    expect(missing.stderr).toContain(join(dir, 'nope'));
    await writeFile(join(dir, 'empty'), '\n');
    const empty = await runCli(['start', PLUGINS, '--secret-file', join(dir, 'empty')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/secret file .*empty/);
  });

  it('rejects unknown flags, bad values and extra arguments as usage errors (exit 2)', async () => {
    const env = { NEKOCONNECT_SECRET: 's' };
    const unknown = await runCli(['start', '--prot', '1'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('NEKO_ERR_CLI_USAGE');
    expect(unknown.stderr).toContain("'--prot'");
    const badPort = await runCli(['start', '--port', '70000'], env);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be a whole number from 0 to 65535, got "70000"');
    const extra = await runCli(['start', 'a', 'b'], env);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected argument "b"');
    const tlsHalf = await runCli(['start', '--tls-key', 'k.pem'], env);
    expect(tlsHalf.code).toBe(2);
    expect(tlsHalf.stderr).toContain('--tls-key and --tls-cert go together');
  });

  it('reports a missing plugins directory as a configuration error (exit 2)', async () => {
    const dir = await tempDir();
    const { code, stderr } = await runCli(['start', join(dir, 'missing')], { NEKOCONNECT_SECRET: 's' });
    expect(code).toBe(2);
    expect(stderr).toContain('NEKO_ERR_PLUGINS_DIR');
  });

  it('exits 1 when the port is taken', async () => {
    const first = startCli(['start', PLUGINS, '--port', '0'], { NEKOCONNECT_SECRET: 's' });
    const [, port] = await first.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const second = await runCli(['start', PLUGINS, '--port', port!], { NEKOCONNECT_SECRET: 's' });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('NEKO_ERR_SERVER_LISTEN');
    expect(second.stderr).toContain('EADDRINUSE');
  });

  it('shows a broken plugin with file:line:col and a code frame, and serves the others', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'broken'));
    await writeFile(join(dir, 'broken', 'spec.conf'), '$name {"Broken"};\n$greet "broken";\n');
    await mkdir(join(dir, 'echo'));
    await writeFile(
      join(dir, 'echo', 'spec.conf'),
      '$name {"E"};\n$greet {"echo"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    await writeFile(
      join(dir, 'echo', 'logic.js'),
      'export class Logic { recv(ctx) { ctx.send(ctx.data); } }\n',
    );
    const cli = startCli(['start', dir, '--port', '0'], { NEKOCONNECT_SECRET: 's' });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    expect(cli.stdout()).toMatch(/1 loaded, 1 failed/);
    await cli.waitForStderr(/not served until its spec.conf is fixed[\s\S]*fix:/);
    const stderr = cli.stderr();
    expect(stderr).toContain(`${join(dir, 'broken', 'spec.conf')}:2:8`);
    expect(stderr).toContain('NEKO_ERR_SPEC_SYNTAX');
    expect(stderr).toMatch(/> 2 \| \$greet "broken";/);
    const client = await connect({ secret: 's', port: Number(port) });
    expect((await client.request('echo', 'still here')).text()).toBe('still here');
    await client.close();
  });

  it('exits after shutdown even when a plugin left a timer running', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'ticker'));
    await writeFile(
      join(dir, 'ticker', 'spec.conf'),
      '$name {"Ticker"};\n$greet {"ticker"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    await writeFile(
      join(dir, 'ticker', 'logic.js'),
      'export class Logic { constructor() { setInterval(() => {}, 1000); } recv() {} }\n',
    );
    const cli = startCli(['start', dir, '--port', '0'], { NEKOCONNECT_SECRET: 's' });
    await cli.waitFor(/listening on/);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });

  it('a second signal stops at once, without waiting for running handlers (exit 1)', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'slow'));
    await writeFile(
      join(dir, 'slow', 'spec.conf'),
      '$name {"Slow"};\n$greet {"slow"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    await writeFile(
      join(dir, 'slow', 'logic.js'),
      'export class Logic { async recv(ctx) { ctx.log("started"); await new Promise((r) => setTimeout(r, 60000)); } }\n',
    );
    const cli = startCli(['start', dir, '--port', '0'], { NEKOCONNECT_SECRET: 's' });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const client = await connect({ secret: 's', port: Number(port) });
    client.request('slow', 'x').catch(() => {});
    await cli.waitFor(/\[slow\] s-1 started/);
    cli.child.kill('SIGINT');
    await cli.waitFor(/shutting down \(1 connection\(s\) open\)/);
    const before = Date.now();
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 1, signal: null });
    expect(Date.now() - before).toBeLessThan(5_000);
    expect(cli.stderr()).toContain('SIGINT again: exiting without waiting');
    await client.close();
  });

  it('loads a single plugin folder given directly', async () => {
    const cli = startCli(['start', join(PLUGINS, 'echo'), '--port', '0'], { NEKOCONNECT_SECRET: 's' });
    await cli.waitFor(/listening on/);
    expect(cli.stdout()).toMatch(/1 loaded, 0 failed/);
    expect(cli.stdout()).toMatch(/✓ echo/);
  });

  it('prints plain text when NO_COLOR is set, and colors when forced', async () => {
    const plain = await runCli(['start', '--help']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('Usage: nekoconnect start [dir] [options]');
    const noSecret = await runCli(['start', PLUGINS]);
    expect(noSecret.stderr).not.toContain(ESC);
    const colored = await runCli(['start', PLUGINS], { NO_COLOR: '', FORCE_COLOR: '1' });
    expect(colored.stderr).toContain(ESC);
  });
});

describe('nekoconnect', () => {
  it('prints its version and help', async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('start [dir]');
  });

  it('exits 2 on an unknown command or with no command', async () => {
    const unknown = await runCli(['serve']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "serve"');
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('Usage: nekoconnect <command>');
  });
});

describe('npm start (scripts/start-dev.js)', () => {
  it('serves the example plugins with a printed development secret', async () => {
    // Its own data directory: the repository's default one may be held by a server the developer runs.
    const cli = startCli(
      ['--port', '0', '--data-dir', await tempDir()],
      {},
      join(REPO_ROOT, 'scripts', 'start-dev.js'),
    );
    const [, secret] = await cli.waitFor(/Development secret: (\S+)/);
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const client = await connect({ secret: secret!, port: Number(port) });
    expect((await client.request('echo', 'hi')).text()).toBe('hi');
    await client.close();
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });
});

describe('nekoconnect start: the config file in the help', () => {
  it('documents --config, --no-config and the config file names', async () => {
    const start = await runCli(['start', '--help']);
    expect(start.code).toBe(0);
    expect(start.stdout).toContain('--config <file>');
    expect(start.stdout).toContain('--no-config');
    expect(start.stdout).toContain('nekoconnect.config.ts (or .js, .mjs, .json)');
    expect(start.stdout).toContain('never from the config file');
    const main = await runCli(['--help']);
    expect(main.stdout).toContain('docs/config.md');
  });

  it('takes an explicit --config from any folder, and reports one that is missing (exit 2)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'server.json'), JSON.stringify({ port: 0, plugins: join(PLUGINS, 'echo') }));
    const cli = startCli(['start', '--config', join(dir, 'server.json')], { NEKOCONNECT_SECRET: 's' });
    await cli.waitFor(/listening on/);
    expect(cli.stdout()).toContain(`config from ${join(dir, 'server.json')}`);
    expect(cli.stdout()).toMatch(/1 loaded, 0 failed/);
    const missing = await runCli(['start', '--config', join(dir, 'nope.json')], { NEKOCONNECT_SECRET: 's' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('NEKO_ERR_CONFIG_LOAD');
    expect(missing.stderr).toContain(`cannot read the config file ${join(dir, 'nope.json')}: ENOENT`);
  });
});
