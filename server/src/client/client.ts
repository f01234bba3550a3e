import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Packet } from '../context/context.js';
import { ReceivedPacket } from '../context/packet.js';
import { NekoError, type NekoErrorCode } from '../errors.js';
import { AUTH_GREETER, DEFAULT_PORT, SERVER_GREETER, UNAUTHENTICATED_HASH } from '../protocol/constants.js';
import { FrameDecoder } from '../protocol/decoder.js';
import { encodeFrame } from '../protocol/encoder.js';
import type { Frame } from '../protocol/frame.js';
import { Hasher, hashEquals } from '../protocol/hash.js';
import { NonceWindow } from '../protocol/nonce-window.js';
import { randomString } from '../protocol/random.js';
import { STATUS_TEXT, isClosingStatus } from '../protocol/status.js';

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
}

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

const UNAUTHENTICATED_HASH_BYTES = Buffer.from(UNAUTHENTICATED_HASH, 'latin1');

class IncomingPacket extends ReceivedPacket implements ClientPacket {
  readonly greeter: string;
  readonly status: number | undefined;

  constructor(frame: Frame) {
    super(frame.op, Buffer.from(frame.data));
    this.greeter = frame.greeter;
    this.status = frame.greeter === SERVER_GREETER ? frame.op : undefined;
  }
}

/** A packet written (or waiting to be written) and not yet answered. */
interface Outgoing {
  readonly greeter: string;
  readonly op: number;
  readonly data: string | Uint8Array;
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
 * A connected, authenticated client. It keeps the nonce chain: every packet
 * carries `H` of the newest server random received, and packets wait their
 * turn until the client holds a fresh one (the server always sends one
 * after each packet it accepts).
 *
 * It also checks the server: every packet must carry `H` of a random this
 * client sent (only a closing status may carry `server`). A packet that does
 * not is not from the server that knows the secret; the client closes
 * without hashing its random, so it can never serve as a hashing oracle.
 */
export class NekoClient extends EventEmitter<NekoClientEvents> {
  readonly #socket: Socket;
  readonly #hasher: Hasher;
  readonly #requestTimeoutMs: number;
  /** Randoms this client sent, that the server's packets may carry `H` of. */
  readonly #sent: NonceWindow;
  /** The newest server random not yet used. */
  #serverRandom: Buffer | undefined;
  readonly #queue: Outgoing[] = [];
  /** Written, not yet answered. */
  readonly #inFlight: Outgoing[] = [];
  #closed = false;
  #closeStatus: number | undefined;
  #closeError: Error | undefined;
  readonly #closedPromise: Promise<void>;

  /** @internal Use {@link connect}. */
  constructor(
    socket: Socket,
    hasher: Hasher,
    authRandom: Buffer,
    serverRandom: Buffer,
    requestTimeoutMs: number,
  ) {
    super();
    this.#socket = socket;
    this.#hasher = hasher;
    this.#sent = new NonceWindow(hasher);
    this.#sent.add(authRandom);
    this.#serverRandom = serverRandom;
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
   */
  request(
    greeter: string,
    data: string | Uint8Array = '',
    options: RequestOptions = {},
  ): Promise<ClientPacket> {
    return new Promise<ClientPacket>((resolve, reject) => {
      const outgoing: Outgoing = {
        greeter,
        op: options.op ?? 0,
        data,
        answer: { resolve, reject },
      };
      const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
      outgoing.timer = setTimeout(() => {
        this.#forget(outgoing);
        reject(
          new NekoError(
            'NEKO_ERR_CLIENT_TIMEOUT',
            `no answer from "${greeter}" within ${timeoutMs} ms (op ${outgoing.op})`,
          ),
        );
      }, timeoutMs);
      this.#enqueue(outgoing, reject);
    });
  }

  /**
   * Sends a packet without waiting for its answer; resolves once it is
   * written. Its answer, if the plugin sends one, arrives as a `packet` event.
   */
  send(greeter: string, data: string | Uint8Array = '', options: ClientSendOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#enqueue({ greeter, op: options.op ?? 0, data, write: { resolve, reject } }, reject);
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
    if (this.#closed) return;
    const closingStatus = frame.greeter === SERVER_GREETER && isClosingStatus(frame.op);
    if (closingStatus && frame.hash.equals(UNAUTHENTICATED_HASH_BYTES)) {
      // The server is closing the connection: nothing more will be sent, so its random is not kept.
      this.#onStatus(new IncomingPacket(frame));
      return;
    }
    if (!this.#sent.recognize(frame.hash)) {
      this.#closeError = new NekoError(
        'NEKO_ERR_CLIENT_AUTH',
        `a packet from "${frame.greeter}" does not carry H of any random this client sent: not from the server that knows the secret`,
        { hint: 'Someone may be injecting packets into the connection; use TLS.' },
      );
      this.#socket.destroy();
      return;
    }
    const packet = new IncomingPacket(frame);
    if (closingStatus) {
      // From a server that knows the secret, closing an authenticated session: its random is not kept either.
      this.#onStatus(packet);
      return;
    }
    this.#serverRandom = Buffer.from(frame.random);
    if (packet.status !== undefined) this.#onStatus(packet);
    else this.#onPluginPacket(packet);
    this.#flush();
  }

  /** @internal The decoder refused the server's bytes. */
  handleProtocolError(err: NekoError): void {
    this.#closeError = new NekoError('NEKO_ERR_CLIENT_PROTOCOL', `server sent a bad frame: ${err.message}`, {
      cause: err,
    });
    this.#socket.destroy();
  }

