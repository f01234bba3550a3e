import { EventEmitter } from 'node:events';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Packet } from '../protocol/packet.js';
import { NekoError, isNekoError, type NekoErrorCode } from '../errors.js';
import { ClientChain, replyRule, type ReplyRule } from '../protocol/client-chain.js';
import {
  AUTH_GREETER,
  AUTH_PACKET,
  DEFAULT_HOST,
  DEFAULT_PORT,
  SERVER_GREETER,
} from '../protocol/constants.js';
import { FrameDecoder } from '../protocol/decoder.js';
import type { Frame } from '../protocol/frame.js';
import { Hasher } from '../protocol/hash.js';
import { ReceivedPacket } from '../protocol/packet.js';
import { RESUME_OP, RESUME_TOKEN_OP, isExtensionAnswer, parseResumeAnswer } from '../protocol/resume.js';
import { TOKEN_AUTH_OP } from '../protocol/token.js';
import { tcpWire, webSocketWire, type Wire, type WireEvents } from './wire.js';
import { STATUS_TEXT, Status } from '../protocol/status.js';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The shared secret; or give a `token` instead. */
  secret?: string;
  /**
   * A per-user token issued by your backend (`issueToken()` of `nekoconnect`,
   * protocol §15), instead of the secret: what web pages and other clients
   * you do not trust with the secret use.
   */
  token?: { readonly id: string; readonly key: string };
  /**
   * Connect over WebSocket instead of TCP: `ws://host:port/path`, or
   * `wss://…` (with `tls` options such as `ca` when needed). `host` and
   * `port` are then ignored.
   */
  url?: string;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 10390. */
  port?: number;
  /** Connect over TLS: `true`, or options for `tls.connect` (e.g. `ca`, `rejectUnauthorized`). */
  tls?: boolean | TlsConnectionOptions;
  /** Time for the TCP connection and the handshake, in ms. Default 10 s. */
  connectTimeoutMs?: number;
  /** Default time a {@link NekoClient.request} waits, in ms. Default 30 s. */
  requestTimeoutMs?: number;
  /** Largest frame accepted from the server, in bytes. Default 16 MiB. */
  maxPacketBytes?: number;
  /**
   * Reconnect after the connection drops (not after `close()` or a closing
   * status): `true` for the defaults, or {@link ReconnectOptions}. Default off.
   */
  reconnect?: boolean | ReconnectOptions;
}

/** How the client reconnects after a drop (`connect({ reconnect })`). */
export interface ReconnectOptions {
  /** Attempts after a drop before giving up and closing for good. Default 10. */
  retries?: number;
  /**
   * The wait before each attempt: `initialMs` doubled at each attempt up to
   * `maxMs`, of which a random part (jitter) is taken, between half and all
   * of it. Default 250 ms to 10 s.
   */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Resume the session after reconnecting (protocol §14), so that plugins
   * keep its state and groups and it gets what was sent to it meanwhile;
   * needs a plugin with a `$grace`. Default true.
   */
  resume?: boolean;
}

/** Reconnect options with their defaults. */
interface ReconnectPolicy {
  readonly retries: number;
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resume: boolean;
}

function reconnectPolicy(option: ConnectOptions['reconnect']): ReconnectPolicy | undefined {
  if (option === undefined || option === false) return undefined;
  const given = option === true ? {} : option;
  return {
    retries: given.retries ?? 10,
    initialMs: given.backoff?.initialMs ?? 250,
    maxMs: given.backoff?.maxMs ?? 10_000,
    resume: given.resume ?? true,
  };
}

