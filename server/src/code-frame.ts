/**
 * Code frames: the few lines of a source file around an error, with the
 * culprit line marked, in the style of vite's `generateCodeFrame`. Plain
 * text; whoever prints it adds colour.
 */
import type { SourceLocation } from './errors.js';
import { maskUrlPasswords } from './shown-url.js';

/** Options of {@link codeFrame}. */
export interface CodeFrameOptions {
  /** How many lines to show before and after the marked line. Defaults to 2. */
  contextLines?: number;
}

/**
 * Renders the lines of `source` around `line`, with a line-number gutter, a
 * `>` in front of the marked line and a `^` under `column`.
 *
 * ```text
 *   1 | $name {"Echo"};
 * > 2 | $greet "echo";
 *     |        ^
 *   3 | $logic {"logic"};
 * ```
 *
 * Lines and columns count from 1; a column counts UTF-16 code units, as
 * JavaScript strings do. Out-of-range positions are clamped into the source,
 * so a location at the end of a file still renders. Tabs before the column
 * are kept in the caret line so the `^` lines up in a terminal. The password
 * of a URL in a line (`postgres://user:password@host`) is shown as `***`.
 *
 * @param source the whole text of the file
 * @param line the line to mark (1-based)
 * @param column the column to point at (1-based)
 * @param options `contextLines`, the lines shown on each side (default 2)
 * @returns the frame, lines joined with `\n`, no trailing newline
 */
export function codeFrame(
  source: string,
  line: number,
  column: number,
  options: CodeFrameOptions = {},
): string {
  const contextLines = Math.max(0, Math.floor(options.contextLines ?? 2));
  const lines = source.split('\n').map((text) => (text.endsWith('\r') ? text.slice(0, -1) : text));
  const markedLine = clamp(Math.floor(line), 1, lines.length);
  const first = Math.max(1, markedLine - contextLines);
  const last = Math.min(lines.length, markedLine + contextLines);
  const gutterWidth = String(last).length;

  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const text = lines[n - 1] ?? '';
    const marker = n === markedLine ? '>' : ' ';
    out.push(gutterRow(`${marker} ${String(n).padStart(gutterWidth)}`, maskUrlPasswords(text)));
    if (n === markedLine) {
      const caretColumn = clamp(Math.floor(column), 1, text.length + 1);
      // Keep tabs so the caret lands under the same character a terminal shows (in the masked line).
      const padding = maskUrlPasswords(text.slice(0, caretColumn - 1)).replace(/[^\t]/g, ' ');
      out.push(gutterRow(`  ${' '.repeat(gutterWidth)}`, `${padding}^`));
    }
  }
  return out.join('\n');
}

/** Formats a location as `file:line:column`, the form editors and terminals link. */
export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

function gutterRow(gutter: string, text: string): string {
  return text === '' ? `${gutter} |` : `${gutter} | ${text}`;
}

function clamp(value: number, min: number, max: number): number {
  if (Number.isNaN(value)) return min;
  return Math.min(max, Math.max(min, value));
}
