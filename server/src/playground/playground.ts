/**
 * The dashboard's Playground: simulated clients of one server (real
 * sessions, see simulated-client.ts), their timelines, the ops of the loaded
 * plugins for the page's pickers, and "Copy as test". The dashboard's routes
 * (`/api/playground/…`, dashboard/playground-routes.ts) call it; the JSON it
 * answers with is typed in wire.ts.
 */
import { NekoError } from '../errors.js';
import { MAX_FIELD_LENGTH } from '../protocol/constants.js';
import type { NekoServer } from '../server/server.js';
import { decodeData } from './data.js';
import { OpsCatalog, type PluginOpsSources } from './ops.js';
import { PlaygroundError } from './refusal.js';
import { SimulatedClient } from './simulated-client.js';
import { testCode } from './test-code.js';
import type {
  PlaygroundClient,
  PlaygroundEvent,
  PlaygroundInfo,
  PlaygroundPlugin,
  PlaygroundSend,
  PlaygroundTest,
} from './wire.js';

/** Simulated clients open at once, at most (by default). */
export const MAX_PLAYGROUND_CLIENTS = 16;
/** Events kept per client (by default); older ones are dropped. */
export const MAX_PLAYGROUND_EVENTS = 1000;
/** The data kept per client's timeline, about, in bytes (by default): 16 MiB; older events are dropped past it. */
export const MAX_PLAYGROUND_TIMELINE_BYTES = 16 * 1024 * 1024;
/** How long a request waits for its answer, by default, in ms. */
export const DEFAULT_PLAYGROUND_TIMEOUT_MS = 5_000;
/** The longest wait a request may ask for, in ms. */
const MAX_TIMEOUT_MS = 120_000;
/** The largest op code a frame carries (docs/protocol.md). */
const MAX_OP = 0xffffffff;

/** Options of {@link Playground}. */
export interface PlaygroundOptions {
  /** Where the ops of each plugin come from (see ops.ts). */
  readonly ops?: PluginOpsSources;
  /** Default {@link MAX_PLAYGROUND_CLIENTS}. */
  readonly maxClients?: number;
  /** Default {@link MAX_PLAYGROUND_EVENTS}. */
  readonly maxEvents?: number;
  /** Default {@link MAX_PLAYGROUND_TIMELINE_BYTES}. */
  readonly maxTimelineBytes?: number;
}

export class Playground {
  readonly #server: NekoServer;
  readonly #catalog: OpsCatalog;
  readonly #maxClients: number;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  readonly #clients = new Map<string, SimulatedClient>();
  readonly #listeners = new Set<(event: PlaygroundEvent) => void>();
  #nextId = 1;
  #closed = false;

  constructor(server: NekoServer, options: PlaygroundOptions = {}) {
    this.#server = server;
    this.#catalog = new OpsCatalog(options.ops);
    this.#maxClients = options.maxClients ?? MAX_PLAYGROUND_CLIENTS;
    this.#maxEvents = options.maxEvents ?? MAX_PLAYGROUND_EVENTS;
    this.#maxBytes = options.maxTimelineBytes ?? MAX_PLAYGROUND_TIMELINE_BYTES;
  }

  /** `GET /api/playground`: the plugins with their ops, and the clients. */
  async info(): Promise<PlaygroundInfo> {
    return { enabled: true, plugins: await this.plugins(), clients: this.clients() };
  }

