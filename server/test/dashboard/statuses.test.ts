import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RejectedEvent } from '../../src/dev/events.js';
import { NekoError } from '../../src/errors.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { startServer } from '../helpers/server.js';
import { startDashboardServer } from './harness.js';
import type { PluginView } from '../../src/dashboard/views.js';

const GOOD = `export class Logic { recv(ctx) { ctx.send('ok'); } }\n`;

/** A logic whose onLoad waits until the test lets it go, through a global the test holds. */
const GATED = `export class Logic {
  async onLoad() { await globalThis.__nekoGate; }
  recv(ctx) { ctx.send('gated'); }
}
`;

describe('plugin statuses', () => {
  it('show a reload in progress, then a failed reload beside the version that keeps serving', async () => {
    const plugins = await makePluginsDir([{ greeter: 'p', logic: GOOD }]);
    const { server } = await startServer({ plugins });
    const dir = path.join(plugins, 'p');
    const status = () =>
      server.pluginStatuses().map((s) => [s.greeter, s.status, s.host?.version, s.problem?.error.code]);
    expect(status()).toEqual([['p', 'loaded', 1, undefined]]);

    let open!: () => void;
    (globalThis as { __nekoGate?: Promise<void> }).__nekoGate = new Promise<void>((r) => (open = r));
    await writeFile(path.join(dir, 'logic.js'), GATED);
    const reloading = server.reloadPlugin(dir);
    await new Promise((r) => setTimeout(r, 200));
    // The swap is under way: the new version (2) is in place, its onLoad still running.
    expect(status()).toEqual([['p', 'reloading', 2, undefined]]);
    open();
    expect(await reloading).toMatchObject({ kind: 'loaded', version: 2 });
    expect(status()).toEqual([['p', 'loaded', 2, undefined]]);

    await writeFile(path.join(dir, 'logic.js'), 'export class Logic {}\n');
    await server.reloadPlugin(dir);
    expect(status()).toEqual([['p', 'loaded', 2, 'NEKO_ERR_PLUGIN_NO_RECV']]);
    // A good save clears the error.
    await writeFile(path.join(dir, 'logic.js'), GOOD);
    await server.reloadPlugin(dir);
    expect(status()).toEqual([['p', 'loaded', 3, undefined]]);
    delete (globalThis as { __nekoGate?: Promise<void> }).__nekoGate;
  });

  it('list a folder whose spec.conf cannot be read, without a greeter, until it is removed', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'ok', logic: GOOD },
      { greeter: 'nospec', logic: GOOD, spec: '$name {"No greeter"};\n' },
    ]);
    const { server } = await startServer({ plugins });
    const statuses = server.pluginStatuses();
    expect(statuses.map((s) => [s.greeter, s.status, s.problem?.error.code])).toEqual([
      ['ok', 'loaded', undefined],
      [undefined, 'failed', 'NEKO_ERR_SPEC_MISSING_KEY'],
    ]);
    expect(statuses[1]!.dir).toBe(path.join(plugins, 'nospec'));
    await rm(path.join(plugins, 'nospec'), { recursive: true });
    await server.reloadPlugin(path.join(plugins, 'nospec'));
    expect(server.pluginStatuses().map((s) => s.greeter)).toEqual(['ok']);
  });

  it('on the dashboard, show a change the dev server rejected until a later change loads', async () => {
    const { dashboard, request, server } = await startDashboardServer();
    const echo = server.pluginStatuses().find((s) => s.greeter === 'echo')!;
    const error = new NekoError('NEKO_ERR_VALIDATE_TYPESCRIPT', 'Type error here', {
      location: { file: path.join(echo.dir, 'logic.js'), line: 3, column: 5 },
    });
    const event: RejectedEvent = {
      type: 'rejected',
      dir: echo.dir,
      greeter: 'echo',
      stage: 'validate',
      errors: [error],
      serving: 1,
      durationMs: 12,
    };
    dashboard.devEvent(
      event,
      '12:00:00 \u001b[31m✗\u001b[39m echo rejected\n    > 3 | code\n      |   ^\n  fix: this',
    );
    const view = async () =>
      (await request('/api/plugins'))
        .json<{ plugins: PluginView[] }>()
        .plugins.find((p) => p.greeter === 'echo')!;
    const rejected = await view();
    expect([rejected.status, rejected.error?.code, rejected.error?.message]).toEqual([
      'loaded',
      'NEKO_ERR_VALIDATE_TYPESCRIPT',
      'Type error here',
    ]);
    expect(rejected.error?.frame).toContain("> 3 |     ctx.log('echo ' + ctx.text());");
    const line = dashboard.logs.entries().at(-1)!;
    expect([line.level, line.plugin, line.message, line.code]).toEqual([
      'error',
      'echo',
      // Colours and the terminal's code frame are dropped: the entry carries the frame on its own.
      '12:00:00 ✗ echo rejected\n  fix: this',
      'NEKO_ERR_VALIDATE_TYPESCRIPT',
    ]);
    dashboard.devEvent(
      {
        type: 'reloaded',
        dir: echo.dir,
        greeter: 'echo',
        name: 'Echo',
        version: 2,
        added: false,
        durationMs: 9,
        warnings: [],
      },
      'echo reloaded',
    );
    expect((await view()).error).toBeNull();
  });
});
