/**
 * The spec.conf parser.
 *
 * spec.conf keeps the original NekoConnect format:
 *
 * ```text
 * $name {"Echo"};
 * $greet {"echo"};   anything after the ';' is a comment
 * $logic {"logic"};
 * $version {"1.0.0"};
 * ```
 *
 * The grammar, precisely:
 * - A line whose first non-blank character is `$` opens an entry. Every other
 *   line is a comment.
 * - An entry is `$` key `{` `"` value `"` `}` `;`. Blanks and line breaks are
 *   allowed between these tokens, so one entry may span lines.
 * - A key matches `[A-Za-z_][A-Za-z0-9_-]*` and is case-sensitive.
 * - The value is every character up to the next `"`, kept verbatim (line
 *   breaks included). There are no escapes, so a value cannot hold a `"`.
 * - After the `;`: if the next non-blank character on the same line is `$`,
 *   it opens another entry (so `$name {"Echo"}; $greet {"echo"};` is two
 *   entries); anything else makes the rest of the line a comment, including
 *   any `$` further along it.
 * - A leading byte-order mark is ignored; columns count after it.
 */
import { RESERVED_GREETERS } from '../protocol/constants.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { NekoError } from '../errors.js';
import type { NekoErrorCode, SourceLocation } from '../errors.js';
import { errorMessage, listWords } from '../format.js';
import { editDistance } from '../edit-distance.js';

/** One `$key {"value"};` entry of a spec.conf. */
export interface SpecEntry {
  key: string;
  value: string;
  /** Where the entry's `$` is. */
  location: SourceLocation;
  /** Where the value's first character is (for an empty value: the closing `"`). */
  valueLocation: SourceLocation;
}

/** A parsed, checked spec.conf. */
export interface PluginSpec {
  /** The spec.conf path, as given to the parser. */
  file: string;
  /** `$name`: the plugin's display name. */
  name: string;
  /** `$greet`: the greeter packets are routed by. */
  greeter: string;
  /** `$logic`: the logic file's name in the plugin folder, without extension. */
  logic: string;
  /** `$version`: not validated here. */
  version: string;
  /**
   * `$grace` (optional, seconds, 0–3600): how long a session of this plugin
   * whose connection dropped is kept for the client to resume it, in ms; 0
   * (the default) ends it at the drop.
   */
  graceMs: number;
  /** Every entry in file order, unknown keys included, by key. */
  entries: ReadonlyMap<string, SpecEntry>;
}

/** Greeters the protocol keeps for itself (protocol §3); no plugin may declare them. */
export { RESERVED_GREETERS };

/** The longest greeter a frame can carry: its length travels in one byte. */
const MAX_GREETER_BYTES = 255;

/** Optional entries the server reads; other keys are free metadata. */
const OPTIONAL_KEYS = ['grace'] as const;

/** The longest resume grace period a plugin may ask for, in seconds. */
export const MAX_GRACE_SECONDS = 3600;

/** Required entries, with a sample value for the hint of a missing-entry error. */
const REQUIRED_ENTRIES = [
  ['name', 'My plugin'],
  ['greet', 'my-plugin'],
  ['logic', 'logic'],
  ['version', '1.0.0'],
] as const;

/**
 * True when `greeter` can travel in a frame: 1–255 bytes, each printable
 * ASCII (0x21–0x7E, so no space). Reserved greeters pass this check; see
 * {@link RESERVED_GREETERS}.
 */
export function isValidGreeter(greeter: string): boolean {
  return greeter.length > 0 && greeter.length <= MAX_GREETER_BYTES && firstNonPrintableIndex(greeter) === -1;
}

/**
 * Reads and parses `<pluginDir>/spec.conf`.
 * @throws NekoError `NEKO_ERR_SPEC_READ` when the file cannot be read, or any
 *   error of {@link parseSpecText}.
 */
export async function readSpec(pluginDir: string): Promise<PluginSpec> {
  const file = path.join(pluginDir, 'spec.conf');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NekoError('NEKO_ERR_SPEC_READ', `cannot read ${file}: ${errorMessage(err)}`, {
      cause: err,
      hint: 'every plugin folder needs a spec.conf with $name, $greet, $logic and $version entries',
    });
  }
  return parseSpecText(text, file);
}