/** The wait before reconnect attempt `attempt` (1, 2, …): exponential, with jitter. */
export function backoffDelay(
  policy: { initialMs: number; maxMs: number },
  attempt: number,
  random = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Options of {@link NekoClient.send} and {@link NekoClient.request}. */
export interface ClientSendOptions {
  /** The op code. Default 0. */
  op?: number;
}

export interface RequestOptions extends ClientSendOptions {
  /** How long to wait for the answer, in ms. Default: the client's `requestTimeoutMs`. */
  timeoutMs?: number;
  /**
   * The op (or ops) of the plugin's reply. Only a packet from the greeter
   * with one of them answers the request; others from it (pushes) go to the
   * `packet` event. Default: any op.
   */
  replyOp?: number | readonly number[];
  /**
   * Called with each packet from the greeter (of a `replyOp` op, if given);
   * the first it returns true for answers the request, the others go to the
   * `packet` event. A predicate that throws counts as false.
   */
  match?: (packet: ClientPacket) => boolean;
}

/** Data the client sends: bytes, a string (sent as UTF-8), or a plain object or array (sent as JSON). */
export type ClientData = string | Uint8Array | Record<string, unknown> | readonly unknown[];

/** A packet from the server. */
export interface ClientPacket extends Packet {
  /** The plugin's greeter, or `nekoconnect-server` for a status packet. */
  readonly greeter: string;
  /** For a status packet, its code (the op); undefined for a plugin's packet. */
  readonly status: number | undefined;
}

/** The server answered with an error status (404, 500, 503, or a closing one). */
export class NekoStatusError extends NekoError {
  readonly status: number;
  readonly greeter: string;

  constructor(status: number, greeter: string) {
    super(
      'NEKO_ERR_CLIENT_STATUS',
      `server answered ${status} (${STATUS_TEXT[status] ?? 'unknown status'}) to a packet for "${greeter}"`,
    );
    this.name = 'NekoStatusError';
    this.status = status;
    this.greeter = greeter;
  }
}

/** Arrivals kept for timeout messages. */
const RECENT_ARRIVALS = 50;
/** Packets a timeout message lists. */
const LISTED = 6;

/** `op 2 from "game" (14 bytes)`, or `status 500`. */
function describe(packet: ClientPacket): string {
  if (packet.status !== undefined)
    return `status ${packet.status} (${STATUS_TEXT[packet.status] ?? 'unknown'})`;
  return `op ${packet.op} from "${packet.greeter}" (${packet.data.length} bytes)`;
}

/** The bytes or string of `data`: plain objects and arrays as JSON. */
function encodeData(data: unknown): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  const proto: unknown = typeof data === 'object' && data !== null ? Object.getPrototypeOf(data) : undefined;
  if (Array.isArray(data) || proto === Object.prototype || (typeof data === 'object' && proto === null)) {
    try {
      return JSON.stringify(data);
    } catch (err) {
      throw new NekoError('NEKO_ERR_CLIENT_DATA', `data cannot be sent as JSON: ${(err as Error).message}`, {
        cause: err,
        hint: 'Objects and arrays are sent as JSON: no cycles, no bigint.',
      });
    }
  }
  const kind =
    data === null
      ? 'null'
      : typeof data === 'object'
        ? `a ${data.constructor?.name ?? 'object'} object`
        : `a ${typeof data}`;
  throw new NekoError(
    'NEKO_ERR_CLIENT_DATA',
    `data must be a string, bytes, a plain object or an array; got ${kind}`,
    {
      hint: 'Convert it yourself (e.g. String(n), JSON.stringify(value)) before sending.',
    },
  );
}

class IncomingPacket extends ReceivedPacket implements ClientPacket {
  readonly greeter: string;
  readonly status: number | undefined;

  /** `status` as the chain read it from the frame. */
  constructor(frame: Frame, status: number | undefined) {
    super(frame.op, Buffer.from(frame.data));
    this.greeter = frame.greeter;
    this.status = status;
  }
}

/** @internal A packet written (or waiting to be written) and not yet answered. */
export interface Outgoing {
  readonly greeter: string;
  readonly op: number;
  readonly data: string | Uint8Array;
  /** For a request with `{ replyOp }` or `match`: which packets answer it. */
  readonly reply?: ReplyRule;
  /** For a request: the arrival count when it was made (its timeout lists what came since). */
  readonly since?: number;
  /** Set for a request: settles with the answer. */
  readonly answer?: {
    resolve(packet: ClientPacket): void;
    reject(err: Error): void;
  };
  timer?: NodeJS.Timeout;
  /** Set for a send(): settles once the packet is written, or could not be. */
  readonly write?: {
    resolve(): void;
    reject(err: Error): void;
  };
  /** The client's own packet of the resume extension (a token request or a resume); its answer is the client's. */
  readonly extension?: true;
}

