import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DEV_SECRET_FILE, clientSnippet, developmentSecret } from '../../src/dev/secret.js';
import { assertBuilt, type RunningCli } from '../cli/run-cli.js';
import { startCliIn } from '../config/cli-in-dir.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { linkNekoconnect } from './helpers.js';

const runNode = promisify(execFile);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-dev-secret-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('the development secret', () => {
  it('is made once, kept in .nekoconnect/dev-secret (owner only), and read back afterwards', async () => {
    const dir = await tempDir();
    const first = await developmentSecret(dir);
    const file = path.join(dir, DEV_SECRET_FILE);
    expect(first).toMatchObject({ file, created: true });
    expect(first.secret).toMatch(/^dev-[0-9a-f]{32}$/);
    expect(await readFile(file, 'utf8')).toBe(`${first.secret}\n`);
    if (process.platform !== 'win32') {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    }
    expect(await developmentSecret(dir)).toEqual({ ...first, created: false });
  });

  it('makes a new one when the file is empty; names a file it cannot read (NEKO_ERR_DEV_SECRET)', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, '.nekoconnect'));
    await writeFile(path.join(dir, DEV_SECRET_FILE), '\n');
    expect((await developmentSecret(dir)).created).toBe(true);
    const blocked = await tempDir();
    await mkdir(path.join(blocked, DEV_SECRET_FILE), { recursive: true });
    await expect(developmentSecret(blocked)).rejects.toMatchObject({
      code: 'NEKO_ERR_DEV_SECRET',
      message: expect.stringContaining(path.join(blocked, DEV_SECRET_FILE)) as unknown,
    });
  });

  it('comes with a client snippet to paste: plain JavaScript that closes the client', () => {
    expect(
      clientSnippet({ host: '127.0.0.1', port: 4000, tls: false, secret: "dev-'x", greeter: 'todo' }),
    ).toBe(
      [
        "import { connect } from 'nekoconnect/client';",
        "const client = await connect({ port: 4000, secret: 'dev-\\'x' });",
        "const reply = await client.request('todo', 'hello');",
        'console.log(reply.text());',
        'await client.close();',
      ].join('\n'),
    );
    expect(
      clientSnippet({ host: '10.0.0.7', port: 1, tls: true, secret: undefined, greeter: 'echo' }),
    ).toContain("connect({ host: '10.0.0.7', port: 1, secret: process.env.NEKOCONNECT_SECRET, tls: true })");
    // A server on every address is reached on the default host.
    for (const host of ['0.0.0.0', '::']) {
      expect(clientSnippet({ host, port: 1, tls: false, secret: 'dev-x', greeter: 'echo' })).toContain(
        "connect({ port: 1, secret: 'dev-x' })",
      );
    }
  });
});

/** The snippet `nekoconnect dev` printed under "connect a client…:", without its indent. */
function printedSnippet(stdout: string): string {
  const lines = stdout.split('\n');
  const from = lines.findIndex((l) => l.startsWith('connect a client'));
  expect(from, `no snippet in:\n${stdout}`).toBeGreaterThanOrEqual(0);
  const snippet: string[] = [];
  for (const line of lines.slice(from + 1)) {
    if (!line.startsWith('  ')) break;
    snippet.push(line.slice(2));
  }
  return snippet.join('\n');
}

/**
 * Starts `nekoconnect dev` on a plugin that answers `got <data>`, in a folder
 * where `nekoconnect` resolves; resolves with the snippet it printed.
 */
async function devWithSnippet(
  env: NodeJS.ProcessEnv,
): Promise<{ cwd: string; cli: RunningCli; snippet: string }> {
  const cwd = await tempDir();
  await linkNekoconnect(cwd);
  const plugins = await makePluginsDir([
    { greeter: 'paste', logic: "export class Logic { recv(ctx) { ctx.send('got ' + ctx.text()); } }\n" },
  ]);
  const cli = startCliIn(cwd, ['dev', plugins, '--port', '0', '--no-dashboard'], env);
  await cli.waitFor(/watching/);
  return { cwd, cli, snippet: printedSnippet(cli.stdout()) };
}

/** Saves `snippet` as a .mjs file in `cwd` and runs it with node; resolves with what it printed. */
async function runSnippet(cwd: string, snippet: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const file = path.join(cwd, 'client.mjs');
  await writeFile(file, `${snippet}\n`);
  const { stdout } = await runNode(process.execPath, [file], {
    cwd,
    env: { ...process.env, NEKOCONNECT_SECRET: '', ...env },
    timeout: 15_000,
  });
  return stdout;
}

describe('the snippet nekoconnect dev prints', () => {
  it('runs as printed, saved as a .mjs file: it connects with the development secret and prints the answer', async () => {
    assertBuilt();
    const { cwd, cli, snippet } = await devWithSnippet({});
    const secret = (await readFile(path.join(cwd, DEV_SECRET_FILE), 'utf8')).trim();
    expect(snippet).toContain(`secret: '${secret}'`);
    expect(snippet).toContain("await client.request('paste', 'hello');");
    expect(await runSnippet(cwd, snippet)).toBe('got hello\n');
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });

  it('with NEKOCONNECT_SECRET set, reads the secret from the environment and runs as printed', async () => {
    assertBuilt();
    const secret = 'snippet-env-secret';
    const { cwd, cli, snippet } = await devWithSnippet({ NEKOCONNECT_SECRET: secret });
    expect(snippet).not.toContain(secret);
    expect(snippet).toContain('secret: process.env.NEKOCONNECT_SECRET }');
    expect(await runSnippet(cwd, snippet, { NEKOCONNECT_SECRET: secret })).toBe('got hello\n');
    // With another secret, the same file is refused by the server: the answer above was earned.
    await expect(runSnippet(cwd, snippet, { NEKOCONNECT_SECRET: 'not-the-secret' })).rejects.toMatchObject({
      stderr: expect.stringMatching(/NEKO_ERR_\w+/) as unknown,
    });
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });
});
