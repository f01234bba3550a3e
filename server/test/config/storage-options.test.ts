import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStartOptions } from '../../src/config/start-options.js';
import { checkConfig } from '../../src/config/schema.js';
import { resolveStorage, storageEnv, type StorageSources } from '../../src/config/storage-options.js';
import { NekoError } from '../../src/errors.js';
import { selectStorageBackend } from '../../src/storage/select.js';
import { tempDir } from './cli-in-dir.js';

const CWD = '/work/app';
const BASE = '/etc/neko';
const URL_A = 'postgres://neko:hunter2-flag@db-a:5432/neko';
const URL_B = 'postgresql://neko:hunter2-env@db-b:6543/neko';
const URL_C = 'postgres://neko:hunter2-config@db-c/neko';

function resolve(sources: Partial<StorageSources>): ReturnType<typeof resolveStorage> {
  return resolveStorage({ env: {}, cwd: CWD, base: BASE, ...sources });
}

function thrown(run: () => unknown): NekoError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(NekoError);
    return err as NekoError;
  }
  throw new Error('expected an error');
}

describe('resolveStorage: which backend a start uses', () => {
  it('is nedb in .nekoconnect/data by default, in --data-dir, else in the config dataDir', () => {
    expect(resolve({})).toEqual({
      selection: { backend: 'nedb', dir: path.join(BASE, '.nekoconnect/data') },
      shown: path.join(BASE, '.nekoconnect/data'),
      dataDir: path.join(BASE, '.nekoconnect/data'),
      source: 'default',
    });
    expect(resolve({ config: { dataDir: 'data' } }).selection).toEqual({
      backend: 'nedb',
      dir: path.join(BASE, 'data'),
    });
    expect(resolve({ dataDir: 'mine', config: { dataDir: 'data' } }).selection).toEqual({
      backend: 'nedb',
      dir: path.join(CWD, 'mine'),
    });
  });

  it('takes the flag over the environment over the config storage over dataDir', () => {
    const config = { storage: { backend: 'postgres' as const, url: URL_C }, dataDir: 'data' };
    // A fresh environment each time: the variable leaves it once read.
    const env = (): NodeJS.ProcessEnv => ({ NEKOCONNECT_DATABASE_URL: URL_B });
    expect(resolve({ storage: URL_A, env: env(), config })).toMatchObject({
      selection: { backend: 'postgres', url: URL_A },
      source: '--storage',
    });
    expect(resolve({ env: env(), config })).toMatchObject({
      selection: { backend: 'postgres', url: URL_B },
      source: 'NEKOCONNECT_DATABASE_URL',
    });
    expect(resolve({ config, configFile: 'neko.json' })).toMatchObject({
      selection: { backend: 'postgres', url: URL_C },
      source: 'storage in neko.json',
    });
    // A directory given by the flag or the environment beats a PostgreSQL config too.
    expect(resolve({ storage: 'here', env: env(), config }).selection).toEqual({
      backend: 'nedb',
      dir: path.join(CWD, 'here'),
    });
    expect(resolve({ env: { NEKOCONNECT_DATABASE_URL: 'there' }, config }).selection).toEqual({
      backend: 'nedb',
      dir: path.join(CWD, 'there'),
    });
    // An empty variable counts as unset.
    expect(resolve({ env: { NEKOCONNECT_DATABASE_URL: '' }, config }).selection.backend).toBe('postgres');
  });

  it('takes NEKOCONNECT_DATABASE_URL out of the environment, whatever wins, and gives it back for a reload', () => {
    for (const sources of [{}, { storage: URL_A }, { storage: 'dir' }, { dataDir: 'd' }]) {
      const env: NodeJS.ProcessEnv = { NEKOCONNECT_DATABASE_URL: URL_B, OTHER: 'kept' };
      const resolved = resolve({ ...sources, env });
      expect(env).toEqual({ OTHER: 'kept' });
      const again = storageEnv(resolved);
      expect(resolve({ ...sources, env: again })).toEqual(resolved);
    }
    expect(storageEnv(resolve({ env: { NEKOCONNECT_DATABASE_URL: URL_B } }))).toEqual({
      NEKOCONNECT_DATABASE_URL: URL_B,
    });
    expect(storageEnv(resolve({ env: { NEKOCONNECT_DATABASE_URL: 'files' } }))).toEqual({
      NEKOCONNECT_DATABASE_URL: path.join(CWD, 'files'),
    });
  });

  it('on PostgreSQL keeps the data directory for the cache, and shows the URL without its password', () => {
    const flag = resolve({ storage: URL_A, dataDir: 'cache-here' });
    expect(flag.dataDir).toBe(path.join(CWD, 'cache-here'));
    expect(flag.shown).toBe('postgres://neko:***@db-a:5432/neko');
    expect(resolve({ storage: URL_A, config: { dataDir: 'd' } }).dataDir).toBe(path.join(BASE, 'd'));
    expect(resolve({ storage: URL_A }).dataDir).toBe(path.join(BASE, '.nekoconnect/data'));
  });

  it('takes the config nedb dir relative to the config folder; --data-dir beats it', () => {
    const config = { storage: { backend: 'nedb' as const, dir: 'files' } };
    expect(resolve({ config }).selection).toEqual({ backend: 'nedb', dir: path.join(BASE, 'files') });
    expect(resolve({ config, dataDir: 'flag' }).selection).toEqual({
      backend: 'nedb',
      dir: path.join(CWD, 'flag'),
    });
    // A flag beats the environment's directory too.
    expect(resolve({ env: { NEKOCONNECT_DATABASE_URL: 'env-dir' }, dataDir: 'flag' }).selection).toEqual({
      backend: 'nedb',
      dir: path.join(CWD, 'flag'),
    });
  });

  it('refuses --storage <dir> with --data-dir, saying which to keep', () => {
    const err = thrown(() => resolve({ storage: 'a', dataDir: 'b' }));
    expect(err.code).toBe('NEKO_ERR_CLI_USAGE');
    expect(err.message).toMatch(/--storage <dir> and --data-dir/);
    expect(err.hint).toMatch(/Keep one of them/);
  });

  it('refuses a malformed PostgreSQL URL without showing its password', () => {
    for (const url of ['postgres://neko:hunter2-bad@:5432/x', 'postgres://neko:hunter2-bad@db/a/b']) {
      const err = thrown(() => resolve({ storage: url }));
      expect(err.code).toBe('NEKO_ERR_CONFIG_INVALID');
      expect(`${err.message} ${err.hint ?? ''}`).not.toContain('hunter2');
    }
    const err = thrown(() =>
      resolve({ config: { storage: { backend: 'postgres', url: 'mysql://neko:hunter2-cfg@db/x' } } }),
    );
    expect(err.code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect(err.message).toContain('storage.url');
    expect(err.message).not.toContain('hunter2');
  });
});

describe('the storage key of the config file', () => {
  it('takes { backend: postgres, url } and { backend: nedb, dir }', () => {
    expect(checkConfig({ storage: { backend: 'postgres', url: URL_A } })).toEqual([]);
    expect(checkConfig({ storage: { backend: 'nedb', dir: 'data' } })).toEqual([]);
    expect(checkConfig({ storage: { backend: 'nedb' } })).toEqual([]);
  });

  it('names each problem, never showing the password, and then shows no code frame', () => {
    const issues = checkConfig({
      port: 'x',
      storage: { backend: 'postgres', url: 'mysql://neko:hunter2-x@db/x', dir: 'a' },
    });
    expect(issues.map((i) => i.path.join('.'))).toEqual(['port', 'storage.url', 'storage.dir']);
    expect(issues.every((i) => i.secret === true)).toBe(true);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
    const others = [
      [{ backend: 'mongo' }, 'storage.backend'],
      [{ backend: 'nedb', url: URL_A }, 'storage.url'],
      [{ backend: 'nedb', dir: 3 }, 'storage.dir'],
      [{ backend: 'postgres', url: URL_A, pool: 3 }, 'storage.pool'],
      ['postgres://x', 'storage'],
    ] as const;
    for (const [storage, at] of others) {
      const found = checkConfig({ storage });
      expect(found.map((i) => i.path.join('.'))).toEqual([at]);
    }
    expect(checkConfig({ dataDir: 'a', storage: { backend: 'nedb', dir: 'b' } })[0]!.message).toMatch(
      /keep one of them/,
    );
  });
});

describe('a start on the storage resolved', () => {
  it('starts on the config storage, relative to the config folder, with the cache under dataDir', async () => {
    const cwd = await tempDir();
    await writeFile(
      path.join(cwd, 'nekoconnect.config.json'),
      JSON.stringify({ storage: { backend: 'postgres', url: URL_C }, dataDir: 'var' }),
    );
    const options = await resolveStartOptions(cwd, {}, { NEKOCONNECT_SECRET: 's' });
    expect(options.storage.selection).toEqual({ backend: 'postgres', url: URL_C });
    expect(options.dataDir).toBe(path.join(cwd, 'var'));
    expect(options.cacheDir).toBe(path.join(cwd, 'var', 'cache'));
    const byEnv = await resolveStartOptions(
      cwd,
      { storage: 'files' },
      { NEKOCONNECT_SECRET: 's', NEKOCONNECT_DATABASE_URL: URL_B },
    );
    expect(byEnv.storage.selection).toEqual({ backend: 'nedb', dir: path.join(cwd, 'files') });
    expect(byEnv.cacheDir).toBe(path.join(cwd, 'files', 'cache'));
  });
});

describe("selectStorageBackend's postgres option", () => {
  const warn = (): void => undefined;
  it('checks each field, naming it, without the password', () => {
    const cases: [unknown, RegExp][] = [
      [{ backend: 'postgres' }, /storage\.url must be a postgres:\/\/ URL/],
      [
        { backend: 'postgres', url: 'http://neko:hunter2-h@db/x' },
        /is not a postgres:\/\/ or postgresql:\/\/ URL/,
      ],
      [{ backend: 'postgres', url: URL_A, maxConnections: 0 }, /storage\.maxConnections/],
      [{ backend: 'postgres', url: URL_A, connectTimeoutMs: 1.5 }, /storage\.connectTimeoutMs/],
      [{ backend: 'postgres', url: URL_A, dir: 'x' }, /storage\.dir is not an option of backend 'postgres'/],
    ];
    for (const [options, message] of cases) {
      const err = thrown(() => selectStorageBackend(options as never, warn));
      expect(err.code).toBe('NEKO_ERR_CONFIG_INVALID');
      expect(err.message).toMatch(message);
      expect(`${err.message} ${err.hint ?? ''}`).not.toContain('hunter2');
    }
  });
});
