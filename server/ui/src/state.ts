/**
 * What the page's views share: the access token, the open tab, the last
 * overview and plugin list, the live stream's state, and the status line's
 * errors. Every view reads it through {@link useStore}.
 */
import type { OverviewView, PluginView } from '../../src/dashboard/views.js';
import type { WorkerView } from '../../src/workers/primary-dashboard.js';
import { Store } from './store.js';

export const TABS = ['logs', 'plugins', 'sessions', 'data', 'settings', 'playground'] as const;
export type Tab = (typeof TABS)[number];

/** The overview, and under `--workers` the workers (the primary's dashboard adds them). */
export type Overview = OverviewView & { readonly workers?: readonly WorkerView[] };

export interface AppState {
  /** The dashboard's access token, from the address bar or the tab's storage. */
  readonly token: string | null;
  /** The server refused the token (or there is none): the page shows what to do, and stops asking. */
  readonly authFailed: boolean;
  readonly tab: Tab;
  readonly overview: Overview | null;
  /** When the overview arrived (the uptime counts on from it). */
  readonly overviewAt: number;
  /** The last `/api/plugins` answer. */
  readonly plugins: readonly PluginView[] | null;
  /** The log stream: `live`, or waiting for it with a label (`connecting…`, `reconnecting…`, `no access`). */
  readonly live: { readonly state: 'live' | 'connecting'; readonly label: string };
  /** When a request last succeeded. */
  readonly lastSync: number | null;
}

export const app = new Store<AppState>({
  token: null,
  authFailed: false,
  tab: 'logs',
  overview: null,
  overviewAt: 0,
  plugins: null,
  live: { state: 'connecting', label: 'connecting…' },
  lastSync: null,
});

/**
 * Warnings and errors logged since the server started (the overview's, then
 * counted on as lines arrive): a store of their own, since they change with
 * every such line and only the top bar's counters show them.
 */
export const counters = new Store<{ readonly warn: number; readonly error: number }>({ warn: 0, error: 0 });

/** The status line's errors, by request; cleared when the same request succeeds again. */
export const errors = new Store<ReadonlyMap<string, { readonly message: string; readonly at: number }>>(
  new Map(),
);

export function reportError(key: string, err: unknown): void {
  if (err !== null && typeof err === 'object' && (err as { status?: unknown }).status === 401) return; // the full-width message says it
  const message = err instanceof Error ? err.message : String(err);
  const next = new Map(errors.value);
  next.set(key, { message, at: Date.now() });
  errors.set(next);
}

export function clearError(key: string): void {
  if (!errors.value.has(key)) return;
  const next = new Map(errors.value);
  next.delete(key);
  errors.set(next);
}

export function noteSync(): void {
  app.update({ lastSync: Date.now() });
}

const inFlight = new Map<string, Promise<unknown>>();

/**
 * Runs one named request at a time (a second call shares the first's
 * answer); a failure goes to the status line and answers undefined, never
 * uncaught.
 */
export function guarded<T>(key: string, task: () => Promise<T>): Promise<T | undefined> {
  const running = inFlight.get(key) as Promise<T | undefined> | undefined;
  if (running !== undefined) return running;
  const promise: Promise<T | undefined> = Promise.resolve()
    .then(task)
    .then(
      (result) => {
        clearError(key);
        noteSync();
        return result;
      },
      (err: unknown) => {
        reportError(key, err);
        return undefined;
      },
    )
    .finally(() => {
      if (inFlight.get(key) === promise) inFlight.delete(key);
    });
  inFlight.set(key, promise);
  return promise;
}

/** Shows a tab (the views load what they show when they appear). */
export function showTab(tab: Tab): void {
  app.update({ tab });
}
