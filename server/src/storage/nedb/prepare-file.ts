/**
 * Gets a data file ready for nedb to load, or refuses it, before nedb sees
 * it. nedb's own load drops the lines it cannot read and then rewrites the
 * file, which would lose data without a word; here a file is either loaded
 * whole or left untouched with an error naming it. The one repair is a torn
 * last line after a crash, which is cut only after the file is backed up.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { NekoError } from '../../errors.js';
import { scanDataFile, type BadLine } from './data-file.js';
import { errorMessage } from '../../format.js';
import { systemErrorCode, writeError } from '../storage-errors.js';

/** Something done to a data file that the server should log. */
export interface PrepareNote {
  message: string;
  /** The copy of the file's bytes from before the change, when one was made. */
  backup?: string;
}

/** The mode of a data directory the server creates: its user's only. */
export const DATA_DIR_MODE = 0o700;

/** The mode of a data file the server creates or rewrites: its user's only. */
export const DATA_FILE_MODE = 0o600;

/** How many bad lines an error message details; the count covers all. */
const DETAILED_LINES = 3;

/**
 * Checks, and when needed repairs, the data file at `file` before nedb loads it:
 *
 * 1. Creates its directory (`mkdir -p`, mode 0700 for each folder made).
 * 2. When the file is missing but nedb's compaction temp file `<file>~` is
 *    there (a compaction was cut short after the old file was gone), renames
 *    it into place, as nedb would, so that it is checked like any data file.
 * 3. Reads the file and checks every line ({@link scanDataFile}). Any bad
 *    complete line fails with `NEKO_ERR_STORAGE_CORRUPT`; the file is not touched.
 * 4. A torn last line (no `\n`, not a valid record: an append cut short by a
 *    crash, whose promise never resolved) is cut, after the whole file is
 *    copied to `<file>.torn-<timestamp>`.
 *
 * @param file the data file's absolute path
 * @param now the clock, for the backup's name
 * @returns what was changed, for the log; empty when nothing was
 * @throws NekoError `NEKO_ERR_STORAGE_WRITE` when the directory cannot be
 *   created or a repair cannot be written, `NEKO_ERR_STORAGE_UNREADABLE` when
 *   the file is a directory or cannot be read, `NEKO_ERR_STORAGE_CORRUPT`
 *   when a line is bad.
 */
export async function prepareDataFile(
  file: string,
  now: () => Date = () => new Date(),
): Promise<PrepareNote[]> {
  const notes: PrepareNote[] = [];
  const dir = path.dirname(file);
  try {
    await mkdir(dir, { recursive: true, mode: DATA_DIR_MODE });
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_STORAGE_WRITE',
      `cannot create the data directory ${dir}: ${errorMessage(err)}`,
      {
        cause: err,
        hint: 'Point the data directory at a writable place, or fix the permissions of its parents.',
      },
    );
  }

  if (!(await isDataFile(file))) {
    const temp = `${file}~`;
    if (!(await isDataFile(temp))) return notes;
    await renameOrThrow(temp, file);
    notes.push({
      message: `${file} was missing; its last compaction had been cut short, so ${temp} took its place`,
    });
  }

  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw unreadable(file, err);
  }
  const scan = scanDataFile(bytes);
  if (scan.bad.length > 0) throw corrupt(file, scan.lines, scan.bad);
  if (scan.tornTail !== undefined) {
    const backup = await backUp(file, now());
    await cutAt(file, scan.tornTail.offset);
    notes.push({
      backup,
      message:
        `${file}: cut a torn last line (line ${scan.tornTail.line}, ${scan.tornTail.bytes} bytes), ` +
        `the remains of a write that a crash interrupted before it completed; ` +
        `the file as it was is kept in ${backup}`,
    });
  }
  return notes;
}

/**
 * True when `file` is a regular file, false when nothing is there.
 * @throws NekoError `NEKO_ERR_STORAGE_UNREADABLE` for a directory or anything else in its place
 */
async function isDataFile(file: string): Promise<boolean> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return false;
    throw unreadable(file, err);
  }
  if (info.isFile()) return true;
  throw new NekoError(
    'NEKO_ERR_STORAGE_UNREADABLE',
    `${file} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}, where a data file belongs`,
    { hint: 'Move it out of the way: the plugin database is created there.' },
  );
}

async function renameOrThrow(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    throw writeError(to, err);
  }
}

/** Copies `file` to a new `<file>.torn-<timestamp>` (never over an existing file), synced to disk. */
async function backUp(file: string, time: Date): Promise<string> {
  const stamp = time.toISOString().replace(/[:.]/g, '-');
  for (let attempt = 1; ; attempt++) {
    const backup = `${file}.torn-${stamp}${attempt === 1 ? '' : `-${attempt}`}`;
    try {
      await copyFile(file, backup, constants.COPYFILE_EXCL);
    } catch (err) {
      if (systemErrorCode(err) === 'EEXIST') continue;
      throw writeError(backup, err);
    }
    await syncFile(backup);
    return backup;
  }
}

/** Truncates `file` to its first `length` bytes, synced to disk. */
async function cutAt(file: string, length: number): Promise<void> {
  try {
    const handle = await open(file, 'r+');
    try {
      await handle.truncate(length);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw writeError(file, err);
  }
}

async function syncFile(file: string): Promise<void> {
  try {
    const handle = await open(file, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw writeError(file, err);
  }
}

function corrupt(file: string, lines: number, bad: readonly BadLine[]): NekoError {
  const first = bad[0] as BadLine;
  const details = bad
    .slice(0, DETAILED_LINES)
    .map((b) => `line ${b.line}: ${b.reason}`)
    .join('; ');
  const more = bad.length > DETAILED_LINES ? `; and ${bad.length - DETAILED_LINES} more` : '';
  const count = `${bad.length} of its ${lines} lines ${bad.length === 1 ? 'is' : 'are'} not a stored record`;
  return new NekoError('NEKO_ERR_STORAGE_CORRUPT', `${file}: ${count} (${details}${more})`, {
    location: { file, line: first.line, column: first.column },
    hint:
      `The file was left as it is. Look at the lines named (sed -n '${first.line}p' <file>), ` +
      'then fix or delete them, or restore the file from a backup; each line must be a JSON object with an _id.',
  });
}

function unreadable(file: string, err: unknown): NekoError {
  return new NekoError(
    'NEKO_ERR_STORAGE_UNREADABLE',
    `cannot read the data file ${file}: ${errorMessage(err)}`,
    {
      cause: err,
      hint: 'Check that it is a file the server may read and write.',
    },
  );
}
