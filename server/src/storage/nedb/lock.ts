/**
 * The data directory's lock: nedb files belong to one process, so a server
 * that uses a data dir holds `<data-dir>/nekoconnect.lock` while it runs.
 * The file says who holds it (pid, host name, start time); `nekoconnect
 * reload` and `drain` find the server through it. A lock whose process is
 * gone (a crash, `kill -9`) is stale and taken over.
 */
import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { NekoError } from '../../errors.js';
import { errorMessage } from '../../format.js';

/** The lock file's name, inside the data directory. */
export const LOCK_FILE = 'nekoconnect.lock';

/** What a lock file says. */
export interface DataDirLock {
  /** The process that holds the data directory. */
  readonly pid: number;
  /** The machine it runs on. */
  readonly hostname: string;
  /** When it took the lock, ISO-8601. */
  readonly startedAt: string;
  /** The lock file, absolute. */
  readonly file: string;
}

/** A lock this process holds; `release()` removes its file (once). */
export interface HeldLock extends DataDirLock {
  release(): Promise<void>;
}

/** The lock file of a data directory, absolute. */
export function lockFile(dataDir: string): string {
  return path.join(path.resolve(dataDir), LOCK_FILE);
}

/**
 * Reads the lock of a data directory.
 *
 * @returns undefined when there is none (no server uses the dir), or when
 *   the file is not a lock this version wrote (half-written, foreign)
 */
export async function readDataDirLock(dataDir: string): Promise<DataDirLock | undefined> {
  const file = lockFile(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NekoError(
      'NEKO_ERR_STORAGE_UNREADABLE',
      `cannot read the lock file ${file}: ${errorMessage(err)}`,
      {
        cause: err,
        hint: 'check the permissions of the data directory',
      },
    );
  }
  return parseLock(text, file);
}

/** The lock files this process holds now. */
const held = new Set<string>();

/**
 * Whether the process of a lock runs (on this machine; another machine's
 * lock counts as alive). A lock naming this very process is alive only if
 * this process took it: otherwise an earlier process that had the same pid
 * left it (in a container the server is pid 1 at every start).
 */
export function lockHolderAlive(lock: DataDirLock): boolean {
  if (lock.hostname !== hostname()) return true;
  if (lock.pid === process.pid) return held.has(lock.file);
  try {
    process.kill(lock.pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock of a data directory (creating the directory, `0700`, if
 * needed). A stale lock (its process is gone) is replaced.
 *
 * @throws NekoError `NEKO_ERR_STORAGE_LOCKED` naming the process that holds
 *   the directory; `NEKO_ERR_STORAGE_WRITE` when the directory or the lock
 *   file cannot be written
 */
export async function lockDataDir(dataDir: string): Promise<HeldLock> {
  const dir = path.resolve(dataDir);
  const file = lockFile(dir);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_STORAGE_WRITE',
      `cannot create the data directory ${dir}: ${errorMessage(err)}`,
      {
        cause: err,
        hint: 'check its parent folder exists and is writable by this user, or pick another with --data-dir',
      },
    );
  }
  const lock = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
  // Two tries: the second after removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // 'wx': fails when the file exists, so two servers never both get it.
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(lock)}\n`);
      } finally {
        await handle.close();
      }
      held.add(file);
      let released = false;
      return {
        ...lock,
        file,
        release: async () => {
          if (released) return;
          released = true;
          held.delete(file);
          await rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new NekoError(
          'NEKO_ERR_STORAGE_WRITE',
          `cannot write the lock file ${file}: ${errorMessage(err)}`,
          {
            cause: err,
            hint: 'the server needs write access to its data directory',
          },
        );
      }
    }
    const holder = await readDataDirLock(dir);
    if (holder !== undefined && lockHolderAlive(holder)) throw lockedError(dir, holder);
    // A lock file just created may not hold its JSON yet: another server is taking it.
    if (holder === undefined && (await ageMs(file)) < FRESH_LOCK_MS) {
      throw new NekoError(
        'NEKO_ERR_STORAGE_LOCKED',
        `another server is taking the lock of ${dir} (${file})`,
        {
          hint: 'nedb files belong to one server: give each server its own --data-dir',
        },
      );
    }
    // Stale (its process is gone) or unreadable: replace it.
    await rm(file, { force: true });
  }
  throw new NekoError('NEKO_ERR_STORAGE_LOCKED', `another process keeps taking the lock file ${file}`, {
    hint: 'make sure only one server uses this data directory',
  });
}

/** How long a lock file without its JSON counts as being written by another server. */
const FRESH_LOCK_MS = 2_000;

async function ageMs(file: string): Promise<number> {
  try {
    return Date.now() - (await stat(file)).mtimeMs;
  } catch {
    return Infinity;
  }
}

function lockedError(dir: string, holder: DataDirLock): NekoError {
  const where =
    holder.hostname === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.hostname}`;
  return new NekoError(
    'NEKO_ERR_STORAGE_LOCKED',
    `the data directory ${dir} is in use by another server (${where}, started ${holder.startedAt})`,
    {
      hint:
        'nedb files belong to one server: stop that one first, or give this one its own --data-dir ' +
        `(the lock is ${holder.file})`,
    },
  );
}

function parseLock(text: string, file: string): DataDirLock | undefined {
  try {
    const value = JSON.parse(text) as Partial<DataDirLock>;
    if (
      typeof value.pid !== 'number' ||
      !Number.isInteger(value.pid) ||
      value.pid <= 0 ||
      typeof value.hostname !== 'string' ||
      typeof value.startedAt !== 'string'
    ) {
      return undefined;
    }
    return { pid: value.pid, hostname: value.hostname, startedAt: value.startedAt, file };
  } catch {
    return undefined;
  }
}
