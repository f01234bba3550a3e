import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { moduleProbe, TS_MORPH } from '../validate/module-probe.js';
import type { PlaygroundClient, PlaygroundEvent, PlaygroundInfo } from '../../src/playground/wire.js';
import { REPO_ROOT, assertBuilt, runCli, startCli, type RunningCli } from '../cli/run-cli.js';

beforeAll(assertBuilt);

const PLUGINS = join(REPO_ROOT, 'plugins');
const SECRET = { NEKOCONNECT_SECRET: 'playground-secret' };

/** The dashboard's base URL and token, as the server printed them. */
async function dashboardOf(
  cli: RunningCli,
): Promise<{ api: (path: string, init?: RequestInit) => Promise<Response> }> {
  const [, base, token] = await cli.waitFor(/dashboard (http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]+)/);
  await cli.waitFor(/listening on tcp:\/\//);
  return {
    api: (path, init = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
      }),
  };
}

async function stop(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGINT');
  expect((await cli.exited).code).toBe(0);
}

describe('turning the Playground on', () => {
  it('start without --playground serves none, and says how to turn it on', async () => {
    const cli = startCli(['start', PLUGINS, '--port', '0'], SECRET);
    const { api } = await dashboardOf(cli);
    const info = (await (await api('api/playground')).json()) as PlaygroundInfo;
    expect(info).toEqual({
      enabled: false,
      reason: expect.stringMatching(/start the server with --playground/),
      plugins: [],
      clients: [],
    });
    const refused = await api('api/playground/clients', { method: 'POST' });
    expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([
      403,
      'NEKO_ERR_PLAYGROUND_OFF',
    ]);
    await stop(cli);
  });

  it('start --playground loads TypeScript only once the page asks for the ops, then serves them', async () => {
    const idle = await moduleProbe();
    const quiet = startCli(['start', PLUGINS, '--port', '0', '--playground'], { ...SECRET, ...idle.env });
    await dashboardOf(quiet);
    await stop(quiet);
    expect((await idle.modules()).filter((m) => TS_MORPH.test(m))).toEqual([]);

    const asked = await moduleProbe();
    const cli = startCli(['start', PLUGINS, '--port', '0', '--playground'], { ...SECRET, ...asked.env });
    const { api } = await dashboardOf(cli);
    const info = (await (await api('api/playground')).json()) as PlaygroundInfo;
    expect(info.enabled).toBe(true);
    expect(info.plugins.map((p) => [p.greeter, p.ops.length])).toEqual([
      ['chat', 7],
      ['echo', 1],
      ['rps', expect.any(Number)],
      ['todo', expect.any(Number)],
    ]);
    expect(info.plugins.find((p) => p.greeter === 'echo')!.ops[0]).toMatchObject({ name: 'Echo', op: 1 });
    // A simulated client talks to the plugins of the real server.
    const client = (await (
      await api('api/playground/clients', { method: 'POST' })
    ).json()) as PlaygroundClient;
    const sent = await api(`api/playground/clients/${client.id}/send`, {
      method: 'POST',
      body: JSON.stringify({ greeter: 'echo', op: 1, mode: 'request', data: { kind: 'text', value: 'mew' } }),
    });
    const { events } = (await sent.json()) as { events: PlaygroundEvent[] };
    expect(events.map((e) => e.kind)).toEqual(['sent', 'reply']);
    await stop(cli);
    expect((await asked.modules()).some((m) => TS_MORPH.test(m))).toBe(true);
  });

  it('--playground without the dashboard, or with --workers, is a usage error naming the fix', async () => {
    const noDashboard = await runCli(
      ['start', PLUGINS, '--port', '0', '--playground', '--no-dashboard'],
      SECRET,
    );
    expect(noDashboard.code).toBe(2);
    expect(noDashboard.stderr).toMatch(/NEKO_ERR_CLI_USAGE/);
    expect(noDashboard.stderr).toMatch(/--playground needs the dashboard/);
    expect(noDashboard.stderr).toMatch(/Drop --no-dashboard/);
    const workers = await runCli(['start', PLUGINS, '--port', '0', '--playground', '--workers', '2'], SECRET);
    expect(workers.code).toBe(2);
    expect(workers.stderr).toMatch(/--playground is not supported with --workers yet/);
  });

  it('dev serves it by default with the ops of the warm validator; dev --no-playground does not', async () => {
    const cli = startCli(['dev', join(PLUGINS, 'echo'), '--port', '0'], SECRET);
    const { api } = await dashboardOf(cli);
    const info = (await (await api('api/playground')).json()) as PlaygroundInfo;
    expect([info.enabled, info.plugins.map((p) => p.ops.map((o) => o.name))]).toEqual([true, [['Echo']]]);
    await stop(cli);

    const off = startCli(['dev', join(PLUGINS, 'echo'), '--port', '0', '--no-playground'], SECRET);
    const offInfo = (await (await (await dashboardOf(off)).api('api/playground')).json()) as PlaygroundInfo;
    expect([offInfo.enabled, offInfo.reason]).toEqual([false, expect.stringMatching(/--no-playground/)]);
    await stop(off);
  });

  it('--help says what the flags do and that the Playground needs the dashboard token', async () => {
    const start = await runCli(['start', '--help']);
    expect(start.stdout).toMatch(/--playground\s+serve the dashboard's Playground/);
    expect(start.stdout).toMatch(/needs the dashboard and its token/);
    expect(start.stdout).toMatch(/not with\s+--workers yet/);
    const dev = await runCli(['dev', '--help']);
    expect(dev.stdout).toMatch(/--no-playground\s+do not serve the dashboard's Playground/);
    expect(dev.stdout).not.toMatch(/--playground\b/);
  });
});
