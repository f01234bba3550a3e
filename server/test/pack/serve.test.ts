import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/client.js';
import { packPlugin } from '../../src/pack/index.js';
import { assertBuilt, startCli } from '../cli/run-cli.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { BOOM_LINE, rewritePackage, tempDir, writeGreetPlugin } from './helpers.js';

beforeAll(assertBuilt);

const SECRET = 'pack-serve-secret';

/** Packs the greet plugin (with this greeter) into `outDir`. */
async function pack(outDir: string, greeter = 'greet'): Promise<string> {
  const dir = await writeGreetPlugin(await tempDir(), { greeter });
  return (await packPlugin({ dir, outDir })).file;
}

describe('nekoconnect start serving .ncp packages', () => {
  it('serves a package beside a folder; a corrupt, a truncated, a tampered and an incompatible package each fail alone, named', async () => {
    const plugins = await makePluginsDir([
      {
        greeter: 'echo',
        logic: 'export class Logic { recv(ctx) { ctx.send(ctx.data, { op: ctx.op }); } }\n',
      },
    ]);
    const good = await pack(plugins);
    const scratch = await tempDir();

    const corrupt = path.join(plugins, 'corrupt.ncp');
    await writeFile(corrupt, 'PK\u0003\u0004 and then nothing a zip reader can use');
    const truncated = path.join(plugins, 'truncated.ncp');
    const bytes = await readFile(await pack(scratch, 'cut'));
    await writeFile(truncated, bytes.subarray(0, bytes.length - 30));
    const tampered = path.join(plugins, 'tampered-1.2.3.ncp');
    await rewritePackage(await pack(scratch, 'tampered'), tampered, {
      entry: (name, data) =>
        name === 'logic.mjs' ? Buffer.from(data.toString().replace('hello, ', 'jello, ')) : data,
    });
    const incompatible = path.join(plugins, 'old-1.2.3.ncp');
    await rewritePackage(await pack(scratch, 'old'), incompatible, {
      manifest: (m) => (m.nekoconnect = '^0.0.1'),
    });

    const cli = startCli(['start', plugins, '--port', '0', '--no-dashboard'], { NEKOCONNECT_SECRET: SECRET });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    expect(cli.stdout()).toMatch(/2 loaded, 4 failed/);
    expect(cli.stdout()).toMatch(
      /✓ greet {2}Greet v1\.2\.3 {2}from .*greet-1\.2\.3\.ncp \(sha256 [0-9a-f]{12}…\)/,
    );
    expect(cli.stdout()).toMatch(/✓ echo {2}echo v1\.0\.0\n/);

    const client = await connect({ secret: SECRET, port: Number(port) });
    onTestFinished(() => client.close());
    expect((await client.request('echo', 'still here', { op: 3 })).text()).toBe('still here');
    expect((await client.request('greet', 'neko', { op: 1 })).text()).toBe('HELLO, NEKO! v1');
    // A package whose spec.conf could be read answers 503 under its greeter; the others are unknown (404).
    await expect(client.request('tampered', 'x', { op: 1 })).rejects.toMatchObject({ status: 503 });
    await expect(client.request('old', 'x', { op: 1 })).rejects.toMatchObject({ status: 503 });
    await expect(client.request('cut', 'x', { op: 1 })).rejects.toMatchObject({ status: 404 });

    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const stderr = cli.stderr();
    const failure = (code: string, file: string): RegExp =>
      new RegExp(`${code}[\\s\\S]{0,400}${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
    expect(stderr).toMatch(failure('NEKO_ERR_PACKAGE_CORRUPT', corrupt));
    expect(stderr).toMatch(failure('NEKO_ERR_PACKAGE_CORRUPT', truncated));
    expect(stderr).toMatch(failure('NEKO_ERR_PACKAGE_HASH', tampered));
    expect(stderr).toMatch(/logic\.mjs does not match manifest\.json/);
    expect(stderr).toMatch(failure('NEKO_ERR_PACKAGE_INCOMPATIBLE', incompatible));
    expect(stderr).toContain('was built for NekoConnect ^0.0.1');
    expect(stderr).not.toMatch(failure('NEKO_ERR_PACKAGE', good));
  });

  it("a packaged plugin's stack trace points into its source file and line, through the package's source map", async () => {
    const plugins = await makePluginsDir([]);
    await pack(plugins);
    const cli = startCli(['start', plugins, '--port', '0', '--no-dashboard'], { NEKOCONNECT_SECRET: SECRET });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const client = await connect({ secret: SECRET, port: Number(port) });
    onTestFinished(() => client.close());
    await expect(client.request('greet', 'x', { op: 2 })).rejects.toMatchObject({ status: 500 });
    await cli.waitForStderr(/boom from the package/);
    await cli.waitForStderr(/\n\s+at .*\n/);
    cli.child.kill('SIGINT');
    await cli.exited;
    const stderr = cli.stderr();
    expect(stderr).toContain('boom from the package (plain)');
    // The first frame is the throw in logic.ts, at its line in the source (not in the bundle).
    const frame = /at Logic\.recv \((.*?):(\d+):(\d+)\)/.exec(stderr);
    expect(frame, stderr).not.toBeNull();
    expect(path.basename(frame![1]!)).toBe('logic.ts');
    expect(Number(frame![2])).toBe(BOOM_LINE);
  });
});
