import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registryTests } from '../../scripts/test-support/error-registry.js';
import { NekoCreateError, ERROR_CODES, exitCodeFor, isNekoCreateError } from '../src/errors.js';

const PACKAGE = join(import.meta.dirname, '..');
describe('error registry of create-nekoplugin', () => {
  registryTests({
    prefix: 'NEKO_ERR_CREATE_',
    codes: ERROR_CODES,
    packageDir: PACKAGE,
    testFile: import.meta.filename,
  });

  it('NekoCreateError carries its code, hint and cause, and maps to an exit code', () => {
    const cause = new Error('root');
    const err = new NekoCreateError('NEKO_ERR_CREATE_INSTALL', 'failed', { hint: 'retry', cause });
    expect([err.name, err.code, err.message, err.hint, err.cause]).toEqual([
      'NekoCreateError',
      'NEKO_ERR_CREATE_INSTALL',
      'failed',
      'retry',
      cause,
    ]);
    expect([
      isNekoCreateError(err),
      isNekoCreateError(err, 'NEKO_ERR_CREATE_INSTALL'),
      isNekoCreateError(new Error('x')),
    ]).toEqual([true, true, false]);
    const exits = Object.fromEntries(
      Object.keys(ERROR_CODES).map((code) => [
        code,
        exitCodeFor(new NekoCreateError(code as keyof typeof ERROR_CODES, '')),
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
