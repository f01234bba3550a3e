/**
 * How the toolkit writes things for people, in one place: coded errors with
 * their code frames, paths, counts, lists and indented blocks. Colours
 * follow kleur's `enabled`.
 */
import kleur from 'kleur';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NekoError, SourceLocation } from './errors.js';
import { codeFrame, formatLocation } from './code-frame.js';

/** The message of an error, or the value as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `1 error`, `2 errors`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `a`, `a and b`, `a, b and c`. */
export function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** Every line of `text` indented by `prefix` (four spaces by default). */
export function indent(text: string, prefix = '    '): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}

/** `file` relative to `cwd` when inside it, else as given: how paths are shown to people. */
export function shownPath(file: string, cwd: string = process.cwd()): string {
  const rel = path.relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** A folder as {@link shownPath} shows it, and `.` for `cwd` itself. */
export function shownDir(dir: string, cwd: string = process.cwd()): string {
  return path.relative(cwd, dir) === '' ? '.' : shownPath(dir, cwd);
}

/** `12:00:01`, in local time. */
export function clock(time: number): string {
  const d = new Date(time);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * The code frame around a location, indented for a terminal: the marked
 * line in `mark`'s colour, the others dim.
 */
export function renderCodeFrame(
  source: string,
  location: Pick<SourceLocation, 'line' | 'column'>,
  mark: (line: string) => string = kleur.red,
): string {
  return indent(
    codeFrame(source, location.line, location.column)
      .split('\n')
      .map((l) => (l.startsWith('>') ? mark(l) : kleur.dim(l)))
      .join('\n'),
  );
}

/**
 * A coded error for a person: `file:line:col` when it points into a file,
 * the code and message, a code frame, and the hint.
 */
export function formatError(err: NekoError): string {
  const lines: string[] = [];
  const where = err.location ? `${kleur.bold(formatLocation(err.location))} ` : '';
  lines.push(`${kleur.red('error')} ${where}${kleur.dim(err.code)}`);
  lines.push(`  ${err.message}`);
  if (err.location) {
    try {
      lines.push(renderCodeFrame(readFileSync(err.location.file, 'utf8'), err.location));
    } catch {
      // The file is gone or unreadable: the location alone still helps.
    }
  }
  if (err.hint) lines.push(`  ${kleur.cyan('fix:')} ${err.hint}`);
  return lines.join('\n');
}
