/**
 * The line format of a nedb data file, and a strict check of a whole file.
 *
 * nedb writes one JSON object per line, appending a line for each inserted,
 * updated or removed document (`{"$$deleted":true,"_id":…}`) and for each
 * index (`{"$$indexCreated":…}`, `{"$$indexRemoved":…}`); loading replays
 * the lines. Its loader is lenient where this module is not: it drops
 * unparsable lines below a threshold, ignores objects without `_id`, and
 * splits lines on U+2028, U+2029 and U+0085 as well as `\n`, while
 * `JSON.stringify` leaves those characters raw. {@link escapeLineBreaks}
 * closes that gap on write; {@link scanDataFile} finds every line the loader
 * would drop or mangle, and a torn last line left by a crash mid-append.
 */

/** What is wrong with one line of a data file. */
export interface BadLine {
  /** The line number, from 1. */
  line: number;
  /** The column the problem was found at, from 1 (1 when unknown). */
  column: number;
  /** What is wrong, e.g. `not JSON: Unexpected end of JSON input`. */
  reason: string;
}

/** The outcome of {@link scanDataFile}. */
export interface DataFileScan {
  /** The lines that hold something (blank lines are not counted). */
  lines: number;
  /** Every complete line that nedb would drop or mangle, in file order. */
  bad: BadLine[];
  /**
   * The unterminated last line when it is not a valid line: the remains of
   * an append that a crash cut short. Its write never completed, so no
   * caller was told it succeeded. Undefined when the file ends cleanly.
   */
  tornTail?: {
    /** The line number of the torn line, from 1. */
    line: number;
    /** Where the torn line starts: the file's bytes before it are the ones to keep. */
    offset: number;
    /** The torn line's length in bytes. */
    bytes: number;
  };
}

/** Line terminators that nedb's loader splits on besides `\n` (and `\r\n`). */
const FOREIGN_BREAKS = /[\r\v\f\u0085\u2028\u2029]/;
const ESCAPED_BREAKS = /[\u0085\u2028\u2029]/g;

/**
 * Escapes, as `\uXXXX`, the characters nedb's loader treats as line breaks
 * but `JSON.stringify` leaves raw (U+0085, U+2028, U+2029). They can only
 * occur inside JSON strings, where the escape means the same character, so
 * the line parses to the same document. Without it, a document holding one
 * of them would be split in two on the next load: corrupt.
 * Use as nedb's `afterSerialization` hook (with the identity as
 * `beforeDeserialization`: `JSON.parse` reads the escapes).
 */
export function escapeLineBreaks(line: string): string {
  return line.replace(ESCAPED_BREAKS, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Checks one line of a data file (without its `\n`; a trailing `\r` is
 * allowed). Blank lines are valid: nedb skips them.
 * @returns what is wrong with it, or undefined when nedb loads it as is
 */
export function checkLine(text: string): Omit<BadLine, 'line'> | undefined {
  const body = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (body === '') return undefined;
  const breakAt = body.search(FOREIGN_BREAKS);
  if (breakAt !== -1) {
    const code = body.charCodeAt(breakAt).toString(16).toUpperCase().padStart(4, '0');
    return { column: breakAt + 1, reason: `holds U+${code}, which nedb's loader takes for a line break` };
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const position = /position (\d+)/.exec(message)?.[1];
    return { column: position === undefined ? 1 : Number(position) + 1, reason: `not JSON: ${message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { column: 1, reason: 'not a JSON object' };
  }
  if (!isNedbRecord(value as Record<string, unknown>)) {
    return { column: 1, reason: 'an object without an _id (nedb would drop it)' };
  }
  return undefined;
}

/** True for the objects nedb's loader acts on; it silently ignores any other. */
function isNedbRecord(record: Record<string, unknown>): boolean {
  if (record['_id']) return true;
  const created = record['$$indexCreated'];
  if (
    typeof created === 'object' &&
    created !== null &&
    (created as Record<string, unknown>)['fieldName'] != null
  ) {
    return true;
  }
  return typeof record['$$indexRemoved'] === 'string';
}

/**
 * Checks every line of a data file's bytes. A last line that lacks its `\n`
 * is valid when it is a complete record; otherwise it is reported as
 * {@link DataFileScan.tornTail}, not as a bad line.
 * @param bytes the whole file
 */
export function scanDataFile(bytes: Uint8Array): DataFileScan {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const scan: DataFileScan = { lines: 0, bad: [] };
  let start = 0;
  let line = 0;
  while (start < buffer.length) {
    line += 1;
    const newline = buffer.indexOf(0x0a, start);
    const end = newline === -1 ? buffer.length : newline;
    const text = buffer.toString('utf8', start, end);
    if (text !== '' && text !== '\r') scan.lines += 1;
    const problem = checkLine(text);
    if (problem !== undefined) {
      if (newline === -1) scan.tornTail = { line, offset: start, bytes: end - start };
      else scan.bad.push({ line, ...problem });
    }
    start = end + 1;
  }
  return scan;
}
