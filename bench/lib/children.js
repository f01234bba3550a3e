/**
 * Child processes of the benchmark orchestrators (bench/run.js,
 * bench/scale.js): start them with an IPC channel, ask them for something
 * and wait for the answer, stop them, and make sure none outlives the
 * orchestrator.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

/** Every child started, so that any exit path can kill them. */
const children = new Set();

/**
 * The open-file limit of this process, from /proc/self/limits (undefined
 * where that file does not exist, off Linux). Node.js raises its soft limit
 * to the hard limit at start-up, so every benchmark process can open as many
 * files as the hard limit allows.
 * @returns {{ soft: number, hard: number } | undefined}
 */
export function openFileLimit() {
  let text;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  const match = line?.match(/^Max open files\s+(\S+)\s+(\S+)/);
  if (!match) return undefined;
  /** @param {string} v */
  const num = (v) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: num(match[1]), hard: num(match[2]) };
}

/**
 * Starts a benchmark script of bench/ as a child with an IPC channel and
 * waits for its first message (its `ready`).
 *
 * @param {string} script path relative to bench/
 * @param {string[]} args
 * @param {{ execArgv?: string[], startTimeoutMs?: number }} [options]
 * @returns {Promise<{ child: ChildProcess, ready: any }>}
 */
export function start(script, args, options = {}) {
  const { execArgv = [], startTimeoutMs = 30_000 } = options;
  const child = fork(path.join(benchDir, script), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const what = `${script} ${args.join(' ')}`.trim();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start within ${startTimeoutMs / 1000} s`)),
      startTimeoutMs,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${signal ?? code}) before it was ready`));
    });
    child.once('message', (ready) => {
      clearTimeout(timer);
      resolve({ child, ready });
    });
  });
}

let nextId = 1;

/** @returns {number} a fresh id for a request to a child */
export const newId = () => nextId++;

/**
 * Sends a request to a child and waits for the answer that `isAnswer` picks.
 * @param {ChildProcess} child
 * @param {object} message
 * @param {(reply: any) => boolean} isAnswer
 * @param {number} timeoutMs
 * @param {(reply: any) => void} [onOther] other messages meanwhile
 * @returns {Promise<any>}
 */
export function ask(child, message, isAnswer, timeoutMs, onOther) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    /** @param {any} reply */
    const onMessage = (reply) => {
      if (isAnswer(reply)) {
        done();
        resolve(reply);
      } else {
        onOther?.(reply);
      }
    };
    /**
     * @param {number | null} code
     * @param {string | null} signal
     */
    const onExit = (code, signal) => {
      done();
      reject(new Error(`a benchmark child exited (${signal ?? code}) during a measurement`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no answer from a benchmark child within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

/**
 * Sends `{ type, id, ...fields }` and waits for the reply of the same type
 * and id (or `{ type: 'error', id, message }`, which rejects).
 * @param {ChildProcess} child
 * @param {string} type
 * @param {object} fields
 * @param {number} timeoutMs
 * @param {(reply: any) => void} [onOther]
 * @returns {Promise<any>}
 */
export async function request(child, type, fields, timeoutMs, onOther) {
  const id = newId();
  const reply = await ask(
    child,
    { ...fields, type, id },
    (m) => (m.type === type || m.type === 'error') && m.id === id,
    timeoutMs,
    onOther,
  );
  if (reply.type === 'error') throw new Error(reply.message);
  return reply;
}

/**
 * Asks children to stop, and kills those still there after a grace period.
 * @param {ChildProcess[]} list
 * @returns {Promise<void>}
 */
export async function stopChildren(list) {
  await Promise.all(
    list.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
          const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve(undefined);
          });
          if (child.connected) child.send({ type: 'stop' });
          else child.kill('SIGTERM');
        }),
    ),
  );
}

/** Kills every child still running. */
export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}

/**
 * Runs an orchestrator's main function: no child survives it, whatever way
 * it ends (success, error, Ctrl-C); an error is printed and sets exit code 1.
 * @param {() => Promise<void>} main
 * @param {string} name
 */
export function runMain(main, name) {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  main().then(
    () => killAll(),
    (err) => {
      console.error(`\n${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      killAll();
      process.exitCode = 1;
    },
  );
}
