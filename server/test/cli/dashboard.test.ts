import { createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/client.js';
import type { LogEntry } from '../../src/dashboard/log-buffer.js';
import type { PluginView } from '../../src/dashboard/views.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { REPO_ROOT, assertBuilt, runCli, startCli } from './run-cli.js';

const PLUGINS = path.join(REPO_ROOT, 'plugins');
const SECRET = 'cli-dashboard-secret';

beforeAll(assertBuilt);

/** GETs a dashboard URL with the access token as a bearer header (none for an open dashboard). */
async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** A config file with `config` in a fresh folder, removed when the test ends. */
async function configFile(config: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-dashboard-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'nekoconnect.config.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

describe('the dashboard from the CLI', () => {
  it('nekoconnect start serves it on loopback and prints its URL with the token, once', async () => {
    const cli = startCli(['start', PLUGINS, '--port', '0'], { NEKOCONNECT_SECRET: SECRET });
    const [, url, token] = await cli.waitFor(
      /dashboard (http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]{43}) {2}\(this machine only; the token in it is shown only now\)/,
    );
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    expect(cli.stdout().split(token!).length - 1).toBe(1);
    expect(cli.stderr()).not.toContain('dashboard is open');
    // Every path, the page's included, needs the token; the printed URL carries it.
    for (const p of ['', 'app.js', 'api/overview', 'api/plugins']) {
      expect([p, (await fetch(`${url}${p}`)).status]).toEqual([p, 401]);
    }
    const page = await fetch(`${url}?token=${token}`);
    expect(page.status).toBe(200);
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${url}app.js`, { headers: { cookie } })).status).toBe(200);
    const { plugins } = await getJson<{ plugins: PluginView[] }>(`${url}api/plugins`, token);
    expect(plugins.map((p) => [p.greeter, p.status])).toEqual([
      ['chat', 'loaded'],
      ['echo', 'loaded'],
      ['rps', 'loaded'],
      ['todo', 'loaded'],
    ]);
    const client = await connect({ secret: SECRET, port: Number(port) });
    await client.request('echo', 'seen by the dashboard');
    await client.close();
    const settings = await getJson<{ server: { port: number; plugins: string } }>(
      `${url}api/settings`,
      token,
    );
    expect(settings.server).toMatchObject({ port: Number(port), plugins: PLUGINS });
    const logs = await getJson<{ entries: LogEntry[] }>(`${url}api/logs`, token);
    expect(logs.entries.map((e) => e.message)).toContain('loaded Echo v1.0.0 (greeter "echo")');
    expect(cli.stdout() + cli.stderr()).not.toContain(SECRET);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });

  it('off loopback, prints the URL with its token once, and refuses requests without it', async () => {
    const cli = startCli(['start', PLUGINS, '--port', '0', '--dashboard-host', '0.0.0.0'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    const [, port, token] = await cli.waitFor(
      /dashboard http:\/\/localhost:(\d+)\/\?token=([\w-]+) {2}\(reachable/,
    );
    await cli.waitFor(/listening on/);
    expect((await fetch(`http://127.0.0.1:${port}/api/overview`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/api/overview?token=${token}`)).status).toBe(200);
    expect(cli.stdout().split(token!).length - 1).toBe(1);
  });

  it('--dashboard-open serves it on loopback without a token, and warns at start', async () => {
    const cli = startCli(['start', PLUGINS, '--port', '0', '--dashboard-open'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    const [, url] = await cli.waitFor(
      /dashboard (http:\/\/127\.0\.0\.1:\d+\/) {2}\(this machine only, no token\)\n/,
    );
    await cli.waitFor(/listening on/);
    expect(cli.stderr()).toContain(
      'warning dashboard is open: any local user or process can read logs and data and close sessions',
    );
    expect(cli.stdout()).not.toContain('token=');
    for (const p of ['', 'app.js', 'api/overview']) {
      expect([p, (await fetch(`${url}${p}`)).status]).toEqual([p, 200]);
    }
    const { plugins } = await getJson<{ plugins: PluginView[] }>(`${url}api/plugins`);
    expect(plugins.map((p) => p.greeter)).toEqual(['chat', 'echo', 'rps', 'todo']);
    const settings = await getJson<{ dashboard: { tokenRequired: boolean } }>(`${url}api/settings`);
    expect(settings.dashboard.tokenRequired).toBe(false);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses an open dashboard off loopback, from the flag or the config, with exit 2 and the fix', async () => {
    const flag = await runCli(
      ['start', PLUGINS, '--port', '0', '--dashboard-open', '--dashboard-host', '0.0.0.0'],
      { NEKOCONNECT_SECRET: SECRET },
    );
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('NEKO_ERR_CLI_USAGE');
    expect(flag.stderr).toContain(
      '--dashboard-open serves the dashboard without its access token, which is allowed only on loopback, but --dashboard-host binds it to 0.0.0.0',
    );
    expect(flag.stderr).toContain(
      'fix: drop --dashboard-open so that every request needs the printed token, or bind the dashboard to loopback (--dashboard-host 127.0.0.1)',
    );
    expect(flag.stdout).not.toContain('listening');

    const config = await configFile({ dashboard: { host: '0.0.0.0', open: true } });
    const fromConfig = await runCli(['start', PLUGINS, '--port', '0', '--config', config], {
      NEKOCONNECT_SECRET: SECRET,
    });
    expect(fromConfig.code).toBe(2);
    expect(fromConfig.stderr).toContain('NEKO_ERR_CONFIG_INVALID');
    expect(fromConfig.stderr).toMatch(
      /dashboard\.open \(in .*nekoconnect\.config\.json\) serves the dashboard without its access token, which is allowed only on loopback, but dashboard\.host \(in .*nekoconnect\.config\.json\) binds it to 0\.0\.0\.0/,
    );
    expect(fromConfig.stderr).toContain(
      'fix: drop dashboard.open so that every request needs the printed token, or bind the dashboard to loopback (dashboard.host "127.0.0.1")',
    );

    const notBoolean = await configFile({ dashboard: { open: 'yes' } });
    const typed = await runCli(['start', PLUGINS, '--port', '0', '--config', notBoolean], {
      NEKOCONNECT_SECRET: SECRET,
    });
    expect(typed.code).toBe(2);
    expect(typed.stderr).toContain('NEKO_ERR_CONFIG_INVALID');
    expect(typed.stderr).toContain('dashboard.open must be true or false');
  });

  it('dev takes --dashboard-open too, and refuses it off loopback', async () => {
    const plugins = await makePluginsDir([{ greeter: 'live', logic: 'export class Logic { recv() {} }\n' }]);
    const bad = await runCli(['dev', plugins, '--port', '0', '--dashboard-open', '--dashboard-host', '::'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('NEKO_ERR_CLI_USAGE');
    const cli = startCli(['dev', plugins, '--port', '0', '--dashboard-open'], { NEKOCONNECT_SECRET: SECRET });
    const [, url] = await cli.waitFor(
      /dashboard (http:\/\/127\.0\.0\.1:\d+\/) {2}\(this machine only, no token\)/,
    );
    await cli.waitForStderr(/warning dashboard is open: any local user or process can read logs and data/);
    await cli.waitFor(/listening on/);
    const { plugins: rows } = await getJson<{ plugins: PluginView[] }>(`${url}api/plugins`);
    expect(rows.map((p) => p.greeter)).toEqual(['live']);
  });

  it('start and dev list --dashboard-open in their help', async () => {
    for (const command of ['start', 'dev']) {
      const { code, stdout } = await runCli([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/--dashboard-open {10}serve it without a token, on loopback only/);
      expect(stdout).toContain('by default every request needs the token in');
    }
  });

  it('--no-dashboard serves none; a dashboard port in use is reported and the server runs on', async () => {
    const none = startCli(['start', PLUGINS, '--port', '0', '--no-dashboard'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    await none.waitFor(/listening on/);
    expect(none.stdout()).not.toMatch(/dashboard/);

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void blocker.close());
    const busy = (blocker.address() as { port: number }).port;
    const cli = startCli(['start', PLUGINS, '--port', '0', '--dashboard-port', String(busy)], {
      NEKOCONNECT_SECRET: SECRET,
    });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    expect(cli.stderr()).toContain('NEKO_ERR_DASHBOARD_LISTEN');
    expect(cli.stderr()).toContain(`the dashboard cannot listen on 127.0.0.1:${busy}: EADDRINUSE`);
    expect(cli.stderr()).toContain('--no-dashboard');
    expect(cli.stderr()).toContain('the server runs without its dashboard');
    const client = await connect({ secret: SECRET, port: Number(port) });
    expect((await client.request('echo', 'still here')).text()).toBe('still here');
    await client.close();
  });

  it('refuses a bad --dashboard-port as a usage error', async () => {
    const { code, stderr } = await runCli(['start', PLUGINS, '--dashboard-port', '70000'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    expect(code).toBe(2);
    expect(stderr).toContain('--dashboard-port must be a whole number from 0 to 65535, got "70000"');
  });

  it('nekoconnect dev shows a rejected save on the plugin, with its code frame, until a good save', async () => {
    const good = `export class Logic { recv(ctx) { ctx.send('v' + 1); } }\n`;
    const plugins = await makePluginsDir([{ greeter: 'live', logic: good }]);
    const cli = startCli(['dev', plugins, '--port', '0'], { NEKOCONNECT_SECRET: SECRET });
    const [, url, token] = await cli.waitFor(/dashboard (http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]+) /);
    await cli.waitFor(/validated \d+ plugins? in/);
    expect((await fetch(`${url}api/plugins`)).status).toBe(401);
    const live = async () =>
      (await getJson<{ plugins: PluginView[] }>(`${url}api/plugins`, token)).plugins[0]!;
    expect(await live()).toMatchObject({ greeter: 'live', status: 'loaded', codeVersion: 1, error: null });

    await writeFile(
      path.join(plugins, 'live', 'logic.js'),
      `export class Logic {\n  recv(ctx) {\n    ctx.send(;\n  }\n}\n`,
    );
    await cli.waitForStderr(/live/);
    await expect
      .poll(async () => (await live()).error?.frame ?? null, { timeout: 10_000 })
      .toContain('> 3 |     ctx.send(;');
    expect((await live()).codeVersion).toBe(1);
    const logs = await getJson<{ entries: LogEntry[] }>(`${url}api/logs?levels=error&plugin=live`, token);
    expect(logs.entries.length).toBeGreaterThan(0);

    await writeFile(path.join(plugins, 'live', 'logic.js'), good.replace('1', '2'));
    await expect.poll(async () => (await live()).codeVersion, { timeout: 10_000 }).toBe(2);
    expect((await live()).error).toBeNull();
  });
});
