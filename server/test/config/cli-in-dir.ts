import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';
import { CLI, startCli, type RunningCli } from '../cli/run-cli.js';

const RUN_IN_DIR = join(import.meta.dirname, 'fixtures', 'run-in-dir.mjs');

/** Starts the built CLI with `cwd` as its working directory; killed when the test ends. */
export function startCliIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  return startCli(
    args,
    { NEKO_TEST_CWD: cwd, NEKO_TEST_CLI_URL: pathToFileURL(CLI).href, ...env },
    RUN_IN_DIR,
  );
}

/** Runs the CLI in `cwd` to completion. */
export async function runCliIn(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCliIn(cwd, args, env);
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** A fresh temp folder, removed when the test ends. */
export async function tempDir(prefix = 'neko-config-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
