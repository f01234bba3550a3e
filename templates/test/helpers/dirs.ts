import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { onTestFinished } from 'vitest';

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');

/** A fresh temporary folder, removed when the test ends. */
export async function tempDir(prefix = 'neko-templates-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A temporary folder that sees the repository's node_modules, as a
 * generated project sees its own after `npm install`: `nekoconnect`,
 * `@nekoconnect/testing`, `@types/node` and vitest resolve from it.
 */
export async function projectDir(): Promise<string> {
  const dir = await tempDir('neko-project-');
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Every file under `dir` (not node_modules), by relative path, with its content. */
export async function readTree(dir: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const file = join(entry.parentPath, entry.name);
    if (!entry.isFile() || relative(dir, file).split(/[\\/]/).includes('node_modules')) continue;
    tree[relative(dir, file)] = await readFile(file, 'utf8');
  }
  return tree;
}
