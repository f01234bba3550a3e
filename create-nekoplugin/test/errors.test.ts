import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CreateError, ERROR_CODES, exitCodeFor, isCreateError } from '../src/errors.js';

const PACKAGE = join(import.meta.dirname, '..');
const DOC = join(PACKAGE, '..', 'docs', 'errors.md');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

describe('error registry of create-nekoplugin', () => {
  it('has a row in docs/errors.md for every code, and no row for a code it lacks', async () => {
    const doc = await readFile(DOC, 'utf8');
    // A row's code may link to docs/create.md: | [`NEKO_ERR_CREATE_X`](create.md#…) | meaning | fix |
    const rows = [
      ...doc.matchAll(/^\|\s*\[?`(NEKO_ERR_CREATE_[A-Z_]+)`(?:\]\([^)\s]+\))?\s*\|([^|]+)\|([^|]+)\|\s*$/gm),
    ];
    const documented = rows.map((m) => m[1]!);
    expect(new Set(documented).size, 'a code documented twice').toBe(documented.length);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const row of rows) {
      expect(row[2]!.trim().length, `${row[1]} has a meaning`).toBeGreaterThan(10);
      expect(row[3]!.trim().length, `${row[1]} has a fix`).toBeGreaterThan(5);
    }
  });

  it('every code in the registry is used by the code, and every code used is in the registry', async () => {
    const files = (await sourceFiles(join(PACKAGE, 'src'))).filter((f) => !f.endsWith('errors.ts'));
    const used = new Set<string>();
    for (const file of files) {
      for (const m of (await readFile(file, 'utf8')).matchAll(/NEKO_ERR_CREATE_[A-Z_]+/g)) used.add(m[0]);
    }
    expect([...used].filter((c) => !(c in ERROR_CODES))).toEqual([]);
    expect(Object.keys(ERROR_CODES).filter((c) => !used.has(c))).toEqual([]);
  });

  it('every code is asserted by a test of this package', async () => {
    const tests = (await sourceFiles(import.meta.dirname)).filter((f) => f.endsWith('.test.ts'));
    const asserted = new Set<string>();
    for (const file of tests) {
      if (file === import.meta.filename) continue;
      for (const m of (await readFile(file, 'utf8')).matchAll(/NEKO_ERR_CREATE_[A-Z_]+/g)) asserted.add(m[0]);
    }
    expect(Object.keys(ERROR_CODES).filter((c) => !asserted.has(c))).toEqual([]);
  });

  it('CreateError carries its code, hint and cause, and maps to an exit code', () => {
    const cause = new Error('root');
    const err = new CreateError('NEKO_ERR_CREATE_INSTALL', 'failed', { hint: 'retry', cause });
    expect([err.name, err.code, err.message, err.hint, err.cause]).toEqual([
      'CreateError',
      'NEKO_ERR_CREATE_INSTALL',
      'failed',
      'retry',
      cause,
    ]);
    expect([
      isCreateError(err),
      isCreateError(err, 'NEKO_ERR_CREATE_INSTALL'),
      isCreateError(new Error('x')),
    ]).toEqual([true, true, false]);
    const exits = Object.fromEntries(
      Object.keys(ERROR_CODES).map((code) => [
        code,
        exitCodeFor(new CreateError(code as keyof typeof ERROR_CODES, '')),
      ]),
    );
    expect(exits).toEqual({
      NEKO_ERR_CREATE_USAGE: 2,
      NEKO_ERR_CREATE_MISSING_VALUE: 2,
      NEKO_ERR_CREATE_INVALID_VALUE: 2,
      NEKO_ERR_CREATE_NOT_EMPTY: 2,
      NEKO_ERR_CREATE_TARGET: 1,
      NEKO_ERR_CREATE_GENERATE: 1,
      NEKO_ERR_CREATE_INSTALL: 1,
      NEKO_ERR_CREATE_CANCELLED: 130,
    });
  });
});
