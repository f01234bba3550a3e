/**
 * `nekoconnect start --log-format json`, run as an operator runs it: every
 * line it prints, on stdout and stderr, is one JSON record, checked field by
 * field; `--log-level` sets what it prints; a flood of bad handshakes prints
 * a few lines and a summary.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/client.js';
import { JSON_LOG_FIELDS, type JsonLogLine } from '../../src/logging/json.js';
import { REPEATS_SHOWN } from '../../src/logging/repeats.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { REPO_ROOT, assertBuilt, runCli, startCli, type RunningCli } from '../cli/run-cli.js';

beforeAll(assertBuilt);

const SECRET = 'json-logs-secret';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Throws on line 7, column 11 of logic.ts (type-only lines above it vanish from the bundle). */
const THROWING_LOGIC = `interface Packet {
  text(): string;
}
type Unused = { a: number };
export class Logic {
  recv(ctx: Packet): void {
    throw new Error(\`ts boom \${ctx.text()}\`);
  }
}
`;

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every line of a stream as a JSON record; fails on the first line that is not one. */
function records(text: string): JsonLogLine[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
      expect(parsed, line).toBeTypeOf('object');
      const record = parsed as JsonLogLine;
      expect(
        Object.keys(record).every((k) => (JSON_LOG_FIELDS as readonly string[]).includes(k)),
        line,
      ).toBe(true);
      expect(record.time, line).toMatch(ISO);
      expect(['debug', 'info', 'warn', 'error'], line).toContain(record.level);
      expect(record.message, line).toBeTypeOf('string');
      expect(record.message, line).not.toContain('\u001b[');
      return record;
    });
}

function all(cli: RunningCli): { out: JsonLogLine[]; err: JsonLogLine[] } {
  return { out: records(cli.stdout()), err: records(cli.stderr()) };
}

