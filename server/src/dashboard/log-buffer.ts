import type { LogLevel, LogRecord } from '../logging/logger.js';
import { sameLineKey } from '../logging/repeats.js';
import { errorFrame } from './error-view.js';
import type { LogOrigin, WorkerTag } from './source.js';

/** The levels the dashboard keeps: `info` and above, whatever `--log-level` the terminal prints. */
export type KeptLevel = Exclude<LogLevel, 'debug'>;

/** A log line as the dashboard API serves it. */
export interface LogEntry {
  /** Rises by one per line, in the order the server logged them. */
  readonly seq: number;
  readonly time: number;
  readonly level: KeptLevel;
  readonly message: string;
  readonly plugin: string | null;
  readonly session: string | null;
  readonly code: string | null;
  /** A code frame, for an error that points into a file. */
  readonly frame: string | null;
  /**
   * The `seq` of the first line of the run this line belongs to: a line
   * that repeats the one logged just before it (the same line by
   * `sameLineKey` of logging/repeats.ts, the rule the terminal's summaries of
   * repeated lines use: same level, plugin, code and message, whichever
   * session or client it is for) continues that line's run; any
   * other line starts its own (`run` = its `seq`). The page and
   * `/api/logs?group=runs` fold a run into one line with its count.
   */
  readonly run: number;
  /** Under `--workers`, on the primary's dashboard: the worker that logged it (absent for the primary's own lines). */
  readonly worker?: WorkerTag;
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
  readonly #counts: Record<KeptLevel, number> = { info: 0, warn: 0, error: 0 };
  #last = 0;
  /** The run the newest line belongs to, and the key a line must have to continue it. */
  #run = { seq: 0, key: '' };

  constructor(capacity = DEFAULT_LOG_CAPACITY) {
    this.capacity = capacity;
    this.#ring = new Array<LogEntry | undefined>(capacity);
  }

  /** The `seq` of the newest line; 0 before the first. */
  get last(): number {
    return this.#last;
  }

  /** Lines pushed per level, since the buffer was made (not only those kept). */
  get counts(): Readonly<Record<KeptLevel, number>> {
    return { ...this.#counts };
  }

  /**
   * Numbers a record, keeps it, and hands it to every listener; a `debug`
   * record is not kept (undefined).
   */
  push(record: LogRecord, origin?: LogOrigin): LogEntry | undefined {
    const level = record.level;
    if (level === 'debug') return undefined;
    const seq = ++this.#last;
    const key = sameLineKey(record);
    if (key !== this.#run.key) this.#run = { seq, key };
    const entry: LogEntry = {
      seq,
      time: record.time,
      level,
      message: record.message,
      plugin: record.plugin ?? null,
      session: record.session ?? null,
      code: record.code ?? null,
      frame: origin?.frame !== undefined ? origin.frame : errorFrame(record.error),
      run: this.#run.seq,
      ...(origin?.worker === undefined ? {} : { worker: origin.worker }),
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