export interface NekoClientEvents {
  /** A packet that answers no request: a push, or the reply to a `send()`. */
  packet: [packet: ClientPacket];
  /** The server sent an error status that answered no request. */
  status: [error: NekoStatusError];
  /**
   * The connection closed for good (after `close()`, a closing status, or
   * when reconnecting gave up). When the server shut down or drained, `status`
   * is 503 and `error` is `NEKO_ERR_CLIENT_SERVER_SHUTDOWN` (with `reconnect`,
   * the client reconnects instead, as after a drop).
   */
  close: [info: { status?: number; error?: Error }];
  /** The connection dropped (or an attempt failed): the client tries again after `delayMs`. */
  reconnecting: [info: { attempt: number; delayMs: number; error?: Error }];
  /** The client is connected again: `resumed` tells whether it carries on its session or starts a new one. */
  reconnected: [info: { resumed: boolean }];
  /** The client carries on its session after a drop (before `reconnected`); what was sent meanwhile follows as packets. */
  resumed: [];
}

/** A connection that completed the handshake, and the chain it runs. */
interface Link {
  readonly wire: Wire;
  readonly chain: ClientChain<Outgoing>;
  /**
   * Hands the frames after the handshake (those already read first) to
   * `onFrame`, decoding errors to `onError`, and the close to `onClose`.
   */
  listen(onFrame: (frame: Frame) => void, onError: (err: NekoError) => void, onClose: () => void): void;
}

/** `connect()` options with their defaults. */
interface LinkOptions {
  /** A WebSocket URL, when the client connects over WebSocket. */
  readonly url: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly tls: ConnectOptions['tls'];
  readonly timeoutMs: number;
  readonly maxPacketBytes: number;
  /** The first packet: the auth packet of the secret, or of a token. */
  readonly first: Outgoing;
  /** Set for a client of {@link connectOver}: its wire, and who watches its packets. */
  readonly tap?: ClientTap;
}

/**
 * @internal How the dashboard's Playground drives the SDK: over a wire of its
 * own (an in-memory pipe to `server.accept()`), told of each packet it sends
 * and of what each server packet answers. Not part of the public API.
 */
export interface ClientTap {
  /** How messages name the other end, e.g. `the playground`. */
  readonly name: string;
  /** Makes the wire the client talks over. */
  wire(events: WireEvents): Wire;
  /** A packet of `send()` or `request()`, as it is queued (synchronously, inside the call). */
  queued(outgoing: Outgoing): void;
  /** A server packet after the handshake: a plugin's or a status, and the packet of this client it answers. */
  arrived(packet: ClientPacket, answers: Outgoing | undefined): void;
}

/**
 * A connected, authenticated client. It keeps the nonce chain (a
 * `ClientChain` of the protocol layer): every packet carries `H` of the
 * newest server random received, and packets wait their turn until the
 * client holds a fresh one (the server always sends one after each packet
 * it accepts).
 *
 * It also checks the server: every packet must carry `H` of a random this
 * client sent (only a closing status may carry `server`). A packet that does
 * not is not from the server that knows the secret; the client closes
 * without hashing its random, so it can never serve as a hashing oracle.
 *
 * With `reconnect`, a drop (the connection closing without a closing status
 * and without `close()`) does not end it: requests in flight reject with
 * `NEKO_ERR_CLIENT_DROPPED` (never sent again), packets not yet written wait,
 * and it reconnects with backoff, resuming its session when the server kept
 * it (protocol §14).
 */
export class NekoClient extends EventEmitter<NekoClientEvents> {
  readonly #hasher: Hasher;
  readonly #linkOptions: LinkOptions;
  readonly #requestTimeoutMs: number;
  readonly #reconnect: ReconnectPolicy | undefined;
  /** Recent arrivals, for timeout messages. */
  readonly #recent: { readonly n: number; readonly packet: ClientPacket }[] = [];
  #link: Link | undefined;
  #arrivals = 0;
  #state: 'open' | 'reconnecting' | 'closed' = 'open';
  /** `close()` was called. */
  #closing = false;
  #closeStatus: number | undefined;
  #closeError: Error | undefined;
  /** The newest packet of the current connection was a 503: the shutdown notice, if the close follows. */
  #notice = false;
  /** The resume token of the session, once the server gave one. */
  #token: string | undefined;
  /** Packets made while reconnecting, or not yet written at the drop: written on the next connection. */
  #waiting: Outgoing[] = [];
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #closedPromise: Promise<void>;
  #resolveClosed!: () => void;

  /** @internal Use {@link connect}. */
  constructor(
    link: Link,
    hasher: Hasher,
    linkOptions: LinkOptions,
    requestTimeoutMs: number,
    reconnect: ReconnectPolicy | undefined,
  ) {
    super();
    this.#hasher = hasher;
    this.#linkOptions = linkOptions;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#reconnect = reconnect;
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#adopt(link);
    if (reconnect?.resume) this.#askToken();
  }

