/**
 * The data file name of a plugin, from its greeter.
 *
 * A greeter is printable ASCII and may hold characters that a file system
 * refuses or treats specially. The name is built so that it is safe on Linux,
 * macOS and Windows, and so that two greeters never share a file, even on a
 * case-insensitive file system:
 *
 * - `a`–`z`, `0`–`9`, `-` and `_` are kept; so is `.`, except as the first
 *   character (a leading dot would hide the file).
 * - An upper-case letter becomes `^` and the letter in lower case: `Chat` →
 *   `^chat` (so `Chat` and `chat` differ on macOS and Windows too).
 * - Any other character (`/ \ : * ? " < > | % ^`, a space, a leading `.`,
 *   anything outside ASCII) becomes `%XX`, the upper-case hex of each of its
 *   UTF-8 bytes: `a/b` → `a%2Fb`, `.env` → `%2Eenv`.
 * - A name that Windows reserves for a device (`con`, `nul`, `com1`, …, with
 *   any extension) gets its first character as `%XX`: `con` → `%63on`.
 * - A name longer than {@link MAX_ENCODED_LENGTH} characters is cut (never
 *   inside a `%XX` or `^x`) and ends with `^_` and 16 hex digits of the
 *   greeter's SHA-256, leaving room for `.db`, nedb's `~` and a backup suffix
 *   under the usual 255-byte limit. `^_` never appears otherwise.
 *
 * The file is `<encoded>.db`.
 */
import { createHash } from 'node:crypto';

/** The longest encoded greeter kept whole; longer ones are cut and hashed. */
export const MAX_ENCODED_LENGTH = 200;

/** The extension of a data file. */
export const DATA_FILE_EXTENSION = '.db';

const KEPT = /^[a-z0-9_.-]$/;
const UPPER = /^[A-Z]$/;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

/**
 * Encodes a greeter into a file-name-safe, collision-free stem (without the
 * extension); see the module comment for the rules.
 * @param greeter a non-empty greeter
 */
export function encodeGreeter(greeter: string): string {
  const parts: string[] = [];
  for (const char of greeter) {
    if (KEPT.test(char) && !(char === '.' && parts.length === 0)) parts.push(char);
    else if (UPPER.test(char)) parts.push(`^${char.toLowerCase()}`);
    else parts.push(percent(char));
  }
  // Windows refuses `con.db` and `con.x.db` alike: the part before the first dot counts.
  const first = parts[0];
  if (first !== undefined && WINDOWS_DEVICE.test(parts.join('').split('.')[0] ?? '')) {
    parts[0] = percent(first);
  }
  return shorten(parts, greeter);
}

/**
 * The data file name of a greeter: `<encoded greeter>.db`.
 * @param greeter a non-empty greeter
 */
export function dataFileName(greeter: string): string {
  return `${encodeGreeter(greeter)}${DATA_FILE_EXTENSION}`;
}

function percent(char: string): string {
  return [...Buffer.from(char, 'utf8')]
    .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
    .join('');
}

function shorten(parts: readonly string[], greeter: string): string {
  const whole = parts.join('');
  if (whole.length <= MAX_ENCODED_LENGTH) return whole;
  const hash = createHash('sha256').update(greeter, 'utf8').digest('hex').slice(0, 16);
  const room = MAX_ENCODED_LENGTH - hash.length - 2;
  let kept = '';
  for (const part of parts) {
    if (kept.length + part.length > room) break;
    kept += part;
  }
  return `${kept}^_${hash}`;
}

/**
 * The greeter a data file name stands for (the reverse of
 * {@link dataFileName}); undefined for a name that encoding a greeter never
 * gives (another file), and for a cut name (`^_` and a hash), whose greeter
 * cannot be known from the name.
 */
export function greeterOfFileName(name: string): string | undefined {
  if (!name.endsWith(DATA_FILE_EXTENSION)) return undefined;
  const stem = name.slice(0, -DATA_FILE_EXTENSION.length);
  if (stem === '' || stem.includes('^_')) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < stem.length; i++) {
    const char = stem[i]!;
    if (char === '%') {
      const hex = stem.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (char === '^') {
      const next = stem[i + 1];
      if (next === undefined || !/^[a-z]$/.test(next)) return undefined;
      bytes.push(next.toUpperCase().charCodeAt(0));
      i += 1;
    } else {
      bytes.push(char.charCodeAt(0));
    }
  }
  const greeter = Buffer.from(bytes).toString('utf8');
  // Only a name encoding gives back is a data file's: `A.db` or `%61.db` are not.
  return encodeGreeter(greeter) === stem ? greeter : undefined;
}
