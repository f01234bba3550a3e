import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packPlugin } from '../../src/pack/index.js';
import { linkNekoconnect } from '../dev/helpers.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';
import { tempDir, writeGreetPlugin } from './helpers.js';

describe('packages in the registry', () => {
  it('a folder and a package declaring the same greeter follow the duplicate-greeter rule: neither loads, both named', async () => {
    const plugins = await makePluginsDir([]);
    const folder = path.join(plugins, 'greet-src');
    await mkdir(folder);
    await writeGreetPlugin(folder);
    const { file } = await packPlugin({ dir: await writeGreetPlugin(await tempDir()), outDir: plugins });

    const { server, port } = await startServer();
    const report = await server.loadPlugins(plugins);
    expect(report.loaded).toEqual([]);
    expect(report.failed.map((f) => [f.dir, f.error.code])).toEqual([
      [file, 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER'],
      [folder, 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER'],
    ]);
    for (const failure of report.failed) {
      expect(failure.error.message).toContain(file);
      expect(failure.error.message).toContain(folder);
    }
    const client = await connectClient(port);
    await expect(client.request('greet', 'x', { op: 1 })).rejects.toMatchObject({ status: 503 });
  });

  it('a package loaded while a folder serves its greeter is refused, and the folder keeps serving', async () => {
    const plugins = await makePluginsDir([]);
    const folder = path.join(plugins, 'greet-src');
    await mkdir(folder);
    await writeGreetPlugin(folder, { code: 'folder' });
    // The folder's logic imports nekoconnect at run time: the plugins directory has it installed.
    await linkNekoconnect(plugins);
    const { server, port } = await startServer();
    expect((await server.loadPlugins(plugins)).loaded.map((p) => p.dir)).toEqual([folder]);

    const { file } = await packPlugin({
      dir: await writeGreetPlugin(await tempDir(), { code: 'package' }),
      outDir: plugins,
    });
    const outcome = await server.reloadPlugin(file);
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER' } });
    const client = await connectClient(port);
    expect((await client.request('greet', 'neko', { op: 1 })).text()).toBe('HELLO, NEKO! folder');
  });
});
