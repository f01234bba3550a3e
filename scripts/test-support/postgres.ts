/**
 * A real PostgreSQL server for a test: Debian's `postgresql` package, started
 * in a temporary directory under /tmp on a free port of 127.0.0.1, and
 * removed again at stop() (or, at the latest, once the test process is gone).
 *
 * PostgreSQL refuses to run as root, and CI runs as root: there, initdb and
 * pg_ctl run as the `postgres` user (`runuser`), or as `nobody` (`setpriv`)
 * on a machine without one, and the temporary directory belongs to that user.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
import { appendFile, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, stopOnce, tail } from './engine.js';

const run = promisify(execFile);

/** A started PostgreSQL server and the one user and database made for the test. */
export interface RunningPostgres {
  /** `postgres://user:password@127.0.0.1:port/database` (user and password percent-encoded). */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The temporary directory holding the data directory, the socket and the log; gone after stop(). */
  dir: string;
  /** Stops the server (`pg_ctl stop -m fast`) and removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Restarts the server as an operator would: stops it (`pg_ctl stop -m
   * fast`, which ends every open connection and rolls back what is under
   * way), runs `whileDown` if given (nothing listens on the port meanwhile),
   * then starts it again on the same port and data directory and waits until
   * it accepts connections; it is started again even when `whileDown` throws.
   * Resolves with what `whileDown` resolved to.
   */
  restart<T = undefined>(whileDown?: () => Promise<T>): Promise<T | undefined>;
}

const INSTALL_HINT = 'PostgreSQL is not installed: apt-get install -y postgresql';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The folder holding initdb, pg_ctl and postgres: the one of the initdb on
 * PATH (symlinks resolved), else the newest `/usr/lib/postgresql/<version>/bin`.
 * Throws, saying how to install PostgreSQL, when there is none.
 * @param searchPath the PATH to look in
 * @param libDir where Debian puts each PostgreSQL version
 */
export function findPostgresBin(
  searchPath: string = process.env['PATH'] ?? '',
  libDir = '/usr/lib/postgresql',
): string {
  const candidates: string[] = [];
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const initdb = path.join(dir, 'initdb');
    if (isExecutable(initdb)) candidates.push(path.dirname(realpathSync(initdb)));
  }
  let versions: string[] = [];
  try {
    versions = readdirSync(libDir).filter((name) => /^\d+(\.\d+)?$/.test(name));
  } catch {
    // No Debian PostgreSQL package.
  }
  versions.sort((a, b) => Number(b) - Number(a));
  candidates.push(...versions.map((version) => path.join(libDir, version, 'bin')));
  const found = candidates.find((dir) =>
    ['initdb', 'pg_ctl', 'postgres'].every((tool) => isExecutable(path.join(dir, tool))),
  );
  if (found === undefined) {
    throw new Error(
      `${INSTALL_HINT} (initdb, pg_ctl and postgres are neither on PATH nor in ${libDir}/<version>/bin)`,
    );
  }
  return found;
}

/** Who runs PostgreSQL: ourselves, or (as root) an unprivileged user, with the command prefix that becomes it. */
interface RunAs {
  prefix: string[];
  uid: number | undefined;
  gid: number | undefined;
}

function runAs(): RunAs {
  if (process.getuid?.() !== 0) return { prefix: [], uid: undefined, gid: undefined };
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: 'pipe' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: 'pipe' }).trim());
    return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
  } catch {
    return {
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
      uid: 65534,
      gid: 65534,
    };
  }
}

/** The environment of the PostgreSQL tools: ours without PG* variables, which would redirect them. */
function toolEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG')));
}

/**
 * Starts a PostgreSQL server for a test and waits until it accepts
 * connections. The Unix socket (in the temporary directory) trusts local
 * users; TCP on 127.0.0.1 asks for the generated password (scram-sha-256).
 * Throws, saying how to install it, when PostgreSQL is not installed.
 */
export async function startPostgres(): Promise<RunningPostgres> {
  const bin = findPostgresBin();
  const as = runAs();
  const dir = await mkdtemp('/tmp/neko-pg-');
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'postgres.log');
  const user = `neko_${randomBytes(4).toString('hex')}`;
  const database = `neko_test_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const env = toolEnv();

  const tool = (name: string, args: string[]) => {
    const [command, ...rest] = [...as.prefix, path.join(bin, name), ...args];
    return run(command!, rest, { cwd: dir, env, encoding: 'utf8' });
  };
  // The end of the test run, whatever ends it: vitest ends its workers without an 'exit' event, so a
  // watchdog outside this process waits for it to go, then stops the server and removes the directory.
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'pid=$1; dir=$2; shift 2; while kill -0 "$pid" 2>/dev/null; do sleep 1; done; "$@" >/dev/null 2>&1; rm -rf "$dir"',
      'neko-pg-watchdog',
      String(process.pid),
      dir,
      ...as.prefix,
      path.join(bin, 'pg_ctl'),
      'stop',
      '-D',
      data,
      '-m',
      'immediate',
    ],
    { cwd: '/', env, detached: true, stdio: 'ignore' },
  );
  watchdog.unref();

  const stop = stopOnce(async () => {
    watchdog.kill();
    try {
      await tool('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '30']);
    } catch {
      // Not running (it failed to start, or was stopped already).
    }
  }, dir);

  try {
    if (as.uid !== undefined && as.gid !== undefined) await chown(dir, as.uid, as.gid);
    const pwfile = path.join(dir, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (as.uid !== undefined && as.gid !== undefined) await chown(pwfile, as.uid, as.gid);
    try {
      await tool('initdb', [
        '-D',
        data,
        '-U',
        user,
        `--pwfile=${pwfile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ]);
    } catch (err) {
      const { stderr } = err as { stderr?: string };
      throw new Error(`initdb failed: ${stderr?.trim() || (err as Error).message}`, { cause: err });
    }
    await rm(pwfile);
    await appendFile(
      path.join(data, 'postgresql.conf'),
      [
        '',
        '# A throwaway server for a test: fast, small, reachable only from this machine.',
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        "shared_buffers = '16MB'",
        'max_connections = 40',
        '',
      ].join('\n'),
    );

    // The port may be taken between freePort() and the start: try again on another one.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await tool('pg_ctl', ['start', '-D', data, '-l', log, '-w', '-t', '30', '-o', `-p ${port}`]);
        break;
      } catch (err) {
        if (attempt >= 3) {
          throw new Error(
            `PostgreSQL did not start (pg_ctl start failed); its log ends with:\n${await tail(log)}`,
            {
              cause: err,
            },
          );
        }
      }
    }

    // Over the trusted socket: the database of the test, owned by its user.
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ host: dir, port, user, database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database} OWNER ${user}`);
    } finally {
      await admin.end();
    }

    const restart = async <T>(whileDown?: () => Promise<T>): Promise<T | undefined> => {
      await tool('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '30']);
      const [down] = await Promise.allSettled([(async () => whileDown?.())()]);
      try {
        await tool('pg_ctl', ['start', '-D', data, '-l', log, '-w', '-t', '30', '-o', `-p ${port}`]);
      } catch (err) {
        const end = await tail(log);
        throw new Error(`PostgreSQL did not start again on port ${port}; its log ends with:\n${end}`, {
          cause: err,
        });
      }
      if (down.status === 'rejected') throw down.reason;
      return down.value;
    };

    const host = '127.0.0.1';
    const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
    return { url, host, port, user, password, database, dir, stop, restart };
  } catch (err) {
    await stop();
    throw err;
  }
}
