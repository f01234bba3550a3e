/**
 * Log records as JSON lines, for a log shipper (`--log-format json`). One
 * record is one line: an object with the fields of {@link JSON_LOG_FIELDS},
 * each present only when it applies (`time`, `level` and `message` always).
 */
import { stripVTControlCharacters } from 'node:util';
import type { LogLevel, LogRecord } from './logger.js';

/** How the server's output looks: text for a terminal, or one JSON record a line for a log shipper. */
export const LOG_FORMATS = ['pretty', 'json'] as const;

export type LogFormat = (typeof LOG_FORMATS)[number];

/** The fields of a JSON log line, in the order they are written (docs/config.md, "Logs", lists them). */
export const JSON_LOG_FIELDS = [
  'time',
  'level',
  'message',
  'code',
  'plugin',
  'session',
  'remote',
  'repeated',
  'repeatedMs',
  'stack',
] as const;

export type JsonLogField = (typeof JSON_LOG_FIELDS)[number];

/** A JSON log line, parsed. */
export interface JsonLogLine {
  /** ISO-8601, UTC, with milliseconds. */
  time: string;
  level: LogLevel;
  /** Plain text: no colours, no stack (that is `stack`). */
  message: string;
  code?: string;
  plugin?: string;
  session?: string;
  remote?: string;
  repeated?: number;
  repeatedMs?: number;
  /** The error's stack (source-mapped: a TypeScript plugin's frames name its `.ts` lines), one string. */
  stack?: string;
}

/** The JSON line of a record. */
export function jsonLogLine(record: LogRecord): string {
  const stack = errorStack(record.error);
  const line: JsonLogLine = {
    time: new Date(record.time).toISOString(),
    level: record.level,
    message: plainMessage(record.message, record.error),
  };
  if (record.code !== undefined) line.code = record.code;
  if (record.plugin !== undefined) line.plugin = record.plugin;
  if (record.session !== undefined) line.session = record.session;
  if (record.remote !== undefined) line.remote = record.remote;
  if (record.repeated !== undefined) line.repeated = record.repeated;
  if (record.repeatedMs !== undefined) line.repeatedMs = record.repeatedMs;
  if (stack !== undefined) line.stack = stack;
  return JSON.stringify(line);
}

/**
 * The stack of an error, with its causes' after `caused by:`; undefined
 * for a value that is not an Error. Stacks of bundled TypeScript plugins are
 * source-mapped when Node formats them (the loader turns that on).
 */
export function errorStack(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  let stack = error.stack ?? `${error.name}: ${error.message}`;
  let cause: unknown = error.cause;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++) {
    stack += `\ncaused by: ${cause.stack ?? `${cause.name}: ${cause.message}`}`;
    cause = cause.cause;
  }
  return stack;
}

/**
 * A message as plain text on one line of meaning: no colours, and without
 * the error's stack frames when the message embeds them (handler failures
 * do, for the terminal): those go to `stack`.
 */
export function plainMessage(message: string, error?: unknown): string {
  let text = stripVTControlCharacters(message);
  const stack = error instanceof Error ? error.stack : undefined;
  if (stack !== undefined) {
    const at = stack.search(/\n\s+at /);
    if (at !== -1 && text.includes(stack)) text = text.replace(stack, stack.slice(0, at));
  }
  return text;
}