/**
 * Parses the text of a spec.conf and checks its entries: the four required
 * keys are present, the greeter can travel in a frame and is not reserved,
 * and `$logic` is a plain file name. The version is not checked here.
 *
 * @param text the file's content
 * @param file the path reported in error locations
 * @throws NekoError with a `location` (1-based line and column) and a `hint`:
 *   `NEKO_ERR_SPEC_SYNTAX`, `NEKO_ERR_SPEC_DUPLICATE_KEY`,
 *   `NEKO_ERR_SPEC_UNKNOWN_KEY`, `NEKO_ERR_SPEC_MISSING_KEY`,
 *   `NEKO_ERR_SPEC_BAD_GREETER`, `NEKO_ERR_SPEC_RESERVED_GREETER` or
 *   `NEKO_ERR_SPEC_BAD_LOGIC_PATH`.
 */
export function parseSpecText(text: string, file: string): PluginSpec {
  const scanner = new Scanner(text.startsWith('\uFEFF') ? text.slice(1) : text, file);
  const entries = parseEntries(scanner);
  checkMisspelledKeys(entries);

  const missing = REQUIRED_ENTRIES.filter(([key]) => !entries.has(key));
  if (missing.length > 0) {
    const keys = missing.map(([key]) => `$${key}`);
    const noun = missing.length === 1 ? 'entry' : 'entries';
    throw new NekoError('NEKO_ERR_SPEC_MISSING_KEY', `missing required ${noun} ${listWords(keys)}`, {
      location: scanner.locationAt(scanner.text.length),
      hint: `add ${missing.length === 1 ? 'it' : 'them'}, e.g. ${missing
        .map(([key, sample]) => `$${key} {"${sample}"};`)
        .join(' ')}`,
    });
  }

  const name = requiredEntry(entries, 'name');
  const greet = requiredEntry(entries, 'greet');
  const logic = requiredEntry(entries, 'logic');
  const version = requiredEntry(entries, 'version');
  checkGreeter(greet);
  checkLogicPath(logic);
  const grace = entries.get('grace');

  return {
    file,
    name: name.value,
    greeter: greet.value,
    logic: logic.value,
    version: version.value,
    graceMs: grace === undefined ? 0 : graceSeconds(grace) * 1000,
    entries,
  };
}

/* ------------------------------------------------------------------------ */
/* Scanning                                                                  */
/* ------------------------------------------------------------------------ */

/** A cursor over the text that knows how to turn an offset into a location. */
class Scanner {
  pos = 0;
  private readonly lineStarts: number[] = [0];

