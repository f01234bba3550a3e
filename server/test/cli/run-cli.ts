import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
export const CLI = join(REPO_ROOT, 'server', 'dist', 'cli', 'main.js');

/** The CLI tests run the built bin, as a user would. */
export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does).`);
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout match of `pattern`, or rejects after `timeoutMs` with what was printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The same for stderr. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** {@link exited}, or a rejection after `timeoutMs` with what the process printed (a stop that hangs). */
  exitedWithin(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * CLI tests run side by side, so a server they start takes a free dashboard
 * port instead of the default 10391, unless the test says where (or that
 * there is none).
 */
function withFreeDashboardPort(args: string[]): string[] {
  const serves = args[0] === 'start' || args[0] === 'dev';
  const chosen = args.some((a) => a.startsWith('--dashboard-port') || a === '--no-dashboard');
  return serves && !chosen && !args.includes('--help') ? [...args, '--dashboard-port', '0'] : args;
}

/**
 * A server holds its data directory's lock while it runs, so servers that
 * tests start side by side from the repository's root each get a temp data
 * directory of their own, unless the test names one (or a config file,
 * whose relative default lives in its own folder). Servers started in a
 * folder of their own (`startCliIn`) keep theirs there.
 */
function withOwnDataDir(args: string[], command: string): string[] {
  // Another command (a launcher running the CLI in a folder of its own) keeps its data there.
  const serves = command === CLI && (args[0] === 'start' || args[0] === 'dev');
  const chosen = args.some((a) => a.startsWith('--data-dir') || a.startsWith('--config'));
  // --storage <dir> names the data directory too (a postgres:// URL does not: the cache still goes there).
  const storage = args[args.indexOf('--storage') + 1];
  const storageDir = args.includes('--storage') && storage !== undefined && !/^postgres(ql)?:/.test(storage);
  if (!serves || chosen || storageDir || args.includes('--help')) return args;
  const dir = mkdtempSync(join(tmpdir(), 'neko-cli-data-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return [...args, '--data-dir', dir];
}

/** Starts a command (the CLI by default) and kills it when the test ends. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, command = CLI): RunningCli {
  const child = spawn(process.execPath, [command, ...withOwnDataDir(withFreeDashboardPort(args), command)], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', NEKOCONNECT_SECRET: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': once the process has ended and its stdout and stderr are read to the end.
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    exitedWithin(timeoutMs = 20_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`still running after ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`)),
          timeoutMs,
        );
      });
      return Promise.race([exited, late]).finally(() => clearTimeout(timer));
    },
    waitFor(pattern, timeoutMs) {
      return waitOn(() => out, pattern, timeoutMs);
    },
    waitForStderr(pattern, timeoutMs) {
      return waitOn(() => err, pattern, timeoutMs);
    },
  };

  function waitOn(text: () => string, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = text().match(pattern);
        if (!m) return false;
        listeners.delete(onData);
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      const onData = (): void => void check();
      const timer = setTimeout(() => {
        listeners.delete(onData);
        reject(new Error(`timed out waiting for ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
      }, timeoutMs);
      listeners.add(onData);
      void exited.then(() => {
        if (!check()) {
          clearTimeout(timer);
          listeners.delete(onData);
          reject(new Error(`exited before ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
        }
      });
      check();
    });
  }
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}
