import { readFileSync, statSync } from 'node:fs';
import { isNekoError, type NekoError, type SourceLocation } from '../errors.js';
import { codeFrame } from '../code-frame.js';

/** A coded error as the dashboard API serves it. */
export interface ErrorView {
  readonly code: string;
  readonly message: string;
  readonly hint: string | null;
  readonly location: { readonly file: string; readonly line: number; readonly column: number } | null;
  readonly frame: string | null;
  /** When it happened, in ms since the epoch (0 when unknown). */
  readonly time: number;
}

/** Source files larger than this get no code frame (reading them would stall the server). */
const MAX_SOURCE_BYTES = 2 * 1024 * 1024;

/** A NekoError for the API, with a code frame when it points into a readable file. */
export function errorView(error: NekoError, time: number): ErrorView {
  return {
    code: error.code,
    message: error.message,
    hint: error.hint ?? null,
    location: error.location
      ? { file: error.location.file, line: error.location.line, column: error.location.column }
      : null,
    frame: errorFrame(error),
    time,
  };
}

/**
 * The frame of each error, read once: the page asks for the plugins every
 * two seconds, and the frame shows the file as it was when the error happened.
 */
const frames = new WeakMap<NekoError, string | null>();

/** The code frame of an error that points into a file; null for anything else, or when the file is gone. */
export function errorFrame(error: unknown): string | null {
  if (!isNekoError(error) || error.location === undefined) return null;
  let frame = frames.get(error);
  if (frame === undefined) {
    frame = readFrame(error.location);
    frames.set(error, frame);
  }
  return frame;
}

function readFrame({ file, line, column }: SourceLocation): string | null {
  try {
    if (statSync(file).size > MAX_SOURCE_BYTES) return null;
    return codeFrame(readFileSync(file, 'utf8'), line, column);
  } catch {
    return null;
  }
}
