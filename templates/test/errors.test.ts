import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codesIn, documentedRows, sourceFiles } from '../../scripts/test-support/error-registry.js';
import { ERROR_CODES, NekoTemplatesError, isNekoTemplatesError } from '../src/errors.js';

const PACKAGE = join(import.meta.dirname, '..');
describe('error registry of @nekoconnect/templates', () => {
  it('has a row in docs/errors.md for every code, and no row for a code it lacks', async () => {
    const rows = await documentedRows('NEKO_ERR_TEMPLATES_');
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
    const used = await codesIn(files, 'NEKO_ERR_TEMPLATES_');
    expect([...used].filter((c) => !(c in ERROR_CODES))).toEqual([]);
    expect(Object.keys(ERROR_CODES).filter((c) => !used.has(c))).toEqual([]);
  });

  it('every code is asserted by a test of this package', async () => {
    const tests = (await sourceFiles(import.meta.dirname)).filter(
      (f) => f.endsWith('.test.ts') && f !== import.meta.filename,
    );
    const asserted = await codesIn(tests, 'NEKO_ERR_TEMPLATES_');
    expect(Object.keys(ERROR_CODES).filter((c) => !asserted.has(c))).toEqual([]);
  });

  it('NekoTemplatesError carries its code, hint and cause', () => {
    const cause = new Error('root');
    const err = new NekoTemplatesError('NEKO_ERR_TEMPLATES_BAD_GREETER', 'bad', { hint: 'fix it', cause });
    expect([err.name, err.code, err.message, err.hint, err.cause]).toEqual([
      'NekoTemplatesError',
      'NEKO_ERR_TEMPLATES_BAD_GREETER',
      'bad',
      'fix it',
      cause,
    ]);
    expect(isNekoTemplatesError(err)).toBe(true);
    expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_BAD_GREETER')).toBe(true);
    expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_BAD_NAME')).toBe(false);
    expect(isNekoTemplatesError(new Error('x'))).toBe(false);
  });
});
