/* global window, document, fetch, EventSource, sessionStorage, history, location, Node, URLSearchParams, requestAnimationFrame */
// NekoConnect dashboard: plain browser JavaScript, no build step, no external resources.
// Talks only to the same-origin data API described in docs/dashboard.md.
// Every piece of data reaches the DOM through textContent / text nodes, never innerHTML.

// ---------------------------------------------------------------------------------------------------------
// Constants and state

const TOKEN_KEY = 'nekoconnect.dashboard.token';
const MAX_LOG_ROWS = 5000;
const OVERVIEW_EVERY_MS = 5000;
const PANEL_EVERY_MS = 2000;
const DOCS_PAGE = 25;
const FLUSH_EVERY_MS = 120;
const TABS = ['logs', 'plugins', 'sessions', 'data', 'settings'];
const LEVELS = ['info', 'warn', 'error'];

const state = {
  token: null,
  authFailed: false,
  tab: 'logs',
  counters: { warn: 0, error: 0 },
  overview: null,
  overviewAt: 0,
  plugins: null, // last /api/plugins answer (array)
  stream: null, // current EventSource
  everLive: false,
  reconnectTimer: null,
  reconnectDelay: 2000,
  inFlight: new Map(), // request key -> promise
  tabShownOnce: false,
};

const $ = (selector) => document.querySelector(selector);

// ---------------------------------------------------------------------------------------------------------
// Small DOM helper: attributes and text only, never HTML

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key === 'dataset') {
        for (const [k, v] of Object.entries(value))
          node.dataset[k] = v === null || v === undefined ? '' : String(v);
      } else if (key.startsWith('on') && typeof value === 'function')
        node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, '');
      else node.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

function setAttr(node, name, value) {
  const text = String(value);
  if (node.getAttribute(name) !== text) node.setAttribute(name, text);
}

