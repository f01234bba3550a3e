import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import * as nodeClient from '../../src/client/index.js';
import {
  BROWSER_BUILD,
  buildBrowserClient as writeBrowserClient,
} from '../../scripts/build-browser-client.js';
import { SRC, buildBrowserClient, importBundle } from './browser-build.js';

// The browser build of nekoconnect/client (scripts/build-browser-client.js): what goes into it.

/** The budget for the bundle, minified and gzipped. */
const BUDGET_BYTES = 15 * 1024;

describe('the browser build of the client', () => {
  it('imports nothing: no node: module, no require(), no import of any kind', async () => {
    const code = await buildBrowserClient();
    expect(code).not.toMatch(/["'`]node:/);
    expect(code).not.toContain('require(');
    // Self-contained: no static or dynamic import left for a bundler or the browser to resolve.
    expect(code).not.toMatch(/\bimport\s*[({"'*]|\bimport\s+[\w$]+\s+from\b/);
    // Node's Buffer is never reached for: the bundle brings its own.
    expect(code).not.toMatch(/globalThis\.Buffer|\bprocess\.\w/);
  });

  it(`is under ${BUDGET_BYTES / 1024} KB minified and gzipped`, async () => {
    const code = await buildBrowserClient();
    const minified = Buffer.byteLength(code);
    const gzipped = gzipSync(code).byteLength;
    console.log(`browser client: ${minified} bytes minified, ${gzipped} bytes min+gzip`);
    expect(gzipped).toBeLessThan(BUDGET_BYTES);
  });

  it('has the exports of nekoconnect/client', async () => {
    const bundled = await importBundle<Record<string, unknown>>(await buildBrowserClient());
    expect(Object.keys(bundled).sort()).toEqual(Object.keys(nodeClient).sort());
    for (const name of Object.keys(nodeClient)) expect(typeof bundled[name], name).toBe('function');
  });

  it('fails the build when a Node module or a package would go into it', async () => {
    const bundle = (contents: string) =>
      build({
        ...BROWSER_BUILD,
        entryPoints: undefined,
        stdin: { contents, resolveDir: SRC, loader: 'ts' },
        write: false,
      });
    await expect(
      bundle(
        `import './client/index.js'; import { readFileSync } from 'node:fs'; console.log(readFileSync);`,
      ),
    ).rejects.toThrow(/node:fs is a Node module and cannot go into the browser build/);
    await expect(bundle(`import { createHash } from 'crypto'; console.log(createHash);`)).rejects.toThrow(
      /crypto is a Node module/,
    );
    await expect(bundle(`import WebSocket from 'ws'; console.log(WebSocket);`)).rejects.toThrow(
      /ws is a package: the browser build of the client bundles no dependency/,
    );
    // The Node client's own modules would bring node:net, node:crypto and ws: the build must swap them, not fail.
    await expect(bundle(`export * from './client/index.js';`)).resolves.toBeDefined();
  });

  it('is what a bundler picks for nekoconnect/client when it builds for browsers', async () => {
    // The build script's own output: dist/browser/client.js and its typings.
    await writeBrowserClient();
    const dist = path.join(SRC, '..', 'dist', 'browser');
    expect(readFileSync(path.join(dist, 'client.js'), 'utf8')).toBe(await buildBrowserClient());
    expect(readFileSync(path.join(dist, 'client.d.ts'), 'utf8')).toBe(
      "export * from '../client/index.js';\n",
    );
    const result = await build({
      stdin: { contents: `export { connect } from 'nekoconnect/client';`, resolveDir: SRC, loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs).filter((input) => !input.startsWith('<stdin>'));
    expect(inputs.map((input) => path.resolve(input))).toEqual([path.join(dist, 'client.js')]);
  });
});
