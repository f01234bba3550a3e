import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect, type NekoClient } from '../../src/client/client.js';
import { assertBuilt, runCli, startCli, type RunningCli } from '../cli/run-cli.js';
import { startCliIn } from '../config/cli-in-dir.js';
import { makePluginsDir, specConf } from '../helpers/plugins.js';
import { addPlugin, counterLogic, linkNekoconnect, sleep } from './helpers.js';

beforeAll(assertBuilt);

const SECRET = 'dev-cli-secret';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-dev-cli-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `nekoconnect dev <plugins> --port 0 --data-dir <dataDir>`; resolves once it watches. */
async function startDev(
  plugins: string,
  dataDir?: string,
): Promise<{ cli: RunningCli; port: number; dataDir: string }> {
  const data = dataDir ?? (await tempDir());
  const cli = startCli(['dev', plugins, '--port', '0', '--data-dir', data], { NEKOCONNECT_SECRET: SECRET });
  const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
  await cli.waitFor(/watching .* for changes/);
  // The start-up validation (TypeScript loading) is done: the server is as it will be for each save.
  await cli.waitFor(/validated \d+ plugins? in/);
  return { cli, port: Number(port), dataDir: data };
}

async function client(port: number): Promise<NekoClient> {
  const c = await connect({ secret: SECRET, port });
  onTestFinished(() => c.close());
  return c;
}

/** The number of matches of `pattern` in `text`. */
function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern.source, 'g'))].length;
}

