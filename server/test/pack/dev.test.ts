import { copyFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/client.js';
import { packPlugin } from '../../src/pack/index.js';
import { assertBuilt, startCli } from '../cli/run-cli.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { tempDir, writeGreetPlugin } from './helpers.js';

beforeAll(assertBuilt);

const SECRET = 'pack-dev-secret';

/** The greet plugin packed with `code` as its version text, into a scratch folder. */
async function packVersion(code: string): Promise<string> {
  const dir = await writeGreetPlugin(await tempDir(), { code });
  return (await packPlugin({ dir, outDir: await tempDir() })).file;
}

describe('nekoconnect dev with .ncp packages', () => {
  it('reloads a package when its file is replaced, on the same connection; takes it down when it goes, serves it when it comes back', async () => {
    const plugins = await makePluginsDir([
      {
        greeter: 'echo',
        logic: 'export class Logic { recv(ctx) { ctx.send(ctx.data, { op: ctx.op }); } }\n',
      },
    ]);
    const file = path.join(plugins, 'greet-1.2.3.ncp');
    await copyFile(await packVersion('v1'), file);
    const v2 = await packVersion('v2');
    const v3 = await packVersion('v3');

    const data = await tempDir();
    const cli = startCli(['dev', plugins, '--port', '0', '--data-dir', data], { NEKOCONNECT_SECRET: SECRET });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    await cli.waitFor(/watching .* for changes/);
    await cli.waitFor(/validated \d+ plugins? in/);
    expect(cli.stdout()).toMatch(/2 loaded, 0 failed/);

    const client = await connect({ secret: SECRET, port: Number(port) });
    onTestFinished(() => client.close());
    expect((await client.request('greet', 'neko', { op: 1 })).text()).toBe('HELLO, NEKO! v1');

    // Replaced whole (as a copy that ends in a rename does): v2 serves the same connection.
    const next = path.join(plugins, 'greet.upload');
    await copyFile(v2, next);
    await rename(next, file);
    await cli.waitFor(/✓ greet reloaded in \d+ ms \(v2\)/);
    expect((await client.request('greet', 'neko', { op: 1 })).text()).toBe('HELLO, NEKO! v2');

    // A damaged copy is refused: v2 keeps serving.
    await writeFile(file, 'not a package any more');
    await cli.waitForStderr(/✗ greet failed to load \(still serving v2\)/);
    expect(cli.stderr()).toMatch(new RegExp(`NEKO_ERR_PACKAGE_CORRUPT\\s+the package ${file}`));
    expect((await client.request('greet', 'neko', { op: 1 })).text()).toBe('HELLO, NEKO! v2');

    // Gone: the greeter answers 404. Back (a new version): served again.
    await rm(file);
    await cli.waitFor(/− greet removed/);
    await expect(client.request('greet', 'neko', { op: 1 })).rejects.toMatchObject({ status: 404 });
    await copyFile(v3, next);
    await rename(next, file);
    await cli.waitFor(/✓ greet loaded in \d+ ms \(v\d+\)/);
    expect((await client.request('greet', 'neko', { op: 1 })).text()).toBe('HELLO, NEKO! v3');
    // The cache keeps the logic and the map of the version serving only.
    const [cache] = (await readdir(path.join(data, 'cache'))).filter((name) =>
      name.startsWith('greet-1.2.3.ncp-'),
    );
    const built = (await readdir(path.join(data, 'cache', cache!))).filter((name) => name !== 'node_modules');
    expect(built.sort()).toEqual([
      expect.stringMatching(/^logic\.[0-9a-f]{10}\.mjs$/),
      expect.stringMatching(/^logic\.[0-9a-f]{10}\.mjs\.map$/),
    ]);
    expect(built[1]).toBe(`${built[0]}.map`);

    // The connection was never dropped: the folder plugin answers on it too.
    expect((await client.request('echo', 'same link', { op: 4 })).text()).toBe('same link');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout()).toMatch(/SIGINT: shutting down \(1 connection\(s\) open\)/);
  });
});
