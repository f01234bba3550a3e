/**
 * The Plugins view: a card per plugin folder, with its status, versions,
 * figures, per-op rows, and the error that stopped it (code frame and hint).
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { PluginView } from '../api.js';
import { CodeFrame } from '../components/code-frame.js';
import { EmptyState, loadFailed } from '../components/empty-state.js';
import { fmtDateTime, fmtInt, fmtLatency, fmtRelative } from '../format.js';
import { filterBy, followLogs } from '../log-store.js';
import { app, showTab } from '../state.js';
import { useStore } from '../store.js';
import { fetchPlugins } from '../sync.js';

/** Refreshes the plugins while the view shows. */
const EVERY_MS = 2000;

function openLogs(greeter: string): void {
  filterBy({ plugin: greeter });
  showTab('logs');
  followLogs();
}

function Stat({ label, value, bad }: { label: string; value: string; bad?: boolean }): JSX.Element {
  return (
    <div class={`stat${bad ? ' stat-bad' : ''}`}>
      <dt class="stat-label">{label}</dt>
      <dd class="stat-value">{value}</dd>
    </div>
  );
}

/** The per-op rows of a plugin card: one per op code, then "other" (the ops past the 64 tracked). */
function OpTable({ ops }: { ops: PluginView['ops'] }): JSX.Element {
  const rows = ops.filter((o) => typeof o.op === 'number' || o.op === 'other');
  return (
    <div class="op-box" hidden={ops.length === 0}>
      <div class="op-caption">Per op code: packets handled and handler latency</div>
      <table class="table op-table">
        <thead>
          <tr>
            {['Op', 'Packets', 'p50', 'p90', 'p99'].map((label) => (
              <th key={label} class={label === 'Op' ? undefined : 'num'} scope="col">
                {label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((o) => {
            const other = o.op === 'other';
            return (
              <tr key={String(o.op)} class="op-row" data-op={String(o.op)}>
                <td
                  class={other ? 'op-code op-other' : 'op-code mono'}
                  title={other ? 'Every op past the first 64 seen' : undefined}
                >
                  {String(o.op)}
                </td>
                <td class="num op-packets">{fmtInt(o.packets)}</td>
                <td class="num">{fmtLatency(o.latencyMs?.p50)}</td>
                <td class="num">{fmtLatency(o.latencyMs?.p90)}</td>
                <td class="num">{fmtLatency(o.latencyMs?.p99)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function PluginError({ p, status }: { p: PluginView; status: string }): JSX.Element {
  const e = p.error!;
  let headline: string;
  if (status === 'failed')
    headline = p.greeter ? 'Failed to load — not serving (clients get 503)' : 'Cannot read spec.conf';
  else if (typeof p.codeVersion === 'number')
    headline = `last reload failed — v${p.codeVersion} keeps serving`;
  else headline = 'last reload failed';
  const loc = e.location
    ? [e.location.file, e.location.line, e.location.column].filter((v) => v !== null && v !== undefined)
    : [];
  return (
    <div class={`plugin-error ${status === 'failed' ? 'is-fatal' : 'is-stale'}`}>
      <div class="plugin-error-head">
        <span class="plugin-error-title">{headline}</span>
        {typeof e.time === 'number' ? (
          <time class="error-time" title={fmtDateTime(e.time)}>
            {fmtRelative(e.time)}
          </time>
        ) : null}
      </div>
      <div class="plugin-error-line">
        {e.code ? <span class="error-code">{e.code}</span> : null}
        <span class="error-message">{e.message || '(no message)'}</span>
      </div>
      {e.location?.file ? <div class="error-location mono">{loc.join(':')}</div> : null}
      {e.frame ? <CodeFrame frame={e.frame} /> : null}
      {e.hint ? (
        <div class="error-hint">
          <span class="hint-label">Hint</span>
          {e.hint}
        </div>
      ) : null}
    </div>
  );
}

/** The last part of a path (`/srv/plugins/chat-1.2.0.ncp` → `chat-1.2.0.ncp`). */
const baseName = (file: string): string => file.split(/[\\/]/).pop() ?? file;

/**
 * Where the plugin came from: its folder, or the `.ncp` package it serves
 * from with the first 12 hex digits of its sha256 (the whole hash in the title).
 */
function Origin({ p }: { p: PluginView }): JSX.Element {
  const origin = p.origin;
  if (origin?.kind === 'package') {
    return (
      <span class="plugin-origin mono" data-origin="package" title={`Package: ${origin.file}`}>
        <span class="chip origin-kind">package</span>
        <span class="origin-file">{baseName(origin.file)}</span>
        <span class="origin-hash" title={`sha256 ${origin.sha256}`}>
          sha256 {origin.sha256.slice(0, 12)}
        </span>
      </span>
    );
  }
  const dir = origin?.kind === 'folder' ? origin.dir : p.dir;
  return (
    <span
      class="plugin-origin mono"
      data-origin={origin === undefined ? '' : 'folder'}
      title={dir ? `Folder: ${dir}` : ''}
    >
      {dir || ''}
    </span>
  );
}

function PluginCard({ p }: { p: PluginView }): JSX.Element {
  const status = typeof p.status === 'string' ? p.status : 'unknown';
  const serving = typeof p.codeVersion === 'number';
  const reloading = status === 'reloading' && !p.error;
  const latency = p.latencyMs;
  return (
    <article class="plugin-row card" data-greeter={p.greeter ?? ''} data-status={status}>
      <div class="plugin-head">
        <span class={`badge status-badge status-${status}`}>{status}</span>
        <button
          type="button"
          class="plugin-greeter"
          title="Show this plugin's log lines"
          disabled={!p.greeter}
          onClick={() => p.greeter && openLogs(p.greeter)}
        >
          {p.greeter || '(no greeter)'}
        </button>
        <span class="plugin-name">{p.name || (p.greeter ? '' : 'spec.conf unreadable')}</span>
        <span class="plugin-versions">
          <span class="chip" title="Version in spec.conf" hidden={!p.version}>
            {p.version ? `spec ${p.version}` : ''}
          </span>
          <span
            class={`chip chip-code${serving ? '' : ' chip-off'}`}
            title="Code version serving (one more per reload)"
          >
            {serving ? `v${p.codeVersion}` : 'not serving'}
          </span>
        </span>
        <span class="toolbar-spacer"></span>
        <Origin p={p} />
        <button
          type="button"
          class="button button-quiet button-small"
          hidden={!p.greeter}
          onClick={() => p.greeter && openLogs(p.greeter)}
        >
          Logs →
        </button>
      </div>
      <div class="plugin-note" hidden={!reloading}>
        {reloading
          ? `Loading a new version${serving ? ` — v${p.codeVersion} keeps serving meanwhile` : ''}…`
          : ''}
      </div>
      {/* A folder without a readable spec.conf never served: no figures. */}
      <dl class="plugin-stats" hidden={!p.greeter}>
        <Stat label="Sessions" value={fmtInt(p.sessions)} />
        <Stat label="Packets" value={fmtInt(p.packets)} />
        <Stat label="Errors" value={fmtInt(p.errors)} bad={typeof p.errors === 'number' && p.errors > 0} />
        <Stat label="p50" value={fmtLatency(latency?.p50)} />
        <Stat label="p90" value={fmtLatency(latency?.p90)} />
        <Stat label="p99" value={fmtLatency(latency?.p99)} />
      </dl>
      <OpTable ops={Array.isArray(p.ops) ? p.ops : []} />
      <div class="plugin-error-slot">{p.error ? <PluginError p={p} status={status} /> : null}</div>
    </article>
  );
}

/** `3 loaded · 1 failed · 1 with a failed reload`. */
function summary(list: readonly PluginView[]): string {
  const count: Record<string, number> = { loaded: 0, failed: 0, reloading: 0 };
  for (const p of list) if (count[p.status] !== undefined) count[p.status]! += 1;
  const stale = list.filter((p) => p.status !== 'failed' && p.error).length;
  const parts = [`${count['loaded']} loaded`];
  if (count['reloading']) parts.push(`${count['reloading']} reloading`);
  parts.push(`${count['failed']} failed`);
  if (stale) parts.push(`${stale} with a failed reload`);
  return parts.join(' · ');
}

const keyOf = (p: PluginView): string => (p.greeter ? `g:${p.greeter}` : `d:${p.dir}`);

export function PluginsView({ active }: { active: boolean }): JSX.Element {
  const { plugins, authFailed } = useStore(app);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!active) return;
    const refresh = (): void => {
      if (document.visibilityState === 'hidden' || app.value.authFailed) return;
      void fetchPlugins().then((list) => setFailed(list === undefined));
    };
    refresh();
    const timer = setInterval(refresh, EVERY_MS);
    document.addEventListener('visibilitychange', refresh);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', refresh);
    };
  }, [active]);

  const seen = new Set<string>();
  const list = (plugins ?? []).filter((p) => {
    const key = keyOf(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return (
    <section
      class="panel panel-scroll"
      id="panel-plugins"
      role="tabpanel"
      aria-labelledby="tab-plugins"
      hidden={!active}
    >
      <div class="panel-head">
        <h2>Plugins</h2>
        <span class="panel-summary" id="plugin-summary">
          {plugins === null ? '' : summary(plugins)}
        </span>
      </div>
      <div class="plugin-list" id="plugin-list">
        {plugins === null ? (
          failed && !authFailed ? (
            <EmptyState text={loadFailed('the plugins')} failed />
          ) : null
        ) : list.length === 0 ? (
          <EmptyState text="No plugin folder was found." />
        ) : (
          list.map((p) => <PluginCard key={keyOf(p)} p={p} />)
        )}
      </div>
    </section>
  );
}
