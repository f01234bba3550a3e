/** The top bar: the server (address, mode, uptime, workers), the live stream, the counters and the tabs. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { fmtDateTime, fmtDuration, fmtInt } from '../format.js';
import { followLogs, LEVELS, setFilters, type Level } from '../log-store.js';
import { app, counters, showTab, type Overview, type Tab } from '../state.js';
import { useStore } from '../store.js';

const TAB_LABELS: Record<Tab, string> = {
  logs: 'Logs',
  plugins: 'Plugins',
  sessions: 'Sessions',
  data: 'Data',
  settings: 'Settings',
  playground: 'Playground',
};

/** Ticks once a second (the uptime). */
function useClock(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

function Uptime({ overview, at }: { overview: Overview | null; at: number }): JSX.Element {
  const now = useClock();
  const server = overview?.server;
  const uptime = typeof server?.uptimeMs === 'number' ? server.uptimeMs + (now - at) : null;
  return (
    <span
      class="uptime"
      title={typeof server?.startedAt === 'number' ? `Started ${fmtDateTime(server.startedAt)}` : 'Uptime'}
    >
      up{' '}
      <span id="server-uptime">{uptime === null ? '—' : fmtDuration(Math.floor(uptime / 1000) * 1000)}</span>
    </span>
  );
}

/** Under --workers: one pill per worker, green when ready, with its figures in its title. */
function Workers({ workers }: { workers: Overview['workers'] }): JSX.Element | null {
  if (!Array.isArray(workers)) return null;
  return (
    <span class="server-workers" id="server-workers" data-testid="workers">
      {workers.map((w) => {
        const reasons = w.reasons.length ? ` · ${w.reasons.join(', ')}` : '';
        const up = typeof w.uptimeMs === 'number' ? ` · up ${fmtDuration(w.uptimeMs)}` : '';
        return (
          <span
            key={w.id}
            class={`worker-pill${w.ready ? ' is-ready' : ''}`}
            data-worker={String(w.id)}
            data-ready={w.ready ? 'yes' : 'no'}
            title={`Worker ${w.id} (pid ${w.pid ?? '?'})${up} · ${fmtInt(w.connections)} connections${reasons}`}
          >
            w{w.id}
          </span>
        );
      })}
    </span>
  );
}

/** Shows only the lines of one level, in the Logs tab, following the newest. */
function onlyLevel(level: Level): void {
  setFilters({ levels: Object.fromEntries(LEVELS.map((l) => [l, l === level])) as Record<Level, boolean> });
  showTab('logs');
  followLogs();
}

/** The warning and error counters: each opens the Logs tab showing only that level. */
function Counters(): JSX.Element {
  const { warn, error } = useStore(counters);
  return (
    <>
      <Counter level="warn" count={warn} icon="▲" label="warnings" title="Show warnings" />
      <Counter level="error" count={error} icon="●" label="errors" title="Show errors" />
    </>
  );
}

/** One counter of the top bar: how many lines of a level; a click shows only them. */
function Counter(props: {
  level: 'warn' | 'error';
  count: number;
  icon: string;
  label: string;
  title: string;
}): JSX.Element {
  const { level, count } = props;
  return (
    <button
      type="button"
      class={`counter counter-${level}${count === 0 ? ' is-zero' : ''}`}
      id={`counter-${level}-button`}
      title={props.title}
      onClick={() => onlyLevel(level)}
    >
      <span class="counter-icon" aria-hidden="true">
        {props.icon}
      </span>
      <span class="counter-value" data-testid={`counter-${level}`}>
        {count}
      </span>
      <span class="counter-label">{props.label}</span>
    </button>
  );
}

export function TopBar({ tabs }: { tabs: readonly Tab[] }): JSX.Element {
  const state = useStore(app);
  const { overview, live, tab } = state;
  const server = overview?.server;
  const failed = overview?.plugins.failed ?? 0;
  const sessions = overview?.sessions ?? 0;
  useEffect(() => {
    document.title = `NekoConnect${server?.mode ? ` (${server.mode})` : ''} · dashboard`;
  }, [server?.mode]);

  const onKey = (event: KeyboardEvent): void => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
    const i = tabs.indexOf(tab);
    const next = tabs[(i + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]!;
    showTab(next);
    document.querySelector<HTMLElement>(`[data-tab="${next}"]`)?.focus();
  };

  return (
    <header class="topbar">
      <div class="topbar-row">
        <div class="brand">
          <img src="favicon.svg" alt="" width={26} height={26} />
          <h1>NekoConnect</h1>
          <span id="server-version" class="brand-version">
            {server?.version ? `v${server.version}` : ''}
          </span>
        </div>
        <div class="server-info" id="server-info">
          <span class="server-address mono" id="server-address" title="TCP address">
            {server?.address || '—'}
          </span>
          <span
            class="mode-pill"
            id="server-mode"
            data-mode={server?.mode ?? ''}
            title={server?.mode === 'dev' ? 'nekoconnect dev: plugins reload on change' : 'nekoconnect start'}
          >
            {server?.mode || '—'}
          </span>
          <Uptime overview={overview} at={state.overviewAt} />
          <Workers workers={overview?.workers} />
        </div>
        <div class="topbar-right">
          <span
            class="live"
            data-testid="live"
            data-state={live.state}
            title={
              live.state === 'live' ? 'Receiving log lines as they are logged' : 'Waiting for the log stream'
            }
          >
            <span class="live-dot" aria-hidden="true"></span>
            <span class="live-label" id="live-label">
              {live.label}
            </span>
          </span>
          <Counters />
        </div>
      </div>
      <nav class="tabs" role="tablist" aria-label="Dashboard sections" onKeyDown={onKey}>
        {tabs.map((name) => {
          const active = name === tab;
          return (
            <button
              key={name}
              type="button"
              role="tab"
              class={`tab${active ? ' is-active' : ''}`}
              id={`tab-${name}`}
              data-tab={name}
              aria-controls={`panel-${name}`}
              aria-selected={active ? 'true' : 'false'}
              tabIndex={active ? 0 : -1}
              onClick={() => showTab(name)}
            >
              {TAB_LABELS[name]}
              {name === 'plugins' || name === 'sessions' ? ' ' : null}
              {name === 'plugins' ? (
                <span
                  class="tab-badge"
                  id="tab-badge-plugins"
                  hidden={failed === 0}
                  title={`${failed} failed`}
                >
                  {failed}
                </span>
              ) : null}
              {name === 'sessions' ? (
                <span class="tab-badge tab-badge-quiet" id="tab-badge-sessions" hidden={sessions === 0}>
                  {sessions}
                </span>
              ) : null}
            </button>
          );
        })}
      </nav>
    </header>
  );
}
