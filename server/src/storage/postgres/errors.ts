/**
 * Turning what PostgreSQL and node-postgres throw into `NEKO_ERR_STORAGE_*`
 * errors. A message never holds the URL's password: it names the server by
 * host and port, and the URL as `shownUrl` shows it.
 */
import { NekoError } from '../../errors.js';
import { errorMessage } from '../../format.js';
import { systemErrorCode } from '../storage-errors.js';

/** What an error needs to name the server. */
export interface ServerPlace {
  /** `host:port`. */
  readonly where: string;
  /** The URL without its password. */
  readonly location: string;
  /** The password, to keep out of messages (a driver's message could echo it). */
  readonly password: string | undefined;
}

/** The SQLSTATE of a PostgreSQL error, if it is one. */
export function sqlState(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * True for an error of the connection rather than of the statement: the
 * server cannot be reached, went away, or is shutting down.
 */
export function isConnectionError(err: unknown): boolean {
  if (systemErrorCode(err) !== undefined) return true;
  const state = sqlState(err);
  if (state !== undefined) {
    return state.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(state);
  }
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Client was closed/i.test(
    message,
  );
}

const QUERY_HINT = 'See "The database: ctx.db" in docs/plugins.md for the query and update language.';

/**
 * The error for a failed database operation:
 * - the connection failed: `NEKO_ERR_STORAGE_UNREACHABLE`, naming host and port;
 * - the statement was refused (an update nedb would refuse too, a taken
 *   `_id`, a pattern PostgreSQL cannot compile, a number out of range):
 *   `NEKO_ERR_STORAGE_QUERY`; `incr` of a non-number cell: `NEKO_ERR_STORAGE_CELL`;
 * - anything else: `NEKO_ERR_STORAGE_WRITE`.
 * NekoErrors pass through.
 */
export function postgresError(err: unknown, operation: string, place: ServerPlace): NekoError {
  if (err instanceof NekoError) return err;
  const reason = scrub(errorMessage(err), place.password);
  if (isConnectionError(err)) return unreachable(err, operation, place);
  switch (sqlState(err)) {
    case 'NK001':
      return new NekoError('NEKO_ERR_STORAGE_QUERY', `${operation} refused: ${reason}`, {
        cause: err,
        hint: QUERY_HINT,
      });
    case 'NK002':
      return new NekoError('NEKO_ERR_STORAGE_CELL', `${operation} refused: ${reason}`, {
        cause: err,
        hint: 'Increment cells that hold numbers; store a number first with ctx.dbStore(cell, 0).',
      });
    case '23505':
      return new NekoError(
        'NEKO_ERR_STORAGE_QUERY',
        `${operation} refused: a document with the same _id is stored already (${reason})`,
        { cause: err, hint: 'Leave _id out to have one made, or update the stored document.' },
      );
    case '22P05':
      return new NekoError(
        'NEKO_ERR_STORAGE_QUERY',
        `${operation} refused: PostgreSQL cannot store the character U+0000 in a document (${reason})`,
        { cause: err, hint: 'Leave U+0000 out of strings, or keep such text in a key-value cell.' },
      );
    case '2201B':
      return new NekoError(
        'NEKO_ERR_STORAGE_QUERY',
        `${operation} refused: PostgreSQL cannot use the $regex pattern: ${reason}`,
        {
          cause: err,
          hint: 'PostgreSQL runs $regex with its own regular expressions: keep to literals, classes, anchors, groups, alternation and repetition.',
        },
      );
    case '22003':
      return operation === 'incr'
        ? new NekoError('NEKO_ERR_STORAGE_CELL', `incr refused: the sum is not a finite number (${reason})`, {
            cause: err,
            hint: 'Keep counters within the range of a double.',
          })
        : new NekoError(
            'NEKO_ERR_STORAGE_QUERY',
            `${operation} refused: a number is out of range (${reason})`,
            {
              cause: err,
              hint: QUERY_HINT,
            },
          );
    default:
      return new NekoError(
        'NEKO_ERR_STORAGE_WRITE',
        `${operation}: PostgreSQL at ${place.where} failed: ${reason}`,
        {
          cause: err,
          hint: `Check the PostgreSQL server's log for ${place.location}.`,
        },
      );
  }
}

/** `NEKO_ERR_STORAGE_UNREACHABLE` for an operation whose connection failed. */
export function unreachable(err: unknown, operation: string, place: ServerPlace): NekoError {
  const reason = scrub(errorMessage(err), place.password);
  return new NekoError(
    'NEKO_ERR_STORAGE_UNREACHABLE',
    `${operation}: cannot reach PostgreSQL at ${place.where} (${place.location}): ${reason}`,
    {
      cause: err,
      hint: `Is PostgreSQL running on ${place.where}? The operation may be retried once it answers again.`,
    },
  );
}

function scrub(text: string, password: string | undefined): string {
  return password ? text.split(password).join('***') : text;
}
