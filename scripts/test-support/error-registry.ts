/**
 * Reading a package's error codes out of docs/errors.md and out of its
 * sources, for the registry tests of every workspace package.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const ERRORS_DOC = join(import.meta.dirname, '..', '..', 'docs', 'errors.md');

/** One row of docs/errors.md. */
export interface ErrorRow {
  code: string;
  meaning: string;
  fix: string;
}

/**
 * The rows of docs/errors.md whose code starts with `prefix`. A row's code
 * may link to a guide: `| [\`NEKO_ERR_X\`](guide.md#…) | meaning | fix |`.
 */
export async function documentedRows(prefix: string): Promise<ErrorRow[]> {
  const doc = await readFile(ERRORS_DOC, 'utf8');
  const rows = doc.matchAll(/^\|\s*\[?`(NEKO_ERR_[A-Z_]+)`(?:\]\([^)\s]+\))?\s*\|([^|]+)\|([^|]+)\|\s*$/gm);
  return [...rows]
    .filter((m) => m[1]!.startsWith(prefix))
    .map((m) => ({ code: m[1]!, meaning: m[2]!.trim(), fix: m[3]!.trim() }));
}

/** Every `.ts` file below `dir`. */
export async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

/**
 * The codes starting with `prefix` that the files mention. Names ending in
 * `_` (prefixes naming a group of codes) are not codes and are left out.
 */
export async function codesIn(files: readonly string[], prefix: string): Promise<Set<string>> {
  const pattern = new RegExp(`${prefix}[A-Z_]+`, 'g');
  const found = new Set<string>();
  for (const file of files) {
    for (const m of (await readFile(file, 'utf8')).matchAll(pattern))
      if (!m[0].endsWith('_')) found.add(m[0]);
  }
  return found;
}
