/**
 * One simulated client of the Playground: a real session, accepted by the
 * server as any connection is (`server.accept()` over an in-memory pipe),
 * driven by the real client SDK authenticated with the server's secret, so
 * the page never holds it. Everything that happens to it lands in its
 * timeline as a {@link PlaygroundEvent}.
 */
import type { WireEvents, Wire } from '../client/wire.js';
import { connectOver, type ClientPacket, type NekoClient, type Outgoing } from '../client/client.js';
import { NekoError, isNekoError } from '../errors.js';
import { SERVER_GREETER } from '../protocol/constants.js';
import { STATUS_TEXT } from '../protocol/status.js';
import type { NekoServer } from '../server/server.js';
import type { ServerConnection } from '../server/connection.js';
import type { Transport } from '../session/transport.js';
import { showData } from './data.js';
import type { PlaygroundClient, PlaygroundEvent } from './wire.js';

/** A timeline event before the client, seq and time are stamped on it. */
type EventBody = PlaygroundEvent extends infer E
  ? E extends PlaygroundEvent
    ? Omit<E, 'client' | 'seq' | 'at'>
    : never
  : never;

/** What a packet the page sent waits for: its answer, a timeout, or the close. */
interface Pending {
  readonly seq: number;
  readonly mode: 'send' | 'request';
  readonly greeter: string;
  /** When it was queued (`performance.now()`), for the latency of its answer. */
  readonly start: number;
  /** Settles once it is answered, failed or the client closed. */
  settle?: () => void;
}

/** Options of {@link SimulatedClient.open}. */
export interface SimulatedClientOptions {
  readonly id: string;
  readonly label: string;
  /** Events kept per client; older ones are dropped (the timeline is then `trimmed`). */
  readonly maxEvents: number;
  /** The data the timeline holds, about (its packets' hex and text); past it the oldest events are dropped too. */
  readonly maxBytes: number;
  /** Told of every event, in order. */
  readonly onEvent: (event: PlaygroundEvent) => void;
}

/** What {@link SimulatedClient.send} sends. */
export interface SimulatedSend {
  readonly mode: 'send' | 'request';
  readonly greeter: string;
  readonly op: number;
  readonly data: Buffer;
  readonly timeoutMs: number;
}

export class SimulatedClient {
  readonly id: string;
  readonly label: string;
  readonly openedAt = Date.now();
  #sessionId = '';
  #client: NekoClient | undefined;
  #events: PlaygroundEvent[] = [];
  #seq = 0;
  /** Events dropped from the front of the timeline (past `maxEvents` or `maxBytes`). */
  #dropped = 0;
  /** What the kept events' data weighs, about (see {@link weight}). */
  #bytes = 0;
  #open = true;
  #closedByPage = false;
  readonly #options: SimulatedClientOptions;
  /** Packets queued by the page and not yet answered, by the SDK's outgoing packet. */
  readonly #pending = new Map<Outgoing, Pending>();
  /** The packet being sent: set while `send()`/`request()` of the SDK queue it. */
  #sending: Pending | undefined;

  private constructor(options: SimulatedClientOptions) {
    this.id = options.id;
    this.label = options.label;
    this.#options = options;
  }

  /**
   * Connects a new simulated client to `server`: accepted over an in-memory
   * pipe, authenticated with the server's secret. Resolves once the
   * handshake is done (its `open` event is in the timeline).
   */
  static async open(server: NekoServer, options: SimulatedClientOptions): Promise<SimulatedClient> {
    const simulated = new SimulatedClient(options);
    const client = await connectOver(
      { secret: server.options.secret, connectTimeoutMs: 5_000 },
      {
        name: 'the playground',
        wire: (events) => simulated.#pipe(server, events),
        queued: (outgoing) => simulated.#queued(outgoing),
        arrived: (packet, answers) => simulated.#arrived(packet, answers),
      },
    );
    simulated.#client = client;
    simulated.#record({ kind: 'open' });
    client.on('close', ({ status }) => simulated.#closed(status));
    // Statuses and pushes are recorded as they arrive (the tap); the SDK's events need no listener but these.
    client.on('status', () => undefined);
    return simulated;
  }

  get open(): boolean {
    return this.#open;
  }

  /** True once events were dropped from the front of the timeline. */
  get trimmed(): boolean {
    return this.#dropped > 0;
  }

  get events(): readonly PlaygroundEvent[] {
    return this.#events;
  }

  view(): PlaygroundClient {
    return {
      id: this.id,
      label: this.label,
      sessionId: this.#sessionId,
      open: this.#open,
      openedAt: this.openedAt,
      events: [...this.#events],
    };
  }

  /**
   * Sends a packet (`send`) or asks (`request`), and resolves with what it
   * produced in this client's timeline: its `sent` event and everything after
   * it, once it is answered (a reply or a status), failed, timed out, or the
   * client closed.
   */
  async send(packet: SimulatedSend): Promise<PlaygroundEvent[]> {
    const client = this.#client!;
    const seq = this.#record({
      kind: 'sent',
      mode: packet.mode,
      greeter: packet.greeter,
      op: packet.op,
      data: showData(packet.data),
    });
    const pending: Pending = { seq, mode: packet.mode, greeter: packet.greeter, start: performance.now() };
    const settled = new Promise<void>((resolve) => (pending.settle = resolve));
    let timer: NodeJS.Timeout | undefined;
    this.#sending = pending;
    try {
      if (packet.mode === 'request') {
        client
          .request(packet.greeter, packet.data, { op: packet.op, timeoutMs: packet.timeoutMs })
          .catch((err: unknown) => this.#failed(pending, err));
      } else {
        client.send(packet.greeter, packet.data, { op: packet.op }).catch((err: unknown) => {
          this.#failed(pending, err);
        });
        // A send is answered too (its reply, or a status); past the timeout the page gets what came so far.
        timer = setTimeout(() => pending.settle?.(), packet.timeoutMs);
      }
    } finally {
      this.#sending = undefined;
    }
    await settled;
    clearTimeout(timer);
    return this.#events.filter((event) => event.seq >= seq);
  }

  /** Closes the connection (the page asked); resolves once closed. */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#closedByPage = true;
    await this.#client?.close();
  }

