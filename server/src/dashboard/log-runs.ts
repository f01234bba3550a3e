/**
 * Folding runs of repeated log lines (see {@link LogEntry.run}) into one
 * line with a count, for `/api/logs?group=runs`. The page folds the lines of
 * its live stream the same way, by `run`; the lines themselves stay in the
 * buffer, in `/api/logs` and in the event stream, one by one.
 */
import type { LogEntry } from './log-buffer.js';

/** The most session ids a folded run lists. */
export const RUN_SESSIONS_SHOWN = 20;

/** A run of repeated lines as one: its first line, with how many there were and until when. */
export interface LogRun extends LogEntry {
  /** How many lines the run has (among those asked for). */
  readonly count: number;
  /** The `seq` and time of its last line (the first line's are `seq` and `time`). */
  readonly lastSeq: number;
  readonly lastTime: number;
  /** The sessions its lines were for, each once, in order (at most 20). */
  readonly sessions: string[];
}

/** Folds consecutive lines of one run into a {@link LogRun}; lines in `seq` order. */
export function groupRuns(entries: readonly LogEntry[]): LogRun[] {
  const runs: LogRun[] = [];
  let current: { first: LogEntry; last: LogEntry; count: number; sessions: Set<string> } | undefined;
  const close = (): void => {
    if (current === undefined) return;
    const { first, last, count, sessions } = current;
    runs.push({ ...first, count, lastSeq: last.seq, lastTime: last.time, sessions: [...sessions] });
  };
  for (const entry of entries) {
    if (current !== undefined && entry.run === current.first.run) {
      current.count++;
      current.last = entry;
    } else {
      close();
      current = { first: entry, last: entry, count: 1, sessions: new Set() };
    }
    if (entry.session !== null && current.sessions.size < RUN_SESSIONS_SHOWN)
      current.sessions.add(entry.session);
  }
  close();
  return runs;
}