/** Resolves with the first record of `stream` that `match` accepts, waiting for it. */
async function waitForRecord(
  cli: RunningCli,
  match: (record: JsonLogLine) => boolean,
  stream: 'out' | 'err' = 'out',
): Promise<JsonLogLine> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = all(cli)[stream].find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      throw new Error(`no such record; stdout:\n${cli.stdout()}\nstderr:\n${cli.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function listeningPort(cli: RunningCli): Promise<number> {
  const record = await waitForRecord(cli, (r) => r.message.startsWith('listening on tcp://'));
  return Number(/:(\d+) /.exec(record.message)![1]);
}

describe('nekoconnect start --log-format json', () => {
  it('prints every line as a JSON record: banner, plugin list, a failure, a plugin error with its .ts stack, lifecycle at debug', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'tsboom', name: 'TS Boom', file: 'logic.ts', logic: THROWING_LOGIC },
      {
        greeter: 'echo',
        logic: 'export class Logic { recv(ctx) { ctx.send(ctx.data, { op: ctx.op }); } }\n',
      },
      { greeter: 'broken', logic: 'export class Logic { recv(ctx) {\n' },
      {
        greeter: 'warner',
        logic: `process.emitWarning('old API', { type: 'DeprecationWarning', code: 'DEP_NEKO' });\nexport class Logic { recv() {} }\n`,
      },
    ]);
    const dataDir = await tempDir('neko-json-data-');
    const cli = startCli(
      [
        'start',
        plugins,
        '--port',
        '0',
        '--data-dir',
        dataDir,
        '--log-format',
        'json',
        '--log-level',
        'debug',
      ],
      { NEKOCONNECT_SECRET: SECRET, FORCE_COLOR: '1', NO_COLOR: '' },
    );
    const port = await listeningPort(cli);

    const client = await connect({ secret: SECRET, port });
    await expect(client.request('echo', 'hi', { op: 3 })).resolves.toBeDefined();
    await client.send('tsboom', 'x').catch(() => undefined);
    const failure = await waitForRecord(cli, (r) => r.code === 'NEKO_ERR_PLUGIN_HANDLER', 'err');
    await client.close();
    await waitForRecord(cli, (r) => r.level === 'debug' && / closed by the client/.test(r.message));
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });

    const { out, err } = all(cli);
    const messages = out.map((r) => r.message);
    // The banner and the plugin list, each a record; colours asked for (FORCE_COLOR) stay out of JSON.
    expect(out[0]).toMatchObject({ level: 'info', message: 'NekoConnect 0.1.0' });
    expect(messages).toContain('plugins from ' + plugins + ': 3 loaded, 1 failed');
    expect(out.find((r) => r.plugin === 'echo')).toMatchObject({
      level: 'info',
      message: expect.stringMatching(/echo {2}echo v/),
    });
    expect(out.find((r) => r.plugin === 'tsboom')).toMatchObject({ level: 'info' });
    expect(messages.some((m) => /^dashboard http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(m))).toBe(true);
    expect(messages.some((m) => /^listening on tcp:\/\/127\.0\.0\.1:\d+/.test(m))).toBe(true);
    expect(messages).toContain('SIGINT: shutting down (0 connection(s) open)...');
    expect(messages.at(-1)).toBe('stopped');

    // A plugin that failed to load: one record with its code, the error in the message and its stack.
    const broken = err.find((r) => r.plugin === 'broken')!;
    expect(broken).toMatchObject({ level: 'error', code: 'NEKO_ERR_PLUGIN_IMPORT' });
    expect(broken.message).toMatch(/broken .*answers 503 until fixed: .*Unexpected end of input/);
    expect(broken.stack).toMatch(/^NekoError: /);

    // Node's own warning (from the plugin's module): a JSON record too.
    expect(err).toContainEqual(
      expect.objectContaining({ level: 'warn', message: '[DEP_NEKO] DeprecationWarning: old API' }),
    );

    // The handler's error: the stack in `stack`, at logic.ts:7:11 (source-mapped), not in `message`.
    const logicTs = path.join(plugins, 'tsboom', 'logic.ts');
    expect(failure).toMatchObject({
      level: 'error',
      plugin: 'tsboom',
      session: expect.stringMatching(/^s-\d+$/),
    });
    expect(failure.message).toBe('TS Boom: recv failed: Error: ts boom x');
    expect(failure.stack).toMatch(/^Error: ts boom x\n\s+at /);
    expect(failure.stack).toContain(`${logicTs}:7:11`);
    expect(failure.stack).not.toMatch(/\.nekoconnect|cache/);

    // The connection's life at debug: accepted, authenticated, closed, each with session and address.
    const session = failure.session!;
    const life = out.filter((r) => r.level === 'debug' && r.session === session);
    expect(life.map((r) => r.message)).toEqual([
      `connection ${session} accepted over tcp from 127.0.0.1`,
      `session ${session} (127.0.0.1) authenticated with the shared secret`,
      `session ${session} (127.0.0.1) closed by the client (or the network)`,
    ]);
    for (const record of life) expect(record.remote).toBe('127.0.0.1');
  });

  it('prints pretty lines by default, with the same source-mapped stack', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'tsboom', name: 'TS Boom', file: 'logic.ts', logic: THROWING_LOGIC },
    ]);
    const dataDir = await tempDir('neko-json-data-');
    const cli = startCli(['start', plugins, '--port', '0', '--data-dir', dataDir, '--no-dashboard'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const client = await connect({ secret: SECRET, port: Number(port) });
    await client.send('tsboom', 'y').catch(() => undefined);
    await cli.waitForStderr(/NEKO_ERR_PLUGIN_HANDLER/);
    await client.close();
    cli.child.kill('SIGINT');
    await cli.exited;
    expect(cli.stdout()).toMatch(/^NekoConnect /);
    expect(cli.stderr()).toMatch(/error \[tsboom\] s-\d+ TS Boom: recv failed: Error: ts boom y\n\s+at /);
    expect(cli.stderr()).toContain(`${path.join(plugins, 'tsboom', 'logic.ts')}:7:11`);
    // No debug lines at the default level.
    expect(cli.stdout()).not.toMatch(/ debug /);
  });

  it('takes log.format and log.level from the config file; --log-level beats it', async () => {
    const dir = await tempDir('neko-json-config-');
    await writeFile(
      path.join(dir, 'nekoconnect.config.json'),
      JSON.stringify({
        plugins: path.join(REPO_ROOT, 'plugins'),
        dataDir: 'data',
        log: { format: 'json', level: 'warn' },
      }),
    );
    const cli = startCli(
      [
        'start',
        '--config',
        path.join(dir, 'nekoconnect.config.json'),
        '--port',
        '0',
        '--no-dashboard',
        '--log-level',
        'debug',
      ],
      {
        NEKOCONNECT_SECRET: SECRET,
      },
    );
    const port = await listeningPort(cli);
    const client = await connect({ secret: SECRET, port });
    await client.close();
    await waitForRecord(cli, (r) => r.level === 'debug' && r.message.includes('closed by the client'));
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    const { out } = all(cli);
    expect(out[1]!.message).toMatch(/^config from .*nekoconnect\.config\.json$/);
  });

  it('prints only warnings and errors with --log-level warn (the command lines stay)', async () => {
    const dataDir = await tempDir('neko-json-data-');
    const cli = startCli(
      [
        'start',
        path.join(REPO_ROOT, 'plugins'),
        '--port',
        '0',
        '--data-dir',
        dataDir,
        '--no-dashboard',
        '--log-format',
        'json',
        '--log-level',
        'warn',
      ],
      { NEKOCONNECT_SECRET: SECRET },
    );
    const port = await listeningPort(cli);
    // Info: a session ended (no resume asked); warn: a wrong secret.
    const client = await connect({ secret: SECRET, port });
    await client.close();
    await expect(connect({ secret: 'not-it', port })).rejects.toThrow();
    await waitForRecord(cli, (r) => r.level === 'warn' && r.code === 'NEKO_ERR_AUTH_BAD_HASH', 'err');
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    const { out, err } = all(cli);
    expect(out.filter((r) => r.session !== undefined)).toEqual([]);
    expect(err.every((r) => r.level === 'warn' || r.level === 'error')).toBe(true);
  });

  it('never writes a dashboard token that came from a file or the environment', async () => {
    const dir = await tempDir('neko-json-token-');
    const fromFile = 'token-from-a-file-0123456789abcdefghijklmnopqrstuvwxyz';
    await writeFile(path.join(dir, 'token'), `${fromFile}\n`);
    const fromEnv = 'token-from-the-env-0123456789abcdefghijklmnopqrstuvwxyz';
    const runs = [
      { args: ['--dashboard-token-file', path.join(dir, 'token')], env: {}, token: fromFile },
      { args: [], env: { NEKOCONNECT_DASHBOARD_TOKEN: fromEnv }, token: fromEnv },
    ];
    for (const [i, run] of runs.entries()) {
      const cli = startCli(
        [
          'start',
          path.join(REPO_ROOT, 'plugins'),
          '--port',
          '0',
          '--data-dir',
          path.join(dir, `data-${i}`),
          '--log-format',
          'json',
          ...run.args,
        ],
        { NEKOCONNECT_SECRET: SECRET, ...run.env },
      );
      await listeningPort(cli);
      cli.child.kill('SIGINT');
      expect((await cli.exited).code).toBe(0);
      const { out } = all(cli);
      const line = out.find((r) => r.message.startsWith('dashboard http://'));
      expect(line?.message).toMatch(/^dashboard http:\/\/127\.0\.0\.1:\d+\/ /);
      expect(cli.stdout() + cli.stderr()).not.toContain(run.token);
    }
  });

  it('prints a configuration error as a JSON record too (exit 2)', async () => {
    const { code, stdout, stderr } = await runCli([
      'start',
      '--port',
      '0',
      '--no-config',
      '--log-format',
      'json',
    ]);
    expect(code).toBe(2);
    expect(records(stdout)).toEqual([]);
    const [record, ...rest] = records(stderr);
    expect(rest).toEqual([]);
    expect(record).toMatchObject({ level: 'error', code: 'NEKO_ERR_CONFIG_NO_SECRET' });
    expect(record!.message).toContain('NEKOCONNECT_SECRET');
  });

  it('refuses an unknown --log-format or --log-level (exit 2)', async () => {
    const format = await runCli(['start', '--no-config', '--log-format', 'yaml'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('--log-format must be one of pretty, json, got "yaml"');
    const level = await runCli(['start', '--no-config', '--log-level', 'verbose'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    expect(level.code).toBe(2);
    expect(level.stderr).toContain('--log-level must be one of debug, info, warn, error, got "verbose"');
  });
});

describe('a flood of bad handshakes', () => {
  it('prints the first few lines and one summary with the count, over 2,000 real TCP connections', async () => {
    const dataDir = await tempDir('neko-json-data-');
    const cli = startCli(
      [
        'start',
        path.join(REPO_ROOT, 'plugins'),
        '--port',
        '0',
        '--data-dir',
        dataDir,
        '--no-dashboard',
        '--log-format',
        'json',
      ],
      { NEKOCONNECT_SECRET: SECRET },
    );
    const port = await listeningPort(cli);
    const FLOOD = 2_000;
    for (let sent = 0; sent < FLOOD; sent += 100) {
      await Promise.all(Array.from({ length: 100 }, () => badHandshake(port)));
    }
    // Wait for the server to have seen them all (its closes are logged as it reads them).
    await waitForRecord(cli, () => true, 'err');
    await new Promise((resolve) => setTimeout(resolve, 300));
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);

    const { err } = all(cli);
    // An HTTP request where an auth packet should be: its first bytes read as a huge length (413).
    const bad = err.filter((r) => r.level === 'warn');
    expect(new Set(bad.map((r) => r.code))).toEqual(new Set(['NEKO_ERR_FRAME_TOO_LARGE']));
    // The first few lines as they were, then summaries: a bounded number of lines in all.
    const shown = bad.filter((r) => r.repeated === undefined);
    const summaries = bad.filter((r) => r.repeated !== undefined);
    expect(shown).toHaveLength(REPEATS_SHOWN);
    expect(shown[0]).toMatchObject({
      level: 'warn',
      session: expect.stringMatching(/^s-\d+$/),
      remote: '127.0.0.1',
    });
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThanOrEqual(3);
    expect(shown.length + summaries.reduce((n, r) => n + r.repeated!, 0)).toBe(FLOOD);
    for (const summary of summaries) {
      expect(summary).toMatchObject({ level: 'warn', code: 'NEKO_ERR_FRAME_TOO_LARGE' });
      expect(summary.session).toBeUndefined();
      expect(summary.message).toMatch(/\(repeated \d+ more times in the last [\d.]+ s\)$/);
      expect(summary.repeatedMs).toBeTypeOf('number');
    }
    expect(err.length).toBeLessThan(20);
  }, 60_000);
});

/** Connects, sends a line that is no auth packet, and waits for the server to close. */
function badHandshake(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connectTcp({ port, host: '127.0.0.1' }, () =>
      socket.write('GET / HTTP/1.0\r\n\r\n'),
    );
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.setTimeout(10_000, () => reject(new Error('the server did not close a bad handshake')));
  });
}
