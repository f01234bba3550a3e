import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { onTestFinished } from 'vitest';

/**
 * Bundles the plugin loader to `loader.mjs` in a fresh folder, for a child
 * Node process to import: under vitest, the loader's `import()` goes through
 * Vite's module runner, while `nekoconnect start` runs it under Node itself.
 * The folder is inside the package (a gitignored `.nekoconnect` folder), so
 * the bundle's bare imports resolve from node_modules; removed after the test.
 *
 * @returns the folder holding `loader.mjs`
 */
export async function bundleLoaderForNode(prefix: string): Promise<string> {
  const serverDir = path.join(import.meta.dirname, '..', '..');
  await mkdir(path.join(serverDir, '.nekoconnect'), { recursive: true });
  const work = await mkdtemp(path.join(serverDir, '.nekoconnect', prefix));
  onTestFinished(() => rm(work, { recursive: true, force: true }));
  await build({
    entryPoints: [path.join(serverDir, 'src', 'plugins', 'loader.ts')],
    outfile: path.join(work, 'loader.mjs'),
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
  });
  return work;
}