function setData(node, key, value) {
  const text = value === null || value === undefined ? '' : String(value);
  if (node.dataset[key] !== text) node.dataset[key] = text;
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

const pad = (n, width = 2) => String(n).padStart(width, '0');
const intFormat = new Intl.NumberFormat('en-US');

function fmtInt(n) {
  return typeof n === 'number' && Number.isFinite(n) ? intFormat.format(n) : '—';
}

function fmtClock(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '--:--:--.---';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function fmtDateTime(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtClock(ms)}`;
}

function trimNumber(value, digits) {
  return String(Number(value.toFixed(digits)));
}

/** Handler latency: `0.04 ms`, `1.5 ms`, `12 ms`, `1.2 s`; `—` when unknown. */
function fmtLatency(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms === 0) return '0 ms';
  if (ms < 0.01) return '<0.01 ms';
  if (ms < 1) return `${trimNumber(ms, 2)} ms`;
  if (ms < 10) return `${trimNumber(ms, 1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${trimNumber(ms / 1000, 2)} s`;
}

/** A duration for people: `45 s`, `12 min 3 s`, `3 h 12 min`, `2 d 3 h`. */
function fmtDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${trimNumber(value, value < 10 ? 2 : 1)} ${units[unit]}`;
}

function fmtRelative(ms, now = Date.now()) {
  const diff = Math.max(0, now - ms);
  const s = Math.floor(diff / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** A plain-text code frame in a <pre>: the `>` line and the `^` caret marked for styling, text unchanged. */
function codeFrame(frame) {
  const pre = el('pre', { class: 'code-frame' });
  const lines = String(frame).replace(/\r\n/g, '\n').split('\n');
  lines.forEach((line, i) => {
    const gutter = /^(\s*>?\s*\d*\s*\|)/.exec(line);
    const head = gutter ? gutter[1] : '';
    const rest = line.slice(head.length);
    let cls = 'frame-line';
    if (/^\s*>/.test(line)) cls += ' frame-marked';
    else if (/^[\s^~]*\^[\s^~]*$/.test(rest) && rest.trim() !== '') cls += ' frame-caret';
    const node = el('span', { class: cls });
    if (head) node.append(el('span', { class: 'frame-gutter', text: head }));
    node.append(el('span', { class: 'frame-code', text: rest }));
    pre.append(node);
    if (i < lines.length - 1) pre.append('\n');
  });
  return pre;
}

/** Pretty JSON with light colouring, built from text nodes. */
function jsonBlock(value) {
  const pre = el('pre', { class: 'json' });
  let text;
  try {
    text = JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  const token = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  let match;
  while ((match = token.exec(text)) !== null) {
    if (match.index > last) pre.append(text.slice(last, match.index));
    if (match[1] !== undefined) {
      pre.append(el('span', { class: match[2] ? 'j-key' : 'j-str', text: match[1] }));
      if (match[2]) pre.append(match[2]);
    } else if (match[3] !== undefined) {
      pre.append(el('span', { class: 'j-lit', text: match[3] }));
    } else {
      pre.append(el('span', { class: 'j-num', text: match[4] }));
    }
    last = token.lastIndex;
  }
  if (last < text.length) pre.append(text.slice(last));
  return pre;
}

// ---------------------------------------------------------------------------------------------------------
// Status line: unobtrusive errors, cleared when the same request succeeds again

const errors = new Map();

function reportError(key, err) {
  if (err && err.status === 401) return; // the full-width message says it already
  const message = err && err.message ? err.message : String(err);
  errors.set(key, { message, at: Date.now() });
  renderErrors();
}

function clearError(key) {
  if (errors.delete(key)) renderErrors();
}

function renderErrors() {
  const line = $('#error-line');
  if (errors.size === 0) {
    line.hidden = true;
    line.textContent = '';
    return;
  }
  let newest = null;
  for (const [key, value] of errors) if (!newest || value.at >= newest.value.at) newest = { key, value };
  const more = errors.size > 1 ? ` (+${errors.size - 1} more)` : '';
  line.textContent = `⚠ ${newest.key}: ${newest.value.message}${more} · ${fmtClock(newest.value.at)}`;
  line.title = [...errors].map(([key, value]) => `${key}: ${value.message}`).join('\n');
  line.hidden = false;
}

function noteSync() {
  setText($('#last-sync'), `updated ${fmtClock(Date.now()).slice(0, 8)}`);
}

// ---------------------------------------------------------------------------------------------------------
// Token and API access

function initToken() {
  let fromUrl = null;
  try {
    const params = new URLSearchParams(location.search);
    fromUrl = params.get('token');
    if (params.has('token')) {
      params.delete('token');
      const query = params.toString();
      history.replaceState(
        history.state,
        '',
        `${location.pathname}${query ? `?${query}` : ''}${location.hash}`,
      );
    }
  } catch {
    // an odd URL: keep going without one
  }
  let stored = null;
  try {
    if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
    stored = sessionStorage.getItem(TOKEN_KEY);
  } catch {
    // sessionStorage unavailable (privacy mode): the token lives in memory for this page only
  }
  return fromUrl || stored || null;
}

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || null;
  }
}

async function api(path, { method = 'GET', body } = {}) {
  if (state.authFailed) throw new ApiError('access token required', 401, 'NEKO_ERR_DASHBOARD_TOKEN');
  const headers = { accept: 'application/json' };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(`server unreachable (${err && err.message ? err.message : 'network error'})`, 0);
  }
  if (response.status === 401) {
    showAuthRequired();
    throw new ApiError('access token required', 401, 'NEKO_ERR_DASHBOARD_TOKEN');
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const e = data && typeof data === 'object' ? data.error : null;
    const code = e && e.code ? String(e.code) : null;
    const message = e && e.message ? String(e.message) : response.statusText || 'request failed';
    throw new ApiError(`${response.status}${code ? ` ${code}` : ''}: ${message}`, response.status, code);
  }
  if (data === null || typeof data !== 'object')
    throw new ApiError('the answer is not JSON', response.status);
  return data;
}

/** Runs one named request at a time; failures go to the status line, never uncaught. */
function guarded(key, task) {
  const running = state.inFlight.get(key);
  if (running) return running; // the same request is on its way: share its answer
  const promise = Promise.resolve()
    .then(task)
    .then(
      (result) => {
        clearError(key);
        noteSync();
        return result;
      },
      (err) => {
        reportError(key, err);
        return undefined;
      },
    )
    .finally(() => {
      if (state.inFlight.get(key) === promise) state.inFlight.delete(key);
    });
  state.inFlight.set(key, promise);
  return promise;
}

function showAuthRequired() {
  if (state.authFailed) return;
  state.authFailed = true;
  if (state.stream) {
    state.stream.close();
    state.stream = null;
  }
  clearTimeout(state.reconnectTimer);
  setLive('connecting', 'no access');
  $('#auth-detail').hidden = !state.token;
  $('#auth-required').hidden = false;
  $('#main').hidden = true;
  document.body.classList.add('auth-blocked');
}

// ---------------------------------------------------------------------------------------------------------
// Top bar: overview and counters

function renderCounters() {
  setText($('[data-testid="counter-warn"]'), state.counters.warn);
  setText($('[data-testid="counter-error"]'), state.counters.error);
  $('#counter-warn-button').classList.toggle('is-zero', state.counters.warn === 0);
  $('#counter-error-button').classList.toggle('is-zero', state.counters.error === 0);
}

function bumpCounter(level) {
  if (level !== 'warn' && level !== 'error') return;
  state.counters[level] += 1;
  renderCounters();
}

function renderUptime() {
  const o = state.overview;
  if (!o || !o.server) return;
  const uptime =
    typeof o.server.uptimeMs === 'number' ? o.server.uptimeMs + (Date.now() - state.overviewAt) : null;
  setText($('#server-uptime'), uptime === null ? '—' : fmtDuration(Math.floor(uptime / 1000) * 1000));
}

function renderOverview(o) {
  const server = o.server || {};
  setText($('#server-address'), server.address || '—');
  setText($('#server-version'), server.version ? `v${server.version}` : '');
  const mode = $('#server-mode');
  setText(mode, server.mode || '—');
  setData(mode, 'mode', server.mode || '');
  mode.title = server.mode === 'dev' ? 'nekoconnect dev: plugins reload on change' : 'nekoconnect start';
  if (typeof server.startedAt === 'number') {
    $('#server-uptime').parentElement.title = `Started ${fmtDateTime(server.startedAt)}`;
  }
  renderUptime();
  renderWorkers(o.workers);

  const counters = o.counters || {};
  state.counters.warn = Number(counters.warn) || 0;
  state.counters.error = Number(counters.error) || 0;
  renderCounters();

  const failed = o.plugins && typeof o.plugins.failed === 'number' ? o.plugins.failed : 0;
  const pluginBadge = $('#tab-badge-plugins');
  pluginBadge.hidden = failed === 0;
  setText(pluginBadge, failed);
  pluginBadge.title = `${failed} failed`;
  const sessions = typeof o.sessions === 'number' ? o.sessions : 0;
  const sessionBadge = $('#tab-badge-sessions');
  sessionBadge.hidden = sessions === 0;
  sessionBadge.classList.add('tab-badge-quiet');
  setText(sessionBadge, sessions);
  document.title = `NekoConnect${server.mode ? ` (${server.mode})` : ''} · dashboard`;
}

/** Under --workers: one pill per worker in the top bar, green when ready, with its figures in its title. */
function renderWorkers(workers) {
  let box = $('#server-workers');
  if (!Array.isArray(workers)) {
    if (box) box.remove();
    return;
  }
  if (!box) {
    box = el('span', { class: 'server-workers', id: 'server-workers', dataset: { testid: 'workers' } });
    $('#server-info').append(box);
  }
  box.replaceChildren(
    ...workers.map((w) => {
      const reasons = Array.isArray(w.reasons) && w.reasons.length ? ` · ${w.reasons.join(', ')}` : '';
      const up = typeof w.uptimeMs === 'number' ? ` · up ${fmtDuration(w.uptimeMs)}` : '';
      return el('span', {
        class: `worker-pill${w.ready ? ' is-ready' : ''}`,
        text: `w${w.id}`,
        dataset: { worker: String(w.id), ready: w.ready ? 'yes' : 'no' },
        title: `Worker ${w.id} (pid ${w.pid ?? '?'})${up} · ${fmtInt(w.connections)} connections${reasons}`,
      });
    }),
  );
}

function syncOverview() {
  return guarded('GET /api/overview', async () => {
    const o = await api('api/overview');
    state.overview = o;
    state.overviewAt = Date.now();
    renderOverview(o);
    return o;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Logs

const logs = {
  lastSeq: 0,
  following: true,
  unseen: 0,
  queue: [],
  flushScheduled: false,
  lastFlush: 0,
  search: new WeakMap(), // row -> lowercase searchable text
  plugins: new Set(),
  sessions: new Set(),
  filters: { levels: { info: true, warn: true, error: true }, plugin: '', session: '', text: '' },
  // Repeats of a line (same `run`, numbered by the server) fold into the first shown one, with ×N.
  group: true,
  lastShown: null, // the last row shown, which a repeat folds into
};

function logRow(entry) {
  const level = typeof entry.level === 'string' ? entry.level : 'info';
  const plugin = entry.plugin ? String(entry.plugin) : '';
  const session = entry.session ? String(entry.session) : '';
  const message = entry.message === null || entry.message === undefined ? '' : String(entry.message);
  const run = typeof entry.run === 'number' ? entry.run : entry.seq;
  const row = el('div', {
    class: `log-row level-${level}`,
    dataset: { seq: entry.seq, run, level, plugin, session, count: 1 },
  });
  row.append(el('time', { class: 'log-time', text: fmtClock(entry.time), title: fmtDateTime(entry.time) }));
  row.append(el('span', { class: `badge level-badge level-badge-${level}`, text: level }));
  const tags = el('span', { class: 'log-tags' });
  // Under --workers, on the primary's dashboard: the worker that logged the line.
  if (entry.worker && typeof entry.worker.id === 'number') {
    tags.append(
      el('span', {
        class: 'tag tag-worker',
        text: `w${entry.worker.id}`,
        title: `Worker ${entry.worker.id} (pid ${entry.worker.pid})`,
      }),
    );
  }
  if (plugin) {
    tags.append(
      el('button', {
        type: 'button',
        class: 'tag tag-plugin',
        text: plugin,
        title: `Show only ${plugin}`,
        dataset: { setPlugin: plugin },
      }),
    );
  }
  if (session) {
    tags.append(
      el('button', {
        type: 'button',
        class: 'tag tag-session',
        text: session,
        title: `Show only ${session}`,
        dataset: { setSession: session },
      }),
    );
  }
  row.append(tags);
  const body = el('div', { class: 'log-body' });
  body.append(
    el('span', { class: 'log-message', text: entry.frame ? withoutFrame(message, entry.frame) : message }),
  );
  if (entry.code) body.append(el('span', { class: 'log-code', text: entry.code }));
  body.append(el('span', { class: 'log-count', hidden: true, title: 'The same line, repeated in a row' }));
  if (entry.frame) body.append(codeFrame(entry.frame));
  row.append(body);
  logs.search.set(
    row,
    [message, entry.code || '', plugin, session, entry.frame || '', level].join('\n').toLowerCase(),
  );
  return row;
}

/**
 * The message to show above a code frame: when the message ends with the whole frame (as terminal output
 * does), those last lines are left out, since the frame is shown right below it. Otherwise unchanged.
 */
function withoutFrame(message, frame) {
  const frameLines = String(frame)
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

function rowMatches(row) {
  const f = logs.filters;
  const d = row.dataset;
  if (f.levels[d.level] === false) return false;
  if (f.plugin && d.plugin !== f.plugin) return false;
  if (f.session && d.session !== f.session) return false;
  if (f.text) {
    const text = logs.search.get(row) || '';
    if (!text.includes(f.text)) return false;
  }
  return true;
}

/** Sets how many lines a shown row stands for (×N beside its message when more than one). */
function setRunCount(row, count) {
  if (row.dataset.count === String(count)) return;
  row.dataset.count = String(count);
  const badge = row.querySelector('.log-count');
  badge.hidden = count < 2;
  setText(badge, count < 2 ? '' : `×${fmtInt(count)}`);
}

/**
 * Shows or hides one row, in order: a row the filters keep is shown, unless grouping is on and it repeats
 * the last row shown (same run), which then counts it. Returns whether the row is shown.
 */
function placeRow(row) {
  const keep = rowMatches(row);
  const last = logs.lastShown;
  const folded = keep && logs.group && last !== null && last.dataset.run === row.dataset.run;
  row.classList.toggle('log-folded', folded);
  if (folded) setRunCount(last, Number(last.dataset.count) + 1);
  const show = keep && !folded;
  if (show) {
    setRunCount(row, 1);
    logs.lastShown = row;
  }
  if (row.hidden === show) row.hidden = !show;
  return show;
}

function noteLogTags(entry) {
  let changed = false;
  if (entry.plugin && !logs.plugins.has(String(entry.plugin))) {
    logs.plugins.add(String(entry.plugin));
    changed = true;
  }
  if (entry.session && !logs.sessions.has(String(entry.session))) {
    logs.sessions.add(String(entry.session));
    changed = true;
  }
  return changed;
}

const naturalSort = (a, b) => a.localeCompare(b, 'en', { numeric: true, sensitivity: 'base' });

/** Keeps a <select>'s options equal to "" + values, without losing the chosen value. */
function syncSelect(select, allLabel, values, labels = new Map()) {
  const wanted = [...values];
  if (select.value && !wanted.includes(select.value)) wanted.push(select.value);
  const current = [...select.options].map((o) => o.value);
  const expected = allLabel === null ? wanted : ['', ...wanted];
  const sameValues = current.length === expected.length && current.every((v, i) => v === expected[i]);
  if (sameValues) {
    for (const option of select.options) {
      if (option.value && labels.has(option.value)) setText(option, labels.get(option.value));
    }
    return;
  }
  const chosen = select.value;
  select.replaceChildren();
  if (allLabel !== null) select.append(el('option', { value: '', text: allLabel }));
  for (const value of wanted) select.append(el('option', { value, text: labels.get(value) || value }));
  select.value = chosen;
}

function refreshLogFilterOptions() {
  const greeters = new Set(logs.plugins);
  const labels = new Map();
  for (const p of state.plugins || []) {
    if (p.greeter) {
      greeters.add(p.greeter);
      if (p.name && p.name !== p.greeter) labels.set(p.greeter, `${p.greeter} — ${p.name}`);
    }
  }
  syncSelect($('#filter-plugin'), 'All plugins', [...greeters].sort(naturalSort), labels);
  syncSelect($('#filter-session'), 'All sessions', [...logs.sessions].sort(naturalSort).reverse());
}

function receiveEntries(entries, { live }) {
  let tagsChanged = false;
  for (const entry of entries) {
    if (!entry || typeof entry !== 'object' || typeof entry.seq !== 'number') continue;
    if (entry.seq <= logs.lastSeq) continue; // already shown (a reconnect may replay)
    logs.lastSeq = entry.seq;
    if (live) bumpCounter(entry.level);
    if (noteLogTags(entry)) tagsChanged = true;
    logs.queue.push(entry);
  }
  if (logs.queue.length > MAX_LOG_ROWS) logs.queue.splice(0, logs.queue.length - MAX_LOG_ROWS);
  if (tagsChanged) refreshLogFilterOptions();
  scheduleFlush();
}

function scheduleFlush() {
  if (logs.flushScheduled || logs.queue.length === 0) return;
  logs.flushScheduled = true;
  // At most a few layouts a second however fast lines come; a quiet stream shows each line at once.
  const wait = Math.max(0, logs.lastFlush + FLUSH_EVERY_MS - Date.now());
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    logs.flushScheduled = false;
    logs.lastFlush = Date.now();
    flushLogs();
  };
  setTimeout(() => {
    requestAnimationFrame(run);
    setTimeout(run, 150); // rAF does not run in a background tab
  }, wait);
}

function flushLogs() {
  const list = $('#log-list');
  const entries = logs.queue.splice(0);
  if (entries.length === 0) return;
  const stick = logs.following;
  const fragment = document.createDocumentFragment();
  let visible = 0;
  for (const entry of entries) {
    const row = logRow(entry);
    if (placeRow(row)) visible += 1;
    fragment.append(row);
  }
  list.append(fragment);
  let dropped = false;
  while (list.childElementCount > MAX_LOG_ROWS) {
    list.firstElementChild.remove();
    dropped = true;
  }
  if (dropped && logs.group) refoldLogs();
  if (stick) scrollLogsToBottom();
  else if (visible > 0) {
    logs.unseen += visible;
    showJump();
  }
  updateLogStats();
}

function scrollLogsToBottom() {
  const list = $('#log-list');
  list.scrollTop = list.scrollHeight;
}

function showJump() {
  $('#log-jump').hidden = false;
  setText($('#log-jump-count'), logs.unseen > 0 ? `· ${fmtInt(logs.unseen)}` : '');
}

function hideJump() {
  logs.unseen = 0;
  $('#log-jump').hidden = true;
}

function onLogScroll() {
  const list = $('#log-list');
  if (list.clientHeight === 0) return; // hidden tab
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 32;
  logs.following = atBottom;
  if (atBottom) hideJump();
}

function filtersActive() {
  const f = logs.filters;
  return LEVELS.some((l) => !f.levels[l]) || Boolean(f.plugin || f.session || f.text);
}

/** Places every row again, oldest first: after a filter change, a grouping toggle or trimming. */
function refoldLogs() {
  logs.lastShown = null;
  for (const row of $('#log-list').children) {
    if (row.classList.contains('log-row')) placeRow(row);
  }
}

function applyLogFilters() {
  refoldLogs();
  $('#filter-clear').hidden = !filtersActive();
  setAttr($('#log-group'), 'aria-pressed', logs.group ? 'true' : 'false');
  for (const button of document.querySelectorAll('button[data-filter-level]')) {
    setAttr(button, 'aria-pressed', logs.filters.levels[button.dataset.filterLevel] ? 'true' : 'false');
  }
  if (logs.following) scrollLogsToBottom();
  hideJumpIfBottom();
  updateLogStats();
}

function hideJumpIfBottom() {
  const list = $('#log-list');
  if (list.scrollHeight - list.scrollTop - list.clientHeight < 32) {
    logs.following = true;
    hideJump();
  }
}

function updateLogStats() {
  const list = $('#log-list');
  let total = 0;
  let shown = 0;
  let folded = 0;
  for (const row of list.children) {
    if (!row.classList.contains('log-row')) continue;
    total += 1;
    if (!row.hidden) shown += 1;
    else if (row.classList.contains('log-folded')) {
      shown += 1;
      folded += 1;
    }
  }
  const stats = $('#log-stats');
  const lines = total === shown ? `${fmtInt(total)} lines` : `${fmtInt(shown)} of ${fmtInt(total)} lines`;
  setText(stats, folded > 0 ? `${lines} · ${fmtInt(folded)} repeats folded` : lines);
  const empty = $('#log-empty');
  if (total === 0) {
    empty.hidden = false;
    setText(empty, 'No log line yet. New lines appear here as the server logs them.');
  } else if (shown === 0) {
    empty.hidden = false;
    setText(empty, 'No line matches the filters.');
  } else {
    empty.hidden = true;
  }
}

function setPluginFilter(greeter) {
  const select = $('#filter-plugin');
  if (greeter && ![...select.options].some((o) => o.value === greeter)) {
    logs.plugins.add(greeter);
    refreshLogFilterOptions();
  }
  select.value = greeter;
  logs.filters.plugin = greeter;
}

function setSessionFilter(id) {
  const select = $('#filter-session');
  if (id && ![...select.options].some((o) => o.value === id)) {
    logs.sessions.add(id);
    refreshLogFilterOptions();
  }
  select.value = id;
  logs.filters.session = id;
}

function setupLogControls() {
  const list = $('#log-list');
  list.addEventListener('scroll', onLogScroll, { passive: true });
  list.addEventListener('click', (event) => {
    const target = event.target instanceof Node ? event.target : null;
    const tag =
      target && target.closest ? target.closest('button[data-set-plugin], button[data-set-session]') : null;
    if (!tag) return;
    if (tag.dataset.setPlugin !== undefined) setPluginFilter(tag.dataset.setPlugin);
    if (tag.dataset.setSession !== undefined) setSessionFilter(tag.dataset.setSession);
    applyLogFilters();
  });
  $('#log-jump').addEventListener('click', () => {
    logs.following = true;
    scrollLogsToBottom();
    hideJump();
  });
  for (const button of document.querySelectorAll('button[data-filter-level]')) {
    button.addEventListener('click', () => {
      const level = button.dataset.filterLevel;
      logs.filters.levels[level] = !logs.filters.levels[level];
      applyLogFilters();
    });
  }
  $('#filter-plugin').addEventListener('change', (event) => {
    logs.filters.plugin = event.target.value;
    applyLogFilters();
  });
  $('#filter-session').addEventListener('change', (event) => {
    logs.filters.session = event.target.value;
    applyLogFilters();
  });
  let searchTimer = null;
  $('#filter-text').addEventListener('input', (event) => {
    clearTimeout(searchTimer);
    const value = event.target.value.trim().toLowerCase();
    searchTimer = setTimeout(() => {
      logs.filters.text = value;
      applyLogFilters();
    }, 120);
  });
  $('#log-group').addEventListener('click', () => {
    logs.group = !logs.group;
    applyLogFilters();
  });
  $('#filter-clear').addEventListener('click', () => {
    logs.filters = { levels: { info: true, warn: true, error: true }, plugin: '', session: '', text: '' };
    $('#filter-plugin').value = '';
    $('#filter-session').value = '';
    $('#filter-text').value = '';
    applyLogFilters();
  });
  const onlyLevel = (level) => {
    for (const l of LEVELS) logs.filters.levels[l] = l === level;
    showTab('logs');
    applyLogFilters();
    logs.following = true;
    scrollLogsToBottom();
  };
  $('#counter-warn-button').addEventListener('click', () => onlyLevel('warn'));
  $('#counter-error-button').addEventListener('click', () => onlyLevel('error'));
}

async function loadLogBacklog() {
  const answer = await guarded('GET /api/logs', () => api(`api/logs?limit=${MAX_LOG_ROWS}`));
  if (!answer) return false;
  const entries = Array.isArray(answer.entries) ? answer.entries : [];
  receiveEntries(entries, { live: false });
  if (typeof answer.last === 'number' && answer.last > logs.lastSeq) logs.lastSeq = answer.last;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Live stream (server-sent events)

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function setLive(which, label) {
  const node = $('[data-testid="live"]');
  setData(node, 'state', which === 'live' ? 'live' : 'connecting');
  setText($('#live-label'), label || (which === 'live' ? 'live' : 'connecting…'));
  node.title = which === 'live' ? 'Receiving log lines as they are logged' : 'Waiting for the log stream';
}

function connectEvents() {
  if (state.authFailed) return;
  if (state.stream) state.stream.close();
  clearTimeout(state.reconnectTimer);
  const params = new URLSearchParams({ after: String(logs.lastSeq) });
  if (state.token) params.set('token', state.token);
  let stream;
  try {
    stream = new EventSource(`api/events?${params}`);
  } catch (err) {
    reportError('GET /api/events', err);
    scheduleReconnect();
    return;
  }
  state.stream = stream;
  setLive('connecting', state.everLive ? 'reconnecting…' : 'connecting…');

  stream.addEventListener('open', () => {
    if (state.stream !== stream) return;
    state.everLive = true;
    state.reconnectDelay = 2000;
    clearError('GET /api/events');
    setLive('live');
  });
  stream.addEventListener('hello', (event) => {
    if (state.stream !== stream) return;
    const hello = parseJson(event.data);
    // A server that restarted counts again from 1: start over rather than skip its lines.
    if (hello && typeof hello.last === 'number' && hello.last < logs.lastSeq) restartLogs();
  });
  stream.addEventListener('log', (event) => {
    if (state.stream !== stream) return;
    const entry = parseJson(event.data);
    if (entry) receiveEntries([entry], { live: true });
  });
  stream.addEventListener('error', () => {
    if (state.stream !== stream) return;
    if (stream.readyState === EventSource.CLOSED) {
      // The browser gave up (an HTTP error, or not an event stream): retry ourselves.
      stream.close();
      state.stream = null;
      setLive('connecting', 'reconnecting…');
      reportError('GET /api/events', new Error('the live log stream closed; retrying'));
      scheduleReconnect();
    } else {
      setLive('connecting', 'reconnecting…');
    }
  });
}

function scheduleReconnect() {
  if (state.authFailed) return;
  clearTimeout(state.reconnectTimer);
  const delay = state.reconnectDelay;
  state.reconnectDelay = Math.min(state.reconnectDelay * 2, 15000);
  state.reconnectTimer = setTimeout(async () => {
    // The overview answers 401 when the token is the problem, and re-syncs the counters.
    await syncOverview();
    if (!state.authFailed) connectEvents();
  }, delay);
}

function restartLogs() {
  if (state.stream) state.stream.close();
  state.stream = null;
  logs.lastSeq = 0;
  logs.queue = [];
  $('#log-list').replaceChildren();
  updateLogStats();
  start().catch((err) => reportError('startup', err));
}

// ---------------------------------------------------------------------------------------------------------
// Plugins

const pluginCards = new Map(); // key -> card

function pluginKey(p) {
  return p.greeter ? `g:${p.greeter}` : `d:${p.dir}`;
}

function statBox(label) {
  const value = el('dd', { class: 'stat-value', text: '—' });
  return { root: el('div', { class: 'stat' }, el('dt', { class: 'stat-label', text: label }), value), value };
}

function createPluginCard() {
  const status = el('span', { class: 'badge status-badge' });
  const greeter = el('button', {
    type: 'button',
    class: 'plugin-greeter',
    title: "Show this plugin's log lines",
  });
  const name = el('span', { class: 'plugin-name' });
  const spec = el('span', { class: 'chip', title: 'Version in spec.conf' });
  const code = el('span', { class: 'chip chip-code', title: 'Code version serving (one more per reload)' });
  const logsLink = el('button', {
    type: 'button',
    class: 'button button-quiet button-small',
    text: 'Logs →',
  });
  const dir = el('span', { class: 'plugin-dir mono' });
  const head = el(
    'div',
    { class: 'plugin-head' },
    status,
    greeter,
    name,
    el('span', { class: 'plugin-versions' }, spec, code),
    el('span', { class: 'toolbar-spacer' }),
    dir,
    logsLink,
  );
  const stats = {
    sessions: statBox('Sessions'),
    packets: statBox('Packets'),
    errors: statBox('Errors'),
    p50: statBox('p50'),
    p90: statBox('p90'),
    p99: statBox('p99'),
  };
  const statList = el(
    'dl',
    { class: 'plugin-stats' },
    Object.values(stats).map((s) => s.root),
  );
  const note = el('div', { class: 'plugin-note', hidden: true });
  const errorSlot = el('div', { class: 'plugin-error-slot' });
  const opBody = el('tbody');
  const opTable = el(
    'table',
    { class: 'table op-table' },
    el(
      'thead',
      null,
      el(
        'tr',
        null,
        ['Op', 'Packets', 'p50', 'p90', 'p99'].map((label) =>
          el('th', { class: label === 'Op' ? null : 'num', scope: 'col', text: label }),
        ),
      ),
    ),
    opBody,
  );
  const opBox = el(
    'div',
    { class: 'op-box', hidden: true },
    el('div', { class: 'op-caption', text: 'Per op code: packets handled and handler latency' }),
    opTable,
  );
  const root = el('article', { class: 'plugin-row card' }, head, note, statList, opBox, errorSlot);
  const card = { root, greeterValue: null, errorKey: null };
  const openLogs = () => {
    if (!card.greeterValue) return;
    setPluginFilter(card.greeterValue);
    showTab('logs');
    applyLogFilters();
    logs.following = true;
    scrollLogsToBottom();
  };
  greeter.addEventListener('click', openLogs);
  logsLink.addEventListener('click', openLogs);

  card.update = (p) => {
    const statusText = typeof p.status === 'string' ? p.status : 'unknown';
    setData(root, 'greeter', p.greeter || '');
    setData(root, 'status', statusText);
    setAttr(status, 'class', `badge status-badge status-${statusText}`);
    setText(status, statusText);
    card.greeterValue = p.greeter || null;
    setText(greeter, p.greeter || '(no greeter)');
    greeter.disabled = !p.greeter;
    logsLink.hidden = !p.greeter;
    setText(name, p.name || (p.greeter ? '' : 'spec.conf unreadable'));
    spec.hidden = !p.version;
    setText(spec, p.version ? `spec ${p.version}` : '');
    setText(code, typeof p.codeVersion === 'number' ? `v${p.codeVersion}` : 'not serving');
    code.classList.toggle('chip-off', typeof p.codeVersion !== 'number');
    setText(stats.sessions.value, fmtInt(p.sessions));
    setText(stats.packets.value, fmtInt(p.packets));
    setText(stats.errors.value, fmtInt(p.errors));
    stats.errors.root.classList.toggle('stat-bad', typeof p.errors === 'number' && p.errors > 0);
    const latency = p.latencyMs || {};
    setText(stats.p50.value, fmtLatency(latency.p50));
    setText(stats.p90.value, fmtLatency(latency.p90));
    setText(stats.p99.value, fmtLatency(latency.p99));
    setText(dir, p.dir || '');
    dir.title = p.dir ? `Folder: ${p.dir}` : '';
    statList.hidden = !p.greeter; // a folder without a readable spec.conf never served
    renderOps(opBox, opBody, Array.isArray(p.ops) ? p.ops : []);
    const reloading = statusText === 'reloading' && !p.error;
    note.hidden = !reloading;
    setText(
      note,
      reloading
        ? `Loading a new version${typeof p.codeVersion === 'number' ? ` — v${p.codeVersion} keeps serving meanwhile` : ''}…`
        : '',
    );

    const errorKey = JSON.stringify([p.error, statusText, p.codeVersion]);
    if (errorKey !== card.errorKey) {
      card.errorKey = errorKey;
      errorSlot.replaceChildren(p.error ? pluginError(p, statusText) : '');
    }
  };
  return card;
}

/** The per-op rows of a plugin card: one per op code, then "other" (the ops past the 64 tracked). */
function renderOps(box, body, ops) {
  box.hidden = ops.length === 0;
  const rows = ops
    .filter((o) => o && (typeof o.op === 'number' || o.op === 'other'))
    .map((o) => {
      const latency = o.latencyMs || {};
      const other = o.op === 'other';
      return el(
        'tr',
        { class: 'op-row', dataset: { op: String(o.op) } },
        el('td', {
          class: other ? 'op-code op-other' : 'op-code mono',
          text: other ? 'other' : String(o.op),
          title: other ? 'Every op past the first 64 seen' : null,
        }),
        el('td', { class: 'num op-packets', text: fmtInt(o.packets) }),
        el('td', { class: 'num', text: fmtLatency(latency.p50) }),
        el('td', { class: 'num', text: fmtLatency(latency.p90) }),
        el('td', { class: 'num', text: fmtLatency(latency.p99) }),
      );
    });
  const key = JSON.stringify(ops);
  if (body.dataset.key === key) return;
  body.dataset.key = key;
  body.replaceChildren(...rows);
}

function pluginError(p, status) {
  const e = p.error || {};
  const box = el('div', { class: `plugin-error ${status === 'failed' ? 'is-fatal' : 'is-stale'}` });
  let headline;
  if (status === 'failed')
    headline = p.greeter ? 'Failed to load — not serving (clients get 503)' : 'Cannot read spec.conf';
  else if (typeof p.codeVersion === 'number')
    headline = `last reload failed — v${p.codeVersion} keeps serving`;
  else headline = 'last reload failed';
  const when =
    typeof e.time === 'number'
      ? el('time', { class: 'error-time', text: fmtRelative(e.time), title: fmtDateTime(e.time) })
      : null;
  box.append(
    el(
      'div',
      { class: 'plugin-error-head' },
      el('span', { class: 'plugin-error-title', text: headline }),
      when,
    ),
  );
  const line = el('div', { class: 'plugin-error-line' });
  if (e.code) line.append(el('span', { class: 'error-code', text: e.code }));
  line.append(el('span', { class: 'error-message', text: e.message || '(no message)' }));
  box.append(line);
  if (e.location && e.location.file) {
    const loc = [e.location.file, e.location.line, e.location.column].filter(
      (v) => v !== null && v !== undefined,
    );
    box.append(el('div', { class: 'error-location mono', text: loc.join(':') }));
  }
  if (e.frame) box.append(codeFrame(e.frame));
  if (e.hint)
    box.append(
      el('div', { class: 'error-hint' }, el('span', { class: 'hint-label', text: 'Hint' }), String(e.hint)),
    );
  return box;
}

function renderPlugins(list) {
  const container = $('#plugin-list');
  const seen = new Set();
  const ordered = [];
  for (const p of list) {
    if (!p || typeof p !== 'object') continue;
    const key = pluginKey(p);
    if (seen.has(key)) continue;
    seen.add(key);
    let card = pluginCards.get(key);
    if (!card) {
      card = createPluginCard();
      pluginCards.set(key, card);
    }
    card.update(p);
    ordered.push(card.root);
  }
  for (const [key, card] of pluginCards) {
    if (!seen.has(key)) {
      card.root.remove();
      pluginCards.delete(key);
    }
  }
  const empty = container.querySelector('.empty-state');
  if (ordered.length === 0) {
    if (!empty) container.append(el('div', { class: 'empty-state', text: 'No plugin folder was found.' }));
  } else if (empty) empty.remove();
  ordered.forEach((node, i) => {
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
  });

  const count = { loaded: 0, failed: 0, reloading: 0 };
  for (const p of list) if (p && count[p.status] !== undefined) count[p.status] += 1;
  const staleErrors = list.filter((p) => p && p.status !== 'failed' && p.error).length;
  const parts = [`${count.loaded} loaded`];
  if (count.reloading) parts.push(`${count.reloading} reloading`);
  parts.push(`${count.failed} failed`);
  if (staleErrors) parts.push(`${staleErrors} with a failed reload`);
  setText($('#plugin-summary'), parts.join(' · '));
}

function fetchPlugins() {
  return guarded('GET /api/plugins', async () => {
    const answer = await api('api/plugins');
    const list = Array.isArray(answer.plugins) ? answer.plugins : [];
    state.plugins = list;
    refreshLogFilterOptions();
    return list;
  });
}

/** A placeholder in a container that has nothing to show yet, after a failed first load. */
function showLoadFailure(container, what) {
  if (container.childElementCount > 0 && !container.querySelector(':scope > .load-failed')) return;
  container.replaceChildren(
    el('div', {
      class: 'empty-state load-failed',
      text: `Could not load ${what}; retrying. The reason is at the bottom of the page.`,
    }),
  );
}

async function refreshPluginsPanel() {
  const list = await fetchPlugins();
  if (list) {
    const stale = $('#plugin-list > .load-failed');
    if (stale) stale.remove();
    renderPlugins(list);
  } else if (!state.authFailed) showLoadFailure($('#plugin-list'), 'the plugins');
}

// ---------------------------------------------------------------------------------------------------------
// Sessions

const sessionRows = new Map(); // id -> row

function createSessionRow(id) {
  const cells = {
    id: el('td', { class: 'mono session-id', text: id }),
    remote: el('td', { class: 'mono' }),
    since: el('td'),
    state: el('td'),
    plugins: el('td', { class: 'session-plugins' }),
    groups: el('td', { class: 'session-groups' }),
    packetsIn: el('td', { class: 'num' }),
    packetsOut: el('td', { class: 'num' }),
  };
  const stateBadge = el('span', { class: 'badge' });
  cells.state.append(stateBadge);
  const logsButton = el('button', {
    type: 'button',
    class: 'button button-quiet button-small',
    text: 'Logs',
    title: "Show this session's log lines",
  });
  logsButton.addEventListener('click', () => {
    setSessionFilter(id);
    showTab('logs');
    applyLogFilters();
    logs.following = true;
    scrollLogsToBottom();
  });
  const detailButton = el('button', {
    type: 'button',
    class: 'button button-quiet button-small session-state-toggle',
    text: 'State',
    title: "Show each plugin's state and groups for this session",
    'aria-expanded': 'false',
  });
  const detailCell = el('td', { class: 'session-detail-cell', colspan: '9' });
  const detailRow = el('tr', { class: 'session-detail', dataset: { session: id }, hidden: true }, detailCell);
  detailButton.addEventListener('click', () => {
    const open = detailRow.hidden;
    detailRow.hidden = !open;
    setAttr(detailButton, 'aria-expanded', open ? 'true' : 'false');
    if (open) {
      sessionsOpen.add(id);
      loadSessionDetail(id);
    } else sessionsOpen.delete(id);
  });
  const close = el('button', {
    type: 'button',
    class: 'button button-danger button-small close-session',
    text: 'Close',
  });
  let armTimer = null;
  const disarm = () => {
    clearTimeout(armTimer);
    close.classList.remove('is-armed');
    close.disabled = false;
    setText(close, 'Close');
  };
  close.addEventListener('click', async () => {
    if (!close.classList.contains('is-armed')) {
      close.classList.add('is-armed');
      setText(close, 'Confirm close');
      armTimer = setTimeout(disarm, 6000);
      return;
    }
    clearTimeout(armTimer);
    close.disabled = true;
    setText(close, 'Closing…');
    const key = `POST /api/sessions/${id}/close`;
    try {
      await api(`api/sessions/${encodeURIComponent(id)}/close`, { method: 'POST', body: {} });
      clearError(key);
      row.classList.add('is-closing');
    } catch (err) {
      if (err && err.status === 404) row.classList.add('is-closing');
      else reportError(key, err);
      disarm();
    }
    refreshSessionsPanel();
  });
  const actions = el('td', { class: 'actions' }, detailButton, logsButton, close);
  const row = el('tr', { class: 'session-row', dataset: { session: id } }, Object.values(cells), actions);
  return { row, cells, stateBadge, pluginKey: null, groupKey: null, detailRow, detailCell };
}

/** Sessions whose state is shown (their detail row is open). */
const sessionsOpen = new Set();

/** Fetches one session's plugin state and groups into its detail row. */
async function loadSessionDetail(id) {
  const entry = sessionRows.get(id);
  if (!entry || entry.detailRow.hidden) return;
  const key = `GET /api/sessions/${id}`;
  await guarded(key, async () => {
    let detail;
    try {
      detail = await api(`api/sessions/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err && err.status === 404) {
        entry.detailCell.replaceChildren(el('div', { class: 'muted', text: 'This session has closed.' }));
        return;
      }
      throw err;
    }
    renderSessionDetail(entry, detail);
  });
}

function renderSessionDetail(entry, detail) {
  const plugins = Array.isArray(detail.plugins) ? detail.plugins : [];
  const textKey = JSON.stringify(plugins);
  if (entry.detailKey === textKey) return;
  entry.detailKey = textKey;
  if (plugins.length === 0) {
    entry.detailCell.replaceChildren(
      el('div', { class: 'muted', text: 'This session has not talked to any plugin yet.' }),
    );
    return;
  }
  entry.detailCell.replaceChildren(
    ...plugins.map((p) => {
      const groups = Array.isArray(p.groups) ? p.groups.map(String) : [];
      const problems = Array.isArray(p.stateProblems) ? p.stateProblems.map(String) : [];
      return el(
        'section',
        { class: 'session-plugin', dataset: { greeter: String(p.greeter) } },
        el(
          'div',
          { class: 'session-plugin-head' },
          el('span', { class: 'session-plugin-greeter', text: String(p.greeter) }),
          el('span', { class: 'muted', text: 'groups' }),
          groups.length
            ? groups.map((g) => el('span', { class: 'chip session-group', text: g }))
            : el('span', { class: 'muted', text: 'none' }),
        ),
        problems.length
          ? el(
              'div',
              { class: 'state-problems' },
              el('span', { class: 'hint-label', text: 'Not JSON' }),
              problems.join('; '),
            )
          : null,
        el('div', { class: 'session-state' }, jsonBlock(p.state)),
      );
    }),
  );
}

/** How the Sessions tab names the faults the server closes sessions for. */
const FAULT_NAMES = {
  NEKO_ERR_SESSION_SLOW_READER: 'slow readers',
  NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT: 'handshake timeouts',
  NEKO_ERR_SESSION_IDLE_TIMEOUT: 'idle timeouts',
  NEKO_ERR_AUTH_BAD_HASH: 'bad hashes',
  NEKO_ERR_AUTH_FIRST_PACKET: 'bad first packets',
};

/** "closed by the server: 3 slow readers, 1 handshake timeouts", or '' when none was. */
function faultSummary(faults) {
  const parts = Object.entries(faults)
    .filter(([, n]) => Number(n) > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, n]) => `${fmtInt(Number(n))} ${FAULT_NAMES[code] || code}`);
  return parts.length === 0 ? '' : `closed by the server: ${parts.join(', ')}`;
}

function renderSessions(list, faults = {}) {
  const container = $('#session-list');
  let table = container.querySelector('table');
  let tbody = table ? table.tBodies[0] : null;
  if (!table) {
    const head = el(
      'tr',
      null,
      ['Session', 'Remote address', 'Connected', 'State', 'Plugins', 'Groups', 'In', 'Out', ''].map(
        (label, i) => el('th', { class: i === 6 || i === 7 ? 'num' : null, scope: 'col', text: label }),
      ),
    );
    tbody = el('tbody');
    table = el('table', { class: 'table sessions-table' }, el('thead', null, head), tbody);
    container.append(table);
    container.append(el('div', { class: 'empty-state', text: 'No client is connected.', hidden: true }));
  }
  const empty = container.querySelector('.empty-state');
  const now = Date.now();
  const seen = new Set();
  const ordered = [];
  for (const s of list) {
    if (!s || typeof s !== 'object' || s.id === null || s.id === undefined) continue;
    const id = String(s.id);
    if (seen.has(id)) continue;
    seen.add(id);
    let entry = sessionRows.get(id);
    if (!entry) {
      entry = createSessionRow(id);
      sessionRows.set(id, entry);
    }
    const { cells, stateBadge } = entry;
    // The address, and what carries the session (tcp, tls, ws, wss) when the server says.
    const worker = s.worker && typeof s.worker.id === 'number' ? ` · worker ${s.worker.id}` : '';
    setText(cells.remote, `${s.remoteAddress || '—'}${s.transport ? ` · ${s.transport}` : ''}${worker}`);
    if (typeof s.connectedAt === 'number') {
      setText(cells.since, fmtRelative(s.connectedAt, now));
      cells.since.title = fmtDateTime(s.connectedAt);
    } else setText(cells.since, '—');
    const st = typeof s.state === 'string' ? s.state : 'unknown';
    setText(stateBadge, st);
    setAttr(stateBadge, 'class', `badge state-badge state-${st}`);
    stateBadge.title = st === 'handshake' ? 'Not authenticated yet' : 'Authenticated';
    const plugins = Array.isArray(s.plugins) ? s.plugins.map(String) : [];
    const pk = plugins.join('\n');
    if (pk !== entry.pluginKey) {
      entry.pluginKey = pk;
      cells.plugins.replaceChildren(
        ...(plugins.length
          ? plugins.map((g) => el('span', { class: 'chip', text: g }))
          : [el('span', { class: 'muted', text: '—' })]),
      );
    }
    const groups = s.groups && typeof s.groups === 'object' ? Object.entries(s.groups) : [];
    const gk = JSON.stringify(groups);
    if (gk !== entry.groupKey) {
      entry.groupKey = gk;
      const chips = groups.flatMap(([greeter, names]) =>
        (Array.isArray(names) ? names : []).map((name) =>
          el('span', {
            class: 'chip session-group',
            text: `${greeter}: ${name}`,
            title: `Group of ${greeter}`,
          }),
        ),
      );
      cells.groups.replaceChildren(...(chips.length ? chips : [el('span', { class: 'muted', text: '—' })]));
    }
    setText(cells.packetsIn, fmtInt(s.packetsIn));
    setText(cells.packetsOut, fmtInt(s.packetsOut));
    ordered.push(entry.row, entry.detailRow);
    if (!entry.detailRow.hidden) loadSessionDetail(id);
    if (!logs.sessions.has(id)) {
      logs.sessions.add(id);
      refreshLogFilterOptions();
    }
  }
  for (const [id, entry] of sessionRows) {
    if (!seen.has(id)) {
      entry.row.remove();
      entry.detailRow.remove();
      sessionRows.delete(id);
      sessionsOpen.delete(id);
    }
  }
  ordered.forEach((node, i) => {
    if (tbody.children[i] !== node) tbody.insertBefore(node, tbody.children[i] || null);
  });
  const count = ordered.length / 2;
  table.hidden = count === 0;
  empty.hidden = count !== 0;
  const open = list.filter((s) => s && s.state === 'open').length;
  const connected =
    count === 0
      ? ''
      : `${count} connected · ${open} authenticated${count > open ? ` · ${count - open} in handshake` : ''}`;
  setText($('#session-summary'), [connected, faultSummary(faults)].filter(Boolean).join(' · '));
}

async function refreshSessionsPanel() {
  const done = await guarded('GET /api/sessions', async () => {
    const answer = await api('api/sessions');
    const stale = $('#session-list > .load-failed');
    if (stale) stale.remove();
    renderSessions(Array.isArray(answer.sessions) ? answer.sessions : [], answer.faultCloses || {});
    return true;
  });
  if (!done && !state.authFailed) showLoadFailure($('#session-list'), 'the sessions');
}

// ---------------------------------------------------------------------------------------------------------
// Data (a plugin's datastore, read-only)

const data = { greeter: '', offset: 0, total: 0, request: 0, query: '', cellsRequest: 0 };

function servingGreeters() {
  return (state.plugins || [])
    .filter((p) => p && p.greeter && p.status !== 'failed')
    .map((p) => p.greeter)
    .sort(naturalSort);
}

async function openDataPanel() {
  await fetchPlugins();
  const select = $('#data-plugin');
  const greeters = servingGreeters();
  const labels = new Map();
  for (const p of state.plugins || [])
    if (p.greeter && p.name && p.name !== p.greeter) labels.set(p.greeter, `${p.greeter} — ${p.name}`);
  if (greeters.length === 0) {
    select.replaceChildren(el('option', { value: '', text: 'No loaded plugin' }));
    select.disabled = true;
    data.greeter = '';
    renderDocuments(null);
    renderCells(null);
    return;
  }
  select.disabled = false;
  if (select.value && !greeters.includes(select.value)) select.value = '';
  syncSelect(select, null, greeters, labels);
  if (!greeters.includes(data.greeter)) {
    data.greeter = greeters[0];
    data.offset = 0;
  }
  select.value = data.greeter;
  await Promise.all([loadDocuments(), loadCells()]);
}

/** The plugin's key-value cells, all of them (a store has few). */
async function loadCells() {
  if (!data.greeter) return;
  const request = ++data.cellsRequest;
  const key = 'GET /api/plugins/…/cells';
  try {
    const answer = await api(`api/plugins/${encodeURIComponent(data.greeter)}/cells?limit=200`);
    if (request !== data.cellsRequest) return;
    clearError(key);
    renderCells(answer);
  } catch (err) {
    if (request !== data.cellsRequest) return;
    reportError(key, err);
    renderCells(null);
  }
}

function renderCells(answer) {
  const list = $('#cell-list');
  const cells = answer && Array.isArray(answer.cells) ? answer.cells : [];
  const total = answer && typeof answer.total === 'number' ? answer.total : 0;
  setText(
    $('#data-cells-total'),
    answer
      ? `${fmtInt(total)} ${total === 1 ? 'cell' : 'cells'}${total > cells.length ? `, first ${cells.length} shown` : ''}`
      : '',
  );
  if (!answer || cells.length === 0) {
    list.replaceChildren(
      el('div', {
        class: 'empty-state empty-small',
        text: answer ? 'No cell stored.' : data.greeter ? 'Could not read the cells.' : '',
      }),
    );
    return;
  }
  list.replaceChildren(
    ...cells.map((c) =>
      el(
        'div',
        { class: 'cell-row', dataset: { cell: String(c.name) } },
        el('span', { class: 'cell-name mono', text: String(c.name) }),
        jsonBlock(c.value),
      ),
    ),
  );
}

function showQueryError(message) {
  const box = $('#data-query-error');
  box.hidden = !message;
  setText(box, message || '');
  $('#data-query').classList.toggle('is-invalid', Boolean(message));
}

function renderDocuments(answer) {
  const list = $('#doc-list');
  const total = answer && typeof answer.total === 'number' ? answer.total : 0;
  const offset = answer && typeof answer.offset === 'number' ? answer.offset : 0;
  const docs = answer && Array.isArray(answer.documents) ? answer.documents : [];
  data.total = total;
  setText($('#data-total'), total);
  setText(
    $('#data-total-unit'),
    `${total === 1 ? 'document' : 'documents'}${answer && answer.query ? ' match the filter' : ''}`,
  );
  const range = $('#data-range');
  if (docs.length === 0) setText(range, total === 0 ? '0 of 0' : `– of ${fmtInt(total)}`);
  else setText(range, `${fmtInt(offset + 1)}–${fmtInt(offset + docs.length)} of ${fmtInt(total)}`);
  const noPrev = !answer || offset <= 0;
  const noNext = !answer || offset + docs.length >= total;
  $('#data-prev').disabled = noPrev;
  $('#data-next').disabled = noNext;
  $('#data-prev-bottom').disabled = noPrev;
  $('#data-next-bottom').disabled = noNext;
  setText($('#data-range-bottom'), range.textContent);
  $('#data-pager-bottom').hidden = docs.length < 6 || (noPrev && noNext);
  if (!answer) {
    list.replaceChildren(
      el('div', {
        class: 'empty-state',
        text: data.greeter ? 'Could not read this datastore.' : 'No loaded plugin, so no datastore to show.',
      }),
    );
    return;
  }
  if (docs.length === 0) {
    list.replaceChildren(
      el('div', {
        class: 'empty-state',
        text: answer.query
          ? 'No document matches the filter.'
          : `${answer.greeter || data.greeter} has no document in its datastore.`,
      }),
    );
    return;
  }
  list.replaceChildren(
    ...docs.map((doc, i) => {
      const id = doc && typeof doc === 'object' && doc._id !== undefined ? String(doc._id) : null;
      return el(
        'article',
        { class: 'doc-row card', dataset: { id: id || '' } },
        el(
          'div',
          { class: 'doc-head' },
          el('span', { class: 'doc-index', text: `#${offset + i + 1}` }),
          id ? el('span', { class: 'doc-id mono', text: `_id ${id}` }) : null,
        ),
        jsonBlock(doc),
      );
    }),
  );
}

async function loadDocuments(scrollUp = false) {
  if (!data.greeter) return;
  const request = ++data.request;
  const greeter = data.greeter;
  const params = new URLSearchParams({ offset: String(data.offset), limit: String(DOCS_PAGE) });
  if (data.query) params.set('query', data.query);
  const key = 'GET /api/plugins/…/documents';
  try {
    const answer = await api(`api/plugins/${encodeURIComponent(greeter)}/documents?${params}`);
    if (request !== data.request) return;
    clearError(key);
    showQueryError('');
    noteSync();
    const docs = Array.isArray(answer.documents) ? answer.documents : [];
    if (docs.length === 0 && data.offset > 0 && typeof answer.total === 'number' && answer.total > 0) {
      // The store shrank under us: show its last page instead of an empty one.
      data.offset = Math.max(0, Math.floor((answer.total - 1) / DOCS_PAGE) * DOCS_PAGE);
      await loadDocuments();
      return;
    }
    renderDocuments(answer);
    if (scrollUp) $('#panel-data').scrollTop = 0;
  } catch (err) {
    if (request !== data.request) return;
    if (err && err.status === 400 && err.code === 'NEKO_ERR_STORAGE_QUERY') {
      // The filter is refused: say why beside it, not as a failure of the page.
      clearError(key);
      showQueryError(err.message);
      showRefusedFilter();
      return;
    }
    reportError(key, err);
    renderDocuments(null);
  }
}

function showRefusedFilter() {
  renderDocuments(null);
  $('#doc-list').replaceChildren(
    el('div', { class: 'empty-state', text: 'Fix the filter to see documents.' }),
  );
}

function setupDataControls() {
  $('#data-plugin').addEventListener('change', (event) => {
    data.greeter = event.target.value;
    data.offset = 0;
    loadDocuments();
    loadCells();
  });
  const prev = (event) => {
    data.offset = Math.max(0, data.offset - DOCS_PAGE);
    loadDocuments(event.currentTarget.id === 'data-prev-bottom');
  };
  const next = (event) => {
    if (data.offset + DOCS_PAGE >= data.total) return;
    data.offset += DOCS_PAGE;
    loadDocuments(event.currentTarget.id === 'data-next-bottom');
  };
  $('#data-prev').addEventListener('click', prev);
  $('#data-next').addEventListener('click', next);
  $('#data-prev-bottom').addEventListener('click', prev);
  $('#data-next-bottom').addEventListener('click', next);
  $('#data-refresh').addEventListener('click', () => {
    openDataPanel();
  });
  $('#data-query-form').addEventListener('submit', (event) => {
    event.preventDefault();
    data.query = $('#data-query').value.trim();
    data.offset = 0;
    $('#data-query-clear').hidden = !data.query;
    loadDocuments();
  });
  $('#data-query-clear').addEventListener('click', () => {
    $('#data-query').value = '';
    data.query = '';
    data.offset = 0;
    $('#data-query-clear').hidden = true;
    showQueryError('');
    loadDocuments();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Settings

const SETTING_GROUPS = [
  ['server', 'Server'],
  ['cluster', 'Cluster'],
  ['limits', 'Limits'],
  ['dashboard', 'Dashboard'],
];

const SETTING_LABELS = {
  host: 'Host',
  port: 'Port',
  tls: 'TLS',
  plugins: 'Plugins folder',
  dataDir: 'Data folder',
  storage: 'Storage',
  processId: 'Process id',
  via: 'Bus',
  redis: 'Redis',
  cacheDir: 'Bundle cache',
  configFile: 'Config file',
  maxPacketBytes: 'Largest packet',
  handshakeTimeoutMs: 'Handshake timeout',
  idleTimeoutMs: 'Idle timeout',
  maxConnections: 'Max connections',
  nonceWindow: 'Nonce window',
  recvTimeoutMs: 'Receive timeout',
  shutdownTimeoutMs: 'Shutdown timeout',
  maxPendingBytes: 'Max queued bytes',
  drainTimeoutMs: 'Drain timeout',
  tokenRequired: 'Token required',
};

const SETTING_HELP = {
  'server.host': 'Address the TCP server listens on',
  'server.port': 'TCP port of the server',
  'server.tls': 'TLS key and certificate, or false for plain TCP',
  'server.plugins': 'The plugins directory, or a single plugin folder',
  'server.dataDir':
    'Where plugins keep their data (one <greeter>.db file per plugin); on PostgreSQL, the cache only',
  'server.storage': 'The storage backend: nedb files, or PostgreSQL (its URL without the password)',
  'server.cacheDir':
    'Where TypeScript plugins are bundled to (--cache-dir; none: a temp folder of its own); plugin folders stay untouched',
  'server.configFile': 'The config file read at start, if any',
  'cluster.name': "The cluster's name (--cluster-name): its Redis keys and channels start with nc:<name>:",
  'cluster.processId':
    "This process's id, random at each start: what the cluster's other processes know it by",
  'cluster.hostname': 'The machine this process runs on',
  'cluster.via': 'What carries the bus: Redis, or IPC through the primary under --workers',
  'cluster.redis': 'The Redis server the processes meet on (its URL without the password)',
  'limits.maxPacketBytes': 'Largest packet accepted; bigger ones get 413 and the connection ends',
  'limits.handshakeTimeoutMs': 'Time a new connection has to authenticate (then 408)',
  'limits.idleTimeoutMs': 'Close a session that sends nothing for this long (408); 0 is off',
  'limits.maxConnections': 'Connections at once',
  'limits.nonceWindow': 'Unused server randoms remembered per session',
  'limits.recvTimeoutMs': 'Default wait of ctx.recv()',
  'limits.shutdownTimeoutMs': 'On shutdown, time running handlers get before connections are cut',
  'limits.maxPendingBytes': 'Bytes queued for one client before it is closed as a slow reader',
  'limits.drainTimeoutMs': 'On a drain (SIGUSR2), time conversations get before the shutdown',
  'dashboard.host': 'Address this dashboard listens on',
  'dashboard.port': 'HTTP port of this dashboard',
  'dashboard.tokenRequired':
    'Whether requests need the access token (always, unless started with --dashboard-open)',
};

const isSecretKey = (key) => /secret/i.test(key);

function humanLabel(key) {
  if (SETTING_LABELS[key]) return SETTING_LABELS[key];
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function withoutSecrets(value) {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) if (!isSecretKey(k)) out[k] = withoutSecrets(v);
    return out;
  }
  return value;
}

function settingValue(key, value) {
  let raw;
  let human = null;
  let kind = typeof value;
  if (value === null || value === undefined) {
    raw = 'none';
    kind = 'null';
  } else if (typeof value === 'object') raw = JSON.stringify(withoutSecrets(value));
  else raw = String(value);
  if (typeof value === 'number') {
    if (key === 'idleTimeoutMs' && value === 0) human = 'off';
    else if (/Ms$/.test(key)) human = value === 0 ? 'none' : fmtDuration(value);
    else if (/Bytes$/.test(key)) human = value >= 1024 ? fmtBytes(value) : null;
    else if (Math.abs(value) >= 10000 && !/port$/i.test(key)) human = fmtInt(value);
  }
  return { raw, human, kind };
}

function renderSettings(settings) {
  const container = $('#settings');
  const groups = [...SETTING_GROUPS];
  for (const key of Object.keys(settings)) {
    if (
      !isSecretKey(key) &&
      !groups.some(([g]) => g === key) &&
      settings[key] &&
      typeof settings[key] === 'object'
    ) {
      groups.push([key, humanLabel(key)]);
    }
  }
  const sections = [];
  for (const [group, title] of groups) {
    const values = settings[group];
    if (!values || typeof values !== 'object') continue;
    const list = el('dl', { class: 'settings-list' });
    for (const [key, value] of Object.entries(values)) {
      if (isSecretKey(key)) continue;
      const { raw, human, kind } = settingValue(key, value);
      list.append(
        el(
          'div',
          { class: 'setting', title: SETTING_HELP[`${group}.${key}`] || null },
          el(
            'dt',
            null,
            el('span', { class: 'setting-label', text: humanLabel(key) }),
            el('code', { class: 'setting-key', text: key }),
          ),
          el(
            'dd',
            null,
            el('span', {
              class: `setting-value kind-${kind}`,
              dataset: { setting: `${group}.${key}` },
              text: raw,
            }),
            human ? el('span', { class: 'setting-human', text: human }) : null,
          ),
        ),
      );
    }
    sections.push(el('section', { class: 'settings-group card' }, el('h3', { text: title }), list));
  }
  container.replaceChildren(...sections);
  if (sections.length === 0)
    container.append(el('div', { class: 'empty-state', text: 'No setting to show.' }));
}

async function loadSettings() {
  const done = await guarded('GET /api/settings', async () => {
    const settings = await api('api/settings');
    renderSettings(settings);
    return true;
  });
  if (!done && !state.authFailed) showLoadFailure($('#settings'), 'the settings');
}

// ---------------------------------------------------------------------------------------------------------
// Tabs and timers

function showTab(name) {
  if (!TABS.includes(name)) name = 'logs';
  const changed = state.tab !== name;
  state.tab = name;
  for (const button of document.querySelectorAll('[data-tab]')) {
    const active = button.dataset.tab === name;
    setAttr(button, 'aria-selected', active ? 'true' : 'false');
    button.classList.toggle('is-active', active);
    button.tabIndex = active ? 0 : -1;
  }
  for (const tab of TABS) {
    const panel = document.getElementById(`panel-${tab}`);
    if (panel) panel.hidden = tab !== name;
  }
  try {
    const hash = name === 'logs' ? '' : `#${name}`;
    if (location.hash !== hash)
      history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
  } catch {
    // not important
  }
  if (changed || !state.tabShownOnce) onTabShown(name);
  state.tabShownOnce = true;
}

function onTabShown(name) {
  if (state.authFailed) return;
  if (name === 'logs') {
    if (logs.following) scrollLogsToBottom();
  } else if (name === 'plugins') refreshPluginsPanel();
  else if (name === 'sessions') refreshSessionsPanel();
  else if (name === 'data') openDataPanel();
  else if (name === 'settings') loadSettings();
}

function setupTabs() {
  const buttons = [...document.querySelectorAll('[data-tab]')];
  for (const button of buttons) button.addEventListener('click', () => showTab(button.dataset.tab));
  const nav = $('.tabs');
  nav.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
    const i = TABS.indexOf(state.tab);
    const next = TABS[(i + (event.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
    showTab(next);
    const button = document.querySelector(`[data-tab="${next}"]`);
    if (button) button.focus();
  });
}

function pageVisible() {
  return document.visibilityState !== 'hidden';
}

function startTimers() {
  setInterval(() => {
    if (state.authFailed || !pageVisible()) return;
    syncOverview();
  }, OVERVIEW_EVERY_MS);
  setInterval(() => {
    if (state.authFailed || !pageVisible()) return;
    if (state.tab === 'plugins') refreshPluginsPanel();
    else if (state.tab === 'sessions') refreshSessionsPanel();
    else if (state.tab === 'settings' && $('#settings > .load-failed')) loadSettings();
  }, PANEL_EVERY_MS);
  setInterval(() => {
    renderUptime();
    if (errors.size) renderErrors();
  }, 1000);
  document.addEventListener('visibilitychange', () => {
    if (pageVisible() && !state.authFailed) {
      syncOverview();
      onTabShown(state.tab);
    }
  });
}

function setupAuthForm() {
  $('#auth-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('#auth-token').value.trim();
    if (!value) return;
    // Through the URL, as the server printed it: the page stores it and takes it out of the address bar.
    location.search = `?token=${encodeURIComponent(value)}`;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Start: overview first (counters), then the log backlog (its `last`), then live lines after it.

async function start() {
  await syncOverview();
  if (state.authFailed) return;
  await loadLogBacklog();
  if (state.authFailed) return;
  connectEvents();
}

function main() {
  $('#boot-note').remove();
  state.token = initToken();
  setupTabs();
  setupLogControls();
  setupDataControls();
  setupAuthForm();
  renderCounters();
  updateLogStats();
  const initial = location.hash.replace(/^#/, '');
  showTab(TABS.includes(initial) ? initial : 'logs');
  window.addEventListener('unhandledrejection', (event) => {
    event.preventDefault();
    reportError('unexpected', event.reason);
  });
  fetchPlugins(); // for the plugin filter's options; the logs wait for nothing else
  start().catch((err) => reportError('startup', err));
  startTimers();
}

main();
