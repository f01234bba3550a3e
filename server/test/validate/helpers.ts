import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { onTestFinished } from 'vitest';
import type { Problem } from '../../src/validate/index.js';
import { REPO_ROOT } from '../cli/run-cli.js';

/** The plugins with one mistake each. */
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'validate');

/** `dir/file:line:column` relative to the fixtures, for short assertions. */
export function where(problem: Problem): string | undefined {
  const loc = problem.location;
  return loc && `${relative(FIXTURES, loc.file).split('\\').join('/')}:${loc.line}:${loc.column}`;
}

/** The code, severity and position of each problem, in report order. */
export function summary(problems: readonly Problem[]): string[] {
  return problems.map((p) => `${p.code} ${p.severity} ${where(p) ?? '-'}`);
}

/**
 * A folder outside the repository whose `node_modules` links `nekoconnect`
 * to this repository's server (as an installed package would be), removed
 * when the test ends.
 */
export async function tempProject(options: { nekoconnect?: boolean } = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neko-validate-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  if (options.nekoconnect !== false) {
    await mkdir(join(dir, 'node_modules'), { recursive: true });
    const type = process.platform === 'win32' ? 'junction' : 'dir';
    await symlink(join(REPO_ROOT, 'server'), join(dir, 'node_modules', 'nekoconnect'), type);
  }
  return dir;
}

/** Copies a fixture (or an example plugin) into `dir` under `name`. */
export async function copyPlugin(from: string, dir: string, name: string): Promise<string> {
  const to = join(dir, name);
  await cp(from, to, { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  return to;
}
