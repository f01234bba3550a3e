import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NekoError } from '../../src/errors.js';
import type { StorageBackend } from '../../src/storage/database.js';
import { DEFAULT_DATA_DIR, NedbStorage } from '../../src/storage/nedb/storage.js';
import { selectStorageBackend, type StorageOptions } from '../../src/storage/select.js';
import { createServer } from '../../src/index.js';

const quiet = (): void => undefined;

function refusal(options: unknown): NekoError {
  try {
    selectStorageBackend(options as StorageOptions, quiet);
  } catch (err) {
    expect(err).toBeInstanceOf(NekoError);
    expect((err as NekoError).code).toBe('NEKO_ERR_CONFIG_INVALID');
    return err as NekoError;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be refused`);
}

describe('selectStorageBackend', () => {
  it('gives nedb files under .nekoconnect/data by default, and in the directory named', () => {
    const byDefault = selectStorageBackend(undefined, quiet);
    expect(byDefault).toBeInstanceOf(NedbStorage);
    expect((byDefault as NedbStorage).dataDir).toBe(path.resolve(DEFAULT_DATA_DIR));
    expect((byDefault as NedbStorage).inMemory).toBe(false);
    const nedb = selectStorageBackend({ backend: 'nedb' }, quiet) as NedbStorage;
    expect([nedb.dataDir, nedb.inMemory]).toEqual([path.resolve(DEFAULT_DATA_DIR), false]);
    const dir = selectStorageBackend({ backend: 'nedb', dir: 'var/neko', compactionIntervalMs: 0 }, quiet);
    expect((dir as NedbStorage).dataDir).toBe(path.resolve('var/neko'));
    expect((dir as NedbStorage).compactionIntervalMs).toBe(0);
  });

  it('gives nedb in memory for memory, and a backend object as it is', () => {
    const memory = selectStorageBackend({ backend: 'memory' }, quiet);
    expect(memory).toBeInstanceOf(NedbStorage);
    expect((memory as NedbStorage).inMemory).toBe(true);
    const own: StorageBackend = {
      open: () => Promise.reject(new Error('unused')),
      closeAll: () => Promise.resolve(),
    };
    expect(selectStorageBackend({ backend: own }, quiet)).toBe(own);
  });

  it('refuses options without a backend, the old shapes with the new ones in the hint', () => {
    for (const old of [{ inMemory: true }, { dataDir: 'data' }]) {
      const err = refusal(old);
      expect(err.message).toBe('storage needs a backend');
      expect(err.hint).toContain("{ backend: 'nedb', dir }");
      expect(err.hint).toContain("{ backend: 'memory' }");
    }
    expect(refusal(null).message).toContain('storage must be an object');
  });

  it('refuses an unknown backend, fields the backend does not take, bad values and half backends', () => {
    expect(refusal({ backend: 'mysql', url: 'x' }).message).toBe(
      'storage.backend "mysql" is not one of nedb, memory, postgres or a StorageBackend',
    );
    expect(refusal({ backend: 'memory', dir: 'data' }).message).toBe(
      "storage.dir is not an option of backend 'memory'; it takes storage.backend",
    );
    expect(refusal({ backend: 'nedb', dataDir: 'data' }).message).toContain(
      'storage.dataDir is not an option',
    );
    expect(refusal({ backend: 'nedb', dir: '' }).message).toContain('storage.dir must be a non-empty path');
    expect(refusal({ backend: 'nedb', compactionIntervalMs: -1 }).message).toContain('compactionIntervalMs');
    expect(refusal({ backend: { open: () => undefined } }).message).toContain('open() and closeAll()');
  });

  it('is what createServer uses: a bad storage option fails at creation', () => {
    expect(() =>
      createServer({ secret: 's', storage: { backend: 'files' } as unknown as StorageOptions }),
    ).toThrow(/storage\.backend "files" is not one of nedb, memory/);
  });
});
