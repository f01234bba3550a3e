/**
 * A real PostgreSQL server for the storage benchmark (bench/storage.js),
 * started as the tests start theirs: `startPostgres()` of
 * scripts/test-support/postgres.ts (Debian's `postgresql` package, a
 * temporary data directory under /tmp, a free port of 127.0.0.1, an
 * unprivileged user when run as root). Without PostgreSQL installed it throws
 * the same install hint as the tests (`apt-get install -y postgresql`).
 *
 * The file is compiled for plain JavaScript by ./test-support.js.
 *
 * The test server turns durability off (`fsync`, `synchronous_commit`,
 * `full_page_writes`), which the tests may do but a comparison with nedb
 * may not: `setDurability()` sets it to what the benchmark compares.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { treeCpu } from './cpu.js';
import { importTestSupport } from './test-support.js';

/**
 * @typedef {object} RunningPostgres
 * @property {string} url `postgres://user:password@127.0.0.1:port/database`
 * @property {string} host
 * @property {number} port
 * @property {string} user
 * @property {string} password
 * @property {string} database
 * @property {string} dir the temporary directory (data directory in `data/`); gone after stop()
 * @property {() => Promise<void>} stop
 */

/**
 * Starts a PostgreSQL server as the tests do.
 * @returns {Promise<RunningPostgres>}
 * @throws Error with the install hint when PostgreSQL is not installed
 */
export async function startPostgres() {
  const support = await importTestSupport('postgres');
  return support.startPostgres();
}

/**
 * The durability settings compared, by name:
 * - `commit`: a commit is acknowledged once its WAL is written to the
 *   operating system (`synchronous_commit = on`), not flushed to the disk
 *   (`fsync = off`). That is what nedb on files promises: an acknowledged
 *   write survives the process being killed, not a power cut.
 * - `fsync`: PostgreSQL's defaults (`fsync`, `synchronous_commit` and
 *   `full_page_writes` on): every commit flushed to the disk, surviving a
 *   power cut, which nedb does not promise.
 */
export const DURABILITY = {
  commit: { fsync: 'off', synchronous_commit: 'on', full_page_writes: 'off' },
  fsync: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' },
};

/** @typedef {keyof typeof DURABILITY} Durability */

/**
 * Sets the server's durability (`ALTER SYSTEM`, then a configuration reload)
 * and waits until a new connection sees it.
 * @param {string} url a superuser's URL (the user startPostgres() makes is one)
 * @param {Durability} durability
 * @returns {Promise<{ settings: Record<string, string>, version: string }>} the settings in force, as `SHOW`
 *   gives them, and the server's version
 */
export async function setDurability(url, durability) {
  const pg = (await import('pg')).default;
  const wanted = DURABILITY[durability];
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    // Fixed names and values from the table above, never input: ALTER SYSTEM takes no parameters.
    for (const [name, value] of Object.entries(wanted))
      await admin.query(`ALTER SYSTEM SET ${name} = ${value}`);
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    /** @type {Record<string, string>} */
    const shown = {};
    try {
      for (const name of Object.keys(wanted)) {
        const { rows } = await check.query(`SHOW ${name}`);
        shown[name] = rows[0][name];
      }
    } finally {
      await check.end();
    }
    if (Object.entries(wanted).every(([name, value]) => shown[name] === value)) {
      return { settings: shown, version: await serverVersion(pg, url) };
    }
    if (Date.now() > deadline) {
      throw new Error(
        `PostgreSQL did not take the settings ${JSON.stringify(wanted)}: it shows ${JSON.stringify(shown)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * @param {any} pg the `pg` module
 * @param {string} url
 * @returns {Promise<string>} `SHOW server_version`
 */
async function serverVersion(pg, url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SHOW server_version')).rows[0].server_version;
  } finally {
    await client.end();
  }
}

/**
 * CPU time of every process of a PostgreSQL server so far, µs: the
 * postmaster's own and that of the children it has waited for (its
 * `cutime`/`cstime`), plus that of its children alive now (the backends
 * serving the pool's connections, the WAL writer, the checkpointer, ...).
 * From /proc (Linux); clock-tick resolution (usually 10 ms).
 * @param {string} dir the server's temporary directory (holding `data/postmaster.pid`)
 * @returns {Promise<number>}
 */
export async function postgresCpuUs(dir) {
  const postmaster = Number(
    (await readFile(path.join(dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0],
  );
  return (await treeCpu(postmaster)).totalUs;
}
