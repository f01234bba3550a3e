import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
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

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

describe('the dashboard from the CLI', () => {
  it('nekoconnect start serves it on loopback and prints its address', async () => {
    const cli = startCli(['start', PLUGINS, '--port', '0'], { NEKOCONNECT_SECRET: SECRET });
    const [, url] = await cli.waitFor(/dashboard (http:\/\/127\.0\.0\.1:\d+\/) {2}\(this machine only\)/);
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const { plugins } = await getJson<{ plugins: PluginView[] }>(`${url}api/plugins`);
    expect(plugins.map((p) => [p.greeter, p.status])).toEqual([
      ['chat', 'loaded'],
      ['echo', 'loaded'],
      ['todo', 'loaded'],
    ]);
    const client = await connect({ secret: SECRET, port: Number(port) });
    await client.request('echo', 'seen by the dashboard');
    await client.close();
    const settings = await getJson<{ server: { port: number; plugins: string } }>(`${url}api/settings`);
    expect(settings.server).toMatchObject({ port: Number(port), plugins: PLUGINS });
    const logs = await getJson<{ entries: LogEntry[] }>(`${url}api/logs`);
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
    const [, url] = await cli.waitFor(/dashboard (http:\/\/127\.0\.0\.1:\d+\/)/);
    await cli.waitFor(/validated \d+ plugins? in/);
    const live = async () => (await getJson<{ plugins: PluginView[] }>(`${url}api/plugins`)).plugins[0]!;
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
    const logs = await getJson<{ entries: LogEntry[] }>(`${url}api/logs?levels=error&plugin=live`);
    expect(logs.entries.length).toBeGreaterThan(0);

    await writeFile(path.join(plugins, 'live', 'logic.js'), good.replace('1', '2'));
    await expect.poll(async () => (await live()).codeVersion, { timeout: 10_000 }).toBe(2);
    expect((await live()).error).toBeNull();
  });
});
