/**
 * The log lines the page receives (it holds the newest {@link MAX_LOG_ROWS}),
 * handed in batches, a few times a second, to the list that shows them; the
 * filters and grouping over them, and which lines each filter shows: a line
 * repeating the last shown one (same `run`, numbered by the server) folds
 * into it, with its count.
 */
import type { LogEntry } from '../../src/dashboard/log-buffer.js';
import { counters } from './state.js';
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

/**
 * How the lines show: the filters, grouping, and what the filters offer. The
 * lines themselves are not held here: they go to the list that shows them
 * (a {@link LogSink}), which keeps them as rows.
 */
export type LogView = Omit<LogState, 'entries'>;

export const logs = new Store<LogView>({
  filters: NO_FILTERS,
  group: true,
  plugins: new Set(),
  sessions: new Set(),
});

/** How many lines the list holds, how many show (folded repeats included), and how many of those are folded. */
export interface LogCounts {
  readonly total: number;
  readonly shown: number;
  readonly folded: number;
}

export const logCounts = new Store<LogCounts>({ total: 0, shown: 0, folded: 0 });

/** What shows the lines: takes them as they are flushed, and places them again when the filters change. */
export interface LogSink {
  append(entries: readonly LogEntry[]): void;
  apply(filters: LogFilters, group: boolean): void;
  clear(): void;
}

let sink: LogSink | null = null;

/** Lines flushed from now on go to `to` (lines received before it come first); returns a function that detaches it. */
export function attachLogSink(to: LogSink): () => void {
  sink = to;
  const { filters, group } = logs.value;
  to.apply(filters, group);
  flush();
  return () => {
    if (sink === to) sink = null;
  };
}

// A filter change, or grouping toggled: the list places its rows again.
let applied: Pick<LogView, 'filters' | 'group'> = logs.value;
logs.subscribe(() => {
  const { filters, group } = logs.value;
  if (filters === applied.filters && group === applied.group) return;
  applied = { filters, group };
  sink?.apply(filters, group);
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
  let warns = 0;
  let errors = 0;
  for (const entry of entries) {
    if (entry === null || typeof entry !== 'object' || typeof entry.seq !== 'number') continue;
    if (entry.seq <= lastSeq) continue; // already shown (a reconnect may replay)
    lastSeq = entry.seq;
    if (live && entry.level === 'warn') warns += 1;
    if (live && entry.level === 'error') errors += 1;
    queue.push(entry);
  }
  if (queue.length > MAX_LOG_ROWS) queue.splice(0, queue.length - MAX_LOG_ROWS);
  // At once, not with the flush: an overview read meanwhile would count the same lines again.
  if (warns + errors > 0) {
    const { warn, error } = counters.value;
    counters.set({ warn: warn + warns, error: error + errors });
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
  if (flushTimer !== null) clearTimeout(flushTimer);
  flushTimer = null;
  lastFlush = Date.now();
  // Without a list to show them yet, the lines wait (the newest MAX_LOG_ROWS of them).
  if (queue.length === 0 || sink === null) return;
  const fresh = queue;
  queue = [];
  const state = logs.value;
  let plugins: Set<string> | null = null;
  let sessions: Set<string> | null = null;
  for (const entry of fresh) {
    if (entry.plugin && !state.plugins.has(entry.plugin))
      (plugins ??= new Set(state.plugins)).add(entry.plugin);
    if (entry.session && !state.sessions.has(entry.session))
      (sessions ??= new Set(state.sessions)).add(entry.session);
  }
  if (plugins !== null || sessions !== null)
    logs.update({ plugins: plugins ?? state.plugins, sessions: sessions ?? state.sessions });
  sink.append(fresh);
}

/** Forgets every line (a server that restarted counts from 1 again). */
export function clearLogs(): void {
  lastSeq = 0;
  queue = [];
  sink?.clear();
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

/** What the filters and grouping look at in a line, and how the line is placed. */
export interface PlacedLine {
  readonly run: number;
  readonly level: string;
  readonly plugin: string;
  readonly session: string;
  /** What the text filter looks in (lower case), asked for only when it is used: see {@link searchText}. */
  search(): string;
  /** Shown (kept by the filters, and not folded into the line before). */
  shown: boolean;
  /** Kept, but folded into the last shown line (same run). */
  folded: boolean;
  /** How many lines a shown line stands for; 1 for the others. */
  count: number;
}

/** What the text filter looks in: message, code, plugin, session, frame and level, lower case. */
export function searchText(entry: LogEntry): string {
  const { message, code, plugin, session, frame, level } = entry;
  return [message, code ?? '', plugin ?? '', session ?? '', frame ?? '', level].join('\n').toLowerCase();
}

/** A line, not placed yet. */
export function lineOf(entry: LogEntry): PlacedLine {
  const plugin = entry.plugin ?? '';
  const session = entry.session ?? '';
  let text: string | undefined;
  return {
    run: typeof entry.run === 'number' ? entry.run : entry.seq,
    level: entry.level,
    plugin,
    session,
    search: () => (text ??= searchText(entry)),
    shown: false,
    folded: false,
    count: 1,
  };
}

function keeps(line: PlacedLine, f: LogFilters): boolean {
  if (f.levels[line.level as Level] === false) return false;
  if (f.plugin && line.plugin !== f.plugin) return false;
  if (f.session && line.session !== f.session) return false;
  return !f.text || line.search().includes(f.text);
}

/**
 * Places one line after the lines before it (`last`: the last of them
 * shown): shown when the filters keep it, unless grouping folds it into
 * `last` (same run), which then counts it. Returns the last line shown now.
 */
export function placeLine<L extends PlacedLine>(
  line: L,
  last: L | null,
  f: LogFilters,
  group: boolean,
): L | null {
  const keep = keeps(line, f);
  const fold = keep && group && last !== null && last.run === line.run;
  line.folded = fold;
  line.shown = keep && !fold;
  line.count = 1;
  if (fold) last.count += 1;
  return line.shown ? line : last;
}

/** How one line shows: hidden (filtered out, or folded into the line before), or shown standing for `count` lines. */
export type Placement = Pick<PlacedLine, 'shown' | 'folded' | 'count'>;

export interface Placements {
  readonly rows: readonly Placement[];
  readonly shown: number;
  readonly folded: number;
}

/** Places every line, oldest first. */
export function place(state: LogState): Placements {
  const rows: PlacedLine[] = [];
  let last: PlacedLine | null = null;
  let shown = 0;
  let folded = 0;
  for (const entry of state.entries) {
    const line = lineOf(entry);
    last = placeLine(line, last, state.filters, state.group);
    if (line.shown) shown += 1;
    if (line.folded) folded += 1;
    rows.push(line);
  }
  return { rows, shown, folded };
}

/** Asks the Logs view to scroll to its newest line and follow (bumped by the views that open it). */
export const followRequests = new Store(0);

/** Opens the Logs tab following its newest line, e.g. after choosing a filter elsewhere. */
export function followLogs(): void {
  followRequests.set(followRequests.value + 1);
}
