/**
 * The Logs view: every line the server logged (the newest 5,000), live,
 * with filters by level, plugin, session and text, repeats folded into one
 * line with their count, and a "new lines" button when scrolled up.
 */
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { fmtInt, naturalSort } from '../format.js';
import {
  attachLogSink,
  filterBy,
  filtersActive,
  followRequests,
  LEVELS,
  logCounts,
  logs,
  NO_FILTERS,
  setFilters,
} from '../log-store.js';
import { app } from '../state.js';
import { useStore } from '../store.js';
import { LogList } from './log-list.js';

const atBottom = (list: HTMLElement): boolean => list.scrollHeight - list.scrollTop - list.clientHeight < 32;

/** `5,000 lines`, `120 of 5,000 lines · 12 repeats folded`… */
function LogStats(): JSX.Element {
  const { total, shown, folded } = useStore(logCounts);
  const lines = total === shown ? `${fmtInt(total)} lines` : `${fmtInt(shown)} of ${fmtInt(total)} lines`;
  return (
    <span class="log-stats" id="log-stats">
      {folded > 0 ? `${lines} · ${fmtInt(folded)} repeats folded` : lines}
    </span>
  );
}

/** Says why no line shows. */
function LogEmpty(): JSX.Element {
  const { total, shown } = useStore(logCounts);
  const empty =
    total === 0
      ? 'No log line yet. New lines appear here as the server logs them.'
      : shown === 0
        ? 'No line matches the filters.'
        : '';
  return (
    <div class="log-empty" id="log-empty" hidden={empty === ''}>
      {empty}
    </div>
  );
}

/** The plugin filter: plugins seen in lines, and those the server runs (named). */
function PluginFilter({ chosen, seen }: { chosen: string; seen: ReadonlySet<string> }): JSX.Element {
  // Its own component: the page's state changes often (counters…), and only this reads the plugin list.
  const { plugins: known } = useStore(app);
  const greeters = new Set(seen);
  const labels = new Map<string, string>();
  for (const p of known ?? []) {
    if (p.greeter) {
      greeters.add(p.greeter);
      if (p.name && p.name !== p.greeter) labels.set(p.greeter, `${p.greeter} — ${p.name}`);
    }
  }
  if (chosen) greeters.add(chosen);
  return (
    <label class="field">
      <span class="field-label">Plugin</span>
      <select
        id="filter-plugin"
        value={chosen}
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
  );
}

export function LogsView({ active }: { active: boolean }): JSX.Element {
  const state = useStore(logs);
  const follow = useStore(followRequests);
  const { filters, group } = state;
  const list = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  const [unseen, setUnseen] = useState<number | null>(null);

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

  // The rows live in the list element (not rendered by Preact): new lines are appended to it as they come,
  // and followed, or counted on the "new lines" button.
  useLayoutEffect(() => {
    const node = list.current!;
    const { filters: f, group: g } = logs.value;
    return attachLogSink(
      new LogList(node, f, g, (fresh) => {
        if (following.current) node.scrollTop = node.scrollHeight;
        else if (fresh > 0) setUnseen((n) => (n ?? 0) + fresh);
      }),
    );
  }, []);

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

  const sessions = new Set(state.sessions);
  if (filters.session) sessions.add(filters.session);

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
        <PluginFilter chosen={filters.plugin} seen={state.plugins} />
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
        <LogStats />
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
        ></div>
        <LogEmpty />
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
