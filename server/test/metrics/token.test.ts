/**
 * A stable dashboard token, through `nekoconnect start`: from
 * --dashboard-token-file, dashboard.tokenFile or NEKOCONNECT_DASHBOARD_TOKEN;
 * used by the dashboard, the same across restarts, never printed; a bad one
 * stops the start with a coded error naming where it came from.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { assertBuilt, runCli, startCli, type RunningCli } from '../cli/run-cli.js';
import { makePluginsDir } from '../helpers/plugins.js';

const SECRET = 'metrics-token-secret';
const TOKEN = 'Stable-Token_0123456789abcdefXYZ';

beforeAll(assertBuilt);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-token-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function plugins(): Promise<string> {
  return makePluginsDir([
    { greeter: 'echo', logic: `export class Logic { recv(ctx) { ctx.send(ctx.text()); } }\n` },
  ]);
}

/** Waits for the dashboard line; checks the URL has no token and nothing printed holds it. */
async function dashboardUrl(cli: RunningCli, source: RegExp): Promise<string> {
  const [line, url] = await cli.waitFor(/dashboard (http:\/\/127\.0\.0\.1:\d+\/)(.*)/);
  expect(line).toMatch(source);
  expect(line).not.toContain('?token=');
  await cli.waitFor(/listening on tcp:/);
  return url!;
}

function expectNeverPrinted(cli: { stdout(): string; stderr(): string }, token: string): void {
  expect(cli.stdout()).not.toContain(token);
  expect(cli.stderr()).not.toContain(token);
}

async function status(url: string, token?: string): Promise<number> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('a stable dashboard token', () => {
  it('--dashboard-token-file: used, the same after a restart, never printed', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'dashboard-token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    const dir1 = await plugins();
    for (let run = 0; run < 2; run++) {
      const cli = startCli(['start', dir1, '--port', '0', '--dashboard-token-file', file], {
        NEKOCONNECT_SECRET: SECRET,
      });
      const url = await dashboardUrl(
        cli,
        /\(this machine only; the token is the one in the file .*dashboard-token\)$/,
      );
      expect(await status(`${url}api/overview`, TOKEN)).toBe(200);
      expect(await status(`${url}api/overview`)).toBe(401);
      expect(await status(`${url}api/overview`, `${TOKEN}x`)).toBe(401);
      expect(await status(`${url}?token=${TOKEN}`)).toBe(200);
      cli.child.kill('SIGTERM');
      expect((await cli.exited).code).toBe(0);
      expectNeverPrinted(cli, TOKEN);
    }
  });

  it('NEKOCONNECT_DASHBOARD_TOKEN: used, never printed', async () => {
    const token = 'from-the-environment-0123456789';
    const cli = startCli(['start', await plugins(), '--port', '0'], {
      NEKOCONNECT_SECRET: SECRET,
      NEKOCONNECT_DASHBOARD_TOKEN: token,
    });
    const url = await dashboardUrl(
      cli,
      /\(this machine only; the token is the one in NEKOCONNECT_DASHBOARD_TOKEN\)$/,
    );
    expect(await status(`${url}api/overview`, token)).toBe(200);
    expect(await status(`${url}api/overview`)).toBe(401);
    expectNeverPrinted(cli, token);
  });

  it('dashboard.tokenFile in a config file, relative to its folder, beats the variable', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'tok'), TOKEN);
    const config = path.join(dir, 'nekoconnect.config.json');
    await writeFile(config, JSON.stringify({ dashboard: { port: 0, tokenFile: 'tok' } }));
    const cli = startCli(['start', await plugins(), '--port', '0', '--config', config], {
      NEKOCONNECT_SECRET: SECRET,
      NEKOCONNECT_DASHBOARD_TOKEN: 'the-variable-loses-to-the-file',
    });
    const url = await dashboardUrl(
      cli,
      /the token is the one in the file tok \(dashboard\.tokenFile of .*\)\)$/,
    );
    expect(await status(`${url}api/overview`, TOKEN)).toBe(200);
    expect(await status(`${url}api/overview`, 'the-variable-loses-to-the-file')).toBe(401);
    expectNeverPrinted(cli, TOKEN);
  });

  it('a generated token is printed in the URL as before', async () => {
    const cli = startCli(['start', await plugins(), '--port', '0'], { NEKOCONNECT_SECRET: SECRET });
    const [, url, token] = await cli.waitFor(
      /dashboard (http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]{43}) {2}\(this machine only; the token in it is shown only now\)/,
    );
    expect(await status(`${url}api/overview`, token)).toBe(200);
  });

  it.each([
    ['too short', 'short-token', /has 11 characters; it needs at least 16/],
    ['with a space', 'a token with spaces inside', /holds a space or line break \(at character 2\)/],
    [
      'not printable',
      'tökén-tökén-tökén-tökén',
      /holds a character that is not printable ASCII \(at character 2\)/,
    ],
    ['empty', '', /has 0 characters/],
  ])(
    'a token file %s stops the start with NEKO_ERR_CONFIG_DASHBOARD_TOKEN naming the file (exit 2)',
    async (_, content, why) => {
      const dir = await tempDir();
      const file = path.join(dir, 'bad-token');
      await writeFile(file, content);
      const result = await runCli(['start', await plugins(), '--port', '0', '--dashboard-token-file', file], {
        NEKOCONNECT_SECRET: SECRET,
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('NEKO_ERR_CONFIG_DASHBOARD_TOKEN');
      expect(result.stderr).toContain(file);
      expect(result.stderr).toMatch(why);
      expect(result.stdout).not.toContain('listening');
      if (content !== '')
        expectNeverPrinted({ stdout: () => result.stdout, stderr: () => result.stderr }, content);
    },
  );

  it('a missing token file, a bad variable, and a token for an open dashboard are coded errors too', async () => {
    const dir = await tempDir();
    const dirPlugins = await plugins();
    const missing = await runCli(
      ['start', dirPlugins, '--port', '0', '--dashboard-token-file', path.join(dir, 'nope')],
      { NEKOCONNECT_SECRET: SECRET },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /NEKO_ERR_CONFIG_DASHBOARD_TOKEN[\s\S]*cannot read the dashboard token file .*nope: ENOENT/,
    );

    const badEnv = await runCli(['start', dirPlugins, '--port', '0'], {
      NEKOCONNECT_SECRET: SECRET,
      NEKOCONNECT_DASHBOARD_TOKEN: 'tiny',
    });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/the dashboard token from NEKOCONNECT_DASHBOARD_TOKEN has 4 characters/);

    const open = await runCli(['start', dirPlugins, '--port', '0', '--dashboard-open'], {
      NEKOCONNECT_SECRET: SECRET,
      NEKOCONNECT_DASHBOARD_TOKEN: TOKEN,
    });
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(
      /an open dashboard takes no token, but one comes from NEKOCONNECT_DASHBOARD_TOKEN/,
    );
    expectNeverPrinted({ stdout: () => open.stdout, stderr: () => open.stderr }, TOKEN);
  });
});
