import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Packet } from '../protocol/packet.js';
import { NekoError, type NekoErrorCode } from '../errors.js';
import { ClientChain, replyRule, type ReplyRule } from '../protocol/client-chain.js';
import { AUTH_PACKET, DEFAULT_HOST, DEFAULT_PORT, SERVER_GREETER } from '../protocol/constants.js';
import { FrameDecoder } from '../protocol/decoder.js';
import type { Frame } from '../protocol/frame.js';
import { Hasher } from '../protocol/hash.js';
import { ReceivedPacket } from '../protocol/packet.js';
import { STATUS_TEXT, Status } from '../protocol/status.js';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The shared secret. Required. */
  secret: string;
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
}

export interface NekoClientEvents {
  /** A packet that answers no request: a push, or the reply to a `send()`. */
  packet: [packet: ClientPacket];
  /** The server sent an error status that answered no request. */
  status: [error: NekoStatusError];
  /** The connection closed. */
  close: [info: { status?: number; error?: Error }];
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
 */
export class NekoClient extends EventEmitter<NekoClientEvents> {
  readonly #socket: Socket;
  readonly #chain: ClientChain<Outgoing>;
  readonly #requestTimeoutMs: number;
  /** Recent arrivals, for timeout messages. */
  readonly #recent: { readonly n: number; readonly packet: ClientPacket }[] = [];
  #arrivals = 0;
  #closed = false;
  #closeStatus: number | undefined;
  #closeError: Error | undefined;
  readonly #closedPromise: Promise<void>;

  /** @internal Use {@link connect}. */
  constructor(socket: Socket, chain: ClientChain<Outgoing>, requestTimeoutMs: number) {
    super();
    this.#socket = socket;
    this.#chain = chain;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => this.#onClose());
  }

