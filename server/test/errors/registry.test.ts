import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, NekoError, isNekoError } from '../../src/errors.js';

const SERVER = join(import.meta.dirname, '..', '..');
const DOC = join(SERVER, '..', 'docs', 'errors.md');
/** Code prefixes of the other workspace packages' registries. */
const OTHER_PACKAGES = ['NEKO_ERR_TESTING_', 'NEKO_ERR_CREATE_', 'NEKO_ERR_TEMPLATES_'];

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

describe('error registry', () => {
  it('has a row in docs/errors.md for every code, and no row for a code it lacks', async () => {
    const doc = await readFile(DOC, 'utf8');
    // Rows may link their code to a guide: | [`NEKO_ERR_X`](guide.md#…) | meaning | fix |.
    // Codes of the other packages (their own registries and tests) are left to them.
    const rows = [
      ...doc.matchAll(/^\|\s*\[?`(NEKO_ERR_[A-Z_]+)`(?:\]\([^)\s]+\))?\s*\|([^|]+)\|([^|]+)\|\s*$/gm),
    ].filter((m) => !OTHER_PACKAGES.some((prefix) => m[1]!.startsWith(prefix)));
    const documented = rows.map((m) => m[1]!);
    expect(new Set(documented).size, 'a code documented twice').toBe(documented.length);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const row of rows) {
      expect(row[2]!.trim().length, `${row[1]} has a meaning`).toBeGreaterThan(10);
      expect(row[3]!.trim().length, `${row[1]} has a fix`).toBeGreaterThan(5);
    }
  });

  it('every code in the registry is used by the code, and every code used is in the registry', async () => {
    const files = (await sourceFiles(join(SERVER, 'src'))).filter((f) => !f.endsWith('errors.ts'));
    const used = new Set<string>();
    for (const file of files) {
      for (const m of (await readFile(file, 'utf8')).matchAll(/NEKO_ERR_[A-Z_]+/g)) used.add(m[0]);
    }
    // Prefixes used to group codes (e.g. `startsWith('NEKO_ERR_CLI_')`) are not codes.
    const codes = [...used].filter((c) => !c.endsWith('_'));
    expect(codes.filter((c) => !(c in ERROR_CODES))).toEqual([]);
    expect(Object.keys(ERROR_CODES).filter((c) => !used.has(c))).toEqual([]);
  });

  it('NekoError carries its code, location, hint and cause', () => {
    const cause = new Error('root');
    const err = new NekoError('NEKO_ERR_SPEC_SYNTAX', 'bad', {
      location: { file: 'spec.conf', line: 2, column: 3 },
      hint: 'fix it',
      cause,
    });
    expect(err).toBeInstanceOf(Error);
    expect([err.code, err.message, err.hint, err.cause]).toEqual([
      'NEKO_ERR_SPEC_SYNTAX',
      'bad',
      'fix it',
      cause,
    ]);
    expect(err.location).toEqual({ file: 'spec.conf', line: 2, column: 3 });
    expect(isNekoError(err)).toBe(true);
    expect(isNekoError(err, 'NEKO_ERR_SPEC_SYNTAX')).toBe(true);
    expect(isNekoError(err, 'NEKO_ERR_SPEC_READ')).toBe(false);
    expect(isNekoError(new Error('x'))).toBe(false);
  });

  it("isNekoError() is false for a subclass with codes of another package's registry", () => {
    class OtherError extends NekoError<'NEKO_ERR_OTHER_THING'> {}
    const err = new OtherError('NEKO_ERR_OTHER_THING', 'other');
    expect(err).toBeInstanceOf(NekoError);
    expect(err.code).toBe('NEKO_ERR_OTHER_THING');
    expect(isNekoError(err)).toBe(false);
  });
});
