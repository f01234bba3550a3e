import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createDashboard } from '../../src/dashboard/dashboard.js';
import type { PluginView } from '../../src/dashboard/views.js';
import { packPlugin } from '../../src/pack/index.js';
import { http } from '../dashboard/harness.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { startServer } from '../helpers/server.js';
import { tempDir, writeGreetPlugin } from './helpers.js';

describe('the dashboard: where a plugin came from', () => {
  it('/api/plugins gives each plugin its origin: a folder, or a package with its sha256', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'echo', logic: 'export class Logic { recv(ctx) { ctx.send(ctx.data); } }\n' },
    ]);
    const packed = await packPlugin({ dir: await writeGreetPlugin(await tempDir()), outDir: plugins });
    const { server } = await startServer();
    const dashboard = createDashboard(server, { port: 0 });
    onTestFinished(() => dashboard.close());
    await server.loadPlugins(plugins);
    const { port } = await dashboard.listen();

    const answer = await http(port, '/api/plugins', {
      headers: { authorization: `Bearer ${dashboard.token}` },
    });
    expect(answer.status).toBe(200);
    const { plugins: views } = answer.json<{ plugins: PluginView[] }>();
    const byGreeter = new Map(views.map((v) => [v.greeter, v]));
    expect(byGreeter.get('echo')).toMatchObject({
      status: 'loaded',
      dir: path.join(plugins, 'echo'),
      origin: { kind: 'folder', dir: path.join(plugins, 'echo') },
    });
    expect(byGreeter.get('greet')).toMatchObject({
      status: 'loaded',
      name: 'Greet',
      version: '1.2.3',
      dir: packed.file,
      origin: { kind: 'package', file: packed.file, sha256: packed.sha256 },
    });
  });
});