  /** True while a connection is up: false while reconnecting and once closed. */
  get connected(): boolean {
    return this.#state === 'open';
  }

  /** `open`, `reconnecting` (after a drop, with `reconnect`), or `closed` for good. */
  get state(): 'open' | 'reconnecting' | 'closed' {
    return this.#state;
  }

  /**
   * Sends a packet and resolves with its answer: the next packet from that
   * greeter, or a status packet. Status 100 and 200 resolve (with `status`
   * set); error statuses (404, 500, 503, 400, 408, 413, 422) reject with a
   * {@link NekoStatusError}.
   *
   * With `{ replyOp }` and/or `match`, only a packet from that greeter that
   * fits answers it; pushes that do not fit go to the `packet` event.
   * Statuses still answer the oldest request in flight.
   *
   * While the client reconnects, the request waits and is sent on the next
   * connection; one in flight when the connection drops rejects with
   * `NEKO_ERR_CLIENT_DROPPED` and is never sent again.
   * @throws NekoError `NEKO_ERR_CLIENT_DATA` (as a rejection) when `data` cannot be sent.
   */
  request(greeter: string, data: ClientData = '', options: RequestOptions = {}): Promise<ClientPacket> {
    return new Promise<ClientPacket>((resolve, reject) => {
      const { match } = options;
      let bytes: string | Uint8Array;
      let reply: ReplyRule | undefined;
      try {
        bytes = encodeData(data);
        reply = replyRule(
          options.replyOp,
          match && ((frame: Frame) => match(new IncomingPacket(frame, undefined))),
        );
      } catch (err) {
        reject(err as Error);
        return;
      }
      const outgoing: Outgoing = {
        greeter,
        op: options.op ?? 0,
        data: bytes,
        reply,
        since: this.#arrivals,
        answer: { resolve, reject },
      };
      const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
      outgoing.timer = setTimeout(() => {
        this.#link?.chain.forget(outgoing);
        this.#waiting = this.#waiting.filter((o) => o !== outgoing);
        reject(new NekoError('NEKO_ERR_CLIENT_TIMEOUT', this.#timeoutMessage(outgoing, timeoutMs)));
      }, timeoutMs);
      this.#enqueue(outgoing, reject);
    });
  }

  /**
   * Sends a packet without waiting for its answer; resolves once it is
   * written. Its answer, if the plugin sends one, arrives as a `packet` event.
   */
  send(greeter: string, data: ClientData = '', options: ClientSendOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let bytes: string | Uint8Array;
      try {
        bytes = encodeData(data);
      } catch (err) {
        reject(err as Error);
        return;
      }
      this.#enqueue({ greeter, op: options.op ?? 0, data: bytes, write: { resolve, reject } }, reject);
    });
  }

  /**
   * Pushed packets (those that answer no request), as an async iterator that
   * ends when the client closes for good. Packets are buffered from this call on.
   */
  packets(): AsyncGenerator<ClientPacket, void, undefined> {
    // Subscribe now: a generator's body, and so its listeners, would only start at the first next().
    const buffered: ClientPacket[] = [];
    let wake: (() => void) | undefined;
    const onPacket = (packet: ClientPacket): void => {
      buffered.push(packet);
      wake?.();
    };
    const stop = (): void => {
      this.off('packet', onPacket);
      this.off('close', onClose);
    };
    // No packet comes after the close, so the listeners can go then even if the iterator is never run.
    const onClose = (): void => {
      stop();
      wake?.();
    };
    this.on('packet', onPacket);
    this.on('close', onClose);
    const isClosed = (): boolean => this.#state === 'closed';
    return (async function* iterate(): AsyncGenerator<ClientPacket, void, undefined> {
      try {
        while (true) {
          const next = buffered.shift();
          if (next) {
            yield next;
            continue;
          }
          if (isClosed()) return;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        stop();
      }
    })();
  }

  /** Closes the connection (and stops reconnecting); pending requests reject. Resolves once closed. */
  close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retryTimer);
    const link = this.#link;
    if (this.#state === 'closed') return this.#closedPromise;
    if (!link) {
      this.#finish([]);
      return this.#closedPromise;
    }
    link.wire.end();
    const cut = setTimeout(() => link.wire.destroy(), 2_000);
    return this.#closedPromise.finally(() => clearTimeout(cut));
  }

