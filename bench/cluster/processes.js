/**
 * Server processes of the cluster benchmark (bench/cluster.js): the built
 * CLI, `nekoconnect start`, as a user runs it (one process, a process of a
 * cluster on Redis, or a primary with its workers), on the loopback
 * interface, with a data directory of its own, no dashboard and the
 * benchmark's secret in the environment. Each is stopped at the end (SIGTERM,
 * then SIGKILL after 5 s), and killed if the orchestrator exits first.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_SECRET, HOST } from '../lib/common.js';
import { treeCpu } from '../lib/cpu.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(root, 'server', 'dist', 'cli', 'main.js');

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

/** Every server process started, so that any exit path can kill them. */
const running = new Set();

/** Kills every server process still running (and, with SIGKILL on a primary, its workers go with its IPC channel). */
export function killServers() {
  for (const child of running) child.kill('SIGKILL');
}

/** @returns {Promise<number>} a port of 127.0.0.1 free a moment ago */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(address.port));
    });
  });
}

/**
 * Whether the built CLI's `start` takes `--workers` (its help lists it).
 * @returns {boolean}
 */
export function cliHasWorkers() {
  const help = execFileSync(process.execPath, [CLI, 'start', '--help'], { encoding: 'utf8' });
  return /--workers\b/.test(help);
}

/**
 * @typedef {object} ServerProcess
 * @property {string} label
 * @property {ChildProcess} child
 * @property {number} port its TCP port
 * @property {string | undefined} processId the cluster process id it printed, if in a cluster
 * @property {() => string} output what it printed so far (stdout and stderr)
 * @property {() => Promise<{ totalUs: number, ownUs: number }>} cpu CPU time so far, µs: of the process
 *   and its children (its workers), and of the process alone
 * @property {() => Promise<void>} stop
 */

/**
 * Starts `nekoconnect start <plugins> --port <free port> …` and resolves once
 * it prints that it listens (a primary: once all its workers do).
 * @param {{ label: string, plugins: string, args?: string[], listening?: RegExp, timeoutMs?: number }} options
 *   `args`: more flags (`--cluster`, `--workers`, `--storage`); `listening`: the line to wait for
 * @returns {Promise<ServerProcess>}
 */
export async function startServer({ label, plugins, args = [], listening, timeoutMs = 60_000 }) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'neko-bench-cluster-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      CLI,
      'start',
      plugins,
      '--host',
      HOST,
      '--port',
      String(port),
      '--no-dashboard',
      '--data-dir',
      dataDir,
      ...args,
    ],
    {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', NEKOCONNECT_SECRET: BENCH_SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  let out = '';
  const changed = new Set();
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk) => {
      out += chunk.toString();
      for (const f of changed) f();
    });
  }
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? code);
    }),
  );
  // At the start of a line: under --workers, the primary's own line, once every worker listens
  // (each worker's line, prefixed `worker <n> │`, comes before).
  const wanted =
    listening ?? new RegExp(`^listening on tcp://${HOST.replaceAll('.', '\\.')}:${port}\\b`, 'm');

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(kill);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    await new Promise((resolve, reject) => {
      const check = () => {
        if (wanted.test(out)) {
          done();
          resolve(undefined);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${label} did not listen within ${timeoutMs / 1000} s; it printed:\n${out}`));
      }, timeoutMs);
      const onExit = (/** @type {unknown} */ how) => {
        done();
        reject(new Error(`${label} exited (${String(how)}) before it listened; it printed:\n${out}`));
      };
      const done = () => {
        clearTimeout(timer);
        changed.delete(check);
      };
      changed.add(check);
      exited.then(onExit);
      check();
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const pid = /** @type {number} */ (child.pid);
  return {
    label,
    child,
    port,
    processId: out.match(/process ([0-9a-f]+) \(/)?.[1],
    output: () => out,
    cpu: () => treeCpu(pid),
    stop,
  };
}
