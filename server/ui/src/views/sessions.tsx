/**
 * The Sessions view: every open session (address and transport, worker,
 * state, plugins, groups, packets), each plugin's state and groups for one
 * session on demand, its log lines, and closing it (two clicks).
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type SessionDetailView, type SessionEntry } from '../api.js';
import { EmptyState, loadFailed } from '../components/empty-state.js';
import { JsonBlock } from '../components/json-block.js';
import { fmtDateTime, fmtInt, fmtRelative } from '../format.js';
import { filterBy, followLogs, noteSession } from '../log-store.js';
import { app, clearError, guarded, reportError, showTab } from '../state.js';
import { useStore } from '../store.js';

const EVERY_MS = 2000;

/** How the view names the faults the server closes sessions for. */
const FAULT_NAMES: Record<string, string> = {
  NEKO_ERR_SESSION_SLOW_READER: 'slow readers',
  NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT: 'handshake timeouts',
  NEKO_ERR_SESSION_IDLE_TIMEOUT: 'idle timeouts',
  NEKO_ERR_AUTH_BAD_HASH: 'bad hashes',
  NEKO_ERR_AUTH_FIRST_PACKET: 'bad first packets',
};

/** "closed by the server: 3 slow readers, 1 handshake timeouts", or '' when none was. */
function faultSummary(faults: Record<string, number>): string {
  const parts = Object.entries(faults)
    .filter(([, n]) => Number(n) > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, n]) => `${fmtInt(Number(n))} ${FAULT_NAMES[code] ?? code}`);
  return parts.length === 0 ? '' : `closed by the server: ${parts.join(', ')}`;
}

/** What one open detail row shows: each plugin's state and groups, or that the session closed. */
function Detail({ detail }: { detail: SessionDetailView | 'closed' | null }): JSX.Element | null {
  if (detail === null) return null;
  if (detail === 'closed') return <div class="muted">This session has closed.</div>;
  const plugins = Array.isArray(detail.plugins) ? detail.plugins : [];
  if (plugins.length === 0) return <div class="muted">This session has not talked to any plugin yet.</div>;
  return (
    <>
      {plugins.map((p) => (
        <section key={p.greeter} class="session-plugin" data-greeter={p.greeter}>
          <div class="session-plugin-head">
            <span class="session-plugin-greeter">{p.greeter}</span>
            <span class="muted">groups</span>
            {p.groups.length ? (
              p.groups.map((g) => (
                <span key={g} class="chip session-group">
                  {g}
                </span>
              ))
            ) : (
              <span class="muted">none</span>
            )}
          </div>
          {p.stateProblems.length ? (
            <div class="state-problems">
              <span class="hint-label">Not JSON</span>
              {p.stateProblems.join('; ')}
            </div>
          ) : null}
          <div class="session-state">
            <JsonBlock value={p.state} />
          </div>
        </section>
      ))}
    </>
  );
}

function SessionRow({
  s,
  tick,
  refresh,
}: {
  s: SessionEntry;
  tick: number;
  refresh: () => void;
}): JSX.Element {
  const id = String(s.id);
  const [open, setOpen] = useState(false);
  const [detail, setDetail] = useState<SessionDetailView | 'closed' | null>(null);
  const [armed, setArmed] = useState(false);
  const [closing, setClosing] = useState(false);
  const [gone, setGone] = useState(false);
  const armTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  // The open detail follows the list's refreshes.
  useEffect(() => {
    if (!open) return;
    void guarded(`GET /api/sessions/${id}`, async () => {
      try {
        setDetail(await api.session(id));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) setDetail('closed');
        else throw err;
      }
    });
  }, [open, tick]);
  useEffect(() => () => clearTimeout(armTimer.current), []);

  const close = async (): Promise<void> => {
    if (!armed) {
      setArmed(true);
      armTimer.current = setTimeout(() => setArmed(false), 6000);
      return;
    }
    clearTimeout(armTimer.current);
    setClosing(true);
    const key = `POST /api/sessions/${id}/close`;
    try {
      await api.closeSession(id);
      clearError(key);
      setGone(true);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setGone(true);
      else reportError(key, err);
      setArmed(false);
      setClosing(false);
    }
    refresh();
  };

  // The address, and what carries the session (tcp, tls, ws, wss) when the server says.
  const worker = s.worker && typeof s.worker.id === 'number' ? ` · worker ${s.worker.id}` : '';
  const state = typeof s.state === 'string' ? s.state : 'unknown';
  const plugins = Array.isArray(s.plugins) ? s.plugins.map(String) : [];
  const groups = s.groups && typeof s.groups === 'object' ? Object.entries(s.groups) : [];
  const chips = groups.flatMap(([greeter, names]) =>
    (Array.isArray(names) ? names : []).map((name) => (
      <span key={`${greeter}\n${name}`} class="chip session-group" title={`Group of ${greeter}`}>
        {`${greeter}: ${name}`}
      </span>
    )),
  );
  return (
    <>
      <tr class={`session-row${gone ? ' is-closing' : ''}`} data-session={id}>
        <td class="mono session-id">{id}</td>
        <td class="mono">{`${s.remoteAddress || '—'}${s.transport ? ` · ${s.transport}` : ''}${worker}`}</td>
        <td title={typeof s.connectedAt === 'number' ? fmtDateTime(s.connectedAt) : undefined}>
          {typeof s.connectedAt === 'number' ? fmtRelative(s.connectedAt) : '—'}
        </td>
        <td>
          <span
            class={`badge state-badge state-${state}`}
            title={state === 'handshake' ? 'Not authenticated yet' : 'Authenticated'}
          >
            {state}
          </span>
        </td>
        <td class="session-plugins">
          {plugins.length ? (
            plugins.map((g) => (
              <span key={g} class="chip">
                {g}
              </span>
            ))
          ) : (
            <span class="muted">—</span>
          )}
        </td>
        <td class="session-groups">{chips.length ? chips : <span class="muted">—</span>}</td>
        <td class="num">{fmtInt(s.packetsIn)}</td>
        <td class="num">{fmtInt(s.packetsOut)}</td>
        <td class="actions">
          <button
            type="button"
            class="button button-quiet button-small session-state-toggle"
            title="Show each plugin's state and groups for this session"
            aria-expanded={open ? 'true' : 'false'}
            onClick={() => setOpen(!open)}
          >
            State
          </button>
          <button
            type="button"
            class="button button-quiet button-small"
            title="Show this session's log lines"
            onClick={() => {
              filterBy({ session: id });
              showTab('logs');
              followLogs();
            }}
          >
            Logs
          </button>
          <button
            type="button"
            class={`button button-danger button-small close-session${armed ? ' is-armed' : ''}`}
            disabled={closing}
            onClick={() => void close()}
          >
            {closing ? 'Closing…' : armed ? 'Confirm close' : 'Close'}
          </button>
        </td>
      </tr>
      <tr class="session-detail" data-session={id} hidden={!open}>
        <td class="session-detail-cell" colSpan={9}>
          {open ? <Detail detail={detail} /> : null}
        </td>
      </tr>
    </>
  );
}

