/**
 * A real HAProxy for a test: Debian's `haproxy` package, run in the
 * foreground on free ports of 127.0.0.1 with its config and runtime API
 * socket in a temporary directory, and stopped again at stop() (or, at the
 * latest, once the test process is gone).
 *
 * The config is either a minimal built-in one or one given as text, such as
 * the one docs/deploy.md shows, filled in for the test: each frontend's
 * `bind` gets a free port, each backend's `server` lines become the test's
 * servers (named and shaped after the first `server` line written), the
 * health check timings may be shortened, and the `global` settings that
 * belong to a machine's own HAProxy (chroot, user, daemon, log, stats socket,
 * pidfile) give way to a runtime API socket in the temporary directory.
 * Everything else is kept as written.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, openSync, closeSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { endProcess, freePort, stopOnce, tail } from './engine.js';

const exec = promisify(execFile);

const INSTALL_HINT = 'HAProxy is not installed: apt-get install -y haproxy';

/** One server of a backend: where it listens, and the port of its health check (its `--metrics-port`). */
export interface HaproxyServer {
  host: string;
  port: number;
  /** The port `/readyz` answers on; without it the check is a TCP connect to `port`. */
  checkPort?: number;
}

/** Health check timings, as HAProxy writes them (`200ms`, `2s`); each replaces the config's own. */
export interface HaproxyChecks {
  inter?: string;
  fastinter?: string;
  downinter?: string;
  fall?: number;
  rise?: number;
}

export interface HaproxyOptions {
  /**
   * The servers: of the one backend (an array), or of each backend section by
   * its name. Every backend of the config must be given its servers.
   */
  backends: readonly HaproxyServer[] | Readonly<Record<string, readonly HaproxyServer[]>>;
  /** A haproxy.cfg to fill in (docs/deploy.md's, say); a minimal TCP-mode one by default. */
  config?: string;
  /** Health check timings replacing those of the config's `server` and `default-server` lines. */
  checks?: HaproxyChecks;
}

/** A running HAProxy. */
export interface RunningHaproxy {
  host: string;
  /** The port of the first frontend. */
  port: number;
  /** The port of each frontend, by its name. */
  ports: Record<string, number>;
  /** The temporary directory: `haproxy.cfg`, `haproxy.log`, `admin.sock`; gone after stop(). */
  dir: string;
  /** The config HAProxy runs, as filled in. */
  config: string;
  /** Runs a command of the runtime API (`show stat`, `set server nekoconnect/neko1 state drain`); resolves with its answer. */
  command(line: string): Promise<string>;
  /** The status of each server of `backend` (`UP`, `DOWN`, `DRAIN`, `MAINT`, `UP 1/2`…), by server name. */
  serverStatus(backend?: string): Promise<Record<string, string>>;
  /** The rows of `show stat`, each a record by column (`pxname`, `svname`, `status`, `econ`, `wretr`, `wredis`…). */
  stats(): Promise<Array<Record<string, string>>>;
  /** HAProxy's output so far (alerts, warnings, the servers going up and down). */
  log(): Promise<string>;
  /** Stops HAProxy and removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The `haproxy` to run: the first on PATH, else Debian's `/usr/sbin/haproxy`.
 * Throws, saying how to install HAProxy, when there is none.
 */
export function findHaproxy(
  searchPath: string = process.env['PATH'] ?? '',
  fallbacks: readonly string[] = ['/usr/sbin/haproxy'],
): string {
  const candidates = [
    ...searchPath
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, 'haproxy')),
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
  throw new Error(`${INSTALL_HINT} (no haproxy on PATH or at ${fallbacks.join(', ')})`);
}

/**
 * Checks a config with `haproxy -c -f` (the whole config, as HAProxy reads it
 * at start); resolves with HAProxy's output, rejects with it when the config
 * is not valid.
 */
