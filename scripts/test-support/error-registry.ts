/**
 * Reading a package's error codes out of docs/errors.md and out of its
 * sources, for the registry tests of every workspace package.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';

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

/** What {@link registryTests} checks a package's registry against. */
export interface RegistryUnderTest {
  /** The package's code prefix, e.g. `NEKO_ERR_TESTING_`. */
  prefix: string;
  /** The package's `ERROR_CODES`. */
  codes: Readonly<Record<string, string>>;
  /** The package folder (its sources are in `src/`, its registry in `src/errors.ts`). */
  packageDir: string;
  /** The registry test file itself, which does not count as asserting a code. */
  testFile: string;
}

/**
 * The three checks every package's registry gets, as tests of the calling
 * `describe`: docs/errors.md has exactly its codes, each with a meaning and a
 * fix; its sources use exactly its codes; and its tests assert every code.
 */
export function registryTests({ prefix, codes, packageDir, testFile }: RegistryUnderTest): void {
  const known = Object.keys(codes);

  it('has a row in docs/errors.md for every code, and no row for a code it lacks', async () => {
    const rows = await documentedRows(prefix);
    const documented = rows.map((r) => r.code);
    expect(new Set(documented).size, 'a code documented twice').toBe(documented.length);
    expect([...documented].sort()).toEqual([...known].sort());
    for (const row of rows) {
      expect(row.meaning.length, `${row.code} has a meaning`).toBeGreaterThan(10);
      expect(row.fix.length, `${row.code} has a fix`).toBeGreaterThan(5);
    }
  });

  it('every code in the registry is used by the code, and every code used is in the registry', async () => {
    const files = (await sourceFiles(join(packageDir, 'src'))).filter((f) => !f.endsWith('errors.ts'));
    const used = await codesIn(files, prefix);
    expect([...used].filter((c) => !(c in codes))).toEqual([]);
    expect(known.filter((c) => !used.has(c))).toEqual([]);
  });

  it('every code is asserted by a test of this package', async () => {
    const tests = (await sourceFiles(join(packageDir, 'test'))).filter(
      (f) => f.endsWith('.test.ts') && f !== testFile,
    );
    const asserted = await codesIn(tests, prefix);
    expect(known.filter((c) => !asserted.has(c))).toEqual([]);
  });
}