export function SessionsView({ active }: { active: boolean }): JSX.Element {
  const { authFailed } = useStore(app);
  const [answer, setAnswer] = useState<{
    sessions: SessionEntry[];
    faultCloses: Record<string, number>;
  } | null>(null);
  const [failed, setFailed] = useState(false);
  const [tick, setTick] = useState(0);

  const refresh = (): void => {
    if (app.value.authFailed) return;
    void guarded('GET /api/sessions', async () => {
      const next = await api.sessions();
      for (const s of next.sessions ?? []) noteSession(String(s.id));
      setAnswer({
        sessions: Array.isArray(next.sessions) ? next.sessions : [],
        faultCloses: next.faultCloses ?? {},
      });
      setTick((n) => n + 1);
      return true;
    }).then((done) => setFailed(done === undefined));
  };
  useEffect(() => {
    if (!active) return;
    const poll = (): void => {
      if (document.visibilityState !== 'hidden') refresh();
    };
    poll();
    const timer = setInterval(poll, EVERY_MS);
    document.addEventListener('visibilitychange', poll);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', poll);
    };
  }, [active]);

  const seen = new Set<string>();
  const list = (answer?.sessions ?? []).filter((s) => {
    if (s === null || typeof s !== 'object' || s.id === null || s.id === undefined) return false;
    if (seen.has(String(s.id))) return false;
    seen.add(String(s.id));
    return true;
  });
  const count = list.length;
  const open = list.filter((s) => s.state === 'open').length;
  const connected =
    count === 0
      ? ''
      : `${count} connected · ${open} authenticated${count > open ? ` · ${count - open} in handshake` : ''}`;
  return (
    <section
      class="panel panel-scroll"
      id="panel-sessions"
      role="tabpanel"
      aria-labelledby="tab-sessions"
      hidden={!active}
    >
      <div class="panel-head">
        <h2>Sessions</h2>
        <span class="panel-summary" id="session-summary">
          {[connected, faultSummary(answer?.faultCloses ?? {})].filter(Boolean).join(' · ')}
        </span>
      </div>
      <div class="session-list" id="session-list">
        {answer === null ? (
          failed && !authFailed ? (
            <EmptyState text={loadFailed('the sessions')} failed />
          ) : null
        ) : (
          <>
            <table class="table sessions-table" hidden={count === 0}>
              <thead>
                <tr>
                  {[
                    'Session',
                    'Remote address',
                    'Connected',
                    'State',
                    'Plugins',
                    'Groups',
                    'In',
                    'Out',
                    '',
                  ].map((label, i) => (
                    <th key={i} class={i === 6 || i === 7 ? 'num' : undefined} scope="col">
                      {label}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {list.map((s) => (
                  <SessionRow key={String(s.id)} s={s} tick={tick} refresh={refresh} />
                ))}
              </tbody>
            </table>
            <div class="empty-state" hidden={count !== 0}>
              No client is connected.
            </div>
          </>
        )}
      </div>
    </section>
  );
}
