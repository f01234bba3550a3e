/**
 * What a serving command prints, in one place: its own lines (banner,
 * config, dashboard URL, plugin list, listening, shutdown) and the server's
 * log records, as text for a terminal (`--log-format pretty`) or as one JSON
 * record a line for a log shipper (`--log-format json`). `serve` wraps the
 * command's `io` in an {@link Output}: call sites keep calling `out` and
 * `err`, and may add fields (level, plugin, code, error) that JSON lines
 * carry.
 */
import { isNekoError } from '../errors.js';
import { jsonLogLine, plainMessage, type LogFormat } from '../logging/json.js';
import {
  DEFAULT_LOG_LEVEL,
  type LogFields,
  type LogLevel,
  type LogRecord,
  type Logger,
} from '../logging/logger.js';
import { RepeatFilter, type RepeatOptions } from '../logging/repeats.js';
import { formatLogRecord } from './terminal.js';

/** What a line may say besides its text; JSON lines carry it. */
export interface LineFields extends LogFields {
  /** Default `info` for `out`, `error` for `err`. */
  readonly level?: LogLevel;
  /** More text under the line, for the terminal only (a code frame): a JSON line has `message` and `stack`. */
  readonly detail?: string;
}

/** Where lines go: `out` (stdout) and `err` (stderr). */
export interface Lines {
  out(line: string, fields?: LineFields): void;
  err(line: string, fields?: LineFields): void;
}

/**
 * The lines of a serving command in one format, switchable live (a reload
 * may change it). `debug` and `info` go to `out`, `warn` and `error` to
 * `err`, in both formats.
 */
export class Output implements Lines {
  format: LogFormat;
  readonly #io: { out: (line: string) => void; err: (line: string) => void };

  constructor(
    io: { out: (line: string) => void; err: (line: string) => void },
    format: LogFormat = 'pretty',
  ) {
    this.#io = io;
    this.format = format;
  }

  /** A line of the command (stdout); `info` unless `fields.level` says otherwise. */
  readonly out = (line: string, fields: LineFields = {}): void => {
    this.#line(line, fields, 'info', this.#io.out);
  };

  /** A line of the command about a problem (stderr); `error` unless `fields.level` says otherwise. */
  readonly err = (line: string, fields: LineFields = {}): void => {
    this.#line(line, fields, 'error', this.#io.err);
  };

  /** A record of the server's log. */
  record(record: LogRecord): void {
    const text = this.format === 'json' ? jsonLogLine(record) : formatLogRecord(record);
    if (record.level === 'debug' || record.level === 'info') this.#io.out(text);
    else this.#io.err(text);
  }

  #line(line: string, fields: LineFields, level: LogLevel, write: (line: string) => void): void {
    const { level: given, detail, ...rest } = fields;
    if (this.format === 'pretty') {
      write(detail === undefined ? line : `${line}\n${detail}`);
      return;
    }
    // The text's lines as one message; a text the CLI marks `warning …` or `error …` (as formatError()
    // does, with the code on its first line) has that level and code.
    let message = plainMessage(line)
      .split('\n')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .join(' ');
    const marked = given === undefined ? /^(warning|error) /.exec(message) : null;
    if (marked !== null) {
      level = marked[1] === 'warning' ? 'warn' : 'error';
      message = message.slice(marked[0].length);
    }
    const code = rest.code ?? /^(?:\S+ )?(NEKO_ERR_[A-Z0-9_]+)\b/.exec(message)?.[1];
    const error = rest.error;
    if (error instanceof Error && !message.includes(error.message)) message += `: ${errorSummary(error)}`;
    write(
      jsonLogLine({
        time: Date.now(),
        level: given ?? level,
        message,
        ...rest,
        ...(code === undefined ? {} : { code }),
      }),
    );
  }
}

/** An error in one line: its location, message and fix, for a JSON `message`. */
export function errorSummary(error: Error): string {
  if (!isNekoError(error)) return error.message;
  const { location } = error;
  const where = location === undefined ? '' : `${location.file}:${location.line}:${location.column}: `;
  const fix = error.hint === undefined ? '' : ` (fix: ${error.hint})`;
  return `${where}${error.message}${fix}`;
}

/** What {@link printLogs} gives back: the terminal's hold on the server's log. */
export interface LogPrinter {
  /** The least severe level printed. */
  readonly level: LogLevel;
  /** Prints `level` and above from now on (a reload may change it). */
  setLevel(level: LogLevel): void;
  /** Keeps the records from now on instead of printing them. */
  hold(): void;
  /** Prints the records held, except those `covered` says a report already printed, and prints again. */
  release(covered: (record: LogRecord) => boolean): void;
  /** Prints the summaries of repeated lines held back so far (at shutdown). */
  flush(): void;
  /** Stops printing the server's log (after a last {@link flush}). */
  stop(): void;
}

/**
 * Prints the server's log records of `level` and above through `output`,
 * with repeated lines (`logging/repeats.ts`) cut to a few and a summary per
 * interval.
 */
export function printLogs(
  logger: Logger,
  output: Output,
  options: { level?: LogLevel; repeats?: RepeatOptions } = {},
): LogPrinter {
  let level = options.level ?? DEFAULT_LOG_LEVEL;
  let held: LogRecord[] | undefined;
  const repeats = new RepeatFilter((record) => output.record(record), options.repeats);
  const sink = (record: LogRecord): void => {
    if (held) held.push(record);
    else repeats.push(record);
  };
  let unsubscribe = logger.subscribe(sink, level);
  return {
    get level() {
      return level;
    },
    setLevel: (next) => {
      level = next;
      unsubscribe = logger.subscribe(sink, level);
    },
    hold: () => {
      held ??= [];
    },
    release: (covered) => {
      const records = held ?? [];
      held = undefined;
      for (const record of records) if (!covered(record)) repeats.push(record);
    },
    flush: () => repeats.flush(),
    stop: () => {
      repeats.flush();
      unsubscribe();
    },
  };
}

/**
 * The format of what the process prints outside a serving command's
 * {@link Output}: the line of an error that ended the command, and of an
 * error that escaped a plugin (`main.ts` prints those). `serve` sets it
 * as soon as it knows the format.
 */
let processFormat: LogFormat = 'pretty';

export function setProcessLogFormat(format: LogFormat): void {
  processFormat = format;
}

/**
 * The line of an error the process reports on its own: `pretty` as given,
 * or in JSON mode a record of level `error` with `message` (`prefix`, then
 * the error in one line), `code` and `stack`.
 */
export function failureLine(pretty: string, error: unknown, prefix = ''): string {
  if (processFormat === 'pretty') return pretty;
  const message = error instanceof Error ? errorSummary(error) : String(error);
  return jsonLogLine({
    time: Date.now(),
    level: 'error',
    message: `${prefix}${message}`,
    ...(isNekoError(error) ? { code: error.code } : {}),
    error,
  });
}

/**
 * The line of a warning Node emits (`process.emitWarning`): as Node prints
 * it, `(node:123) DeprecationWarning: …`, or in JSON mode a record of level
 * `warn`.
 */
export function warningLine(warning: Error & { code?: string }): string {
  const code = warning.code === undefined ? '' : `[${warning.code}] `;
  const text = `${code}${warning.name}: ${warning.message}`;
  if (processFormat === 'pretty') return `(node:${process.pid}) ${text}`;
  return jsonLogLine({ time: Date.now(), level: 'warn', message: text });
}
