import { join } from 'node:path';
import { NekoError, isNekoError } from 'nekoconnect';
import { describe, expect, it } from 'vitest';
import { registryTests } from '../../scripts/test-support/error-registry.js';
import { ERROR_CODES, NekoTestingError, isNekoTestingError } from '../src/errors.js';

const PACKAGE = join(import.meta.dirname, '..');
describe('error registry of @nekoconnect/testing', () => {
  registryTests({
    prefix: 'NEKO_ERR_TESTING_',
    codes: ERROR_CODES,
    packageDir: PACKAGE,
    testFile: import.meta.filename,
  });

  it('NekoTestingError carries its code, hint and cause', () => {
    const cause = new Error('root');
    const err = new NekoTestingError('NEKO_ERR_TESTING_TIMEOUT', 'late', { hint: 'wait longer', cause });
    expect(err).toBeInstanceOf(Error);
    // The coded-error base of nekoconnect, with this package's codes: not one of the server's.
    expect(err).toBeInstanceOf(NekoError);
    expect(isNekoError(err)).toBe(false);
    expect([err.name, err.code, err.message, err.hint, err.cause]).toEqual([
      'NekoTestingError',
      'NEKO_ERR_TESTING_TIMEOUT',
      'late',
      'wait longer',
      cause,
    ]);
    expect(isNekoTestingError(err)).toBe(true);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_TIMEOUT')).toBe(true);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_CLOSED')).toBe(false);
    expect(isNekoTestingError(new Error('x'))).toBe(false);
  });
});
