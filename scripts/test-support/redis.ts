/**
 * A real Redis server for a test: Debian's `redis-server` package, started
 * in a temporary directory under /tmp on a free port of 127.0.0.1 with a
 * generated password, and stopped again at stop() (or, at the latest, once
 * the test process is gone). Nothing is saved to disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { endProcess, freePort, stopOnce, tail } from './engine.js';

/** A started Redis server. */
export interface RunningRedis {
  /** `redis://:password@127.0.0.1:port` (the password percent-encoded). */
  url: string;
  host: string;
  port: number;
  password: string;
  /** The temporary directory holding the log; gone after stop(). */
  dir: string;
  /** Stops the server and removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Stops the server, runs `whileDown` (if given) while nothing listens on
   * the port, then starts it again on the same port, empty, and waits until
   * it answers. Resolves with what `whileDown` resolved with.
   */
  restart<T>(whileDown?: () => Promise<T>): Promise<T | undefined>;
}

const INSTALL_HINT = 'Redis is not installed: apt-get install -y redis-server';

/**
 * The `redis-server` to run: the first on PATH, else Debian's `/usr/bin/redis-server`.
 * Throws, saying how to install Redis, when there is none.
 * @param searchPath the PATH to look in
 * @param fallbacks where to look after PATH
 */
export function findRedisServer(
  searchPath: string = process.env['PATH'] ?? '',
  fallbacks: readonly string[] = ['/usr/bin/redis-server'],
): string {
  const candidates = [
    ...searchPath
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, 'redis-server')),
    ...fallbacks,
  ];
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  throw new Error(`${INSTALL_HINT} (no redis-server on PATH or at ${fallbacks.join(', ')})`);
}

/** True once the server at `port` answers PING after AUTH with `password`. */
function answers(port: number, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => {
      socket.write(`AUTH ${password}\r\nPING\r\n`);
    });
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('+PONG')) done(true);
      else if (reply.includes('-')) done(false);
    });
  });
}

/**
 * Starts a Redis server for a test and waits until it answers. Throws,
 * saying how to install it, when Redis is not installed.
 */
export async function startRedis(): Promise<RunningRedis> {
  const bin = findRedisServer();
  const dir = await mkdtemp('/tmp/neko-redis-');
  const log = path.join(dir, 'redis.log');
  const password = randomBytes(18).toString('base64url');
  let child: ChildProcess | undefined;
  let port = 0;

  const launch = async (): Promise<void> => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--logfile',
      log,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--requirepass',
      password,
    ];
    const started = spawn(bin, args, { cwd: dir, stdio: 'ignore' });
    child = started;
    // The end of the test run, whatever ends it: a watchdog outside this process waits for it to go,
    // then stops the server and removes the directory (vitest ends its workers without an 'exit' event).
    const watchdog = spawn(
      'sh',
      [
        '-c',
        'pid=$1; redis=$2; dir=$3; while kill -0 "$pid" 2>/dev/null && kill -0 "$redis" 2>/dev/null; do sleep 1; done; kill -9 "$redis" 2>/dev/null; if ! kill -0 "$pid" 2>/dev/null; then rm -rf "$dir"; fi',
        'neko-redis-watchdog',
        String(process.pid),
        String(started.pid),
        dir,
      ],
      { cwd: '/', detached: true, stdio: 'ignore' },
    );
    watchdog.unref();
    const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    for (let i = 0; i < 100; i++) {
      if (await answers(port, password)) return;
      if (started.exitCode !== null || started.signalCode !== null) break;
      await sleep(50);
    }
    started.kill('SIGKILL');
    await exited;
    throw new Error(`redis-server did not start on port ${port}; its log ends with:\n${await tail(log)}`);
  };

  const halt = async (): Promise<void> => {
    const running = child;
    child = undefined;
    await endProcess(running);
  };

  const stop = stopOnce(halt, dir);

  try {
    // The port may be taken between freePort() and the start: try again on another one.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await launch();
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const restart = async <T>(whileDown?: () => Promise<T>): Promise<T | undefined> => {
    await halt();
    const [down] = await Promise.allSettled([(async () => whileDown?.())()]);
    await launch();
    if (down.status === 'rejected') throw down.reason;
    return down.value;
  };

  const host = '127.0.0.1';
  const url = `redis://:${encodeURIComponent(password)}@${host}:${port}`;
  return { url, host, port, password, dir, stop, restart };
}
