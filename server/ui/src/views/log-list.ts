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
  logCounts,
  MAX_LOG_ROWS,
  placeLine,
  searchText,
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

/** A row: what the filters look at, its line's placement, and the placement its element shows now. */
class Row implements PlacedLine {
  shown = false;
  folded = false;
  count = 1;
  shownNow = false;
  foldedNow = false;
  countNow = 1;

  constructor(
    readonly run: number,
    readonly level: string,
    readonly plugin: string,
    readonly session: string,
    readonly text: string,
  ) {}

  search(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  // The parser would read a carriage return as a line feed.
  '\r': '&#13;',
};

/** Text for HTML, as text or in a quoted attribute. */
const esc = (text: unknown): string => String(text).replace(/[&<>"\r]/g, (c) => ESCAPES[c]!);

/** The count beside a shown line standing for more than one. */
const countText = (count: number): string => (count < 2 ? '' : `×${fmtInt(count)}`);

/**
 * A line's element as HTML, placed as `row` says (the same elements as {@link rowElement}
 * builds, parsed at once for a whole batch of lines, without a script object per element).
 */
function rowHtml(entry: LogEntry, row: Row): string {
  const level = esc(entry.level);
  const plugin = esc(row.plugin);
  const session = esc(row.session);
  const message = entry.message ?? '';
  let html =
    `<div class="log-row level-${level}${row.folded ? ' log-folded' : ''}" data-seq="${esc(entry.seq)}"` +
    ` data-run="${esc(row.run)}" data-level="${level}" data-plugin="${plugin}" data-session="${session}"` +
    ` data-count="${row.count}"${row.shown ? '' : ' hidden'}>` +
    `<time class="log-time" title="${esc(fmtDateTime(entry.time))}">${esc(fmtClock(entry.time))}</time>` +
    `<span class="badge level-badge level-badge-${level}">${level}</span><span class="log-tags">`;
  // Under --workers, on the primary's dashboard: the worker that logged the line.
  if (entry.worker && typeof entry.worker.id === 'number') {
    const id = esc(entry.worker.id);
    html += `<span class="tag tag-worker" title="Worker ${id} (pid ${esc(entry.worker.pid)})">w${id}</span>`;
  }
  if (plugin)
    html += `<button type="button" class="tag tag-plugin" title="Show only ${plugin}" data-set-plugin="${plugin}">${plugin}</button>`;
  if (session)
    html += `<button type="button" class="tag tag-session" title="Show only ${session}" data-set-session="${session}">${session}</button>`;
  html += `</span><div class="log-body"><span class="log-message">${esc(entry.frame ? withoutFrame(message, entry.frame) : message)}</span>`;
  if (entry.code) html += `<span class="log-code">${esc(entry.code)}</span>`;
  html += `<span class="log-count"${row.count < 2 ? ' hidden' : ''} title="The same line, repeated in a row">${countText(row.count)}</span>`;
  if (entry.frame) {
    html += '<pre class="code-frame">';
    const lines = frameLines(entry.frame);
    lines.forEach((line, i) => {
      html += `<span class="${line.cls}">`;
      if (line.head) html += `<span class="frame-gutter">${esc(line.head)}</span>`;
      html += `<span class="frame-code">${esc(line.rest)}</span></span>`;
      if (i < lines.length - 1) html += '\n';
    });
    html += '</pre>';
  }
  return `${html}</div></div>`;
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
  const button = document.createElement('button');
  button.setAttribute('type', 'button');
  button.className = cls;
  button.textContent = value;
  button.title = `Show only ${value}`;
  button.dataset[data] = value;
  return button;
}

/**
 * A line's element: time, level, tags, message, code, count (hidden) and code frame; for a line
 * HTML cannot carry (a NUL character, which the parser drops).
 */
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
  /** Oldest first, as in the list: row i is the list's child i. */
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

  /** Counts a row as its element shows it now. */
  #count(row: Row, sign: 1 | -1): void {
    if (row.shownNow) this.#shown += sign;
    if (row.foldedNow) this.#folded += sign;
  }

  /** Writes what changed in row `i`'s placement to its element. */
  #render(i: number): void {
    const row = this.#rows[i]!;
    if (row.shown === row.shownNow && row.folded === row.foldedNow && row.count === row.countNow) return;
    const el = this.#el.children[i] as HTMLElement;
    this.#count(row, -1);
    if (row.shown !== row.shownNow) el.hidden = !row.shown;
    if (row.folded !== row.foldedNow) el.classList.toggle('log-folded', row.folded);
    if (row.count !== row.countNow) {
      el.dataset['count'] = String(row.count);
      // The body's count, after the message and the code.
      const badge = el.lastElementChild!.querySelector<HTMLElement>(':scope > .log-count')!;
      badge.hidden = row.count < 2;
      badge.textContent = countText(row.count);
    }
    row.shownNow = row.shown;
    row.foldedNow = row.folded;
    row.countNow = row.count;
    this.#count(row, 1);
  }