  /** The loaded plugins, by greeter, each with its ops (or why it has none). */
  async plugins(): Promise<PlaygroundPlugin[]> {
    const served = [...this.#server.plugins()].sort((a, b) => a.greeter.localeCompare(b.greeter));
    return Promise.all(
      served.map(async ({ greeter, plugin }) => {
        const { ops, reason } = await this.#catalog.opsOf(plugin);
        return {
          greeter,
          name: plugin.spec.name,
          ops,
          ...(ops.length === 0 && reason !== undefined ? { opsReason: reason } : {}),
        };
      }),
    );
  }

  clients(): PlaygroundClient[] {
    return [...this.#clients.values()].map((client) => client.view());
  }

  /** One client, with its timeline. @throws PlaygroundError 404 for an unknown id */
  client(id: string): PlaygroundClient {
    return this.#get(id).view();
  }

  /**
   * Opens a simulated client: a new session on the server. Closed clients
   * count too until removed (their timelines stay for Copy as test).
   *
   * @throws PlaygroundError 429 `NEKO_ERR_PLAYGROUND_TOO_MANY_CLIENTS` past the cap
   */
  async open(label?: unknown): Promise<PlaygroundClient> {
    if (this.#closed) {
      throw new PlaygroundError(503, 'NEKO_ERR_PLAYGROUND_OFF', 'the Playground is closing with the server');
    }
    if (label !== undefined && (typeof label !== 'string' || label.trim() === '' || label.length > 64)) {
      throw new PlaygroundError(
        400,
        'NEKO_ERR_PLAYGROUND_SEND',
        'label must be a non-empty string of at most 64 characters',
      );
    }
    if (this.#clients.size >= this.#maxClients) {
      throw new PlaygroundError(
        429,
        'NEKO_ERR_PLAYGROUND_TOO_MANY_CLIENTS',
        `the Playground holds at most ${this.#maxClients} clients, open or closed`,
        'remove a client you no longer need: its Remove button in the page, or POST /api/playground/clients/<id>/remove',
      );
    }
    const n = this.#nextId++;
    const id = `c${n}`;
    let client: SimulatedClient;
    try {
      client = await SimulatedClient.open(this.#server, {
        id,
        label: typeof label === 'string' ? label.trim() : `client ${n}`,
        maxEvents: this.#maxEvents,
        maxBytes: this.#maxBytes,
        onEvent: (event) => this.#emit(event),
      });
    } catch (err) {
      // The server refused the session (it drains or shuts down, or holds limits.maxConnections).
      if (!(err instanceof NekoError)) throw err;
      throw new PlaygroundError(503, err.code, `the server did not take a new session: ${err.message}`);
    }
    this.#clients.set(id, client);
    if (this.#closed) await client.close();
    return client.view();
  }

  /**
   * Sends what the page typed from client `id`, and resolves with what it
   * produced (see {@link SimulatedClient.send}).
   *
   * @throws PlaygroundError 404 unknown client, 409 closed client, 400 bad body or data
   */
  async send(id: string, body: unknown): Promise<{ events: PlaygroundEvent[] }> {
    const client = this.#get(id);
    const send = checkSend(body);
    const data = (() => {
      try {
        return decodeData(send.data.kind, send.data.value);
      } catch (err) {
        throw new PlaygroundError(
          400,
          'NEKO_ERR_PLAYGROUND_DATA',
          (err as Error).message,
          (err as NekoError).hint,
        );
      }
    })();
    if (!client.open) {
      throw new PlaygroundError(
        409,
        'NEKO_ERR_PLAYGROUND_CLIENT_CLOSED',
        `${client.label} (${id}) is closed: open another client to go on`,
      );
    }
    const events = await client.send({
      mode: send.mode,
      greeter: send.greeter,
      op: send.op,
      data,
      timeoutMs: send.timeoutMs ?? DEFAULT_PLAYGROUND_TIMEOUT_MS,
    });
    return { events };
  }

  /** Closes client `id`'s connection; its timeline stays. @throws PlaygroundError 404 for an unknown id */
  async closeClient(id: string): Promise<PlaygroundClient> {
    const client = this.#get(id);
    await client.close();
    return client.view();
  }

  /** Closes client `id` if open, and forgets it and its timeline. @throws PlaygroundError 404 for an unknown id */
  async removeClient(id: string): Promise<void> {
    const client = this.#get(id);
    await client.close();
    this.#clients.delete(id);
  }

  /**
   * The timelines of `ids` (every client when empty) as a vitest test.
   *
   * @throws PlaygroundError 404 for an unknown id; 409 `NEKO_ERR_PLAYGROUND_TRIMMED`
   *   when a timeline lost its start (past the cap of events)
   */
  async test(ids: readonly string[]): Promise<PlaygroundTest> {
    const clients = ids.length === 0 ? [...this.#clients.values()] : ids.map((id) => this.#get(id));
    for (const client of clients) {
      if (client.trimmed) {
        throw new PlaygroundError(
          409,
          'NEKO_ERR_PLAYGROUND_TRIMMED',
          `the timeline of ${client.label} (${client.id}) lost its oldest events (it keeps the newest ${this.#maxEvents}, and ${this.#maxBytes / 1024 / 1024} MiB of data): a test from it would not start where the session did`,
          'open a new client and record a shorter session',
        );
      }
    }
    const plugins = await this.plugins();
    return testCode(
      clients.map((client) => ({ id: client.id, label: client.label, events: client.events })),
      new Map(plugins.map((plugin) => [plugin.greeter, plugin.ops])),
    );
  }

  /** Calls `listener` with every event of every client from now on; returns a function that stops it. */
  subscribe(listener: (event: PlaygroundEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Closes every simulated client (the server or the dashboard stops) and lets go of the ops reader. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#clients.values()].map((client) => client.close()));
    this.#catalog.dispose();
  }

  #get(id: string): SimulatedClient {
    const client = this.#clients.get(id);
    if (client === undefined) {
      throw new PlaygroundError(
        404,
        'NEKO_ERR_PLAYGROUND_CLIENT_UNKNOWN',
        `no Playground client "${id}"`,
        'GET /api/playground lists the clients; open one with POST /api/playground/clients',
      );
    }
    return client;
  }

  #emit(event: PlaygroundEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A failing listener (a stream gone) must not stop the others.
      }
    }
  }
}

/** The body of `POST /api/playground/clients/:id/send`, checked. */
function checkSend(body: unknown): PlaygroundSend {
  const bad = (message: string): PlaygroundError =>
    new PlaygroundError(400, 'NEKO_ERR_PLAYGROUND_SEND', message);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('the body must be a JSON object: { greeter, op, data: { kind, value }, mode }');
  }
  const { greeter, op, data, mode, timeoutMs } = body as Record<string, unknown>;
  if (
    typeof greeter !== 'string' ||
    greeter === '' ||
    Buffer.byteLength(greeter) > MAX_FIELD_LENGTH ||
    !/^[\x21-\x7e]+$/.test(greeter)
  ) {
    throw bad(`greeter must be 1 to ${MAX_FIELD_LENGTH} printable ASCII characters without spaces`);
  }
  if (typeof op !== 'number' || !Number.isInteger(op) || op < 0 || op > MAX_OP) {
    throw bad(`op must be a whole number from 0 to ${MAX_OP}; got ${JSON.stringify(op) ?? 'nothing'}`);
  }
  if (mode !== 'send' && mode !== 'request') {
    throw bad(`mode must be "send" or "request"; got ${JSON.stringify(mode) ?? 'nothing'}`);
  }
  if (typeof data !== 'object' || data === null) {
    throw new PlaygroundError(
      400,
      'NEKO_ERR_PLAYGROUND_DATA',
      'data must be { kind: "text" | "json" | "hex", value: string }',
    );
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' ||
      !Number.isInteger(timeoutMs) ||
      timeoutMs < 1 ||
      timeoutMs > MAX_TIMEOUT_MS)
  ) {
    throw bad(`timeoutMs must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}`);
  }
  return {
    greeter,
    op,
    mode,
    data: data as PlaygroundSend['data'],
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}