  /** Takes a connection that completed its handshake as the client's. */
  #adopt(link: Link): void {
    this.#link = link;
    this.#state = 'open';
    this.#notice = false;
    link.listen(
      (frame) => this.#onFrame(link, frame),
      (err) => {
        if (link !== this.#link) return;
        this.#closeError = new NekoError(
          'NEKO_ERR_CLIENT_PROTOCOL',
          `server sent a bad frame: ${err.message}`,
          {
            cause: err,
          },
        );
        link.wire.destroy();
      },
      () => this.#onLinkClosed(link),
    );
  }

  #onFrame(link: Link, frame: Frame): void {
    // After a bad frame the socket is being destroyed: later frames of the same chunk are not read.
    if (link !== this.#link || this.#closeError) return;
    const arrival = link.chain.receive(frame);
    if (arrival.kind === 'forged') {
      this.#closeError = new NekoError(
        'NEKO_ERR_CLIENT_AUTH',
        `a packet from "${frame.greeter}" does not carry H of any random this client sent: not from the server that knows the secret`,
        { hint: 'Someone may be injecting packets into the connection; use TLS.' },
      );
      link.wire.destroy();
      return;
    }
    this.#notice = arrival.status === Status.Unavailable;
    if (isExtensionAnswer(frame.greeter, frame.op)) {
      this.#onExtensionAnswer(frame);
    } else {
      const packet = new IncomingPacket(frame, arrival.status);
      this.#linkOptions.tap?.arrived(packet, arrival.answers?.extension ? undefined : arrival.answers);
      this.#recent.push({ n: this.#arrivals++, packet });
      if (this.#recent.length > RECENT_ARRIVALS) this.#recent.shift();
      if (packet.status !== undefined) this.#onStatus(packet, arrival.answers, arrival.closing);
      else this.#onPluginPacket(packet, arrival.answers);
    }
    // After a closing status the server sends nothing more: nothing is written.
    if (!arrival.closing) this.#flush();
  }

  /** The answer to the client's own token request (201) or resume (202). */
  #onExtensionAnswer(frame: Frame): void {
    const data = frame.data.toString('latin1');
    if (frame.op === RESUME_TOKEN_OP) {
      this.#token = data;
      return;
    }
    const answer = parseResumeAnswer(data);
    if (answer.resumed) {
      this.#token = answer.token;
      this.emit('resumed');
      this.emit('reconnected', { resumed: true });
      return;
    }
    this.#token = undefined;
    this.#askToken();
    this.emit('reconnected', { resumed: false });
  }

  #onPluginPacket(packet: IncomingPacket, outgoing: Outgoing | undefined): void {
    if (outgoing?.answer) {
      clearTimeout(outgoing.timer);
      outgoing.answer.resolve(packet);
      return;
    }
    this.emit('packet', packet);
  }

  #onStatus(packet: IncomingPacket, outgoing: Outgoing | undefined, closing: boolean): void {
    const status = packet.status!;
    if (closing) this.#closeStatus = status;
    // A server without the resume extension answers the client's own request with 404: no token then.
    if (outgoing?.extension) return;
    if (status === Status.Continue || status === Status.Ok) {
      if (outgoing?.answer) {
        clearTimeout(outgoing.timer);
        outgoing.answer.resolve(packet);
      }
      return;
    }
    const error = new NekoStatusError(status, outgoing?.greeter ?? SERVER_GREETER);
    if (outgoing?.answer) {
      clearTimeout(outgoing.timer);
      outgoing.answer.reject(error);
    } else if (status === Status.Unavailable && outgoing === undefined) {
      // A 503 that answers nothing is the server's shutdown notice: the close follows (see #onLinkClosed).
    } else if (this.listenerCount('status') > 0) {
      this.emit('status', error);
    }
  }

  #enqueue(outgoing: Outgoing, reject: (err: Error) => void): void {
    this.#linkOptions.tap?.queued(outgoing);
    if (this.#state === 'closed') {
      clearTimeout(outgoing.timer);
      reject(this.#closedError());
      return;
    }
    if (!this.#link) {
      this.#waiting.push(outgoing);
      return;
    }
    this.#link.chain.enqueue(outgoing);
    this.#flush();
  }

  /** Asks the server for a resume token (protocol §14); the answer is kept, not shown. */
  #askToken(): void {
    this.#link?.chain.enqueue({ greeter: AUTH_GREETER, op: RESUME_TOKEN_OP, data: '', extension: true });
    this.#flush();
  }

  /** Writes the next queued packets while the client holds a fresh server random. */
  #flush(): void {
    const link = this.#link;
    while (link && this.#state === 'open') {
      const next = link.chain.nextWrite();
      if (!next) return;
      const outgoing = next.packet;
      if (next.error) {
        // Nothing was written, so the server random is still unused: try the next packet.
        clearTimeout(outgoing.timer);
        outgoing.answer?.reject(next.error);
        outgoing.write?.reject(next.error);
        continue;
      }
      link.wire.write(next.frame);
      outgoing.write?.resolve();
    }
  }

  /** `no answer from "g" (reply op 5) within 100 ms (op 5); arrived instead: …`. */
  #timeoutMessage(outgoing: Outgoing, timeoutMs: number): string {
    const ops = outgoing.reply?.ops;
    const wanted =
      ops === undefined ? '' : ` (reply op ${ops.join(' or ')}${outgoing.reply?.match ? ' matching' : ''})`;
    const since = this.#recent.filter((a) => a.n >= (outgoing.since ?? 0)).map((a) => a.packet);
    const shown = since.slice(0, LISTED).map(describe).join(', ');
    const arrived =
      since.length === 0
        ? 'nothing arrived'
        : `arrived instead: ${shown}${since.length > LISTED ? ` and ${since.length - LISTED} more` : ''}`;
    return `no answer from "${outgoing.greeter}"${wanted} within ${timeoutMs} ms (op ${outgoing.op}); ${arrived}`;
  }

  #closedError(): NekoError {
    if (isNekoError(this.#closeError, 'NEKO_ERR_CLIENT_SERVER_SHUTDOWN')) return this.#closeError;
    if (this.#closeStatus !== undefined) return new NekoStatusError(this.#closeStatus, SERVER_GREETER);
    return this.#closeError instanceof NekoError
      ? this.#closeError
      : new NekoError('NEKO_ERR_CLIENT_CLOSED', 'the connection is closed');
  }

  /** The connection closed: for good, or (with `reconnect`) a drop to recover from. */
  #onLinkClosed(link: Link): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    const { inFlight, queued } = link.chain.drop();
    // The server's shutdown notice (protocol §10): a 503 was the last packet before the close.
    const shutdown =
      this.#notice && !this.#closing && this.#closeStatus === undefined && this.#closeError === undefined
        ? new NekoError(
            'NEKO_ERR_CLIENT_SERVER_SHUTDOWN',
            `the server at ${where(this.#linkOptions)} is shutting down: it sent 503 and closed the connection`,
            {
              hint: this.#reconnect
                ? 'The client reconnects once the server is back (a restart); the session starts anew.'
                : 'Connect again once it is back, or connect with { reconnect } to do it by itself.',
            },
          )
        : undefined;
    if (shutdown && this.#reconnect === undefined) {
      this.#closeStatus = Status.Unavailable;
      this.#closeError = shutdown;
    }
    const isDrop =
      this.#reconnect !== undefined &&
      !this.#closing &&
      this.#closeStatus === undefined &&
      this.#closeError === undefined;
    if (!isDrop) {
      this.#finish([...inFlight, ...queued]);
      return;
    }
    const dropped =
      shutdown ??
      new NekoError(
        'NEKO_ERR_CLIENT_DROPPED',
        'the connection dropped before the answer came; the packet is not sent again (the plugin may have acted on it)',
        { hint: 'Listen for "reconnected"/"resumed" and send it again yourself if that is safe.' },
      );
    for (const outgoing of inFlight) {
      clearTimeout(outgoing.timer);
      outgoing.answer?.reject(dropped);
    }
    // A session the server closed is not kept for a resume: the next connection starts a new one.
    if (shutdown) this.#token = undefined;
    // Packets never written are not resent but sent: they wait for the next connection, in order.
    this.#waiting = [...queued.filter((o) => !o.extension), ...this.#waiting];
    this.#state = 'reconnecting';
    this.#retry(1, shutdown);
  }

  /** Schedules reconnect attempt `attempt`, or gives up after the last one. */
  #retry(attempt: number, error: Error | undefined): void {
    const policy = this.#reconnect!;
    if (attempt > policy.retries) {
      this.#closeError = new NekoError(
        'NEKO_ERR_CLIENT_CONNECT',
        `could not reconnect to ${where(this.#linkOptions)} after ${policy.retries} attempt(s)${error ? `: ${error.message}` : ''}`,
        { cause: error },
      );
      this.#finish([]);
      return;
    }
    const delayMs = backoffDelay(policy, attempt);
    this.emit('reconnecting', { attempt, delayMs, error });
    this.#retryTimer = setTimeout(() => {
      openLink(this.#linkOptions, this.#hasher).then(
        (link) => {
          if (this.#closing) {
            link.wire.destroy();
            return;
          }
          this.#reconnected(link);
        },
        (err: Error) => {
          if (!this.#closing) this.#retry(attempt + 1, err);
        },
      );
    }, delayMs);
  }

  /** A new connection is up: resume the session on it if there is a token, then send what waited. */
  #reconnected(link: Link): void {
    this.#adopt(link);
    const token = this.#reconnect!.resume ? this.#token : undefined;
    this.#token = undefined;
    if (token !== undefined) {
      // The resume must be the first packet after the handshake; its answer says what happened.
      link.chain.enqueue({ greeter: AUTH_GREETER, op: RESUME_OP, data: token, extension: true });
    } else if (this.#reconnect!.resume) {
      this.#askToken();
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const outgoing of waiting) link.chain.enqueue(outgoing);
    this.#flush();
    if (token === undefined) this.emit('reconnected', { resumed: false });
  }

  /** Closed for good: everything pending rejects, `close` is emitted once. */
  #finish(pending: Outgoing[]): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#retryTimer);
    const error = this.#closedError();
    for (const outgoing of [...pending, ...this.#waiting]) {
      clearTimeout(outgoing.timer);
      outgoing.answer?.reject(error);
      outgoing.write?.reject(error);
    }
    this.#waiting = [];
    this.emit('close', { status: this.#closeStatus, error: this.#closeError });
    this.#resolveClosed();
  }
}

/**
 * Opens a connection and completes the handshake: resolves once the server
 * has accepted the secret and proved it knows it too (its answer carries
 * `H` of the client's random).
 */
async function openLink(options: LinkOptions, hasher: Hasher): Promise<Link> {
  const { timeoutMs } = options;
  const target = where(options);
  let link: Link | undefined;
  /** Frames after the handshake answer, until the client listens. */
  let early: Frame[] | undefined = [];
  let onFrame: ((frame: Frame) => void) | undefined;
  let onError: ((err: NekoError) => void) | undefined;
  let onClose: (() => void) | undefined;
  let settle: { resolve(link: Link): void; reject(err: Error): void } | undefined;
  const chain = new ClientChain<Outgoing>(hasher);
  chain.enqueue({ ...options.first });
  const fail = (code: NekoErrorCode, message: string, cause?: unknown): void => {
    clearTimeout(timer);
    wire?.destroy();
    settle?.reject(new NekoError(code, message, { cause }));
    settle = undefined;
  };
  const timer = setTimeout(
    () => fail('NEKO_ERR_CLIENT_CONNECT', `no handshake with ${target} within ${timeoutMs} ms`),
    timeoutMs,
  );
  const decoder = new FrameDecoder({ maxPacket: options.maxPacketBytes }, (frame) => {
    if (link) {
      if (onFrame) onFrame(frame);
      else early!.push(copyFrame(frame));
      return;
    }
    // The handshake answer: 200 with H(our random), or a status with hash "server".
    if (frame.greeter !== SERVER_GREETER || frame.op !== Status.Ok) {
      fail(
        'NEKO_ERR_CLIENT_AUTH',
        `server refused the handshake with status ${frame.op} (${STATUS_TEXT[frame.op] ?? 'unknown'}); check the secret`,
      );
      return;
    }
    if (chain.receive(frame).kind === 'forged') {
      fail('NEKO_ERR_CLIENT_AUTH', 'server reply does not prove knowledge of the secret');
      return;
    }
    clearTimeout(timer);
    link = {
      wire: wire!,
      chain,
      listen(frameHandler, errorHandler, closeHandler) {
        onFrame = frameHandler;
        onError = errorHandler;
        onClose = closeHandler;
        const before = early!;
        early = undefined;
        for (const f of before) frameHandler(f);
      },
    };
    settle?.resolve(link);
    settle = undefined;
  });
  const events: WireEvents = {
    open: () => {
      // The chain's first write: the auth packet, hashed with its own random.
      const auth = chain.nextWrite();
      if (auth?.frame) wire?.write(auth.frame);
    },
    data: (chunk) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        if (!link)
          fail('NEKO_ERR_CLIENT_PROTOCOL', `server sent a bad frame: ${(err as Error).message}`, err);
        else if (onError) onError(err as NekoError);
        else wire?.destroy();
      }
    },
    error: (err) => {
      if (!link)
        fail('NEKO_ERR_CLIENT_CONNECT', `cannot connect to ${target}: ${err.code ?? err.message}`, err);
    },
    close: () => {
      if (!link) fail('NEKO_ERR_CLIENT_CONNECT', `connection to ${target} closed during the handshake`);
      else onClose?.();
    },
  };
  const settled = new Promise<Link>((resolve, reject) => (settle = { resolve, reject }));
  let wire: Wire | undefined;
  try {
    wire =
      options.tap !== undefined
        ? options.tap.wire(events)
        : options.url === undefined
          ? tcpWire({ host: options.host, port: options.port, tls: options.tls }, events)
          : await webSocketWire(options.url, options.tls, events);
  } catch (err) {
    fail('NEKO_ERR_CLIENT_CONNECT', `cannot connect to ${target}: ${(err as Error).message}`, err);
  }
  return settled;
}

