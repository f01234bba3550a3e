/**
 * A real Redis server for the cluster benchmark (bench/cluster.js), started
 * as the tests start theirs: `startRedis()` of scripts/test-support/redis.ts
 * (Debian's `redis-server` package, a temporary directory under /tmp, a free
 * port of 127.0.0.1, a generated password, nothing saved to disk). Without
 * Redis installed it throws the same install hint as the tests
 * (`apt-get install -y redis-server`).
 *
 * The file is compiled for plain JavaScript by ./test-support.js.
 */
import { importTestSupport } from './test-support.js';

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
  const support = await importTestSupport('redis');
  return support.startRedis();
}
