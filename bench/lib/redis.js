/**
 * A real Redis server for the cluster benchmark (bench/cluster.js), started
 * as the tests start theirs: `startRedis()` of scripts/test-support/redis.ts
 * (Debian's `redis-server` package, a temporary directory under /tmp, a free
 * port of 127.0.0.1, a generated password, nothing saved to disk). Without
 * Redis installed it throws the same install hint as the tests
 * (`apt-get install -y redis-server`).
 *
 * That file is TypeScript and the benchmark is plain JavaScript on Node.js 20:
 * it is compiled with esbuild into node_modules/.cache/nekoconnect-bench/
 * (removed once imported), as bench/lib/postgres.js does for PostgreSQL.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = path.join(root, 'scripts', 'test-support', 'redis.ts');
const CACHE_DIR = path.join(root, 'node_modules', '.cache', 'nekoconnect-bench');

/**
 * @typedef {object} RunningRedis
 * @property {string} url `redis://:password@127.0.0.1:port`
 * @property {string} host
 * @property {number} port
 * @property {string} password
 * @property {string} dir the temporary directory (the log); gone after stop()
 * @property {() => Promise<void>} stop
 */

/**
 * Starts a Redis server as the tests do.
 * @returns {Promise<RunningRedis>}
 * @throws Error with the install hint when Redis is not installed
 */
export async function startRedis() {
  const { build } = await import('esbuild');
  await mkdir(CACHE_DIR, { recursive: true });
  // One file per process, removed once imported: runs side by side do not write over each other's.
  const outfile = path.join(CACHE_DIR, `redis-${process.pid}.mjs`);
  await build({
    entryPoints: [SOURCE],
    outfile,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    bundle: true,
    packages: 'external',
    logLevel: 'silent',
  });
  let support;
  try {
    support = await import(pathToFileURL(outfile).href);
  } finally {
    await rm(outfile, { force: true });
  }
  return support.startRedis();
}
