import { spawn } from 'node:child_process';

/** How a child process ended. */
export interface RunResult {
  /** The exit code; null when it was killed by a signal or could not start. */
  code: number | null;
  /** The end of what it printed (stdout and stderr, interleaved). */
  output: string;
  /** Why it could not start (e.g. ENOENT: the command is not on PATH). */
  error?: Error;
}

/** Output kept for the error message of a failed command. */
const KEEP_BYTES = 64 * 1024;

/**
 * Runs a command without a shell (with one on Windows, where package
 * managers are `.cmd` files), keeping the end of its output. `signal`
 * kills it.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<RunResult> {
  return new Promise((resolve) => {
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-KEEP_BYTES);
    };
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let failed: Error | undefined;
    child.on('error', (err) => {
      failed = err;
    });
    child.on('close', (code) => {
      resolve(failed === undefined ? { code, output } : { code: null, output, error: failed });
    });
  });
}

/** The last `lines` lines of `text`, each indented. */
export function tail(text: string, lines = 20): string {
  return text
    .trimEnd()
    .split(/\r?\n/)
    .slice(-lines)
    .map((l) => `    ${l}`)
    .join('\n');
}
