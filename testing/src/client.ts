import {
  AUTH_GREETER,
  AUTH_PACKET,
  RESUME_OP,
  RESUME_TOKEN_OP,
  parseResumeAnswer,
  ClientChain,
  FrameDecoder,
  Hasher,
  SERVER_GREETER,
  Status,
  encodeFrame,
  type Frame,
  MAX_UINT32,
  replyRule,
  statusOf,
  type ReplyRule,
} from 'nekoconnect/protocol';
import { NekoTestingError, isNekoTestingError } from './errors.js';
import type { ClientLink, ClientSide } from './links.js';
import { checkTimeout } from './options.js';
import { TestPacket, describeHandlerError, describePacket, describeStatus } from './packet.js';
import { startTimer, stopTimer } from './timers.js';

/** Data a fake client sends: bytes, a string (sent as UTF-8), or a plain object or array (sent as JSON). */
export type SendData = string | Uint8Array | Record<string, unknown> | readonly unknown[];

export interface SendOptions {
  /** The op code. Default 0. */
  op?: number;
}

export interface WaitOptions {
  /** How long to wait, in ms (real time, whatever the fake timers do). Default: the client's timeout. */
  timeout?: number;
}

export interface RequestOptions extends SendOptions, WaitOptions {
  /**
   * The op (or ops) of the plugin's reply: only a packet from the greeter
   * with one of them answers the request; others from it (pushes) stay
   * unread, for {@link TestClient.next}. Default: any op.
   */
  replyOp?: number | readonly number[];
  /**
   * Called with each packet from the greeter (of a `replyOp` op, if given);
   * the first it returns true for answers the request, the others stay
   * unread. A predicate that throws counts as false.
   */
  match?: (packet: TestPacket) => boolean;
}

export interface NextOptions extends WaitOptions {
  /** Only a packet from this greeter; `nekoconnect-server` waits for a status packet. Default: any plugin's packet. */
  greeter?: string;
}

/** How a connection ended. */
export interface ClosedInfo {
  /** Who closed it: the server, or this client's `close()`. */
  readonly by: 'server' | 'client';
  /** The closing status the server sent (400, 408, 413, 422; 503 when it shut down), if any. */
  readonly status: number | undefined;
}

/** @internal What the harness creates a client with. */
export interface TestClientInit {
  /** How failure messages name the client, e.g. `client 2`. */
  name: string;
  secret: string;
  /** Default wait of `request`, `next`, `expectStatus` and `expectClosed`, in ms. */
  timeout: number;
  /** The server-side session id, when the harness knows it. */
  sessionId: string | undefined;
  /**
   * Called for each status 500 with the packet it answered (`"game" op 3`):
   * returns the error of the handler failure it reports, if the server
   * logged one.
   */
  handlerFailure?: (answered: string) => unknown;
  /** Opens another connection to the same server, for {@link TestClient.reconnect}. */
  dial?: () => Promise<Dialed>;
}

/** @internal A new connection the harness opened for a client: its session and its link. */
export interface Dialed {
  readonly sessionId: string | undefined;
  readonly handlerFailure?: (answered: string) => unknown;
  connect(side: ClientSide): ClientLink;
}

/** Options of {@link TestClient.reconnect}. */
export interface ReconnectOptions extends WaitOptions {
  /** Present the resume token (when the client has one) to carry on its session. Default true. */
  resume?: boolean;
}

/** A packet queued or written and not yet answered. */
interface Outgoing {
  readonly greeter: string;
  readonly op: number;
  readonly data: string | Uint8Array;
  /** For a request with `{ replyOp }` or `match`: which packets answer it. */
  readonly reply?: ReplyRule;
  /** Set for a request while it still waits: gets the answer. */
  waiter?: Waiter;
  written: boolean;
}

