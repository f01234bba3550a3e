/**
 * The live log: the backlog first (after the overview, for the counters),
 * then the event stream from the last line held, reconnecting with a
 * growing delay when it drops. A server that restarted (its `hello` names a
 * lower last line) starts the log over.
 */
import { api, parseJson, streamUrl, type LogEntry } from './api.js';
import { clearLogs, lastLogSeq, MAX_LOG_ROWS, noteLastSeq, receiveEntries } from './log-store.js';
import { app, clearError, guarded, reportError } from './state.js';
import { syncOverview } from './sync.js';

const STREAM_KEY = 'GET /api/events';

let stream: EventSource | null = null;
let everLive = false;
let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
let reconnectDelay = 2000;

function setLive(state: 'live' | 'connecting', label?: string): void {
  app.update({ live: { state, label: label ?? (state === 'live' ? 'live' : 'connecting…') } });
}

async function loadBacklog(): Promise<void> {
  const answer = await guarded('GET /api/logs', () => api.logs(MAX_LOG_ROWS));
  if (answer === undefined) return;
  receiveEntries(Array.isArray(answer.entries) ? answer.entries : [], false);
  if (typeof answer.last === 'number') noteLastSeq(answer.last);
}

/** Overview first (counters), then the backlog (its `last`), then live lines after it. */
export async function startLive(): Promise<void> {
  await syncOverview();
  if (app.value.authFailed) return;
  await loadBacklog();
  if (app.value.authFailed) return;
  connect();
}

function stop(): void {
  stream?.close();
  stream = null;
  clearTimeout(reconnectTimer);
}

// A refused token stops the stream for good.
app.subscribe(() => {
  if (app.value.authFailed && (stream !== null || reconnectTimer !== undefined)) {
    stop();
    reconnectTimer = undefined;
  }
});

function connect(): void {
  if (app.value.authFailed) return;
  stop();
  let source: EventSource;
  try {
    source = new EventSource(streamUrl('api/events', { after: String(lastLogSeq()) }));
  } catch (err) {
    reportError(STREAM_KEY, err);
    scheduleReconnect();
    return;
  }
  stream = source;
  setLive('connecting', everLive ? 'reconnecting…' : 'connecting…');

  source.addEventListener('open', () => {
    if (stream !== source) return;
    everLive = true;
    reconnectDelay = 2000;
    clearError(STREAM_KEY);
    setLive('live');
  });
  source.addEventListener('hello', (event) => {
    if (stream !== source) return;
    const hello = parseJson<{ last?: unknown }>((event as MessageEvent<string>).data);
    if (hello !== null && typeof hello.last === 'number' && hello.last < lastLogSeq()) restart();
  });
  source.addEventListener('log', (event) => {
    if (stream !== source) return;
    const entry = parseJson<LogEntry>((event as MessageEvent<string>).data);
    if (entry !== null) receiveEntries([entry], true);
  });
  source.addEventListener('error', () => {
    if (stream !== source) return;
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (an HTTP error, or not an event stream): retry here.
      source.close();
      stream = null;
      setLive('connecting', 'reconnecting…');
      reportError(STREAM_KEY, new Error('the live log stream closed; retrying'));
      scheduleReconnect();
    } else {
      setLive('connecting', 'reconnecting…');
    }
  });
}

function scheduleReconnect(): void {
  if (app.value.authFailed) return;
  clearTimeout(reconnectTimer);
  const delay = reconnectDelay;
  reconnectDelay = Math.min(reconnectDelay * 2, 15000);
  reconnectTimer = setTimeout(async () => {
    // The overview answers 401 when the token is the problem, and re-syncs the counters.
    await syncOverview();
    if (!app.value.authFailed) connect();
  }, delay);
}

/** A server that restarted counts again from 1: start over rather than skip its lines. */
function restart(): void {
  stream?.close();
  stream = null;
  clearLogs();
  startLive().catch((err: unknown) => reportError('startup', err));
}