  #onPluginPacket(packet: IncomingPacket): void {
    const index = this.#inFlight.findIndex((o) => o.greeter === packet.greeter);
    const outgoing = index >= 0 ? this.#inFlight.splice(index, 1)[0] : undefined;
    if (outgoing?.answer) {
      clearTimeout(outgoing.timer);
      outgoing.answer.resolve(packet);
      return;
    }
    this.emit('packet', packet);
  }

  #onStatus(packet: IncomingPacket): void {
    const status = packet.status!;
    const outgoing = this.#inFlight.shift();
    if (isClosingStatus(status)) this.#closeStatus = status;
    if (status === 100 || status === 200) {
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
    this.#queue.push(outgoing);
    this.#flush();
  }

  /** Writes the next queued packet if the client holds a fresh server random. */
  #flush(): void {
    if (this.#closed || this.#serverRandom === undefined) return;
    const outgoing = this.#queue.shift();
    if (!outgoing) return;
    const random = randomString();
    let frame: Buffer;
    try {
      frame = encodeFrame({
        greeter: outgoing.greeter,
        op: outgoing.op,
        random,
        data: outgoing.data,
        hash: this.#hasher.bytes(this.#serverRandom),
      });
    } catch (err) {
      // Nothing was written, so the server random is still unused: try the next packet.
      clearTimeout(outgoing.timer);
      outgoing.answer?.reject(err as Error);
      outgoing.write?.reject(err as Error);
      this.#flush();
      return;
    }
    this.#serverRandom = undefined;
    this.#sent.add(random);
    this.#inFlight.push(outgoing);
    this.#socket.write(frame);
    outgoing.write?.resolve();
  }

  #forget(outgoing: Outgoing): void {
    for (const list of [this.#queue, this.#inFlight]) {
      const index = list.indexOf(outgoing);
      if (index >= 0) list.splice(index, 1);
    }
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
    for (const outgoing of [...this.#inFlight, ...this.#queue]) {
      clearTimeout(outgoing.timer);
      outgoing.answer?.reject(error);
    }
    for (const outgoing of this.#queue) outgoing.write?.reject(error);
    this.#inFlight.length = 0;
    this.#queue.length = 0;
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
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_PORT;
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const hasher = new Hasher(options.secret);
  const socket = options.tls
    ? tlsConnect({ host, port, ...(options.tls === true ? {} : options.tls) })
    : netConnect({ host, port, noDelay: true });
  socket.setNoDelay(true);

  return new Promise<NekoClient>((resolve, reject) => {
    let client: NekoClient | undefined;
    const clientRandom = randomString();
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
      if (frame.greeter !== SERVER_GREETER || frame.op !== 200) {
        fail(
          'NEKO_ERR_CLIENT_AUTH',
          `server refused the handshake with status ${frame.op} (${STATUS_TEXT[frame.op] ?? 'unknown'}); check the secret`,
        );
        return;
      }
      if (!hashEquals(hasher.bytes(clientRandom), frame.hash)) {
        fail('NEKO_ERR_CLIENT_AUTH', 'server reply does not prove knowledge of the secret');
        return;
      }
      clearTimeout(timer);
      socket.off('close', onEarlyClose);
      client = new NekoClient(
        socket,
        hasher,
        clientRandom,
        Buffer.from(frame.random),
        options.requestTimeoutMs ?? 30_000,
      );
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
      socket.write(
        encodeFrame({
          greeter: AUTH_GREETER,
          op: 200,
          random: clientRandom,
          data: '200',
          hash: hasher.hex(clientRandom),
        }),
      );
    });
  });
}
