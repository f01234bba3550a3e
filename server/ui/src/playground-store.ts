/**
 * The Playground's state in the page: whether it is on (and why not), the
 * loaded plugins with their ops, and each simulated client with its
 * timeline, kept current by the Playground's event stream and by the events
 * each send answers with (merged by their `seq`, so none shows twice).
 */
import type {
  PlaygroundClient,
  PlaygroundEvent,
  PlaygroundInfo,
  PlaygroundPlugin,
} from '../../src/playground/wire.js';
import { api, parseJson, streamUrl } from './api.js';
import { app, clearError, guarded, reportError } from './state.js';
import { Store } from './store.js';

export type { PlaygroundClient, PlaygroundEvent, PlaygroundPlugin };

export interface PlaygroundState {
  /** Null until `GET /api/playground` answered. */
  readonly info: { readonly enabled: boolean; readonly reason?: string } | null;
  readonly plugins: readonly PlaygroundPlugin[];
  /** In the order opened. */
  readonly clients: readonly PlaygroundClient[];
  /** The stream of timeline events is open. */
  readonly live: boolean;
}

export const playground = new Store<PlaygroundState>({ info: null, plugins: [], clients: [], live: false });

const INFO_KEY = 'GET /api/playground';
const STREAM_KEY = 'GET /api/playground/events';

/** Reads the Playground anew: on or off, the plugins, every client and its timeline. */
export async function loadPlayground(): Promise<PlaygroundInfo | undefined> {
  const info = await guarded(INFO_KEY, () => api.playground());
  if (info === undefined) return undefined;
  const known = new Map(playground.value.clients.map((c) => [c.id, c]));
  playground.update({
    info: info.enabled
      ? { enabled: true }
      : { enabled: false, reason: info.reason ?? 'the Playground is off' },
    plugins: info.plugins,
    // What the answer has, with any newer events the stream brought meanwhile.
    clients: info.clients.map((c) => {
      const held = known.get(c.id);
      return held === undefined ? c : mergeEvents(c, held.events);
    }),
  });
  return info;
}

/** A client with `events` added to its timeline: each `seq` once, in order. */
function mergeEvents(client: PlaygroundClient, events: readonly PlaygroundEvent[]): PlaygroundClient {
  const seen = new Set(client.events.map((e) => e.seq));
  const fresh = events.filter((e) => e.client === client.id && !seen.has(e.seq));
  if (fresh.length === 0) return client;
  const all = [...client.events, ...fresh].sort((a, b) => a.seq - b.seq);
  const closed = fresh.some((e) => e.kind === 'close');
  return { ...client, events: all, open: closed ? false : client.open };
}

/** Adds events to their clients' timelines; an event of a client the page does not know reads the clients again. */
export function receiveEvents(events: readonly PlaygroundEvent[]): void {
  const state = playground.value;
  let unknown = false;
  const byClient = new Map<string, PlaygroundEvent[]>();
  for (const event of events) {
    if (!state.clients.some((c) => c.id === event.client)) unknown = true;
    else byClient.set(event.client, [...(byClient.get(event.client) ?? []), event]);
  }
  if (byClient.size > 0) {
    playground.update({
      clients: state.clients.map((c) => {
        const fresh = byClient.get(c.id);
        return fresh === undefined ? c : mergeEvents(c, fresh);
      }),
    });
  }
  if (unknown) void loadPlayground();
}

/** Puts a client (just opened, closed, or read again) in the list, in place. */
export function putClient(client: PlaygroundClient): void {
  const clients = playground.value.clients;
  const i = clients.findIndex((c) => c.id === client.id);
  if (i === -1) playground.update({ clients: [...clients, client] });
  else {
    const merged = mergeEvents(client, clients[i]!.events);
    playground.update({ clients: clients.map((c, j) => (j === i ? merged : c)) });
  }
}

export function dropClient(id: string): void {
  playground.update({ clients: playground.value.clients.filter((c) => c.id !== id) });
}

let stream: EventSource | null = null;

/** Opens the stream of timeline events (then reads the Playground, so nothing between is missed). */
export function connectPlayground(): void {
  if (stream !== null || app.value.authFailed) return;
  const source = new EventSource(streamUrl('api/playground/events'));
  stream = source;
  source.addEventListener('hello', () => {
    if (stream !== source) return;
    clearError(STREAM_KEY);
    playground.update({ live: true });
    // After a reconnect the timelines may have moved on: read them again.
    void loadPlayground();
  });
  source.addEventListener('playground', (event) => {
    if (stream !== source) return;
    const parsed = parseJson<PlaygroundEvent>((event as MessageEvent<string>).data);
    if (parsed !== null) receiveEvents([parsed]);
  });
  source.addEventListener('error', () => {
    if (stream !== source) return;
    playground.update({ live: false });
    if (source.readyState === EventSource.CLOSED) {
      // Refused (the Playground is off, or the token): say so once, and stop until the view opens again.
      source.close();
      stream = null;
      reportError(STREAM_KEY, new Error('the Playground event stream closed'));
    }
  });
}

export function disconnectPlayground(): void {
  stream?.close();
  stream = null;
  if (playground.value.live) playground.update({ live: false });
}
