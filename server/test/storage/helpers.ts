import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, onTestFinished } from 'vitest';
import { NekoError, type NekoErrorCode } from '../../src/errors.js';
import type { NedbDatabase } from '../../src/storage/nedb/database.js';
import { NedbStorage, type NedbStorageOptions, type StorageWarning } from '../../src/storage/nedb/storage.js';

/** A fresh temp directory, removed when the test finishes. */
export async function tempDir(prefix = 'neko-storage-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A file-backed backend in a fresh data directory; its databases are closed when the test finishes. */
export async function fileStorage(
  options: NedbStorageOptions = {},
): Promise<{ storage: NedbStorage; dataDir: string; warnings: StorageWarning[] }> {
  const dataDir = path.join(await tempDir(), 'data');
  const warnings: StorageWarning[] = [];
  const storage = new NedbStorage({
    dataDir,
    compactionIntervalMs: 0,
    onWarning: (warning) => warnings.push(warning),
    ...options,
  });
  onTestFinished(() => storage.closeAll().catch(() => undefined));
  return { storage, dataDir, warnings };
}

/** Opens a database that is closed when the test finishes. */
export async function openDb(storage: NedbStorage, greeter: string): Promise<NedbDatabase> {
  const db = await storage.open(greeter);
  onTestFinished(() => db.close().catch(() => undefined));
  return db;
}

/** Awaits `promise`, expecting it to reject with a NekoError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: NekoErrorCode): Promise<NekoError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(NekoError);
  expect((error as NekoError).code, (error as NekoError).message).toBe(code);
  return error as NekoError;
}