/** Where a client connects, for messages: its WebSocket URL, or `host:port`. */
function where(options: LinkOptions): string {
  return options.tap?.name ?? options.url ?? `${options.host}:${options.port}`;
}

/** A frame whose fields no longer share the decoder's buffer. */
function copyFrame(frame: Frame): Frame {
  return {
    greeter: frame.greeter,
    op: frame.op,
    random: Buffer.from(frame.random),
    data: Buffer.from(frame.data),
    hash: Buffer.from(frame.hash),
  };
}

/**
 * Connects to a NekoConnect server and completes the handshake. Resolves with
 * a {@link NekoClient} once the server has accepted the secret and proved it
 * knows it too (its reply carries `H` of the client's random).
 */
export async function connect(options: ConnectOptions): Promise<NekoClient> {
  return connectWith(options, undefined);
}

/**
 * @internal Connects over the wire `tap` makes (no TCP, no WebSocket), and
 * tells `tap` what the client sends and what each packet answers: the
 * Playground's simulated clients. Options as {@link connect}'s, `reconnect` aside.
 */
export function connectOver(
  options: Omit<ConnectOptions, 'reconnect' | 'url'>,
  tap: ClientTap,
): Promise<NekoClient> {
  return connectWith(options, tap);
}

async function connectWith(options: ConnectOptions, tap: ClientTap | undefined): Promise<NekoClient> {
  const { secret, token } = options;
  const hasSecret = typeof secret === 'string' && secret.length > 0;
  const hasToken =
    token !== undefined && typeof token.id === 'string' && /^[0-9a-f]{64}$/.test(String(token.key));
  if (hasSecret === hasToken) {
    throw new NekoError(
      'NEKO_ERR_CLIENT_AUTH',
      hasSecret
        ? 'connect() takes a secret or a token, not both'
        : 'connect() needs the shared secret or a token',
      {
        hint: 'Pass { secret } with the value the server was started with (NEKOCONNECT_SECRET), or { token: { id, key } } from issueToken().',
      },
    );
  }
  if (options.url !== undefined && !/^wss?:\/\//.test(options.url)) {
    throw new NekoError(
      'NEKO_ERR_CLIENT_CONNECT',
      `url must start with ws:// or wss://, got ${JSON.stringify(options.url)}`,
      {
        hint: 'For TCP, give host and port instead of a url.',
      },
    );
  }
  const linkOptions: LinkOptions = {
    url: options.url,
    host: options.host ?? DEFAULT_HOST,
    port: options.port ?? DEFAULT_PORT,
    tls: options.tls,
    timeoutMs: options.connectTimeoutMs ?? 10_000,
    maxPacketBytes: options.maxPacketBytes ?? 16 * 1024 * 1024,
    first: hasToken ? { greeter: AUTH_GREETER, op: TOKEN_AUTH_OP, data: token!.id } : { ...AUTH_PACKET },
    ...(tap === undefined ? {} : { tap }),
  };
  const hasher = new Hasher(hasToken ? token!.key : secret!);
  const link = await openLink(linkOptions, hasher);
  return new NekoClient(
    link,
    hasher,
    linkOptions,
    options.requestTimeoutMs ?? 30_000,
    tap === undefined ? reconnectPolicy(options.reconnect) : undefined,
  );
}