export async function checkHaproxyConfig(config: string): Promise<string> {
  const bin = findHaproxy();
  const dir = await mkdtemp('/tmp/neko-haproxy-check-');
  try {
    const file = path.join(dir, 'haproxy.cfg');
    await writeFile(file, config);
    try {
      const { stdout, stderr } = await exec(bin, ['-c', '-f', file]);
      return stdout + stderr;
    } catch (err) {
      const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
      throw new Error(`haproxy -c rejects the config:\n${stdout}${stderr}\n--- the config:\n${config}`, {
        cause: err,
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The built-in config: one TCP frontend, one backend of least connections, checked on `/readyz` when it can be. */
function builtInConfig(servers: readonly HaproxyServer[]): string {
  const http = servers.every((s) => s.checkPort !== undefined);
  return [
    'global',
    '    maxconn 4096',
    '',
    'defaults',
    '    mode tcp',
    '    timeout connect 2s',
    '    timeout client 1h',
    '    timeout server 1h',
    '    retries 2',
    '    option redispatch 1',
    '',
    'frontend nekoconnect',
    '    bind :10390',
    '    default_backend nekoconnect',
    '',
    'backend nekoconnect',
    '    balance leastconn',
    ...(http ? ['    option httpchk', '    http-check send meth GET uri /readyz'] : []),
    '    default-server inter 200ms fall 2 rise 1',
    `    server neko1 127.0.0.1:10390 check${http ? ' port 9464' : ''}`,
    '',
  ].join('\n');
}

/** The settings of `global` that belong to a machine's own HAProxy, not to one a test runs. */
const MACHINE_SETTINGS = new Set([
  'chroot',
  'user',
  'group',
  'uid',
  'gid',
  'daemon',
  'log',
  'stats',
  'pidfile',
  'master-worker',
]);

/** The keywords that open a section of a haproxy.cfg. */
const SECTION =
  /^(global|defaults|frontend|backend|listen|peers|resolvers|userlist|cache|program|mailers)\b\s*(\S*)/;

/** `inter 2s fall 2` with the timings of `checks` in place of the config's. */
function withChecks(words: string[], checks: HaproxyChecks | undefined): string[] {
  if (checks === undefined) return words;
  const out = [...words];
  for (let i = 0; i < out.length - 1; i++) {
    const value = checks[out[i] as keyof HaproxyChecks];
    if (value !== undefined) out[i + 1] = String(value);
  }
  return out;
}

/**
 * Fills in a haproxy.cfg for a test (see the top of this file). Throws when a
 * frontend has no `bind`, a backend has no `server` line to shape the test's
 * servers after, or a backend of the config was given no servers.
 */
export function fillHaproxyConfig(
  config: string,
  fill: {
    /** The port of each frontend, by name. */
    ports: Readonly<Record<string, number>>;
    backends: Readonly<Record<string, readonly HaproxyServer[]>>;
    checks?: HaproxyChecks;
    /** The runtime API socket. */
    socket: string;
  },
): string {
  const out: string[] = [];
  let kind = '';
  let name = '';
  let served = false;
  let bound = false;
  const endSection = (): void => {
    if (kind === 'frontend' && !bound) throw new Error(`haproxy.cfg: frontend ${name} has no bind line`);
    if (kind === 'backend' && !served) throw new Error(`haproxy.cfg: backend ${name} has no server line`);
  };
  for (const line of config.split('\n')) {
    const section = SECTION.exec(line);
    if (section) {
      endSection();
      [, kind = '', name = ''] = section;
      served = false;
      bound = false;
      out.push(line);
      if (kind === 'global') out.push(`    stats socket ${fill.socket} mode 600 level admin`);
      continue;
    }
    const words = line.trim().split(/\s+/);
    const keyword = words[0] ?? '';
    const indent = /^\s*/.exec(line)![0];
    if (keyword === '' || keyword.startsWith('#')) {
      out.push(line);
    } else if (kind === 'global' && MACHINE_SETTINGS.has(keyword)) {
      // The machine's own HAProxy: left out (the runtime API socket is the test's).
    } else if (kind === 'frontend' && keyword === 'bind') {
      if (bound) continue; // One bind a frontend here.
      const port = fill.ports[name];
      if (port === undefined) throw new Error(`haproxy.cfg: no port for frontend ${name}`);
      out.push(`${indent}bind 127.0.0.1:${port}`);
      bound = true;
    } else if (keyword === 'server' && (kind === 'backend' || kind === 'listen')) {
      if (served) continue; // The first server line stands for them all.
      const servers = fill.backends[name];
      if (servers === undefined || servers.length === 0) {
        throw new Error(`haproxy.cfg: no servers given for backend ${name}`);
      }
      const prefix = (words[1] ?? 'server').replace(/\d+$/, '');
      servers.forEach((server, i) => {
        const rest = withChecks(words.slice(3), fill.checks);
        const at = rest.indexOf('port');
        if (at !== -1) {
          if (server.checkPort === undefined) {
            throw new Error(`haproxy.cfg: backend ${name} checks on a port of its own: give checkPort`);
          }
          rest[at + 1] = String(server.checkPort);
        }
        out.push(
          `${indent}server ${prefix}${i + 1} ${server.host}:${server.port} ${rest.join(' ')}`.trimEnd(),
        );
      });
      served = true;
    } else if (keyword === 'default-server') {
      out.push(`${indent}${withChecks(words, fill.checks).join(' ')}`);
    } else {
      out.push(line);
    }
  }
  endSection();
  for (const backend of Object.keys(fill.backends)) {
    if (!new RegExp(`^(backend|listen)\\s+${backend}\\s*$`, 'm').test(config)) {
      throw new Error(`haproxy.cfg has no backend ${backend}`);
    }
  }
  return out.join('\n');
}

/** Sends one runtime API command on `socket`; resolves with the answer. */
function runtimeCommand(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = connect(socket);
    let answer = '';
    client.setTimeout(5_000, () => client.destroy(new Error(`haproxy runtime API: no answer to ${line}`)));
    client.on('connect', () => client.end(`${line}\n`));
    client.on('data', (chunk) => (answer += chunk.toString()));
    client.on('error', reject);
    client.on('close', () => resolve(answer));
  });
}

/** True once something accepts a TCP connection on 127.0.0.1:`port`. */
function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
  });
}

