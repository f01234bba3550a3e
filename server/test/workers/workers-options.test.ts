/**
 * How many workers a start asks for (`--workers`, config `workers`), and the
 * nedb rule: more than one worker needs PostgreSQL storage.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { checkWorkersStorage, resolveStartOptions } from '../../src/config/start-options.js';
import { NekoError } from '../../src/errors.js';
import { resolveServerOptions } from '../../src/server/options.js';
import { tempDir } from '../config/cli-in-dir.js';

const env = (): NodeJS.ProcessEnv => ({ NEKOCONNECT_SECRET: 'env-secret' });
const POSTGRES = 'postgres://neko:pw@db/neko';

async function rejection(promise: Promise<unknown>): Promise<NekoError> {
  const err = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NekoError);
  return err as NekoError;
}

describe('workers in the start options', () => {
  it('takes a count or auto from the flag, over the config; none by default', async () => {
    const cwd = await tempDir();
    expect((await resolveStartOptions(cwd, { noConfig: true }, env())).workers).toBeUndefined();
    const flag = { noConfig: true, storage: POSTGRES };
    expect((await resolveStartOptions(cwd, { ...flag, workers: '3' }, env())).workers).toBe(3);
    expect((await resolveStartOptions(cwd, { ...flag, workers: 'auto' }, env())).workers).toBe(
      availableParallelism(),
    );
    await writeFile(
      path.join(cwd, 'nekoconnect.config.json'),
      JSON.stringify({ workers: 2, storage: { backend: 'postgres', url: POSTGRES } }),
    );
    expect((await resolveStartOptions(cwd, {}, env())).workers).toBe(2);
    expect((await resolveStartOptions(cwd, { workers: '4' }, env())).workers).toBe(4);
    for (const bad of ['0', '257', '1.5', 'two', '']) {
      const err = await rejection(resolveStartOptions(cwd, { ...flag, workers: bad }, env()));
      expect(err.code).toBe('NEKO_ERR_CLI_USAGE');
      expect(err.message).toBe(
        `--workers must be a whole number from 1 to 256, or auto (one per core), got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('refuses more than one worker on nedb, naming the data directory and the fix; one worker is fine', async () => {
    const cwd = await tempDir();
    const err = await rejection(
      resolveStartOptions(cwd, { noConfig: true, workers: '2', dataDir: 'data' }, env()).then((options) =>
        checkWorkersStorage(options, cwd),
      ),
    );
    expect(err.code).toBe('NEKO_ERR_CONFIG_WORKERS_STORAGE');
    expect(err.message).toBe(
      '2 workers cannot share nedb files (data, from --data-dir): each data file belongs to one process',
    );
    expect(err.hint).toContain('--storage postgres://');
    expect(err.hint).toContain('--workers 1');
    if (availableParallelism() > 1) {
      const auto = await rejection(
        resolveStartOptions(cwd, { noConfig: true, workers: 'auto' }, env()).then((options) =>
          checkWorkersStorage(options, cwd),
        ),
      );
      expect(auto.code).toBe('NEKO_ERR_CONFIG_WORKERS_STORAGE');
    }
    const one = await resolveStartOptions(cwd, { noConfig: true, workers: '1' }, env());
    expect(one.workers).toBe(1);
    checkWorkersStorage(one, cwd);
  });

  it('keeps the secret out of what the options would hand down', async () => {
    const cwd = await tempDir();
    const given = env();
    await resolveStartOptions(cwd, { noConfig: true, storage: POSTGRES, workers: '2' }, given);
    expect(given.NEKOCONNECT_SECRET).toBeUndefined();
  });
});

describe('cluster: { ipc: true }', () => {
  it('is refused outside a worker of node:cluster, naming --workers', () => {
    let err: unknown;
    try {
      resolveServerOptions({ secret: 's', cluster: { ipc: true } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NekoError);
    expect((err as NekoError).code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect((err as NekoError).message).toContain('nekoconnect start --workers');
  });
});
