/**
 * JSON config files: parsing with positions. A syntax error is located with
 * esbuild's JSON parser (JSON.parse does not always say where); the
 * positions of the keys of valid JSON come from a small scanner, so that an
 * invalid value can be shown in a code frame.
 */
import { transform } from 'esbuild';
import type { TransformFailure } from 'esbuild';
import type { SourceLocation } from '../errors.js';

/** Where a key and its value start. Lines and columns count from 1. */
export interface JsonSpan {
  key: { line: number; column: number } | undefined;
  value: { line: number; column: number };
}

/** The outcome of {@link parseJson}. */
export type JsonParseResult =
  | { ok: true; value: unknown; spans: Map<string, JsonSpan> }
  | { ok: false; message: string; location: Omit<SourceLocation, 'file'> | undefined };

/**
 * Parses JSON text (a leading byte-order mark is allowed). On success, also
 * returns where each key path (`limits.maxPacketBytes`; `''` for the whole
 * document) starts; on failure, the error and, when known, its position.
 */
export async function parseJson(text: string): Promise<JsonParseResult> {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return { ok: false, ...(await locateSyntaxError(text, (err as Error).message)) };
  }
  return { ok: true, value, spans: jsonSpans(text) };
}

async function locateSyntaxError(
  text: string,
  fallback: string,
): Promise<{ message: string; location: Omit<SourceLocation, 'file'> | undefined }> {
  try {
    await transform(text, { loader: 'json', logLevel: 'silent' });
  } catch (err) {
    const first = (err as Partial<TransformFailure>).errors?.[0];
    if (first !== undefined) {
      const loc = first.location;
      return {
        message: first.text,
        // esbuild's column counts from 0.
        location: loc ? { line: loc.line, column: loc.column + 1 } : undefined,
      };
    }
  }
  return { message: fallback, location: undefined };
}

/** The start of every key and value of valid JSON `text`, by dotted key path. */
export function jsonSpans(text: string): Map<string, JsonSpan> {
  const spans = new Map<string, JsonSpan>();
  const lineStarts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === '\n') lineStarts.push(k + 1);
  const position = (offset: number): { line: number; column: number } => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo]! + 1 };
  };

  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /[\s\uFEFF]/.test(text[i]!)) i++;
  };
  const readString = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const readValue = (path: string, keyOffset: number | undefined): void => {
    skipSpace();
    spans.set(path, {
      key: keyOffset === undefined ? undefined : position(keyOffset),
      value: position(i),
    });
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      skipSpace();
      if (text[i] === close) {
        i++;
        return;
      }
      for (let index = 0; ; index++) {
        skipSpace();
        let childPath: string;
        let childKey: number | undefined;
        if (c === '{') {
          childKey = i;
          const key = readString();
          childPath = path === '' ? key : `${path}.${key}`;
          skipSpace();
          i++; // the ':'
        } else {
          childPath = path === '' ? String(index) : `${path}.${index}`;
        }
        readValue(childPath, childKey);
        skipSpace();
        if (text[i++] !== ',') return; // the closing bracket
      }
    }
    if (c === '"') readString();
    else while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
  };
  readValue('', undefined);
  return spans;
}