  /** True until the connection closes. */
  get connected(): boolean {
    return !this.#closed;
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
        this.#chain.forget(outgoing);
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
   * ends when the connection closes. Packets are buffered from this call on.
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
    const isClosed = (): boolean => this.#closed;
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

  /** Closes the connection; pending requests reject. Resolves once closed. */
  close(): Promise<void> {
    if (!this.#closed) this.#socket.end();
    const cut = setTimeout(() => this.#socket.destroy(), 2_000);
    return this.#closedPromise.finally(() => clearTimeout(cut));
  }

  /** @internal Frames after the handshake. */
  handleFrame(frame: Frame): void {
    // After a bad frame the socket is being destroyed: later frames of the same chunk are not read.
    if (this.#closed || this.#closeError) return;
    const arrival = this.#chain.receive(frame);
    if (arrival.kind === 'forged') {
      this.#closeError = new NekoError(
        'NEKO_ERR_CLIENT_AUTH',
        `a packet from "${frame.greeter}" does not carry H of any random this client sent: not from the server that knows the secret`,
        { hint: 'Someone may be injecting packets into the connection; use TLS.' },
      );
      this.#socket.destroy();
      return;
    }
    const packet = new IncomingPacket(frame, arrival.status);
    this.#recent.push({ n: this.#arrivals++, packet });
    if (this.#recent.length > RECENT_ARRIVALS) this.#recent.shift();
    if (packet.status !== undefined) this.#onStatus(packet, arrival.answers, arrival.closing);
    else this.#onPluginPacket(packet, arrival.answers);
    // After a closing status the server sends nothing more: nothing is written.
    if (!arrival.closing) this.#flush();
  }

  /** @internal The decoder refused the server's bytes. */
  handleProtocolError(err: NekoError): void {
    this.#closeError = new NekoError('NEKO_ERR_CLIENT_PROTOCOL', `server sent a bad frame: ${err.message}`, {
      cause: err,
    });
    this.#socket.destroy();
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
    } else if (this.listenerCount('status') > 0) {
      this.emit('status', error);
    }
  }

  #enqueue(outgoing: Outgoing, reject: (err: Error) => void): void {
    if (this.#closed) {
      clearTimeout(outgoing.timer);
      reject(this.#closedError());
      return;
    }
    this.#chain.enqueue(outgoing);
    this.#flush();
  }

  /** Writes the next queued packet if the client holds a fresh server random. */
  #flush(): void {
    while (!this.#closed) {
      const next = this.#chain.nextWrite();
      if (!next) return;
      const outgoing = next.packet;
      if (next.error) {
        // Nothing was written, so the server random is still unused: try the next packet.
        clearTimeout(outgoing.timer);
        outgoing.answer?.reject(next.error);
        outgoing.write?.reject(next.error);
        continue;
      }
      this.#socket.write(next.frame);
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
    if (this.#closeStatus !== undefined) return new NekoStatusError(this.#closeStatus, SERVER_GREETER);
    return this.#closeError instanceof NekoError
      ? this.#closeError
      : new NekoError('NEKO_ERR_CLIENT_CLOSED', 'the connection is closed');
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = this.#closedError();
    const { inFlight, queued } = this.#chain.drop();
    for (const outgoing of [...inFlight, ...queued]) {
      clearTimeout(outgoing.timer);
      outgoing.answer?.reject(error);
    }
    for (const outgoing of queued) outgoing.write?.reject(error);
    this.emit('close', { status: this.#closeStatus, error: this.#closeError });
  }
}

/**
 * Connects to a NekoConnect server and completes the handshake. Resolves with
 * a {@link NekoClient} once the server has accepted the secret and proved it
 * knows it too (its reply carries `H` of the client's random).
 */
export async function connect(options: ConnectOptions): Promise<NekoClient> {
  if (typeof options.secret !== 'string' || options.secret.length === 0) {
    throw new NekoError('NEKO_ERR_CLIENT_AUTH', 'connect() needs the shared secret', {
      hint: 'Pass { secret } with the value the server was started with (NEKOCONNECT_SECRET).',
    });
  }
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const hasher = new Hasher(options.secret);
  const socket = options.tls
    ? tlsConnect({ host, port, ...(options.tls === true ? {} : options.tls) })
    : netConnect({ host, port, noDelay: true });
  socket.setNoDelay(true);

  return new Promise<NekoClient>((resolve, reject) => {
    let client: NekoClient | undefined;
    const chain = new ClientChain<Outgoing>(hasher);
    chain.enqueue({ ...AUTH_PACKET });
    const fail = (code: NekoErrorCode, message: string, cause?: unknown): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new NekoError(code, message, { cause }));
    };
    const timer = setTimeout(
      () => fail('NEKO_ERR_CLIENT_CONNECT', `no handshake with ${host}:${port} within ${timeoutMs} ms`),
      timeoutMs,
    );
    const decoder = new FrameDecoder({ maxPacket: options.maxPacketBytes ?? 16 * 1024 * 1024 }, (frame) => {
      if (client) {
        client.handleFrame(frame);
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
      socket.off('close', onEarlyClose);
      client = new NekoClient(socket, chain, options.requestTimeoutMs ?? 30_000);
      resolve(client);
    });
    const onEarlyClose = (): void =>
      fail('NEKO_ERR_CLIENT_CONNECT', `connection to ${host}:${port} closed during the handshake`);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!client)
        fail('NEKO_ERR_CLIENT_CONNECT', `cannot connect to ${host}:${port}: ${err.code ?? err.message}`, err);
    });
    socket.on('close', onEarlyClose);
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        if (client) client.handleProtocolError(err as NekoError);
        else fail('NEKO_ERR_CLIENT_PROTOCOL', `server sent a bad frame: ${(err as Error).message}`, err);
      }
    });
    socket.once(options.tls ? 'secureConnect' : 'connect', () => {
      // The chain's first write: the auth packet, hashed with its own random.
      const auth = chain.nextWrite();
      if (auth?.frame) socket.write(auth.frame);
    });
  });
}
