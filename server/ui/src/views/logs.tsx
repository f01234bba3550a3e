/**
 * The Logs view: every line the server logged (the newest 5,000), live,
 * with filters by level, plugin, session and text, repeats folded into one
 * line with their count, and a "new lines" button when scrolled up.
 */
import { Component, type JSX } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { LogEntry } from '../api.js';
import { CodeFrame } from '../components/code-frame.js';
import { fmtClock, fmtDateTime, fmtInt, naturalSort } from '../format.js';
import {
  filterBy,
  filtersActive,
  followRequests,
  LEVELS,
  logs,
  NO_FILTERS,
  place,
  setFilters,
  type Placement,
} from '../log-store.js';
import { app } from '../state.js';
import { useStore } from '../store.js';

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

interface RowProps {
  entry: LogEntry;
  placement: Placement;
}

/**
 * One line; rendered again only when how it shows changes (the 5,000 of them
 * are diffed at each flush): a filter only flips the row's `hidden`, its
 * content stays as it is.
 */
class LogRow extends Component<RowProps> {
  override shouldComponentUpdate(next: RowProps): boolean {
    const a = this.props.placement;
    const b = next.placement;
    return (
      next.entry !== this.props.entry || a.shown !== b.shown || a.folded !== b.folded || a.count !== b.count
    );
  }

  override render({ entry, placement }: RowProps): JSX.Element {
    const run = typeof entry.run === 'number' ? entry.run : entry.seq;
    return (
      <div
        class={`log-row level-${entry.level}${placement.folded ? ' log-folded' : ''}`}
        data-seq={entry.seq}
        data-run={run}
        data-level={entry.level}
        data-plugin={entry.plugin ?? ''}
        data-session={entry.session ?? ''}
        data-count={placement.count}
        hidden={!placement.shown}
      >
        <RowContent entry={entry} count={placement.count} />
      </div>
    );
  }
}

interface ContentProps {
  entry: LogEntry;
  /** How many lines the row stands for (×N when more than one). */
  count: number;
}

/** What a line says: time, level, tags, message, code, count and code frame. */
class RowContent extends Component<ContentProps> {
  override shouldComponentUpdate(next: ContentProps): boolean {
    return next.entry !== this.props.entry || next.count !== this.props.count;
  }

  override render({ entry, count }: ContentProps): JSX.Element {
    const level = entry.level;
    const plugin = entry.plugin ?? '';
    const session = entry.session ?? '';
    const message = entry.message ?? '';
    return (
      <>
        <time class="log-time" title={fmtDateTime(entry.time)}>
          {fmtClock(entry.time)}
        </time>
        <span class={`badge level-badge level-badge-${level}`}>{level}</span>
        <span class="log-tags">
          {/* Under --workers, on the primary's dashboard: the worker that logged the line. */}
          {entry.worker && typeof entry.worker.id === 'number' ? (
            <span class="tag tag-worker" title={`Worker ${entry.worker.id} (pid ${entry.worker.pid})`}>
              w{entry.worker.id}
            </span>
          ) : null}
          {plugin ? (
            <button
              type="button"
              class="tag tag-plugin"
              title={`Show only ${plugin}`}
              data-set-plugin={plugin}
            >
              {plugin}
            </button>
          ) : null}
          {session ? (
            <button
              type="button"
              class="tag tag-session"
              title={`Show only ${session}`}
              data-set-session={session}
            >
              {session}
            </button>
          ) : null}
        </span>
        <div class="log-body">
          <span class="log-message">{entry.frame ? withoutFrame(message, entry.frame) : message}</span>
          {entry.code ? <span class="log-code">{entry.code}</span> : null}
          <span class="log-count" hidden={count < 2} title="The same line, repeated in a row">
            {count < 2 ? null : `×${fmtInt(count)}`}
          </span>
          {entry.frame ? <CodeFrame frame={entry.frame} /> : null}
        </div>
      </>
    );
  }
}

/** Lines are rendered in blocks of this many consecutive `seq`s: a flush re-renders the first and last blocks only. */
const BLOCK = 128;

interface BlockProps {
  entries: readonly LogEntry[];
  placements: readonly Placement[];
}

