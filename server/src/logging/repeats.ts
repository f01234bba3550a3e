/**
 * Repeated log lines. One rule says when two lines are "the same line"
 * ({@link sameLineKey}); the dashboard's log buffer uses it to number runs of
 * repeated lines (which its page and `/api/logs?group=runs` fold), and the
 * terminal uses it, through {@link RepeatFilter}, so that a flood of
 * identical lines (a hostile client's 2,000 bad handshakes) prints a few of
 * them and then one summary per interval.
 */
import type { LogRecord } from './logger.js';

/**
 * What two lines that are "the same" share: level, plugin, code and
 * message, with the line's own session id and client address taken out of
 * the message, so that `s-4 joined` and `s-5 joined` from two sessions (or
 * two clients) count as the same line.
 */
export function sameLineKey(record: LogRecord): string {
  let message = record.message;
  if (record.session !== undefined && record.session !== '')
    message = message.split(record.session).join('\u0000');
  if (record.remote !== undefined && record.remote !== '')
    message = message.split(record.remote).join('\u0001');
  return JSON.stringify([record.level, record.plugin ?? null, record.code ?? null, message]);
}

/** How many lines of one kind print before the rest are counted instead. */
export const REPEATS_SHOWN = 5;
/** How often a summary of the lines held back prints, while they keep coming. */
export const REPEAT_INTERVAL_MS = 10_000;
/** The most kinds of lines followed at once; past it, the kinds not holding anything back are forgotten. */
const MAX_KINDS = 1_000;

export interface RepeatOptions {
  /** Lines of one kind printed before the rest are held back. Default {@link REPEATS_SHOWN}. */
  readonly shown?: number;
  /** The interval of the summaries, in ms. Default {@link REPEAT_INTERVAL_MS}. */
  readonly intervalMs?: number;
}

/** One kind of line: how many printed in its window, and what is held back. */
interface Kind {
  /** When its window started: lines of the kind count from there. */
  since: number;
  printed: number;
  /** Lines held back since the last summary, and the newest of them. */
  held: number;
  heldSince: number;
  latest: LogRecord | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Lets through the first {@link RepeatOptions.shown} lines of a kind (by
 * {@link sameLineKey}) within an interval and holds back the rest; every
 * interval in which some were held back ends with one summary record (the
 * newest line held back, with `repeated` and `repeatedMs`), handed to
 * `print` like the lines let through. A kind stays held back while it keeps
 * coming; after an interval without it, it prints again from the start.
 */
export class RepeatFilter {
  readonly shown: number;
  readonly intervalMs: number;
  readonly #print: (record: LogRecord) => void;
  readonly #kinds = new Map<string, Kind>();

  constructor(print: (record: LogRecord) => void, options: RepeatOptions = {}) {
    this.#print = print;
    this.shown = options.shown ?? REPEATS_SHOWN;
    this.intervalMs = options.intervalMs ?? REPEAT_INTERVAL_MS;
  }

  /** Prints `record`, or holds it back as one more of a kind printed enough. */
  push(record: LogRecord): void {
    const key = sameLineKey(record);
    const now = record.time;
    let kind = this.#kinds.get(key);
    if (kind !== undefined && kind.timer === undefined && now - kind.since >= this.intervalMs) {
      this.#kinds.delete(key);
      kind = undefined;
    }
    if (kind === undefined) {
      if (this.#kinds.size >= MAX_KINDS) this.#forgetIdle();
      kind = { since: now, printed: 0, held: 0, heldSince: now, latest: undefined, timer: undefined };
      this.#kinds.set(key, kind);
    }
    if (kind.printed < this.shown) {
      kind.printed++;
      this.#print(record);
      return;
    }
    if (kind.held === 0) kind.heldSince = now;
    kind.held++;
    kind.latest = record;
    if (kind.timer === undefined) this.#schedule(key, kind);
  }

  /** Prints the summary of every kind holding lines back now (at shutdown), and forgets every kind. */
  flush(): void {
    for (const [key, kind] of [...this.#kinds]) {
      clearTimeout(kind.timer);
      kind.timer = undefined;
      this.#summarize(kind, Date.now());
      this.#kinds.delete(key);
    }
  }

  #schedule(key: string, kind: Kind): void {
    kind.timer = setTimeout(() => {
      kind.timer = undefined;
      if (kind.held === 0) {
        // A whole interval without it: the next one prints again.
        this.#kinds.delete(key);
        return;
      }
      this.#summarize(kind, Date.now());
      // Still coming: the next interval holds it back too.
      this.#schedule(key, kind);
    }, this.intervalMs);
    kind.timer.unref();
  }

  #summarize(kind: Kind, now: number): void {
    const latest = kind.latest;
    if (kind.held === 0 || latest === undefined) return;
    const repeated = kind.held;
    const repeatedMs = Math.max(0, now - kind.heldSince);
    kind.held = 0;
    kind.latest = undefined;
    const { session: _session, remote: _remote, error: _error, ...fields } = latest;
    this.#print({
      ...fields,
      time: now,
      message: `${latest.message} (repeated ${repeated} more ${repeated === 1 ? 'time' : 'times'} in the last ${seconds(repeatedMs)})`,
      repeated,
      repeatedMs,
    });
  }

  /** Forgets the kinds that hold nothing back, to make room. */
  #forgetIdle(): void {
    for (const [key, kind] of this.#kinds) if (kind.timer === undefined) this.#kinds.delete(key);
  }
}

/** `10 s`, `0.4 s`. */
function seconds(ms: number): string {
  const s = ms / 1000;
  return `${s >= 10 ? Math.round(s) : Math.round(s * 10) / 10} s`;
}
