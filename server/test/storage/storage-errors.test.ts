import { describe, expect, it } from 'vitest';
import { NekoError } from '../../src/errors.js';
import { loadError, operationError } from '../../src/storage/storage-errors.js';

function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: boom`), { code, syscall: 'open' });
}

describe('storage errors', () => {
  it('maps what nedb refuses to NEKO_ERR_STORAGE_QUERY and disk failures to NEKO_ERR_STORAGE_WRITE', () => {
    const refused = new Error('Unknown modifier $x');
    expect(operationError(refused, 'update', '/d/a.db')).toMatchObject({
      code: 'NEKO_ERR_STORAGE_QUERY',
      message: 'update refused: Unknown modifier $x',
      cause: refused,
    });
    const full = systemError('ENOSPC');
    expect(operationError(full, 'insert', '/d/a.db')).toMatchObject({
      code: 'NEKO_ERR_STORAGE_WRITE',
      message: 'insert: cannot write /d/a.db: ENOSPC: boom',
      cause: full,
    });
    const fsync = Object.assign(new Error('Failed to flush to storage'), {
      errorOnFsync: systemError('EIO'),
    });
    expect(operationError(fsync, 'compact', '/d/a.db').code).toBe('NEKO_ERR_STORAGE_WRITE');
    const coded = new NekoError('NEKO_ERR_STORAGE_CELL', 'x');
    expect(operationError(coded, 'set', '/d/a.db')).toBe(coded);
  });

  it("maps nedb's load failures to NEKO_ERR_STORAGE_CORRUPT, or _WRITE when the rewrite fails", () => {
    const alarm = Object.assign(new Error('100% of the data file is corrupt'), { corruptionRate: 1 });
    expect(loadError(alarm, '/d/a.db')).toMatchObject({
      code: 'NEKO_ERR_STORAGE_CORRUPT',
      message: '/d/a.db cannot be loaded: 100% of the data file is corrupt',
      cause: alarm,
    });
    expect(loadError(systemError('EACCES'), '/d/a.db')).toMatchObject({
      code: 'NEKO_ERR_STORAGE_WRITE',
      message: 'cannot write /d/a.db: EACCES: boom',
    });
  });
});