/** Consecutive lines (no element of its own: the rows stay children of the list). */
class LogBlock extends Component<BlockProps> {
  override shouldComponentUpdate(next: BlockProps): boolean {
    const { entries, placements } = this.props;
    if (next.entries.length !== entries.length) return true;
    for (let i = 0; i < entries.length; i += 1) {
      const a = placements[i]!;
      const b = next.placements[i]!;
      if (
        next.entries[i] !== entries[i] ||
        a.shown !== b.shown ||
        a.folded !== b.folded ||
        a.count !== b.count
      )
        return true;
    }
    return false;
  }

  override render({ entries, placements }: BlockProps): JSX.Element {
    return (
      <>
        {entries.map((entry, i) => (
          <LogRow key={entry.seq} entry={entry} placement={placements[i]!} />
        ))}
      </>
    );
  }
}

/** The lines in blocks by `seq` (so trimming the oldest lines leaves the other blocks as they were). */
function blocks(entries: readonly LogEntry[], placements: readonly Placement[]): JSX.Element[] {
  const out: JSX.Element[] = [];
  let start = 0;
  while (start < entries.length) {
    const block = Math.floor(entries[start]!.seq / BLOCK);
    let end = start + 1;
    while (end < entries.length && Math.floor(entries[end]!.seq / BLOCK) === block) end += 1;
    out.push(
      <LogBlock key={block} entries={entries.slice(start, end)} placements={placements.slice(start, end)} />,
    );
    start = end;
  }
  return out;
}

const atBottom = (list: HTMLElement): boolean => list.scrollHeight - list.scrollTop - list.clientHeight < 32;

