/**
 * What the test-support starters of real engines (PostgreSQL, Redis) share:
 * a free port to start one on, and the end of its log for an error.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';

/** A port of 127.0.0.1 that was free a moment ago (an engine starting on it may still lose it: retry). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The last `lines` lines of an engine's log file, or `(no log)`. */
export async function tail(file: string, lines = 20): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Ends an engine's process: SIGTERM, then SIGKILL if it is still there after `graceMs`. Nothing when it has ended. */
export async function endProcess(running: ChildProcess | undefined, graceMs = 5_000): Promise<void> {
  if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
  running.kill('SIGTERM');
  const timer = setTimeout(() => running.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * An engine's stop(): ends it with `halt`, then removes its temporary
 * directory; once, however often it is called (a second call gets the same promise).
 */
export function stopOnce(halt: () => Promise<void>, dir: string): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= (async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
}
