/**
 * Stack traces of plugin errors name the TypeScript source (`logic.ts:line:column`),
 * not the bundle in the cache dir: the bundle carries an inline source
 * map and the loader turns on source-mapped stacks before importing it.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bundleLoaderForNode } from '../helpers/node-loader.js';
import { loadPlugin } from '../../src/plugins/loader.js';
import { makePluginsDir, specConf } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';

/** Throws on line 7, column 11 (the `new`) of logic.ts, after type-only lines esbuild drops. */
const THROWING_LOGIC = `interface Packet {
  text(): string;
}
type Unused = { a: number };
export class Logic {
  recv(ctx: Packet): void {
    throw new Error(\`ts boom \${ctx.text()}\`);
  }
}
`;

describe('stack traces of TypeScript plugins', () => {
  it('point at logic.ts when recv throws, as the server logs it', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'tsboom', name: 'TS Boom', file: 'logic.ts', logic: THROWING_LOGIC },
    ]);
    const { port, waitForLog } = await startServer({ plugins });
    const client = await connectClient(port);
    await client.send('tsboom', 'x').catch(() => undefined);
    const record = await waitForLog((r) => r.plugin === 'tsboom' && r.level === 'error');
    expect(record.code).toBe('NEKO_ERR_PLUGIN_HANDLER');
    const logicTs = path.join(plugins, 'tsboom', 'logic.ts');
    expect(record.message).toContain(`${logicTs}:7:11`);
    expect(record.message).not.toMatch(/logic\.[0-9a-f]+\.mjs/);
    const stack = (record.error as Error).stack ?? '';
    expect(stack).toMatch(/^Error: ts boom x\n\s+at /);
    expect(stack).toContain(`${logicTs}:7:11`);
    expect(stack).not.toMatch(/logic\.[0-9a-f]+\.mjs/);
  });

  it('point at logic.ts when the loaded Logic is called directly', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'direct', file: 'logic.ts', logic: THROWING_LOGIC, spec: specConf('direct', 'direct') },
    ]);
    const { logic } = await loadPlugin(path.join(plugins, 'direct'));
    let thrown: unknown;
    try {
      await logic.recv({ text: () => 'y' } as never);
    } catch (err) {
      thrown = err;
    }
    const stack = (thrown as Error).stack ?? '';
    expect(stack).toContain(`${path.join(plugins, 'direct', 'logic.ts')}:7:11`);
    expect(stack).not.toMatch(/logic\.[0-9a-f]+\.mjs/);
  });

  // Under vitest, import() goes through Vite's module runner, which maps stacks
  // itself. This runs the loader, bundled, in a child Node process started
  // without --enable-source-maps: the path `nekoconnect start` takes.
  it('point at logic.ts under plain Node, without --enable-source-maps', async () => {
    const plugins = await makePluginsDir([{ greeter: 'plain', file: 'logic.ts', logic: THROWING_LOGIC }]);
    const work = await bundleLoaderForNode('stack-smoke-');
    await writeFile(
      path.join(work, 'main.mjs'),
      `import { loadPlugin } from './loader.mjs';
const before = process.sourceMapsEnabled;
const { logic } = await loadPlugin(process.argv[2]);
try {
  await logic.recv({ text: () => 'z' });
} catch (err) {
  console.log(JSON.stringify({ before, stack: err.stack }));
}
`,
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(work, 'main.mjs'), path.join(plugins, 'plain')],
      { timeout: 15_000 },
    );
    const result = JSON.parse(stdout) as { before: boolean; stack: string };
    expect(result.before).toBe(false);
    expect(result.stack).toMatch(/^Error: ts boom z\n\s+at /);
    expect(result.stack).toContain(`${path.join(plugins, 'plain', 'logic.ts')}:7:11`);
    expect(result.stack).not.toMatch(/logic\.[0-9a-f]+\.mjs/);
  });
});