export function LogsView({ active }: { active: boolean }): JSX.Element {
  const state = useStore(logs);
  const { plugins: known } = useStore(app);
  const follow = useStore(followRequests);
  const { filters, group } = state;
  const placed = useMemo(() => place(state), [state.entries, filters, group]);
  const list = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  const [unseen, setUnseen] = useState<number | null>(null);
  const shownSeq = useRef(0);

  // The search box filters a moment after typing stops.
  const [search, setSearch] = useState(filters.text);
  useEffect(() => {
    if (search.trim().toLowerCase() === filters.text) return;
    const timer = setTimeout(() => setFilters({ text: search.trim().toLowerCase() }), 120);
    return () => clearTimeout(timer);
  }, [search]);
  useEffect(() => {
    if (filters.text === '' && search.trim() !== '') setSearch('');
  }, [filters.text]);

  const toBottom = (): void => {
    const node = list.current;
    if (node !== null) node.scrollTop = node.scrollHeight;
  };

  // New lines: follow them, or count them on the "new lines" button.
  useLayoutEffect(() => {
    const entries = state.entries;
    const newest = entries.length > 0 ? entries[entries.length - 1]!.seq : 0;
    let fresh = 0;
    for (let i = entries.length - 1; i >= 0 && entries[i]!.seq > shownSeq.current; i -= 1) {
      if (placed.rows[i]!.shown) fresh += 1;
    }
    shownSeq.current = newest;
    if (following.current) toBottom();
    else if (fresh > 0) setUnseen((n) => (n ?? 0) + fresh);
  }, [state.entries]);

  // A filter change: stay at the bottom when following; the button goes when the bottom shows.
  useLayoutEffect(() => {
    if (following.current) toBottom();
    const node = list.current;
    if (node !== null && atBottom(node)) {
      following.current = true;
      setUnseen(null);
    }
  }, [filters, group]);

  useLayoutEffect(() => {
    if (active && following.current) toBottom();
  }, [active]);

  useLayoutEffect(() => {
    if (follow === 0) return;
    following.current = true;
    setUnseen(null);
    toBottom();
  }, [follow]);

  const onScroll = (): void => {
    const node = list.current;
    if (node === null || node.clientHeight === 0) return; // hidden tab
    following.current = atBottom(node);
    if (following.current) setUnseen(null);
  };

  const onClick = (event: MouseEvent): void => {
    const target = event.target instanceof Element ? event.target : null;
    const tag = target?.closest<HTMLElement>('button[data-set-plugin], button[data-set-session]');
    if (!tag) return;
    const { setPlugin, setSession } = tag.dataset;
    filterBy({
      ...(setPlugin !== undefined ? { plugin: setPlugin } : {}),
      ...(setSession !== undefined ? { session: setSession } : {}),
    });
  };

  const greeters = new Set(state.plugins);
  const labels = new Map<string, string>();
  for (const p of known ?? []) {
    if (p.greeter) {
      greeters.add(p.greeter);
      if (p.name && p.name !== p.greeter) labels.set(p.greeter, `${p.greeter} — ${p.name}`);
    }
  }
  if (filters.plugin) greeters.add(filters.plugin);
  const sessions = new Set(state.sessions);
  if (filters.session) sessions.add(filters.session);

  const total = state.entries.length;
  const shown = placed.shown + placed.folded;
  const lines = total === shown ? `${fmtInt(total)} lines` : `${fmtInt(shown)} of ${fmtInt(total)} lines`;
  const empty =
    total === 0
      ? 'No log line yet. New lines appear here as the server logs them.'
      : shown === 0
        ? 'No line matches the filters.'
        : '';

  return (
    <section
      class="panel panel-logs"
      id="panel-logs"
      role="tabpanel"
      aria-labelledby="tab-logs"
      hidden={!active}
    >
      <div class="toolbar log-filters">
        <div class="level-toggles" role="group" aria-label="Levels">
          {LEVELS.map((level) => (
            <button
              key={level}
              type="button"
              class="level-toggle"
              data-filter-level={level}
              aria-pressed={filters.levels[level] ? 'true' : 'false'}
              onClick={() => setFilters({ levels: { ...filters.levels, [level]: !filters.levels[level] } })}
            >
              {level}
            </button>
          ))}
        </div>
        <label class="field">
          <span class="field-label">Plugin</span>
          <select
            id="filter-plugin"
            value={filters.plugin}
            onChange={(event) => setFilters({ plugin: event.currentTarget.value })}
          >
            <option value="">All plugins</option>
            {[...greeters].sort(naturalSort).map((g) => (
              <option key={g} value={g}>
                {labels.get(g) ?? g}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span class="field-label">Session</span>
          <select
            id="filter-session"
            value={filters.session}
            onChange={(event) => setFilters({ session: event.currentTarget.value })}
          >
            <option value="">All sessions</option>
            {[...sessions]
              .sort(naturalSort)
              .reverse()
              .map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
          </select>
        </label>
        <label class="field field-grow">
          <span class="field-label">Search</span>
          <input
            id="filter-text"
            type="search"
            placeholder="Filter messages, codes…"
            autocomplete="off"
            spellcheck={false}
            value={search}
            onInput={(event) => setSearch(event.currentTarget.value)}
          />
        </label>
        <button
          type="button"
          class="level-toggle log-group-toggle"
          id="log-group"
          aria-pressed={group ? 'true' : 'false'}
          title="Fold a line repeated in a row into one, with its count (×N); off shows every line"
          onClick={() => logs.update({ group: !group })}
        >
          Group repeats
        </button>
        <button
          type="button"
          class="button button-quiet"
          id="filter-clear"
          hidden={!filtersActive(filters)}
          onClick={() => {
            setSearch('');
            setFilters(NO_FILTERS);
          }}
        >
          Clear filters
        </button>
        <span class="toolbar-spacer"></span>
        <span class="log-stats" id="log-stats">
          {placed.folded > 0 ? `${lines} · ${fmtInt(placed.folded)} repeats folded` : lines}
        </span>
      </div>
      <div class="log-wrap">
        <div
          class="log-list"
          id="log-list"
          role="log"
          aria-live="off"
          tabIndex={0}
          ref={list}
          onScroll={onScroll}
          onClick={onClick}
        >
          {blocks(state.entries, placed.rows)}
        </div>
        <div class="log-empty" id="log-empty" hidden={empty === ''}>
          {empty}
        </div>
        <button
          type="button"
          class="log-jump"
          id="log-jump"
          hidden={unseen === null}
          onClick={() => {
            following.current = true;
            setUnseen(null);
            toBottom();
          }}
        >
          ↓ new lines{' '}
          <span class="log-jump-count" id="log-jump-count">
            {unseen ? `· ${fmtInt(unseen)}` : ''}
          </span>
        </button>
      </div>
    </section>
  );
}