interface Waiter {
  /** What is awaited, for messages: `an answer from "echo" to op 7`. */
  readonly what: string;
  /** Which unread packets it takes; none for an answer or the close. */
  readonly takes?: (packet: TestPacket) => boolean;
  /** The arrival count when the wait began. */
  readonly since: number;
  readonly resolve: (value: TestPacket | ClosedInfo) => void;
  readonly reject: (err: Error) => void;
  /** For a request: the packet it waits an answer to. */
  readonly outgoing?: Outgoing;
  /** Waits for the close rather than a packet. */
  readonly forClose?: boolean;
  timer?: NodeJS.Timeout;
}

/** Arrivals kept for failure messages. */
const RECENT_ARRIVALS = 50;
/** Packets a failure message lists. */
const LISTED = 6;

/**
 * A fake client of the test server. The harness connects it and, unless
 * told otherwise, completes the handshake; the client then keeps the nonce
 * chain with the same `ClientChain` as the client SDK.
 *
 * - **Lockstep**: every packet carries `H` of the newest server random
 *   received, and each server random is used once, so a packet waits in a
 *   queue until the server has sent a fresh one (it sends one after every
 *   packet it accepts: the answer, or a status).
 * - **Checking the server**: every packet must carry `H` of a random this
 *   client sent (a closing status may carry `server`); one that does not
 *   fails every wait with `NEKO_ERR_TESTING_SERVER_HASH`.
 * - **Answers**: a status answers the oldest packet not yet answered; a
 *   plugin packet answers the oldest unanswered packet to its greeter.
 *   An answer to {@link request} resolves it; everything else (pushes,
 *   answers to {@link send}) is kept, in order, for {@link next} and
 *   {@link expectStatus}.
 */
export class TestClient {
  /** How failure messages name this client, e.g. `client 2`. */
  readonly name: string;
  readonly #timeout: number;
  readonly #hasher: Hasher;
  /** The nonce chain of the current connection: the queue, the packets in flight, the server random, the randoms sent. */
  #chain: ClientChain<Outgoing>;
  #decoder: FrameDecoder;
  #link: ClientLink;
  #sessionId: string | undefined;
  readonly #dial: TestClientInit['dial'];
  /** The session's resume token, once the server gave one (`{ resume: true }`). */
  #token: string | undefined;
  /** Ask for a resume token after each new session. */
  #resumable = false;
  /** {@link drop} cut the connection: it closes as a network failure would. */
  #dropping = false;
  /** Received and not taken, in arrival order: plugin packets and statuses. */
  readonly #unread: TestPacket[] = [];
  readonly #recent: { readonly n: number; readonly packet: TestPacket }[] = [];
  #arrivals = 0;
  readonly #waiters = new Set<Waiter>();
  #closeStatus: number | undefined;
  /** The newest packet was a 503: the server's shutdown notice, if the close follows. */
  #notice = false;
  #closing = false;
  #closed: ClosedInfo | undefined;
  #failure: NekoTestingError | undefined;
  #handlerFailure: TestClientInit['handlerFailure'];
  #closedPromise!: Promise<void>;
  #markClosed!: () => void;

  /** @internal The harness connects clients: use `server.connect()`. */
  constructor(init: TestClientInit, connect: (side: ClientSide) => ClientLink) {
    this.name = init.name;
    this.#sessionId = init.sessionId;
    this.#timeout = init.timeout;
    this.#handlerFailure = init.handlerFailure;
    this.#dial = init.dial;
    this.#hasher = new Hasher(init.secret);
    this.#chain = new ClientChain(this.#hasher);
    this.#decoder = this.#newDecoder();
    this.#link = this.#open(connect);
  }

  /**
   * The server's id of this client's session (e.g. `s-3`), as `ctx.session.id`
   * shows it to plugins: a resumed session keeps its id; after a fresh
   * {@link reconnect} it is the new session's.
   */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  /** True until the connection closes. */
  get connected(): boolean {
    return this.#closed === undefined;
  }

  /** True once the server has accepted the handshake. */
  get authenticated(): boolean {
    return this.#chain.authenticated;
  }

