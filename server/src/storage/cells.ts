/**
 * Key-value cells (`ctx.dbGet`/`ctx.dbStore`), the same on every backend:
 * checking a cell's name and value, and the value's stored form, JSON text.
 *
 * Keeping the value as JSON text, rather than as document fields, lets any
 * JSON value be stored (documents refuse keys with `$` or `.`, and nedb
 * turns `{ $$date }` into Dates), and gives back exactly what was stored.
 * The nedb backend keeps a cell as a document `{ __nekoCell: <name>, json:
 * <JSON text>, _id }` in the plugin's datastore, which is why documents may
 * not use `__nekoCell` on any backend.
 */
import { NekoError } from '../errors.js';

/** The field that marks a cell document; holds the cell's name. Reserved: documents may not use it. */
export const CELL_FIELD = '__nekoCell';

/** The field of a cell document that holds the value as JSON text. */
export const CELL_VALUE_FIELD = 'json';

/**
 * Checks a cell name: any non-empty string.
 * @throws NekoError `NEKO_ERR_STORAGE_CELL` otherwise
 */
export function checkCellName(cell: unknown): string {
  if (typeof cell !== 'string' || cell === '') {
    throw new NekoError(
      'NEKO_ERR_STORAGE_CELL',
      `a cell name must be a non-empty string, not ${cell === '' ? 'an empty string' : describe(cell)}`,
      { hint: 'Name cells with strings, e.g. ctx.dbStore("highscore", 10).' },
    );
  }
  return cell;
}

/**
 * The JSON text stored for a cell's value, after checking that the value
 * survives JSON unchanged: `null`, booleans, finite numbers, strings, and
 * arrays and plain objects of those.
 * @throws NekoError `NEKO_ERR_STORAGE_CELL` naming the part that would not
 *   come back as it went in (undefined, a function, a bigint, a symbol,
 *   NaN or ±Infinity, an empty array slot, a Date, Map or other class
 *   instance, a symbol key, a cycle)
 */
export function encodeCellValue(cell: string, value: unknown): string {
  const problem = jsonProblem(value, 'the value', new Set());
  if (problem !== undefined) {
    throw new NekoError(
      'NEKO_ERR_STORAGE_CELL',
      `cell "${cell}": ${problem}, so it cannot be stored as JSON`,
      {
        hint: 'Store plain data: null, booleans, finite numbers, strings, arrays and plain objects.',
      },
    );
  }
  return JSON.stringify(value);
}

/**
 * The value of a cell from its stored JSON text.
 * @param location the data file, for the error
 * @throws NekoError `NEKO_ERR_STORAGE_CORRUPT` when the stored text is not JSON (an edited file)
 */
export function decodeCellValue(cell: string, stored: unknown, location: string): unknown {
  if (typeof stored === 'string') {
    try {
      return JSON.parse(stored) as unknown;
    } catch {
      // Reported below.
    }
  }
  throw new NekoError(
    'NEKO_ERR_STORAGE_CORRUPT',
    `${location}: cell "${cell}" holds no JSON text in its ${CELL_VALUE_FIELD} field`,
    { hint: `Store the cell again, or fix its document (${CELL_FIELD}: "${cell}") in the file.` },
  );
}

/**
 * Checks the amount of an increment (`incr(cell, by)`): a finite number.
 * @throws NekoError `NEKO_ERR_STORAGE_CELL` otherwise
 */
export function checkIncrement(cell: string, by: unknown): number {
  if (typeof by !== 'number' || !Number.isFinite(by)) {
    throw new NekoError(
      'NEKO_ERR_STORAGE_CELL',
      `cell "${cell}": an increment must be a finite number, not ${typeof by === 'number' ? String(by) : describe(by)}`,
      { hint: 'Write ctx.dbIncr("visits") or ctx.dbIncr("score", 10).' },
    );
  }
  return by;
}

/**
 * The value of a cell after adding `by` to `current` (undefined for a cell
 * never stored, which counts as 0).
 * @throws NekoError `NEKO_ERR_STORAGE_CELL` when the cell holds anything but
 *   a number, or the sum is not finite
 */
export function incremented(cell: string, current: unknown, by: number): number {
  if (current !== undefined && typeof current !== 'number') {
    throw new NekoError(
      'NEKO_ERR_STORAGE_CELL',
      `cell "${cell}" holds ${current === null ? 'null' : Array.isArray(current) ? 'an array' : `a ${typeof current}`}, not a number, so it cannot be incremented`,
      { hint: 'Increment cells that hold numbers; store a number first with ctx.dbStore(cell, 0).' },
    );
  }
  const sum = (current ?? 0) + by;
  if (!Number.isFinite(sum)) {
    throw new NekoError(
      'NEKO_ERR_STORAGE_CELL',
      `cell "${cell}": ${current} + ${by} is not a finite number`,
      {
        hint: 'Keep counters within the range of a double.',
      },
    );
  }
  return sum;
}

/** Why `value` (found at `path`) would not survive JSON, or undefined when it would. */
function jsonProblem(value: unknown, path: string, open: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${String(value)}, which JSON turns into null`;
    case 'undefined':
      return `${path} is undefined, which JSON drops`;
    case 'function':
    case 'symbol':
    case 'bigint':
      return `${path} is a ${typeof value}`;
    case 'object':
      break;
  }
  if (value === null) return undefined;
  if (open.has(value)) return `${path} refers back to itself`;
  open.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) return `${path}[${i}] is an empty slot, which JSON turns into null`;
        const problem = jsonProblem(value[i], `${path}[${i}]`, open);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null)
      return `${path} is ${describe(value)}, not a plain object`;
    if (Object.getOwnPropertySymbols(value).length > 0) return `${path} has a symbol key, which JSON drops`;
    for (const [key, item] of Object.entries(value)) {
      const problem = jsonProblem(item, `${path}${propertyPath(key)}`, open);
      if (problem !== undefined) return problem;
    }
    return undefined;
  } finally {
    open.delete(value);
  }
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
    ?.name;
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
}
