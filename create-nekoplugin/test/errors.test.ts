import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codesIn, documentedRows, sourceFiles } from '../../scripts/test-support/error-registry.js';
import { CreateError, ERROR_CODES, exitCodeFor, isCreateError } from '../src/errors.js';

const PACKAGE = join(import.meta.dirname, '..');
describe('error registry of create-nekoplugin', () => {
  it('has a row in docs/errors.md for every code, and no row for a code it lacks', async () => {
    const rows = await documentedRows('NEKO_ERR_CREATE_');
    const documented = rows.map((r) => r.code);
    expect(new Set(documented).size, 'a code documented twice').toBe(documented.length);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const row of rows) {
      expect(row.meaning.length, `${row.code} has a meaning`).toBeGreaterThan(10);
      expect(row.fix.length, `${row.code} has a fix`).toBeGreaterThan(5);
    }
  });

  it('every code in the registry is used by the code, and every code used is in the registry', async () => {
    const files = (await sourceFiles(join(PACKAGE, 'src'))).filter((f) => !f.endsWith('errors.ts'));
    const used = await codesIn(files, 'NEKO_ERR_CREATE_');
    expect([...used].filter((c) => !(c in ERROR_CODES))).toEqual([]);
    expect(Object.keys(ERROR_CODES).filter((c) => !used.has(c))).toEqual([]);
  });

  it('every code is asserted by a test of this package', async () => {
    const tests = (await sourceFiles(import.meta.dirname)).filter(
      (f) => f.endsWith('.test.ts') && f !== import.meta.filename,
    );
    const asserted = await codesIn(tests, 'NEKO_ERR_CREATE_');
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