  /** How the connection ended, once it has. */
  get closedInfo(): ClosedInfo | undefined {
    return this.#closed;
  }

  /**
   * Sends a packet without waiting for its answer. It is written at once
   * when the client holds a fresh server random, else as soon as one comes.
   * Its answer (a reply, or a status) is kept for {@link next} and
   * {@link expectStatus}.
   * @throws NekoTestingError `NEKO_ERR_TESTING_CLOSED` when the connection is closed;
   *   NekoError `NEKO_ERR_FRAME_*` when the greeter or op cannot travel.
   */
  send(greeter: string, data: SendData = '', options: SendOptions = {}): void {
    this.#throwIfUnusable(`send a packet to "${greeter}"`);
    this.#enqueue(this.#outgoing(greeter, data, options.op ?? 0));
  }

  /**
   * Sends a packet and resolves with its answer: the next packet from that
   * greeter, or the status the server answered it with (then `status` is
   * set: 200 handled without a reply, 100 the plugin waits in `ctx.recv()`,
   * 404, 500, 503, or a closing 400/413/422).
   *
   * With `{ replyOp }` and/or `match`, only a packet from that greeter that
   * fits answers it (the client SDK's rule); pushes that do not fit stay
   * unread for {@link next}. Statuses still answer the oldest request in flight.
   */
  request(greeter: string, data: SendData = '', options: RequestOptions = {}): Promise<TestPacket> {
    const op = options.op ?? 0;
    const { replyOp, match } = options;
    const ops = replyOp === undefined ? '' : ` of op ${[replyOp].flat().join(' or ')}`;
    const what = `an answer${ops}${match ? ' (matching)' : ''} from "${greeter}" to op ${op}`;
    let outgoing: Outgoing;
    try {
      this.#throwIfUnusable(`send a request to "${greeter}"`);
      checkTimeout(options.timeout, this.name);
      let reply: ReplyRule | undefined;
      try {
        reply = replyRule(replyOp, match && ((frame: Frame) => match(TestPacket.fromFrame(frame))));
      } catch (err) {
        throw new NekoTestingError('NEKO_ERR_TESTING_OPTIONS', `${this.name}: ${(err as Error).message}`);
      }
      outgoing = { ...this.#outgoing(greeter, data, op), reply };
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const answer = this.#wait<TestPacket>({ what, outgoing }, options.timeout);
    this.#enqueue(outgoing);
    return answer;
  }

  /**
   * Resolves with the next unread packet from a plugin (from `greeter` if
   * given; `{ greeter: 'nekoconnect-server' }` takes the next status
   * instead), waiting for it if need be. Pushes and the answers to
   * {@link send} land here, in the order they arrived.
   */
  next(options: NextOptions = {}): Promise<TestPacket> {
    const { greeter } = options;
    const takes =
      greeter === undefined
        ? (p: TestPacket) => p.status === undefined
        : (p: TestPacket) => p.greeter === greeter;
    const what =
      greeter === undefined
        ? 'a packet from a plugin'
        : greeter === SERVER_GREETER
          ? 'a status'
          : `a packet from "${greeter}"`;
    return this.#take(takes, what, options.timeout);
  }

  /**
   * Takes the next unread status and checks its code.
   * @throws NekoTestingError `NEKO_ERR_TESTING_UNEXPECTED_STATUS` naming both codes when it is another one
   *   (that status is taken all the same).
   */
  async expectStatus(code: number, options: WaitOptions = {}): Promise<TestPacket> {
    const packet = await this.#take(
      (p) => p.status !== undefined,
      `${describeStatus(code)}`,
      options.timeout,
    );
    if (packet.status !== code) {
      throw new NekoTestingError(
        'NEKO_ERR_TESTING_UNEXPECTED_STATUS',
        `${this.name}: expected ${describeStatus(code)}, got ${describeStatus(packet.status!)}` +
          (packet.error === undefined ? '' : `: ${describeHandlerError(packet.error)}`),
        {
          cause: packet.error,
          hint:
            packet.error === undefined
              ? 'Statuses are taken in the order they arrived; each send() is answered by one unless the plugin replies.'
              : "The plugin's handler failed: fix the line its stack points at.",
        },
      );
    }
    return packet;
  }

  /** Resolves once the connection is closed (by the server, or by {@link close}), with how it ended. */
  expectClosed(options: WaitOptions = {}): Promise<ClosedInfo> {
    if (this.#closed) return Promise.resolve(this.#closed);
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#wait<ClosedInfo>(
      { what: 'the server to close the connection', forClose: true },
      options.timeout,
    );
  }

  /** The packets received and not yet taken (plugin packets and statuses), oldest first. Takes none. */
  unread(): TestPacket[] {
    return [...this.#unread];
  }

  /**
   * Writes bytes to the server exactly as given: no framing, no nonce
   * chain. For malformed-input tests; the client's chain does not know
   * about them.
   */
  raw(bytes: Uint8Array): void {
    this.#throwIfUnusable('write raw bytes');
    this.#link.write(bytes);
  }

  /**
   * Completes the handshake of a client connected with `{ auth: false }`:
   * sends the auth packet (greeter `auth`, op 200, data `200`, `H` of its
   * random) and checks that the server answers 200 with `H` of that random.
   * @throws NekoTestingError `NEKO_ERR_TESTING_HANDSHAKE` when the server refuses it or does not answer.
   */
  async handshake(options: WaitOptions = {}): Promise<void> {
    if (this.authenticated) return;
    let answer: TestPacket;
    try {
      answer = await this.request(AUTH_PACKET.greeter, AUTH_PACKET.data, {
        op: AUTH_PACKET.op,
        timeout: options.timeout,
      });
    } catch (err) {
      if (isNekoTestingError(err, 'NEKO_ERR_TESTING_SERVER_HASH')) throw err;
      throw new NekoTestingError(
        'NEKO_ERR_TESTING_HANDSHAKE',
        `${this.name}: no handshake: ${(err as Error).message.replace(`${this.name}: `, '')}`,
        { cause: err },
      );
    }
    if (answer.status !== Status.Ok) {
      throw new NekoTestingError(
        'NEKO_ERR_TESTING_HANDSHAKE',
        `${this.name}: the server refused the handshake with ${describePacket(answer)}`,
        { hint: "Check the secret: connect() uses the server's unless given { secret }." },
      );
    }
  }

  /**
   * Asks the server for a resume token (protocol §14), now and after each
   * fresh {@link reconnect}; `server.connect({ resume: true })` calls it.
   * Resolves once the token is there.
   */
  async enableResume(options: WaitOptions = {}): Promise<void> {
    this.#resumable = true;
    await this.#askToken(options.timeout);
  }

  /**
   * The network fails: the connection is cut without a word, as a phone
   * losing its signal does. The server sees the client go without a
   * closing status, so a resumable session waits for it (`onDisconnect`).
   * Requests waiting for an answer fail with `NEKO_ERR_TESTING_DROPPED`;
   * other waits fail as on a close. Unread packets stay. Resolves once both
   * sides know; {@link reconnect} connects again.
   */
  drop(): Promise<void> {
    this.#throwIfUnusable('drop the connection');
    this.#dropping = true;
    this.#link.end();
    return this.#closedPromise;
  }

  /**
   * Connects again after {@link drop} (or after the server closed the
   * connection) and authenticates. With a resume token (`{ resume: true }`
   * at connect), it presents it first: `'resumed'` when the server carried
   * the session on (same {@link sessionId}, state and groups; what plugins
   * sent meanwhile arrives next, for {@link next}), `'fresh'` when this is
   * a new session.
   * @throws NekoTestingError `NEKO_ERR_TESTING_OPTIONS` while still connected or after `close()`.
   */
  async reconnect(options: ReconnectOptions = {}): Promise<'resumed' | 'fresh'> {
    if (!this.#closed || (this.#closed.by === 'client' && !this.#dropping)) {
      throw new NekoTestingError(
        'NEKO_ERR_TESTING_OPTIONS',
        `${this.name}: reconnect() ${this.#closed ? 'after close()' : 'while still connected'}`,
        { hint: 'Call client.drop() first; after close(), connect a new client with server.connect().' },
      );
    }
    if (!this.#dial) {
      throw new NekoTestingError('NEKO_ERR_TESTING_OPTIONS', `${this.name}: this client cannot reconnect`);
    }
    const dialed = await this.#dial();
    const previous = { sessionId: this.#sessionId, handlerFailure: this.#handlerFailure };
    this.#closed = undefined;
    this.#closing = false;
    this.#dropping = false;
    this.#closeStatus = undefined;
    this.#failure = undefined;
    this.#chain = new ClientChain(this.#hasher);
    this.#decoder = this.#newDecoder();
    this.#sessionId = dialed.sessionId;
    this.#handlerFailure = dialed.handlerFailure;
    this.#link = this.#open((side) => dialed.connect(side));
    await this.handshake(options);
    const token = options.resume === false ? undefined : this.#token;
    this.#token = undefined;
    if (token !== undefined) {
      const answer = await this.request(AUTH_GREETER, token, { op: RESUME_OP, timeout: options.timeout });
      const outcome = parseResumeAnswer(answer.text());
      if (outcome.resumed) {
        this.#token = outcome.token;
        this.#sessionId = previous.sessionId;
        this.#handlerFailure = previous.handlerFailure;
        return 'resumed';
      }
    }
    if (this.#resumable) await this.#askToken(options.timeout);
    return 'fresh';
  }

  /** Closes the connection; waits still pending fail. Resolves once both sides know. */
  close(): Promise<void> {
    if (!this.#closed && !this.#closing) {
      this.#closing = true;
      this.#link.end();
    }
    return this.#closedPromise;
  }

  /** A one-line summary for messages. */
  toString(): string {
    return this.name;
  }

  // --- connecting ---

  #newDecoder(): FrameDecoder {
    return new FrameDecoder({ maxPacket: MAX_UINT32 }, (frame) => this.#onFrame(frame));
  }

  /** Opens a connection: this client's side of it reads into the current decoder. */
  #open(connect: (side: ClientSide) => ClientLink): ClientLink {
    this.#closedPromise = new Promise((resolve) => (this.#markClosed = resolve));
    // The side's callbacks run later (bytes and the close come in a later task), once `link` is set.
    const link: ClientLink = connect({
      receive: (chunk) => {
        if (link === this.#link) this.#receive(chunk);
      },
      closed: () => {
        if (link === this.#link) this.#onClosed();
      },
    });
    return link;
  }

  /** Asks for a resume token and keeps it. */
  async #askToken(timeout: number | undefined): Promise<void> {
    const answer = await this.request(AUTH_GREETER, '', { op: RESUME_TOKEN_OP, timeout });
    if (answer.op !== RESUME_TOKEN_OP) {
      throw new NekoTestingError(
        'NEKO_ERR_TESTING_PROTOCOL',
        `${this.name}: the server answered a resume token request with ${describePacket(answer)}`,
      );
    }
    this.#token = answer.text();
  }

  // --- sending ---

  #outgoing(greeter: string, data: SendData, op: number): Outgoing {
    const bytes = typeof data === 'string' || data instanceof Uint8Array ? data : JSON.stringify(data);
    // Refuse what cannot travel now, not when the packet's turn comes: encoding throws a NEKO_ERR_FRAME_* error.
    encodeFrame({ greeter, op, random: 'r', data: bytes, hash: 'h' });
    return { greeter, op, data: bytes, written: false };
  }

  #enqueue(outgoing: Outgoing): void {
    this.#chain.enqueue(outgoing);
    this.#flush();
  }

  /**
   * Writes queued packets while the chain lets the client: one per fresh
   * server random; before the handshake, the first packet alone, hashed
   * with its own random (the shape of an auth packet).
   */
  #flush(): void {
    while (this.#closed === undefined && !this.#closing && !this.#failure) {
      const next = this.#chain.nextWrite();
      if (!next) return;
      // Never an error: #outgoing refused what cannot travel.
      if (next.error) continue;
      next.packet.written = true;
      this.#link.write(next.frame);
    }
  }

  // --- receiving ---

  #receive(chunk: Buffer): void {
    if (this.#closed || this.#failure) return;
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(
        new NekoTestingError(
          'NEKO_ERR_TESTING_PROTOCOL',
          `${this.name}: the server sent bytes that are not a valid frame: ${(err as Error).message}`,
          { cause: err },
        ),
      );
    }
  }

