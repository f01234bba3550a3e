/**
 * The tests' engine starters (scripts/test-support/*.ts), for the benchmarks.
 *
 * Those files are TypeScript and the benchmarks are plain JavaScript on
 * Node.js 20, which cannot run TypeScript: a file is compiled with esbuild (a
 * dependency of the server, which compiles plugins with it) into
 * node_modules/.cache/nekoconnect-bench/ (removed once imported), inside the
 * repository so that its imports of npm packages (`pg`) find the
 * repository's. Nothing is copied by hand: every run compiles the current file.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE_DIR = path.join(root, 'node_modules', '.cache', 'nekoconnect-bench');

/**
 * Compiles and imports one module of scripts/test-support.
 * @param {string} name the module's name without `.ts`, e.g. `redis`
 * @returns {Promise<Record<string, any>>} its exports
 */
export async function importTestSupport(name) {
  const { build } = await import('esbuild');
  await mkdir(CACHE_DIR, { recursive: true });
  // One file per process, removed once imported: runs side by side do not write over each other's.
  const outfile = path.join(CACHE_DIR, `${name}-${process.pid}.mjs`);
  await build({
    entryPoints: [path.join(root, 'scripts', 'test-support', `${name}.ts`)],
    outfile,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Its sibling modules of scripts/test-support go in; npm packages are imported as they are.
    bundle: true,
    packages: 'external',
    logLevel: 'silent',
  });
  try {
    return await import(pathToFileURL(outfile).href);
  } finally {
    await rm(outfile, { force: true });
  }
}
