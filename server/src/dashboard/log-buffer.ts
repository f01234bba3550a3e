import type { LogLevel, LogRecord } from '../logging/logger.js';
import { errorFrame } from './error-view.js';

/** A log line as the dashboard API serves it. */
export interface LogEntry {
  /** Rises by one per line, in the order the server logged them. */
  readonly seq: number;
  readonly time: number;
  readonly level: LogLevel;
  readonly message: string;
  readonly plugin: string | null;
  readonly session: string | null;
  readonly code: string | null;
  /** A code frame, for an error that points into a file. */
  readonly frame: string | null;
}

/** Which lines a reader wants. Absent fields keep everything. */
export interface LogFilter {
  readonly levels?: ReadonlySet<LogLevel>;
  readonly plugin?: string;
  readonly session?: string;
}

export type LogListener = (entry: LogEntry) => void;

/** How many lines the dashboard keeps by default. */
export const DEFAULT_LOG_CAPACITY = 5000;

/**
 * The newest log lines (a ring of `capacity`), numbered in arrival order,
 * with a count per level of every line ever pushed, and live listeners
 * called in the same order.
 */
export class LogBuffer {
  readonly capacity: number;
  readonly #ring: (LogEntry | undefined)[];
  readonly #listeners = new Set<LogListener>();
  readonly #counts: Record<LogLevel, number> = { info: 0, warn: 0, error: 0 };
  #last = 0;

  constructor(capacity = DEFAULT_LOG_CAPACITY) {
    this.capacity = capacity;
    this.#ring = new Array<LogEntry | undefined>(capacity);
  }

  /** The `seq` of the newest line; 0 before the first. */
  get last(): number {
    return this.#last;
  }

  /** Lines pushed per level, since the buffer was made (not only those kept). */
  get counts(): Readonly<Record<LogLevel, number>> {
    return { ...this.#counts };
  }

  /** Numbers a record, keeps it, and hands it to every listener. */
  push(record: LogRecord): LogEntry {
    const entry: LogEntry = {
      seq: ++this.#last,
      time: record.time,
      level: record.level,
      message: record.message,
      plugin: record.plugin ?? null,
      session: record.session ?? null,
      code: record.code ?? null,
      frame: errorFrame(record.error),
    };
    this.#ring[entry.seq % this.capacity] = entry;
    this.#counts[entry.level]++;
    for (const listener of this.#listeners) {
      try {
        listener(entry);
      } catch {
        // One broken reader must not stop the others.
      }
    }
    return entry;
  }

  /**
   * The kept lines with `seq` above `after` that pass `filter`, oldest first;
   * at most the newest `limit` of them.
   */
  entries(after = 0, filter: LogFilter = {}, limit = this.capacity): LogEntry[] {
    const first = Math.max(after + 1, this.#last - this.capacity + 1, 1);
    const out: LogEntry[] = [];
    for (let seq = first; seq <= this.#last; seq++) {
      const entry = this.#ring[seq % this.capacity]!;
      if (matches(entry, filter)) out.push(entry);
    }
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  /** Calls `listener` with every line pushed from now on; returns a function that stops it. */
  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Whether a line passes a filter. */
export function matches(entry: LogEntry, filter: LogFilter): boolean {
  if (filter.levels !== undefined && !filter.levels.has(entry.level)) return false;
  if (filter.plugin !== undefined && entry.plugin !== filter.plugin) return false;
  if (filter.session !== undefined && entry.session !== filter.session) return false;
  return true;
}