  #publish(): void {
    logCounts.set({ total: this.#rows.length, shown: this.#shown + this.#folded, folded: this.#folded });
  }

  append(entries: readonly LogEntry[]): void {
    const rows = this.#rows;
    const start = rows.length;
    const lastBefore = this.#last;
    let last = this.#last;
    for (const entry of entries) {
      const run = typeof entry.run === 'number' ? entry.run : entry.seq;
      const plugin = entry.plugin ?? '';
      const session = entry.session ?? '';
      const row = new Row(run, entry.level, plugin, session, searchText(entry));
      last = placeLine(row, last, this.#filters, this.#group);
      rows.push(row);
    }
    this.#last = last;
    const shownBefore = this.#shown;
    // The last row shown before may have taken repeats: its count.
    if (lastBefore !== null) this.#render(rows.lastIndexOf(lastBefore, start - 1));
    // The new rows are made placed.
    let html = '';
    for (let i = start; i < rows.length; i += 1) {
      const row = rows[i]!;
      const entry = entries[i - start]!;
      const rowText = rowHtml(entry, row);
      if (rowText.includes('\0')) {
        this.#el.insertAdjacentHTML('beforeend', html);
        html = '';
        this.#el.append(rowElement(entry, row.run));
        this.#render(i);
      } else {
        html += rowText;
        row.shownNow = row.shown;
        row.foldedNow = row.folded;
        row.countNow = row.count;
        this.#count(row, 1);
      }
    }
    this.#el.insertAdjacentHTML('beforeend', html);
    const shown = this.#shown - shownBefore;
    this.#trim();
    this.#publish();
    this.#appended(shown);
  }

  /** Drops the oldest rows past {@link MAX_LOG_ROWS}; the lines folded into a dropped row show again from the first. */
  #trim(): void {
    const rows = this.#rows;
    const extra = rows.length - MAX_LOG_ROWS;
    if (extra <= 0) return;
    const gone = rows.splice(0, extra);
    for (const row of gone) {
      this.#count(row, -1);
      this.#el.firstElementChild!.remove();
    }
    if (this.#last !== null && gone.includes(this.#last)) this.#last = null;
    // Rows up to the first one shown may have been folded into a dropped row: place them again.
    let last: Row | null = null;
    let i = 0;
    for (; i < rows.length && !rows[i]!.shown; i += 1) {
      last = placeLine(rows[i]!, last, this.#filters, this.#group);
    }
    for (let k = 0; k < i; k += 1) this.#render(k);
    if (i === rows.length) this.#last = last;
  }

  /** Places every row again, oldest first: after a filter change or a grouping toggle. */
  apply(filters: LogFilters, group: boolean): void {
    this.#filters = filters;
    this.#group = group;
    let last: Row | null = null;
    for (const row of this.#rows) last = placeLine(row, last, filters, group);
    this.#last = last;
    for (let i = 0; i < this.#rows.length; i += 1) this.#render(i);
    this.#publish();
  }

  clear(): void {
    this.#el.replaceChildren();
    this.#rows = [];
    this.#last = null;
    this.#shown = 0;
    this.#folded = 0;
    this.#publish();
  }
}
