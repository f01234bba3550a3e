export type LogLevel = 'info' | 'warn' | 'error';

/** One log line, as sinks (the terminal, later the dashboard) receive it. */
export interface LogRecord {
  readonly time: number;
  readonly level: LogLevel;
  readonly message: string;
  /** The plugin's greeter, for lines written by or about a plugin. */
  readonly plugin?: string;
  /** The session id, for lines about one connection. */
  readonly session?: string;
  /** A `NEKO_ERR_*` code, when the line reports a coded error. */
  readonly code?: string;
  /** The error behind the line, with its stack. */
  readonly error?: unknown;
}

export type LogFields = Omit<LogRecord, 'time' | 'level' | 'message'>;
export type LogSink = (record: LogRecord) => void;

/**
 * The server's log: a fan-out of records to subscribed sinks. It formats
 * nothing; sinks decide how a record looks.
 */
export class Logger {
  readonly #sinks = new Set<LogSink>();

  /** Adds a sink; returns a function that removes it. */
  subscribe(sink: LogSink): () => void {
    this.#sinks.add(sink);
    return () => this.#sinks.delete(sink);
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

  #emit(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (this.#sinks.size === 0) return;
    const record: LogRecord = { time: Date.now(), level, message, ...fields };
    for (const sink of this.#sinks) {
      try {
        sink(record);
      } catch {
        // A failing sink must not take the server, or the other sinks, down.
      }
    }
  }
}
