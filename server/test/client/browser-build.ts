import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { onTestFinished } from 'vitest';
import { BROWSER_BUILD } from '../../scripts/build-browser-client.js';

/** The package's src/ folder. */
export const SRC = path.join(import.meta.dirname, '..', '..', 'src');

/** The browser build of the client, built as `npm run build` builds it (minified). */
export async function buildBrowserClient(): Promise<string> {
  const result = await build({ ...BROWSER_BUILD, write: false });
  return result.outputFiles![0]!.text;
}

/**
 * Bundles `source` (a module whose imports are relative to src/) the way
 * the browser build bundles the client: the browser modules in place of
 * the Node-only ones, the browser build's `Buffer`. Not minified.
 */
export async function buildWithBrowserModules(source: string): Promise<string> {
  const result = await build({
    ...BROWSER_BUILD,
    entryPoints: undefined,
    stdin: { contents: source, resolveDir: SRC, loader: 'ts', sourcefile: 'entry.ts' },
    minify: false,
    write: false,
  });
  return result.outputFiles![0]!.text;
}

/** Imports bundled code into this process (from a temporary file, removed when the test ends). */
export async function importBundle<T>(code: string): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-browser-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bundle.mjs');
  await writeFile(file, code);
  return (await import(pathToFileURL(file).href)) as T;
}