/** The frontend names of a config, in order. */
function frontends(config: string): string[] {
  return [...config.matchAll(/^(?:frontend|listen)\s+(\S+)/gm)].map((m) => m[1]!);
}

/**
 * Starts HAProxy for a test and waits until every frontend listens. Throws,
 * saying how to install it, when HAProxy is not installed, and with its
 * output when it does not start.
 */
export async function startHaproxy(options: HaproxyOptions): Promise<RunningHaproxy> {
  const bin = findHaproxy();
  const backends: Record<string, readonly HaproxyServer[]> = Array.isArray(options.backends)
    ? { nekoconnect: options.backends as readonly HaproxyServer[] }
    : (options.backends as Record<string, readonly HaproxyServer[]>);
  const template = options.config ?? builtInConfig(Object.values(backends)[0] ?? []);
  const dir = await mkdtemp('/tmp/neko-haproxy-');
  const file = path.join(dir, 'haproxy.cfg');
  const log = path.join(dir, 'haproxy.log');
  const socket = path.join(dir, 'admin.sock');
  let child: ChildProcess | undefined;

  const halt = async (): Promise<void> => {
    const running = child;
    child = undefined;
    await endProcess(running);
  };
  const stop = stopOnce(halt, dir);

  try {
    // A port may be taken between freePort() and the start: try again on others.
    for (let attempt = 1; ; attempt++) {
      const ports: Record<string, number> = {};
      for (const name of frontends(template)) ports[name] = await freePort();
      const config = fillHaproxyConfig(template, { ports, backends, checks: options.checks, socket });
      await writeFile(file, config);
      const out = openSync(log, 'w');
      const started = spawn(bin, ['-db', '-n', '4096', '-f', file], {
        cwd: dir,
        stdio: ['ignore', out, out],
      });
      closeSync(out);
      child = started;
      // The end of the test run, whatever ends it: a watchdog outside this process waits for it to go,
      // then stops HAProxy and removes the directory (vitest ends its workers without an 'exit' event).
      const watchdog = spawn(
        'sh',
        [
          '-c',
          'pid=$1; proxy=$2; dir=$3; while kill -0 "$pid" 2>/dev/null && kill -0 "$proxy" 2>/dev/null; do sleep 1; done; kill -9 "$proxy" 2>/dev/null; if ! kill -0 "$pid" 2>/dev/null; then rm -rf "$dir"; fi',
          'neko-haproxy-watchdog',
          String(process.pid),
          String(started.pid),
          dir,
        ],
        { cwd: '/', detached: true, stdio: 'ignore' },
      );
      watchdog.unref();
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        if (started.exitCode !== null || started.signalCode !== null) break;
        up = (await Promise.all(Object.values(ports).map(listens))).every(Boolean);
        if (!up) await sleep(50);
      }
      if (up) {
        const stats = async (): Promise<Array<Record<string, string>>> => {
          const csv = await runtimeCommand(socket, 'show stat');
          const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
          const columns = header!.split(',');
          return rows.map((row) => {
            const cells = row.split(',');
            return Object.fromEntries(columns.map((column, i) => [column, cells[i] ?? '']));
          });
        };
        const first = Object.values(ports)[0]!;
        return {
          host: '127.0.0.1',
          port: first,
          ports,
          dir,
          config,
          command: (line) => runtimeCommand(socket, line),
          async serverStatus(backend = 'nekoconnect') {
            const status: Record<string, string> = {};
            for (const row of await stats()) {
              if (row['pxname'] === backend && !['FRONTEND', 'BACKEND'].includes(row['svname']!)) {
                status[row['svname']!] = row['status']!;
              }
            }
            return status;
          },
          stats,
          log: () => tail(log, 1_000),
          stop,
        };
      }
      const output = await tail(log);
      await halt();
      if (attempt >= 3)
        throw new Error(
          `haproxy did not start; its output ends with:\n${output}\n--- its config:\n${config}`,
        );
    }
  } catch (err) {
    await stop();
    throw err;
  }
}
