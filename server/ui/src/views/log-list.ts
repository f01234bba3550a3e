/**
 * The Logs view's rows, kept straight in the DOM: lines are appended to the
 * list as they are flushed, each as its element and a small record of how it
 * is placed (no component, no virtual DOM per line, no copy of the whole list
 * per flush); a filter change re-places every row and touches only the rows
 * whose placement changed.
 */
import type { LogEntry } from '../api.js';
import { frameLines } from '../components/code-frame.js';
import { fmtClock, fmtDateTime, fmtInt } from '../format.js';
import {
  lineOf,
  logCounts,
  MAX_LOG_ROWS,
  placeLine,
  type LogFilters,
  type LogSink,
  type PlacedLine,
} from '../log-store.js';

/**
 * The message to show above a code frame: when the message ends with the whole frame (as terminal output
 * does), those last lines are left out, since the frame is shown right below it. Otherwise unchanged.
 */
export function withoutFrame(message: string, frame: string): string {
  const frameLines = frame
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (frameLines.length === 0) return message;
  const lines = message.split(/\r?\n/);
  const trimmed = lines.map((l) => l.trim());
  for (let start = 0; start < lines.length; start += 1) {
    if (trimmed[start] !== frameLines[0]) continue;
    let i = start;
    let k = 0;
    while (i < lines.length && k < frameLines.length) {
      if (trimmed[i] === '') i += 1;
      else if (trimmed[i] === frameLines[k]) {
        i += 1;
        k += 1;
      } else break;
    }
    const atEnd = trimmed.slice(i).every((l) => l === '');
    if (k === frameLines.length && start > 0 && atEnd) return lines.slice(0, start).join('\n');
  }
  return message;
}

/** A row: its line's placement, and the placement its element shows now. */
interface Row extends PlacedLine {
  readonly el: HTMLElement;
  shownNow: boolean;
  foldedNow: boolean;
  countNow: number;
}

