/**
 * Turning what nedb and the file system throw into `NEKO_ERR_STORAGE_*`
 * errors that name the data file.
 */
import { NekoError } from '../errors.js';
import { errorMessage } from '../format.js';

/** The `code` of a Node system error (`ENOENT`, `EACCES`, …), if it is one. */
export function systemErrorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** True for errors of the file system rather than of the query: a system error, or nedb's failed fsync. */
function isFileSystemError(err: unknown): boolean {
  return (
    systemErrorCode(err) !== undefined || (typeof err === 'object' && err !== null && 'errorOnFsync' in err)
  );
}

const WRITE_HINT = 'Check the free space and the permissions of the data directory.';

/** `NEKO_ERR_STORAGE_WRITE` for a failed write to `file`. */
export function writeError(file: string, err: unknown): NekoError {
  return new NekoError('NEKO_ERR_STORAGE_WRITE', `cannot write ${file}: ${errorMessage(err)}`, {
    cause: err,
    hint: WRITE_HINT,
  });
}

/**
 * The error for a failed database operation: a file-system failure is
 * `NEKO_ERR_STORAGE_WRITE` (after loading, nedb only touches the disk to
 * write), anything else nedb refused (a unique key taken, `$inc` on a
 * string; the language itself is checked before, see `language.ts`) is
 * `NEKO_ERR_STORAGE_QUERY` with nedb's message. NekoErrors pass through.
 * @param err what the operation threw
 * @param operation the operation, for the message (`insert`, `update`, …)
 * @param location the data file, or `memory`
 */
export function operationError(err: unknown, operation: string, location: string): NekoError {
  if (err instanceof NekoError) return err;
  if (isFileSystemError(err)) {
    return new NekoError(
      'NEKO_ERR_STORAGE_WRITE',
      `${operation}: cannot write ${location}: ${errorMessage(err)}`,
      {
        cause: err,
        hint: WRITE_HINT,
      },
    );
  }
  return new NekoError('NEKO_ERR_STORAGE_QUERY', `${operation} refused: ${errorMessage(err)}`, {
    cause: err,
    hint: 'See "The database: ctx.db" in docs/plugins.md for the query and update language.',
  });
}

/**
 * The error for a data file nedb failed to load, after the file passed the
 * checks of `prepareDataFile`: a file-system failure (nedb rewrites the
 * file on load) is `NEKO_ERR_STORAGE_WRITE`; anything else (nedb's
 * corruption alarm, a unique index that the stored documents break) is
 * `NEKO_ERR_STORAGE_CORRUPT`. Either way nedb has not rewritten the file.
 */
export function loadError(err: unknown, file: string): NekoError {
  if (err instanceof NekoError) return err;
  if (isFileSystemError(err)) return writeError(file, err);
  return new NekoError('NEKO_ERR_STORAGE_CORRUPT', `${file} cannot be loaded: ${errorMessage(err)}`, {
    cause: err,
    hint: 'The file was left as it is. Fix or remove the documents the message names, or restore a backup.',
  });
}
