import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registryTests } from '../../scripts/test-support/error-registry.js';
import { ERROR_CODES, NekoTemplatesError, isNekoTemplatesError } from '../src/errors.js';

const PACKAGE = join(import.meta.dirname, '..');
describe('error registry of @nekoconnect/templates', () => {
  registryTests({
    prefix: 'NEKO_ERR_TEMPLATES_',
    codes: ERROR_CODES,
    packageDir: PACKAGE,
    testFile: import.meta.filename,
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