  #onFrame(frame: Frame): void {
    if (this.#closed || this.#failure) return;
    const arrival = this.#chain.receive(frame);
    if (arrival.kind === 'forged') {
      this.#fail(
        new NekoTestingError(
          'NEKO_ERR_TESTING_SERVER_HASH',
          `${this.name}: ${describePacket(TestPacket.fromFrame(frame))} carries the hash "${frame.hash.toString('latin1')}", which is H of no random this client sent`,
          {
            hint: 'The server must hash the newest verified client random (protocol §4.5); only a closing status may carry "server".',
          },
        ),
      );
      return;
    }
    // A closing status: the server closes the connection.
    if (arrival.closing) this.#closeStatus = frame.op;
    // A 503 is the shutdown notice when the close follows it (protocol §10).
    this.#notice = arrival.status === Status.Unavailable;
    const packet = TestPacket.fromFrame(frame, this.#handlerError(frame, arrival.answers));
    this.#arrived(packet, arrival.answers);
    this.#flush();
  }

  /** For a status 500, the error of the handler failure it reports, when the server logged one. */
  #handlerError(frame: Frame, answered: Outgoing | undefined): unknown {
    if (statusOf(frame.greeter, frame.op) !== Status.HandlerError) return undefined;
    return this.#handlerFailure?.(answered ? `"${answered.greeter}" op ${answered.op}` : 'a packet');
  }

  /** A packet arrived; `answered` is the packet in flight it answers, if any. */
  #arrived(packet: TestPacket, answered: Outgoing | undefined): void {
    this.#recent.push({ n: this.#arrivals++, packet });
    if (this.#recent.length > RECENT_ARRIVALS) this.#recent.shift();
    // 1. Is it the answer to a written packet?
    const waiter = answered?.waiter;
    if (waiter) {
      this.#settle(waiter);
      waiter.resolve(packet);
      return;
    }
    // 2. Else a wait for the next unread packet may take it, or it stays unread.
    for (const w of this.#waiters) {
      if (w.takes?.(packet)) {
        this.#settle(w);
        w.resolve(packet);
        return;
      }
    }
    this.#unread.push(packet);
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = {
      by: this.#closing || this.#dropping ? 'client' : 'server',
      status: this.#closeStatus ?? (this.#notice && !this.#closing ? Status.Unavailable : undefined),
    };
    this.#chain.drop();
    for (const waiter of [...this.#waiters]) {
      this.#settle(waiter);
      if (waiter.forClose) waiter.resolve(this.#closed);
      else if (this.#dropping && waiter.outgoing?.written) waiter.reject(this.#droppedError(waiter));
      else waiter.reject(this.#failure ?? this.#closedError(waiter));
    }
    this.#markClosed();
  }

  /** The server broke the protocol: every wait fails with `error`, and the connection is closed. */
  #fail(error: NekoTestingError): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#closing = true;
    for (const waiter of [...this.#waiters]) {
      this.#settle(waiter);
      waiter.reject(error);
    }
    this.#link.end();
  }

  // --- waiting ---

  #take(
    takes: (packet: TestPacket) => boolean,
    what: string,
    timeout: number | undefined,
  ): Promise<TestPacket> {
    const index = this.#unread.findIndex(takes);
    if (index >= 0) return Promise.resolve(this.#unread.splice(index, 1)[0]!);
    return this.#wait<TestPacket>({ what, takes }, timeout);
  }

  #wait<T extends TestPacket | ClosedInfo>(
    spec: Pick<Waiter, 'what' | 'takes' | 'outgoing' | 'forClose'>,
    timeout = this.#timeout,
  ): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      checkTimeout(timeout, this.name);
      const waiter: Waiter = {
        ...spec,
        since: this.#arrivals,
        resolve: resolve as (value: TestPacket | ClosedInfo) => void,
        reject,
      };
      if (this.#closed) {
        reject(this.#closedError(waiter));
        return;
      }
      if (spec.outgoing) spec.outgoing.waiter = waiter;
      waiter.timer = startTimer(timeout, () => {
        this.#settle(waiter);
        reject(this.#timeoutError(waiter, timeout));
      });
      this.#waiters.add(waiter);
    });
  }

  /** Ends a wait: its timer stops, and a request's late answer will count as unread. */
  #settle(waiter: Waiter): void {
    stopTimer(waiter.timer);
    this.#waiters.delete(waiter);
    if (waiter.outgoing) waiter.outgoing.waiter = undefined;
  }

  #throwIfUnusable(action: string): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed || this.#closing) {
      throw new NekoTestingError(
        'NEKO_ERR_TESTING_CLOSED',
        `${this.name}: cannot ${action}: the connection is closed${this.#closedHow()}`,
        { hint: 'Connect another client with server.connect().' },
      );
    }
  }

  #closedHow(): string {
    if (this.#dropping) return ' (by drop(): call reconnect())';
    if (this.#closing) return ' (by close())';
    return this.#closeStatus === undefined ? '' : ` (after ${describeStatus(this.#closeStatus)})`;
  }

  #timeoutError(waiter: Waiter, timeout: number): NekoTestingError {
    const queued = waiter.outgoing && !waiter.outgoing.written;
    const awaited = waiter.forClose
      ? `the connection is still open after ${timeout} ms (expected the server to close it)`
      : `no ${waiter.what.replace(/^an? /, '')} within ${timeout} ms`;
    return new NekoTestingError(
      'NEKO_ERR_TESTING_TIMEOUT',
      `${this.name}: ${awaited}; ${this.#arrivedSince(waiter)}` +
        (queued
          ? '; the packet was never written: the client holds no unused server random (the server has not answered the previous packet)'
          : ''),
      { hint: 'Pass { timeout } for a slower answer, or check what the plugin sends.' },
    );
  }

  #droppedError(waiter: Waiter): NekoTestingError {
    return new NekoTestingError(
      'NEKO_ERR_TESTING_DROPPED',
      `${this.name}: the connection dropped (drop()) while waiting for ${waiter.what}; it is not sent again`,
      { hint: 'Call client.reconnect(), then send it again if the plugin may take it twice.' },
    );
  }

  #closedError(waiter: Waiter): NekoTestingError {
    return new NekoTestingError(
      'NEKO_ERR_TESTING_CLOSED',
      `${this.name}: the connection closed${this.#closedHow()} while waiting for ${waiter.what}; ${this.#arrivedSince(waiter)}`,
    );
  }

  /** `arrived instead: …` (with the packets still unread from before), or `nothing arrived`. */
  #arrivedSince(waiter: Waiter): string {
    const since = this.#recent.filter((a) => a.n >= waiter.since).map((a) => a.packet);
    const before = this.#unread.filter((p) => !since.includes(p));
    let out = since.length === 0 ? 'nothing arrived' : `arrived instead: ${list(since)}`;
    if (before.length > 0) out += `; unread from before: ${list(before)}`;
    return out;
  }
}

function list(packets: readonly TestPacket[]): string {
  const shown = packets.slice(0, LISTED).map(describePacket).join(', ');
  return packets.length > LISTED ? `${shown} and ${packets.length - LISTED} more` : shown;
}