  constructor(
    readonly text: string,
    readonly file: string,
  ) {
    for (let i = 0; i < text.length; i++) {
      if (text[i] === '\n') this.lineStarts.push(i + 1);
    }
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** Skips blanks on the current line (not the line break). */
  skipBlanks(): void {
    while (isBlank(this.peek())) this.pos++;
  }

  /** Skips blanks and line breaks. */
  skipSpace(): void {
    while (isBlank(this.peek()) || this.peek() === '\n') this.pos++;
  }

  /** Moves past the next line break, or to the end of the text. */
  skipLine(): void {
    const newline = this.text.indexOf('\n', this.pos);
    this.pos = newline === -1 ? this.text.length : newline + 1;
  }

  locationAt(offset: number): SourceLocation {
    // The last line start at or before `offset` (binary search).
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return { file: this.file, line: low + 1, column: offset - (this.lineStarts[low] ?? 0) + 1 };
  }

  /** A syntax error pointing at `offset` (default: the current position). */
  syntaxError(message: string, hint: string, offset = this.pos): NekoError {
    return new NekoError('NEKO_ERR_SPEC_SYNTAX', message, { location: this.locationAt(offset), hint });
  }

  /** How the character at the current position reads in a message. */
  describeFound(): string {
    const code = this.text.codePointAt(this.pos);
    if (code === undefined) return 'end of file';
    return describeChar(code);
  }
}

const ENTRY_SHAPE = 'an entry looks like $name {"My plugin"};';

function parseEntries(scanner: Scanner): Map<string, SpecEntry> {
  const entries = new Map<string, SpecEntry>();
  while (!scanner.atEnd()) {
    scanner.skipBlanks();
    if (scanner.peek() === '$') {
      const entry = parseEntry(scanner);
      const previous = entries.get(entry.key);
      if (previous !== undefined) {
        throw new NekoError(
          'NEKO_ERR_SPEC_DUPLICATE_KEY',
          `duplicate entry $${entry.key}: it is already set at line ${previous.location.line}, column ${previous.location.column}`,
          { location: entry.location, hint: `keep one $${entry.key} entry and delete the other` },
        );
      }
      entries.set(entry.key, entry);
      // After the ';', a '$' on the same line opens the next entry; anything else is comment.
      scanner.skipBlanks();
      if (scanner.peek() === '$') continue;
    }
    scanner.skipLine();
  }
  return entries;
}

/** Parses one entry; the scanner stands on its `$`. */
function parseEntry(scanner: Scanner): SpecEntry {
  const location = scanner.locationAt(scanner.pos);
  scanner.pos++; // the '$'
  scanner.skipSpace();

  if (!isKeyStart(scanner.peek())) {
    throw scanner.syntaxError(
      `expected a key name after '$', found ${scanner.describeFound()}`,
      `a key starts with a letter or '_' and goes on with letters, digits, '_' or '-'; ${ENTRY_SHAPE}`,
    );
  }
  const keyStart = scanner.pos;
  while (isKeyPart(scanner.peek())) scanner.pos++;
  const key = scanner.text.slice(keyStart, scanner.pos);

  scanner.skipSpace();
  expect(scanner, '{', `after $${key}`, `put the value in braces and quotes: $${key} {"…"};`);
  scanner.skipSpace();
  expect(scanner, '"', `after '{' in $${key}`, `put the value in double quotes: $${key} {"…"};`);

  const openQuote = scanner.pos - 1;
  const closeQuote = scanner.text.indexOf('"', scanner.pos);
  if (closeQuote === -1) {
    throw scanner.syntaxError(
      `unterminated value of $${key}: expected '"' to close it, found end of file`,
      `close the value with a double quote: $${key} {"…"};`,
      openQuote,
    );
  }
  const valueLocation = scanner.locationAt(scanner.pos);
  const value = scanner.text.slice(scanner.pos, closeQuote);
  scanner.pos = closeQuote + 1;

  scanner.skipSpace();
  expect(
    scanner,
    '}',
    `after the value of $${key}`,
    `a value ends at the first double quote and cannot contain one; write $${key} {"…"};`,
  );
  scanner.skipSpace();
  expect(scanner, ';', `after $${key} {"…"}`, `end every entry with a semicolon: $${key} {"…"};`);

  return { key, value, location, valueLocation };
}

function expect(scanner: Scanner, token: string, where: string, hint: string): void {
  if (scanner.peek() !== token) {
    throw scanner.syntaxError(`expected '${token}' ${where}, found ${scanner.describeFound()}`, hint);
  }
  scanner.pos++;
}

/* ------------------------------------------------------------------------ */
/* Checks on values                                                          */
/* ------------------------------------------------------------------------ */

/**
 * How far (in edits) an unknown key may be from a known one to count as a
 * misspelling of it: 2 for `version`, 1 for the short keys, since two edits
 * away from `name` or `logic` lie ordinary metadata words (`$time`, `$date`,
 * `$page`, `$logo`) that the format allows.
 */
function misspellingDistance(key: string): number {
  return key.length > 5 ? 2 : 1;
}

/**
 * Other keys are free metadata (`$author`, `$description`, `$date`), but one
 * within {@link misspellingDistance} edits of a known key (`$gret`, `$Name`) is
 * taken for a misspelling of it: an error at the key, naming the key it
 * resembles and, when that entry is missing, saying so.
 *
 * @throws NekoError `NEKO_ERR_SPEC_UNKNOWN_KEY` for the first such key in file order.
 */
function checkMisspelledKeys(entries: ReadonlyMap<string, SpecEntry>): void {
  const known: readonly string[] = [...REQUIRED_ENTRIES.map(([key]) => key), ...OPTIONAL_KEYS];
  for (const entry of entries.values()) {
    if (known.includes(entry.key)) continue;
    let closest: string | undefined;
    let best = Infinity;
    for (const key of known) {
      const distance = editDistance(entry.key, key);
      if (distance <= misspellingDistance(key) && distance < best) {
        best = distance;
        closest = key;
      }
    }
    if (closest === undefined) continue;
    const missing = entries.has(closest) ? '' : ` (the required entry $${closest} is missing)`;
    throw new NekoError(
      'NEKO_ERR_SPEC_UNKNOWN_KEY',
      `unknown entry $${entry.key}: did you mean \`$${closest}\`?${missing}`,
      {
        location: entry.location,
        hint: entries.has(closest)
          ? `other keys are free metadata, but not one this close to $${closest}: rename or delete $${entry.key}`
          : `rename $${entry.key} to $${closest}`,
      },
    );
  }
}

/** The value of `$grace`: whole seconds from 0 to {@link MAX_GRACE_SECONDS}. */
function graceSeconds(entry: SpecEntry): number {
  const text = entry.value.trim();
  const seconds = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(seconds <= MAX_GRACE_SECONDS)) {
    throw new NekoError(
      'NEKO_ERR_SPEC_BAD_GRACE',
      `$grace must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS}; got "${entry.value}"`,
      {
        location: entry.valueLocation,
        hint: 'e.g. $grace {"30"}; keeps a dropped session 30 s for its client to resume it',
      },
    );
  }
  return seconds;
}