function element(tag: string, cls: string, text?: string): HTMLElement {
  const el = document.createElement(tag);
  el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A pre.code-frame, as the CodeFrame component renders it. */
function codeFrame(frame: string): HTMLElement {
  const pre = element('pre', 'code-frame');
  const lines = frameLines(frame);
  lines.forEach((line, i) => {
    const span = element('span', line.cls);
    if (line.head) span.append(element('span', 'frame-gutter', line.head));
    span.append(element('span', 'frame-code', line.rest));
    pre.append(span);
    if (i < lines.length - 1) pre.append('\n');
  });
  return pre;
}

function tagButton(cls: string, value: string, data: 'setPlugin' | 'setSession'): HTMLElement {
  const button = element('button', cls, value);
  button.setAttribute('type', 'button');
  button.title = `Show only ${value}`;
  button.dataset[data] = value;
  return button;
}

/** A line's element: time, level, tags, message, code, count (hidden) and code frame. */
function rowElement(entry: LogEntry, run: number): HTMLElement {
  const level = entry.level;
  const plugin = entry.plugin ?? '';
  const session = entry.session ?? '';
  const message = entry.message ?? '';
  const row = element('div', `log-row level-${level}`);
  const data = row.dataset;
  data['seq'] = String(entry.seq);
  data['run'] = String(run);
  data['level'] = level;
  data['plugin'] = plugin;
  data['session'] = session;
  data['count'] = '1';
  row.hidden = true;
  const time = element('time', 'log-time', fmtClock(entry.time));
  time.title = fmtDateTime(entry.time);
  const tags = element('span', 'log-tags');
  // Under --workers, on the primary's dashboard: the worker that logged the line.
  if (entry.worker && typeof entry.worker.id === 'number') {
    const worker = element('span', 'tag tag-worker', `w${entry.worker.id}`);
    worker.title = `Worker ${entry.worker.id} (pid ${entry.worker.pid})`;
    tags.append(worker);
  }
  if (plugin) tags.append(tagButton('tag tag-plugin', plugin, 'setPlugin'));
  if (session) tags.append(tagButton('tag tag-session', session, 'setSession'));
  const body = element('div', 'log-body');
  body.append(element('span', 'log-message', entry.frame ? withoutFrame(message, entry.frame) : message));
  if (entry.code) body.append(element('span', 'log-code', entry.code));
  const count = element('span', 'log-count');
  count.hidden = true;
  count.title = 'The same line, repeated in a row';
  body.append(count);
  if (entry.frame) body.append(codeFrame(entry.frame));
  row.append(time, element('span', `badge level-badge level-badge-${level}`, level), tags, body);
  return row;
}

export class LogList implements LogSink {
  readonly #el: HTMLElement;
  /** Oldest first, as in the list. */
  #rows: Row[] = [];
  /** The last row shown, which a repeat folds into. */
  #last: Row | null = null;
  #filters: LogFilters;
  #group: boolean;
  #shown = 0;
  #folded = 0;
  /** Called after lines are appended, with how many of them show (not folded, not filtered out). */
  readonly #appended: (shown: number) => void;

  constructor(el: HTMLElement, filters: LogFilters, group: boolean, appended: (shown: number) => void) {
    this.#el = el;
    this.#filters = filters;
    this.#group = group;
    this.#appended = appended;
  }

  /** Writes what changed in a row's placement to its element, and counts it. */
  #render(row: Row): void {
    if (row.shown !== row.shownNow) {
      this.#shown += row.shown ? 1 : -1;
      row.shownNow = row.shown;
      row.el.hidden = !row.shown;
    }
    if (row.folded !== row.foldedNow) {
      this.#folded += row.folded ? 1 : -1;
      row.foldedNow = row.folded;
      row.el.classList.toggle('log-folded', row.folded);
    }
    if (row.count !== row.countNow) {
      row.countNow = row.count;
      row.el.dataset['count'] = String(row.count);
      const badge = row.el.querySelector<HTMLElement>('.log-count')!;
      badge.hidden = row.count < 2;
      badge.textContent = row.count < 2 ? '' : `×${fmtInt(row.count)}`;
    }
  }

  #publish(): void {
    logCounts.set({ total: this.#rows.length, shown: this.#shown + this.#folded, folded: this.#folded });
  }

  append(entries: readonly LogEntry[]): void {
    const fresh = document.createDocumentFragment();
    const start = this.#rows.length;
    const lastBefore = this.#last;
    let last = this.#last;
    for (const entry of entries) {
      const line = lineOf(entry);
      const row: Row = Object.assign(line, {
        el: rowElement(entry, line.run),
        shownNow: false,
        foldedNow: false,
        countNow: 1,
      });
      last = placeLine(row, last, this.#filters, this.#group) as Row | null;
      this.#rows.push(row);
      fresh.append(row.el);
    }
    this.#last = last;
    const shownBefore = this.#shown;
    if (lastBefore !== null) this.#render(lastBefore);
    for (let i = start; i < this.#rows.length; i += 1) this.#render(this.#rows[i]!);
    const shown = this.#shown - shownBefore;
    this.#el.append(fresh);
    this.#trim();
    this.#publish();
    this.#appended(shown);
  }

  /** Drops the oldest rows past {@link MAX_LOG_ROWS}; the lines folded into a dropped row show again from the first. */
  #trim(): void {
    const extra = this.#rows.length - MAX_LOG_ROWS;
    if (extra <= 0) return;
    const gone = this.#rows.splice(0, extra);
    for (const row of gone) {
      if (row.shownNow) this.#shown -= 1;
      if (row.foldedNow) this.#folded -= 1;
      row.el.remove();
    }
    if (this.#last !== null && gone.includes(this.#last)) this.#last = null;
    // Rows up to the first one shown may have been folded into a dropped row: place them again.
    let last: Row | null = null;
    let i = 0;
    for (; i < this.#rows.length && !this.#rows[i]!.shown; i += 1) {
      last = placeLine(this.#rows[i]!, last, this.#filters, this.#group) as Row | null;
    }
    for (let k = 0; k < i; k += 1) this.#render(this.#rows[k]!);
    if (i === this.#rows.length) this.#last = last;
  }

  /** Places every row again, oldest first: after a filter change or a grouping toggle. */
  apply(filters: LogFilters, group: boolean): void {
    this.#filters = filters;
    this.#group = group;
    let last: Row | null = null;
    for (const row of this.#rows) last = placeLine(row, last, filters, group) as Row | null;
    this.#last = last;
    for (const row of this.#rows) this.#render(row);
    this.#publish();
  }

  clear(): void {
    for (const row of this.#rows) row.el.remove();
    this.#rows = [];
    this.#last = null;
    this.#shown = 0;
    this.#folded = 0;
    this.#publish();
  }
}
