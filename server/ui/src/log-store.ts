/**
 * The log lines the page holds (the newest {@link MAX_LOG_ROWS}), the
 * filters and grouping over them, and which lines each filter shows: a line
 * repeating the last shown one (same `run`, numbered by the server) folds
 * into it, with its count.
 */
import type { LogEntry } from '../../src/dashboard/log-buffer.js';
import { app } from './state.js';
import { Store } from './store.js';

export const MAX_LOG_ROWS = 5000;
export const LEVELS = ['info', 'warn', 'error'] as const;
export type Level = (typeof LEVELS)[number];

export interface LogFilters {
  readonly levels: Readonly<Record<Level, boolean>>;
  readonly plugin: string;
  readonly session: string;
  /** Lower case; a line matches when its text holds it. */
  readonly text: string;
}

export const NO_FILTERS: LogFilters = {
  levels: { info: true, warn: true, error: true },
  plugin: '',
  session: '',
  text: '',
};

export interface LogState {
  /** Oldest first. */
  readonly entries: readonly LogEntry[];
  readonly filters: LogFilters;
  /** Fold repeats of a line into one, with ×N. */
  readonly group: boolean;
  /** Plugins and sessions seen in lines (or in the Sessions view): the filters offer them. */
  readonly plugins: ReadonlySet<string>;
  readonly sessions: ReadonlySet<string>;
}

export const logs = new Store<LogState>({
  entries: [],
  filters: NO_FILTERS,
  group: true,
  plugins: new Set(),
  sessions: new Set(),
});

/** The newest line received (a reconnecting stream asks for what came after it). */
let lastSeq = 0;
export const lastLogSeq = (): number => lastSeq;

/** Lines received but not yet shown: shown a few times a second at most, however fast they come. */
let queue: LogEntry[] = [];
let flushTimer: ReturnType<typeof setTimeout> | null = null;
let lastFlush = 0;
const FLUSH_EVERY_MS = 120;

/** Takes lines from the backlog (`live` false) or the stream; a line already held is skipped. */
export function receiveEntries(entries: readonly LogEntry[], live: boolean): void {
  let warn = 0;
  let error = 0;
  for (const entry of entries) {
    if (entry === null || typeof entry !== 'object' || typeof entry.seq !== 'number') continue;
    if (entry.seq <= lastSeq) continue; // already shown (a reconnect may replay)
    lastSeq = entry.seq;
    if (live && entry.level === 'warn') warn += 1;
    if (live && entry.level === 'error') error += 1;
    queue.push(entry);
  }
  if (queue.length > MAX_LOG_ROWS) queue.splice(0, queue.length - MAX_LOG_ROWS);
  if (warn + error > 0) {
    const { counters } = app.value;
    app.update({ counters: { warn: counters.warn + warn, error: counters.error + error } });
  }
  scheduleFlush();
}

/** The backlog's `last`: lines up to it are not asked for again. */
export function noteLastSeq(last: number): void {
  if (last > lastSeq) lastSeq = last;
}

function scheduleFlush(): void {
  if (flushTimer !== null || queue.length === 0) return;
  flushTimer = setTimeout(flush, Math.max(0, lastFlush + FLUSH_EVERY_MS - Date.now()));
}

function flush(): void {
  flushTimer = null;
  lastFlush = Date.now();
  const fresh = queue;
  queue = [];
  if (fresh.length === 0) return;
  const state = logs.value;
  let plugins = state.plugins;
  let sessions = state.sessions;
  for (const entry of fresh) {
    if (entry.plugin && !plugins.has(entry.plugin)) plugins = new Set(plugins).add(entry.plugin);
    if (entry.session && !sessions.has(entry.session)) sessions = new Set(sessions).add(entry.session);
  }
  const all = state.entries.concat(fresh);
  logs.update({
    entries: all.length > MAX_LOG_ROWS ? all.slice(all.length - MAX_LOG_ROWS) : all,
    plugins,
    sessions,
  });
}

/** Forgets every line (a server that restarted counts from 1 again). */
export function clearLogs(): void {
  lastSeq = 0;
  queue = [];
  logs.update({ entries: [] });
}

export function setFilters(patch: Partial<LogFilters>): void {
  logs.update({ filters: { ...logs.value.filters, ...patch } });
}

/** Adds a session the filter offers (the Sessions view lists it). */
export function noteSession(id: string): void {
  if (!logs.value.sessions.has(id)) logs.update({ sessions: new Set(logs.value.sessions).add(id) });
}

/** Shows one plugin's lines (or one session's): the filter offers it even before a line of it arrived. */
export function filterBy(what: { plugin?: string; session?: string }): void {
  const state = logs.value;
  const plugins =
    what.plugin && !state.plugins.has(what.plugin) ? new Set(state.plugins).add(what.plugin) : state.plugins;
  const sessions =
    what.session && !state.sessions.has(what.session)
      ? new Set(state.sessions).add(what.session)
      : state.sessions;
  logs.update({ plugins, sessions, filters: { ...state.filters, ...what } });
}

export function filtersActive(f: LogFilters): boolean {
  return LEVELS.some((l) => !f.levels[l]) || Boolean(f.plugin || f.session || f.text);
}

const searchText = new WeakMap<LogEntry, string>();

function matches(entry: LogEntry, f: LogFilters): boolean {
  if (f.levels[entry.level] === false) return false;
  if (f.plugin && (entry.plugin ?? '') !== f.plugin) return false;
  if (f.session && (entry.session ?? '') !== f.session) return false;
  if (f.text) {
    let text = searchText.get(entry);
    if (text === undefined) {
      text = [
        entry.message,
        entry.code ?? '',
        entry.plugin ?? '',
        entry.session ?? '',
        entry.frame ?? '',
        entry.level,
      ]
        .join('\n')
        .toLowerCase();
      searchText.set(entry, text);
    }
    if (!text.includes(f.text)) return false;
  }
  return true;
}

/** How one line shows: hidden (filtered out, or folded into the line before), or shown standing for `count` lines. */
export interface Placement {
  readonly shown: boolean;
  readonly folded: boolean;
  readonly count: number;
}

export interface Placements {
  readonly rows: readonly Placement[];
  readonly shown: number;
  readonly folded: number;
}

type MutablePlacement = { -readonly [K in keyof Placement]: Placement[K] };

/** Places every line, oldest first. */
export function place(state: LogState): Placements {
  const rows: MutablePlacement[] = [];
  let last: MutablePlacement | null = null;
  let lastRun = -1;
  let shown = 0;
  let folded = 0;
  for (const entry of state.entries) {
    const keep = matches(entry, state.filters);
    const run = typeof entry.run === 'number' ? entry.run : entry.seq;
    const fold: boolean = keep && state.group && last !== null && lastRun === run;
    const row: MutablePlacement = { shown: keep && !fold, folded: fold, count: 1 };
    if (fold && last !== null) {
      last.count += 1;
      folded += 1;
    }
    if (row.shown) {
      last = row;
      lastRun = run;
      shown += 1;
    }
    rows.push(row);
  }
  return { rows, shown, folded };
}

/** Asks the Logs view to scroll to its newest line and follow (bumped by the views that open it). */
export const followRequests = new Store(0);

/** Opens the Logs tab following its newest line, e.g. after choosing a filter elsewhere. */
export function followLogs(): void {
  followRequests.set(followRequests.value + 1);
}