function requiredEntry(entries: ReadonlyMap<string, SpecEntry>, key: string): SpecEntry {
  const entry = entries.get(key);
  // parseSpecText reports missing keys before it asks for them.
  if (entry === undefined) throw new Error(`internal: $${key} checked as present but absent`);
  return entry;
}

const GREETER_HINT =
  'a greeter travels in every packet header: 1 to 255 printable ASCII characters, no spaces, e.g. $greet {"my-plugin"};';

function checkGreeter(entry: SpecEntry): void {
  const greeter = entry.value;
  const fail = (code: NekoErrorCode, message: string, location: SourceLocation, hint = GREETER_HINT) =>
    new NekoError(code, message, { location, hint });

  if (greeter.length === 0) {
    throw fail('NEKO_ERR_SPEC_BAD_GREETER', 'bad greeter: it is empty', entry.valueLocation);
  }
  const bad = firstNonPrintableIndex(greeter);
  if (bad !== -1) {
    const char = describeChar(greeter.codePointAt(bad) ?? 0);
    throw fail(
      'NEKO_ERR_SPEC_BAD_GREETER',
      `bad greeter ${JSON.stringify(greeter)}: character ${char} at position ${bad + 1} is not printable ASCII (0x21-0x7E)`,
      offsetInValue(entry, bad),
    );
  }
  // Only printable ASCII is left, so characters and bytes agree.
  if (greeter.length > MAX_GREETER_BYTES) {
    throw fail(
      'NEKO_ERR_SPEC_BAD_GREETER',
      `bad greeter: it is ${greeter.length} bytes long, the limit is ${MAX_GREETER_BYTES}`,
      entry.valueLocation,
    );
  }
  if (RESERVED_GREETERS.includes(greeter)) {
    throw fail(
      'NEKO_ERR_SPEC_RESERVED_GREETER',
      `greeter ${JSON.stringify(greeter)} is reserved by the protocol`,
      entry.valueLocation,
      `choose another greeter; ${listWords(RESERVED_GREETERS.map((g) => JSON.stringify(g)))} are used by the server itself`,
    );
  }
}

function checkLogicPath(entry: SpecEntry): void {
  const logic = entry.value;
  let problem: string | undefined;
  if (logic.length === 0) problem = 'it is empty';
  else if (logic.includes('/')) problem = "it holds a path separator '/'";
  else if (logic.includes('\\')) problem = "it holds a path separator '\\'";
  else if (logic.includes('..')) problem = "it holds '..'";
  if (problem !== undefined) {
    throw new NekoError(
      'NEKO_ERR_SPEC_BAD_LOGIC_PATH',
      `bad $logic ${JSON.stringify(logic)}: expected a file name in the plugin folder, without extension; ${problem}`,
      {
        location: entry.valueLocation,
        hint: 'put the logic file in the plugin folder and name it without extension, e.g. $logic {"logic"}; for logic.ts',
      },
    );
  }
}

/** The location of the character at `index` of an entry's value (values may span lines). */
function offsetInValue(entry: SpecEntry, index: number): SourceLocation {
  let { line, column } = entry.valueLocation;
  for (let i = 0; i < index; i++) {
    if (entry.value[i] === '\n') {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return { file: entry.valueLocation.file, line, column };
}

/* ------------------------------------------------------------------------ */
/* Characters and words                                                      */
/* ------------------------------------------------------------------------ */

function isBlank(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v';
}

function isKeyStart(ch: string | undefined): boolean {
  return ch !== undefined && /^[A-Za-z_]$/.test(ch);
}

function isKeyPart(ch: string | undefined): boolean {
  return ch !== undefined && /^[A-Za-z0-9_-]$/.test(ch);
}

/** Index of the first character outside 0x21–0x7E, or -1. */
function firstNonPrintableIndex(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return i;
  }
  return -1;
}

/** `'x'` for a visible character, `U+000A`-style for the rest (space included). */
function describeChar(code: number): string {
  const visible = (code > 0x20 && code < 0x7f) || (code > 0xa0 && code !== 0xfeff);
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return visible ? `'${String.fromCodePoint(code)}'` : code === 0x20 ? `' ' (${hex})` : hex;
}
