/**
 * Every call the page makes to the dashboard's API (docs/dashboard.md), typed
 * with the server's own types, and the URLs of its event streams. Each
 * request carries the access token; a 401 shows the page's "access token
 * needed" box and stops all further requests.
 */
import type { ErrorView } from '../../src/dashboard/error-view.js';
import type { LogEntry } from '../../src/dashboard/log-buffer.js';
import type { CellsPage, DocumentsPage, SessionsView } from '../../src/dashboard/source.js';
import type { PluginView, SessionDetailView, SettingsView } from '../../src/dashboard/views.js';
import type {
  PlaygroundClient,
  PlaygroundEvent,
  PlaygroundInfo,
  PlaygroundSend,
  PlaygroundTest,
} from '../../src/playground/wire.js';
import type { WorkerTag } from '../../src/dashboard/source.js';
import { app, type Overview } from './state.js';

export type { ErrorView, LogEntry, PluginView, SessionDetailView, SettingsView, CellsPage, DocumentsPage };

/** A failed request: its HTTP status (0 when the server is unreachable) and the API's error code. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;

  constructor(message: string, status: number, code: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** A session in the list (under `--workers`, with the worker holding it). */
export type SessionEntry = SessionsView['sessions'][number] & { readonly worker?: WorkerTag };

/** Marks the token refused: the page shows what to do, and asks nothing more. */
export function refuseAccess(): void {
  if (app.value.authFailed) return;
  app.update({ authFailed: true, live: { state: 'connecting', label: 'no access' } });
}

async function call<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  if (app.value.authFailed) throw new ApiError('access token required', 401, 'NEKO_ERR_DASHBOARD_TOKEN');
  const headers: Record<string, string> = { accept: 'application/json' };
  const { token } = app.value;
  if (token) headers['authorization'] = `Bearer ${token}`;
  const request: RequestInit = {
    method: init.method ?? 'GET',
    headers,
    cache: 'no-store',
    credentials: 'same-origin',
  };
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    request.body = JSON.stringify(init.body);
  }
  let response: Response;
  try {
    response = await fetch(path, request);
  } catch (err) {
    throw new ApiError(`server unreachable (${err instanceof Error ? err.message : 'network error'})`, 0);
  }
  if (response.status === 401) {
    refuseAccess();
    throw new ApiError('access token required', 401, 'NEKO_ERR_DASHBOARD_TOKEN');
  }
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const e =
      data !== null && typeof data === 'object'
        ? (data as { error?: { code?: unknown; message?: unknown } }).error
        : null;
    const code = e?.code ? String(e.code) : null;
    const message = e?.message ? String(e.message) : response.statusText || 'request failed';
    throw new ApiError(`${response.status}${code ? ` ${code}` : ''}: ${message}`, response.status, code);
  }
  if (data === null || typeof data !== 'object')
    throw new ApiError('the answer is not JSON', response.status);
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  overview: (): Promise<Overview> => call('api/overview'),
  logs: (limit: number): Promise<{ entries: LogEntry[]; last: number }> => call(`api/logs?limit=${limit}`),
  plugins: (): Promise<{ plugins: PluginView[] }> => call('api/plugins'),
  sessions: (): Promise<{ sessions: SessionEntry[]; faultCloses: Record<string, number> }> =>
    call('api/sessions'),
  session: (id: string): Promise<SessionDetailView> => call(`api/sessions/${enc(id)}`),
  closeSession: (id: string): Promise<{ closed: boolean }> =>
    call(`api/sessions/${enc(id)}/close`, { method: 'POST', body: {} }),
  settings: (): Promise<SettingsView & Record<string, unknown>> => call('api/settings'),
  documents: (greeter: string, params: URLSearchParams): Promise<DocumentsPage> =>
    call(`api/plugins/${enc(greeter)}/documents?${params}`),
  cells: (greeter: string, limit: number): Promise<CellsPage> =>
    call(`api/plugins/${enc(greeter)}/cells?limit=${limit}`),

  playground: (): Promise<PlaygroundInfo> => call('api/playground'),
  openClient: (label?: string): Promise<PlaygroundClient> =>
    call('api/playground/clients', { method: 'POST', body: label === undefined ? {} : { label } }),
  send: (client: string, body: PlaygroundSend): Promise<{ events: PlaygroundEvent[] }> =>
    call(`api/playground/clients/${enc(client)}/send`, { method: 'POST', body }),
  /** Closes the client's session; its timeline stays (answers the client). */
  closeClient: (client: string): Promise<PlaygroundClient> =>
    call(`api/playground/clients/${enc(client)}`, { method: 'DELETE' }),
  /** Forgets a client and its timeline (closing it first if open). */
  removeClient: (client: string): Promise<unknown> =>
    call(`api/playground/clients/${enc(client)}/remove`, { method: 'POST', body: {} }),
  playgroundTest: (clients: readonly string[]): Promise<PlaygroundTest> =>
    call(`api/playground/test?clients=${clients.map(enc).join(',')}`),
};

/**
 * The URL of an event stream (`api/events`, `api/playground/events`): an
 * EventSource sends no headers, so the token goes in the query.
 */
export function streamUrl(path: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params);
  const { token } = app.value;
  if (token) query.set('token', token);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** JSON of an event's data, or null when it is not JSON. */
export function parseJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}