describe('nekoconnect dev', () => {
  it('a connected client sees each good save on the same connection; a broken save keeps the old code and prints the error with a code frame', async () => {
    const plugins = await makePluginsDir([]);
    await linkNekoconnect(plugins);
    const logic = (body: string): string => `import type { Context } from 'nekoconnect';

export class Logic {
  async recv(ctx: Context): Promise<void> {
    ctx.state['n'] = Number(ctx.state['n'] ?? 0) + 1;
    ${body}
  }
}
`;
    const file = path.join(
      await addPlugin(plugins, 'live', logic("ctx.send('v1 n=' + String(ctx.state['n']));"), 'logic.ts'),
      'logic.ts',
    );
    const { cli, port } = await startDev(plugins);
    expect(cli.stdout()).toMatch(/1 loaded, 0 failed/);
    const c = await client(port);
    expect((await c.request('live', '')).text()).toBe('v1 n=1');

    await writeFile(file, logic("ctx.send('v2 n=' + String(ctx.state['n']));"));
    await cli.waitFor(/✓ live reloaded in \d+ ms \(v2\)/);
    expect((await c.request('live', '')).text()).toBe('v2 n=2');

    // A type error: validation refuses it, v2 keeps serving.
    await writeFile(file, logic("const late: number = 'soon';\n    ctx.send('v3 ' + late);"));
    await cli.waitForStderr(/✗ live failed validation \(still serving v2\)/);
    const stderr = cli.stderr();
    expect(stderr).toContain(`${file}:6:11`);
    expect(stderr).toContain('NEKO_ERR_VALIDATE_TYPESCRIPT');
    expect(stderr).toMatch(/> 6 \|\s+const late: number = 'soon';/);
    expect((await c.request('live', '')).text()).toBe('v2 n=3');

    // A syntax error: refused too.
    await writeFile(file, logic("ctx.send('v3'"));
    await cli.waitForStderr(/(✗ live failed validation[\s\S]*){2}/);
    expect((await c.request('live', '')).text()).toBe('v2 n=4');

    // The fix: served at once, on the same connection, with its state.
    await writeFile(file, logic("ctx.send('v3 n=' + String(ctx.state['n']));"));
    await cli.waitFor(/✓ live reloaded in \d+ ms \(v3\)/);
    expect((await c.request('live', '')).text()).toBe('v3 n=5');
    expect(count(cli.stdout(), /reloaded in/)).toBe(2);

    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout()).toMatch(/SIGINT: shutting down \(1 connection\(s\) open\)\.\.\.\nstopped/);
  });

  it('prints each plugin error once: the start-up validation does not repeat a load failure; a duplicate greeter names both folders', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'solo', logic: counterLogic('v1') },
      { greeter: 'never', logic: 'export class Logic {}\n' },
    ]);
    const { cli, port } = await startDev(plugins);
    // The load failure's block (with its fix) is printed by the start-up report, and not again by the validation.
    expect(count(cli.stderr(), /\n +error .*NEKO_ERR_PLUGIN_NO_RECV\n/)).toBe(1);
    expect(cli.stderr()).not.toMatch(/! never validation/);

    // A copy of a plugin that serves: refused, the message says which folder keeps the greeter.
    const copy = path.join(plugins, 'solo-copy');
    await mkdir(copy);
    await writeFile(path.join(copy, 'logic.js'), counterLogic('copy'));
    await writeFile(path.join(copy, 'spec.conf'), specConf('Copy', 'solo'));
    await cli.waitForStderr(/is refused/);
    await sleep(300);
    const stderr = cli.stderr();
    const solo = path.join(plugins, 'solo');
    expect(count(stderr, /greeter "solo" is declared by/)).toBe(1);
    expect(stderr).toContain(
      `greeter "solo" is declared by ${copy} and by ${solo}: ${solo} keeps serving it, ${copy} is refused`,
    );
    expect(stderr).toMatch(/✗ solo failed to load \(.*solo keeps serving "solo", .*solo-copy is refused\)/);
    const c = await client(port);
    expect((await c.request('solo', '')).text()).toMatch(/^v1 /);
  });

  it('warns once when a session keeps a value in ctx.state that JSON cannot carry', async () => {
    const plugins = await makePluginsDir([
      {
        greeter: 'rooms',
        logic: `export class Logic {
  recv(ctx) {
    ctx.state.members ??= new Set();
    ctx.state.members.add(ctx.text());
    ctx.send(String(ctx.state.members.size));
  }
}
`,
      },
    ]);
    const { cli, port } = await startDev(plugins);
    const c = await client(port);
    expect((await c.request('rooms', 'mimi')).text()).toBe('1');
    await cli.waitForStderr(/rooms ctx\.state\.members is a Set/);
    // More packets, and more periodic checks (every second): no second warning for that session and key.
    for (const nick of ['tama', 'kuro']) await c.request('rooms', nick);
    await sleep(2_200);
    const stderr = cli.stderr();
    expect(count(stderr, /ctx\.state\.members is a Set/)).toBe(1);
    expect(stderr).toMatch(
      /! rooms ctx\.state\.members is a Set \(session \S+; ctx\.state must be JSON-serialisable\)/,
    );
    expect(stderr).toContain(
      'warning NEKO_ERR_DEV_STATE_NOT_JSON fix: JSON writes it as {} and its values are lost: store an array ([...set])',
    );
    expect((await c.request('rooms', 'mike')).text()).toBe('4');
  });

  it('a handler in flight during a reload finishes on the version it started on', async () => {
    const logic = (v: string): string => `export class Logic {
  async recv(ctx) {
    if (ctx.op === 2) {
      const next = await ctx.recv();
      ctx.send('${v} finished ' + next.text());
      return;
    }
    ctx.send('${v}');
  }
}
`;
    const plugins = await makePluginsDir([{ greeter: 'waits', logic: logic('v1') }]);
    const { cli, port } = await startDev(plugins);
    const c = await client(port);
    expect((await c.request('waits', '', { op: 2 })).status).toBe(100);
    await writeFile(path.join(plugins, 'waits', 'logic.js'), logic('v2'));
    await cli.waitFor(/waits reloaded in \d+ ms \(v2\)/);
    expect((await c.request('waits', 'tail')).text()).toBe('v1 finished tail');
    expect((await c.request('waits', '')).text()).toBe('v2');
  });

  it("writes to the plugin's datastore never reload it, even with the data directory inside the plugin folder", async () => {
    const plugins = await makePluginsDir([{ greeter: 'store', logic: counterLogic('v1') }]);
    const dataDir = path.join(plugins, 'store', 'db');
    const { cli, port } = await startDev(plugins, dataDir);
    const c = await client(port);
    for (let i = 0; i < 25; i++) await c.request('store', '', { op: 1 });
    expect(await readFile(path.join(dataDir, 'store.db'), 'utf8')).toContain('"seen"');
    await sleep(600);
    expect(cli.stdout()).not.toMatch(/reloaded|loaded in/);
    expect((await c.request('store', '')).text()).toBe('v1 count=25 seen=25');
  });

  it('a burst of 10 saves gives one reload', async () => {
    const plugins = await makePluginsDir([{ greeter: 'burst', logic: counterLogic('v0') }]);
    const { cli, port } = await startDev(plugins);
    const file = path.join(plugins, 'burst', 'logic.js');
    for (let i = 1; i <= 10; i++) writeFileSync(file, counterLogic(`save${i}`));
    await cli.waitFor(/burst reloaded in \d+ ms \(v2\)/);
    await sleep(600);
    expect(count(cli.stdout(), /reloaded in/)).toBe(1);
    const c = await client(port);
    expect((await c.request('burst', '')).text()).toMatch(/^save10 /);
  });

  it('loads a plugin folder that appears, and unloads one that goes (404)', async () => {
    const plugins = await makePluginsDir([{ greeter: 'first', logic: counterLogic('first') }]);
    const { cli, port } = await startDev(plugins);
    const c = await client(port);
    await addPlugin(plugins, 'second', counterLogic('second'));
    await cli.waitFor(/✓ second loaded in \d+ ms \(v1\)/);
    expect((await c.request('second', '')).text()).toMatch(/^second /);
    await rm(path.join(plugins, 'first'), { recursive: true });
    await cli.waitFor(/− first removed \(answers 404 now\)/);
    await expect(c.request('first', '')).rejects.toMatchObject({ status: 404 });
    expect((await c.request('second', '')).text()).toMatch(/^second /);
  });

  it('without a secret, makes a development secret once, keeps it and prints it with a client snippet', async () => {
    const cwd = await tempDir();
    const plugins = await makePluginsDir([{ greeter: 'hello', logic: counterLogic('hi') }]);
    const start = async (): Promise<{ cli: RunningCli; secret: string; port: number }> => {
      const cli = startCliIn(cwd, ['dev', plugins, '--port', '0']);
      const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
      const [, secret] = await cli.waitFor(/development secret (\S+)/);
      await cli.waitFor(/watching/);
      return { cli, secret: secret!, port: Number(port) };
    };
    const first = await start();
    expect(first.cli.stdout()).toContain('made now, kept in .nekoconnect/dev-secret');
    expect(first.cli.stdout()).toContain(
      `const client = await connect({ port: ${first.port}, secret: '${first.secret}' });`,
    );
    expect(first.cli.stdout()).toContain("await client.request('hello', 'hello')");
    expect((await readFile(path.join(cwd, '.nekoconnect', 'dev-secret'), 'utf8')).trim()).toBe(first.secret);
    // The data directory defaults to the working directory's .nekoconnect/data, as for start.
    const c = await connect({ secret: first.secret, port: first.port });
    expect((await c.request('hello', '', { op: 1 })).text()).toMatch(/^hi /);
    await c.close();
    first.cli.child.kill('SIGTERM');
    expect((await first.cli.exited).code).toBe(0);

    const second = await start();
    expect(second.secret).toBe(first.secret);
    expect(second.cli.stdout()).not.toContain('made now');
    second.cli.child.kill('SIGTERM');
    expect((await second.cli.exited).code).toBe(0);
  });

  it('with NEKOCONNECT_SECRET set, never prints the secret', async () => {
    const plugins = await makePluginsDir([{ greeter: 'quiet', logic: counterLogic('q') }]);
    const { cli } = await startDev(plugins);
    expect(cli.stdout()).not.toContain(SECRET);
    expect(cli.stdout()).toContain('secret: process.env.NEKOCONNECT_SECRET }');
  });

  it('prints its help, and takes the flags of start (exit 2 on a bad one)', async () => {
    const help = await runCli(['dev', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: nekoconnect dev [dir] [options]');
    expect(help.stdout).toContain('--data-dir <dir>');
    expect(help.stdout).toContain('r reload every plugin, c clear the screen, q quit');
    const main = await runCli(['--help']);
    expect(main.stdout).toMatch(/dev \[dir\]\s+serve them and hot-reload/);
    const unknown = await runCli(['dev', '--prot', '1'], { NEKOCONNECT_SECRET: 's' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('NEKO_ERR_CLI_USAGE');
    expect(unknown.stderr).toContain('nekoconnect dev --help');
    const badPort = await runCli(['dev', '--port', 'x'], { NEKOCONNECT_SECRET: 's' });
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be a whole number');
  });
});