  /** The server's end and the client's end of an in-memory connection. */
  #pipe(server: NekoServer, events: WireEvents): Wire {
    let open = true;
    /** The server's side, once accepted (a close can come during the accept: a full server). */
    const accepted: { connection?: ServerConnection } = {};
    const close = (): void => {
      if (!open) return;
      open = false;
      // After the bytes already on their way, in either direction.
      queueMicrotask(() => {
        accepted.connection?.transportClosed();
        events.close();
      });
    };
    const transport: Transport = {
      remoteAddress: `playground: ${this.label}`,
      kind: 'playground',
      pendingBytes: 0,
      write: (bytes) => {
        if (!open) return;
        const copy = Buffer.from(bytes);
        queueMicrotask(() => events.data(copy));
      },
      end: close,
      destroy: close,
      watchRecv: (greeter, waiting) =>
        this.#record({ kind: 'wait', greeter, phase: waiting ? 'waiting' : 'done' }),
    };
    const connection = server.accept(transport);
    accepted.connection = connection;
    this.#sessionId = connection.id;
    queueMicrotask(() => events.open());
    return {
      write: (bytes) => {
        if (!open) return;
        const copy = Buffer.from(bytes);
        queueMicrotask(() => connection.receive(copy));
      },
      end: close,
      destroy: close,
    };
  }

  #queued(outgoing: Outgoing): void {
    if (this.#sending !== undefined) this.#pending.set(outgoing, this.#sending);
  }

  #arrived(packet: ClientPacket, answers: Outgoing | undefined): void {
    const pending = answers === undefined ? undefined : this.#pending.get(answers);
    if (answers !== undefined) this.#pending.delete(answers);
    const answered =
      pending === undefined
        ? {}
        : { answers: pending.seq, latencyMs: round(performance.now() - pending.start) };
    if (packet.status !== undefined) {
      this.#record({
        kind: 'status',
        ...answered,
        greeter: pending?.greeter ?? SERVER_GREETER,
        status: packet.status,
        text: STATUS_TEXT[packet.status] ?? 'unknown status',
      });
    } else if (pending !== undefined) {
      this.#record({
        kind: 'reply',
        answers: pending.seq,
        latencyMs: round(performance.now() - pending.start),
        greeter: packet.greeter,
        op: packet.op,
        data: showData(packet.data),
      });
    } else {
      this.#record({ kind: 'push', greeter: packet.greeter, op: packet.op, data: showData(packet.data) });
    }
    pending?.settle?.();
  }

  /** A request or send that failed: a timeout, data that cannot travel, the close. */
  #failed(pending: Pending, err: unknown): void {
    // A status answer is in the timeline already (the SDK rejects a request with it).
    if (isNekoError(err, 'NEKO_ERR_CLIENT_STATUS')) return;
    for (const [outgoing, p] of this.#pending) if (p === pending) this.#pending.delete(outgoing);
    const error = err instanceof NekoError ? err : undefined;
    this.#record({
      kind: 'error',
      code: error?.code ?? 'NEKO_ERR_PLAYGROUND_SEND',
      message: (err as Error).message,
      answers: pending.seq,
    });
    pending.settle?.();
  }

  #closed(status: number | undefined): void {
    if (!this.#open) return;
    this.#open = false;
    this.#record({
      kind: 'close',
      ...(status === undefined ? {} : { status }),
      by: this.#closedByPage ? 'page' : 'server',
    });
    for (const pending of this.#pending.values()) pending.settle?.();
    this.#pending.clear();
  }

  /** Adds an event to the timeline; returns its seq. */
  #record(body: EventBody): number {
    const event = { ...body, client: this.id, seq: ++this.#seq, at: Date.now() } as PlaygroundEvent;
    this.#events.push(event);
    this.#bytes += weight(event);
    const { maxEvents, maxBytes } = this.#options;
    // The newest event always stays, however big.
    while (this.#events.length > 1 && (this.#events.length > maxEvents || this.#bytes > maxBytes)) {
      this.#bytes -= weight(this.#events.shift()!);
      this.#dropped++;
    }
    this.#options.onEvent(event);
    return event.seq;
  }
}

/** What an event's data weighs in memory, about: its hex (two characters a byte) and its text. */
function weight(event: PlaygroundEvent): number {
  return 'data' in event ? event.data.bytes * 3 : 0;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
