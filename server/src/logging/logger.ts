/** The levels of log lines, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

/** The level a sink gets unless it asks for another: `debug` lines are for those who ask. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** How severe a level is: its place in {@link LOG_LEVELS}. */
export function levelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

/** True when `level` is `threshold` or more severe. */
export function atLeast(level: LogLevel, threshold: LogLevel): boolean {
  return levelRank(level) >= levelRank(threshold);
}

/** One log line, as sinks (the terminal, the dashboard) receive it. */
export interface LogRecord {
  readonly time: number;
  readonly level: LogLevel;
  readonly message: string;
  /** The plugin's greeter, for lines written by or about a plugin. */
  readonly plugin?: string;
  /** The session id, for lines about one connection. */
  readonly session?: string;
  /** The client's address, for lines about one connection. */
  readonly remote?: string;
  /** A `NEKO_ERR_*` code, when the line reports a coded error. */
  readonly code?: string;
  /** The error behind the line, with its stack. */
  readonly error?: unknown;
  /**
   * On a summary of repeated lines (see `logging/repeats.ts`): how many more
   * lines like it were held back, and over how many milliseconds.
   */
  readonly repeated?: number;
  readonly repeatedMs?: number;
}

export type LogFields = Omit<LogRecord, 'time' | 'level' | 'message'>;
export type LogSink = (record: LogRecord) => void;

/**
 * The server's log: a fan-out of records to subscribed sinks, each with the
 * least severe level it wants. It formats nothing; sinks decide how a record
 * looks. A line no sink wants is not even built: callers of {@link debug}
 * on a hot path ask {@link enabled} first.
 */
export class Logger {
  readonly #sinks = new Map<LogSink, number>();
  /** The rank of the least severe level any sink wants (past `error` with no sink). */
  #lowest: number = LOG_LEVELS.length;

  /**
   * Adds a sink that gets the records of `level` and above (default
   * `info`); subscribing a sink again changes its level, live. Returns a
   * function that removes it.
   */
  subscribe(sink: LogSink, level: LogLevel = DEFAULT_LOG_LEVEL): () => void {
    this.#sinks.set(sink, levelRank(level));
    this.#update();
    return () => {
      this.#sinks.delete(sink);
      this.#update();
    };
  }

  /** Whether a line of `level` reaches any sink; check it before building a costly `debug` line. */
  enabled(level: LogLevel): boolean {
    return levelRank(level) >= this.#lowest;
  }

  debug(message: string, fields?: LogFields): void {
    this.#emit('debug', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.#emit('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.#emit('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.#emit('error', message, fields);
  }

  #update(): void {
    this.#lowest = Math.min(LOG_LEVELS.length, ...this.#sinks.values());
  }

  #emit(level: LogLevel, message: string, fields: LogFields | undefined): void {
    const rank = levelRank(level);
    if (rank < this.#lowest) return;
    const record: LogRecord = { time: Date.now(), level, message, ...fields };
    for (const [sink, wants] of this.#sinks) {
      if (rank < wants) continue;
      try {
        sink(record);
      } catch {
        // A failing sink must not take the server, or the other sinks, down.
      }
    }
  }
}
