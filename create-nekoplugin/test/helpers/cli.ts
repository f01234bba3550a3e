import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { onTestFinished } from 'vitest';

export const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');
export const REPO_ROOT = join(PACKAGE_ROOT, '..');
export const BIN = join(PACKAGE_ROOT, 'dist', 'index.js');

/** The CLI tests run the built bin, as a user would. */
export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does).`);
}

/** A fresh temporary folder, removed when the test ends. */
export async function tempDir(prefix = 'create-nekoplugin-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Called with the child once it started and printed this pattern on stdout. */
  onOutput?: { pattern: RegExp; then: (child: ReturnType<typeof spawn>) => void };
}

/**
 * Runs `create-nekoplugin args` with no terminal (stdin closed), no colors,
 * and no package manager in its user agent unless `env` sets one.
 */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.FORCE_COLOR;
  if (options.env?.npm_config_user_agent === undefined) delete env.npm_config_user_agent;
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let fired = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (options.onOutput && !fired && options.onOutput.pattern.test(stdout)) {
      fired = true;
      options.onOutput.then(child);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * A folder of fake commands to put first on PATH: each writes what it was
 * called with to `calls.log` and runs `script` (sh).
 */
export async function fakeCommands(
  commands: Record<string, string>,
): Promise<{ dir: string; calls(): Promise<string[]> }> {
  const dir = await tempDir('fake-bin-');
  const log = join(dir, 'calls.log');
  for (const [name, script] of Object.entries(commands)) {
    const file = join(dir, name);
    await writeFile(file, `#!/bin/sh\necho "${name} $* @ $(pwd)" >> '${log}'\n${script}\n`);
    await chmod(file, 0o755);
  }
  return {
    dir,
    calls: async () => (existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n') : []),
  };
}

/** Every path under `dir`, relative, sorted; folders end with `/`. `.git` is listed but not entered. */
export async function listTree(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      const rel = relative(dir, path);
      if (entry.isDirectory()) {
        out.push(`${rel}/`);
        if (entry.name !== '.git') await walk(path);
      } else out.push(rel);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Writes `files` (relative path → content) under `dir`. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), content);
  }
}
