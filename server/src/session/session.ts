import { NekoError, isNekoError } from '../errors.js';
import { isAuthFrame } from '../protocol/auth.js';
import { isTokenAuthFrame, parseTokenId, tokenKey } from '../protocol/token.js';
import { MAX_AUTH_FRAME_LENGTH, SERVER_GREETER, UNAUTHENTICATED_HASH } from '../protocol/constants.js';
import { FrameDecoder } from '../protocol/decoder.js';
import { encodeFrame } from '../protocol/encoder.js';
import type { Frame } from '../protocol/frame.js';
import { Hasher, hashEquals } from '../protocol/hash.js';
import { NonceWindow } from '../protocol/nonce-window.js';
import { randomString } from '../protocol/random.js';
import { Status } from '../protocol/status.js';
import type { SessionInfo } from './info.js';
import type { Transport } from './transport.js';

/** The limits a session enforces (protocol §6). */
export interface SessionLimits {
  /** Largest `packet_len` accepted after the handshake. */
  maxPacketBytes: number;
  /** Time to complete the handshake, in ms. */
  handshakeTimeoutMs: number;
  /** Close after this long without a byte from the client, in ms; 0 turns it off. */
  idleTimeoutMs: number;
  /** Unused server randoms kept. */
  nonceWindow: number;
  /** Bytes that may wait to be sent; past this the client is a slow reader and the session closes. */
  maxPendingBytes: number;
}

/** Why a session ended. */
export interface CloseReason {
  /** Who ended it: the server (with `status`, or a plugin's `close()`), or the client / network. */
  initiator: 'server' | 'client';
  /** The closing status sent, if any. */
  status?: number;
  /**
   * The error behind a closing status, or behind a close without one (a
   * slow reader, `NEKO_ERR_SESSION_SLOW_READER`: such a session is over
   * for good).
   */
  error?: NekoError;
}

/** What a session reports to its owner. */
export interface SessionHandlers {
  /** An authenticated client packet, in arrival order. */
  onPacket(frame: Frame): void;
  /** The handshake succeeded. */
  onAuthenticated?(): void;
  /** The session ended; called once. */
  onClose(reason: CloseReason): void;
}

export type SessionState = 'handshake' | 'open' | 'closed';

/**
 * One client connection's protocol state (protocol §3–4): frame decoding,
 * the handshake, the nonce chain and status packets. It knows nothing of
 * plugins: authentic packets go to `onPacket`, and the owner sends through
 * {@link send} and {@link sendStatus}.
 *
 * Security invariant: `H` is computed over a client random only after that
 * same packet's hash has verified. Every packet to a peer not authenticated,
 * and a 400 for a bad hash, carry the literal hash `server`; every other
 * packet to an authenticated peer, closing statuses included, carries `H` of
 * its newest verified random.
 *
 * Every write checks the bytes already waiting for the client: a client
 * that stops reading is closed once they would pass `maxPendingBytes`, so
 * it cannot make the server hold an unbounded queue for it.
 */
export class Session {
  readonly id: string;
  readonly remoteAddress: string;
  /** What carries the connection (`ctx.session.transport`). */
  readonly transport: string;
  /** When the connection was accepted (before any TLS handshake), in ms since the epoch. */
  readonly connectedAt: number;

  readonly #transport: Transport;
  /** The chain's key: the shared secret's, or a token's once a client authenticated with one. */
  #hasher: Hasher;
  readonly #limits: SessionLimits;
  readonly #handlers: SessionHandlers;
  readonly #decoder: FrameDecoder;
  #window: NonceWindow;
  /** The user a token named, for a client that authenticated with one. */
  #user: string | undefined;
  #state: SessionState = 'handshake';
  /** `H` of the client's newest verified random: the hash of every packet the server sends. */
  #clientHash: Buffer | undefined;
  #sent = 0;
  #received = 0;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** The idle limit {@link #idleTimer} was armed with. */
  #idleMs = 0;

  constructor(
    id: string,
    transport: Transport,
    hasher: Hasher,
    limits: SessionLimits,
    handlers: SessionHandlers,
    connectedAt = Date.now(),
  ) {
    this.id = id;
    this.connectedAt = connectedAt;
    this.remoteAddress = transport.remoteAddress;
    this.transport = transport.kind ?? 'custom';
    this.#transport = transport;
    this.#hasher = hasher;
    this.#limits = limits;
    this.#handlers = handlers;
    this.#window = new NonceWindow(hasher, limits.nonceWindow);
    this.#decoder = new FrameDecoder(
      { maxPacket: Math.min(MAX_AUTH_FRAME_LENGTH, limits.maxPacketBytes) },
      (frame) => this.#onFrame(frame),
    );
    // One budget from the accept: time a TLS handshake took is already spent.
    const handshakeLeft = Math.max(0, limits.handshakeTimeoutMs - (Date.now() - connectedAt));
    this.#handshakeTimer = setTimeout(() => {
      this.fail(
        Status.Timeout,
        new NekoError(
          'NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT',
          `no valid auth packet within ${limits.handshakeTimeoutMs} ms of the connection`,
        ),
      );
    }, handshakeLeft);
    this.#handshakeTimer.unref();
    this.#armIdleTimer();
  }

  /** Who the session is, as plugins see it. */
  get info(): SessionInfo {
    return {
      id: this.id,
      remoteAddress: this.remoteAddress,
      connectedAt: this.connectedAt,
      transport: this.transport,
      ...(this.#user === undefined ? {} : { user: this.#user }),
    };
  }

  /** The user of a client that authenticated with a per-user token; undefined with the secret. */
  get user(): string | undefined {
    return this.#user;
  }

  get state(): SessionState {
    return this.#state;
  }

  /** True once authenticated and until closed: the only state in which {@link send} sends. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Packets sent to the client so far (the liveness rule compares these counts). */
  get sentCount(): number {
    return this.#sent;
  }

  /** Authentic packets received so far. */
  get receivedCount(): number {
    return this.#received;
  }

  /** Feeds bytes read from the transport. */
  receive(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
    this.#armIdleTimer();
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      // A frame handled earlier in this chunk may have closed the session.
      if (this.isClosed) return;
      if (!isNekoError(err)) throw err;
      this.#failFrame(err);
    }
  }

  /**
   * Sends a packet with a fresh random and `H` of the client's newest
   * verified random. Returns false (sending nothing) unless the session is open.
   */
  send(greeter: string, op: number, data: string | Uint8Array): boolean {
    if (this.#state !== 'open') return false;
    const random = randomString();
    const frame = encodeFrame({ greeter, op, random, data, hash: this.#clientHash! });
    // A frame always goes onto an empty queue; onto a queue the client is
    // not draining, only while the queue stays within the limit.
    const pending = this.#transport.pendingBytes;
    if (pending > 0 && pending + frame.length > this.#limits.maxPendingBytes) {
      this.#closeSlowReader(pending, frame.length);
      return false;
    }
    this.#window.add(random);
    this.#sent++;
    this.#transport.write(frame);
    return true;
  }

  /** Sends a status packet that keeps the session open (100, 200, 404, 500, 503). */
  sendStatus(code: number): boolean {
    return this.send(SERVER_GREETER, code, String(code));
  }

  /**
   * Sends a closing status and closes: for 400, 408, 413 and 422, and on the
   * way out of any state. Its hash is `server` before authentication and on
   * a 400 (the peer's hash failed: it is not known to be the client that
   * authenticated); else `H` of the newest verified client random, as on
   * every packet of the session (protocol §4.5). No hash is computed here.
   */
  fail(status: number, error: NekoError): void {
    if (this.#state === 'closed') return;
    const hash =
      this.#state === 'open' && status !== Status.AuthError ? this.#clientHash! : UNAUTHENTICATED_HASH;
    this.#transport.write(
      encodeFrame({
        greeter: SERVER_GREETER,
        op: status,
        random: randomString(),
        data: String(status),
        hash,
      }),
    );
    this.#sent++;
    this.#finish({ initiator: 'server', status, error });
    this.#transport.end();
  }

  /**
   * Closes the connection once what was written is flushed (a plugin's
   * `ctx.close()`, shutdown). With `status` (503 when the server shuts down
   * or drains), an authenticated client first gets it as a closing status,
   * with `H` of its newest verified random; a client still in its
   * handshake gets no status.
   */
  close(status?: number): void {
    if (this.#state === 'closed') return;
    const notice = status !== undefined && this.#state === 'open' ? status : undefined;
    if (notice !== undefined) {
      this.#transport.write(
        encodeFrame({
          greeter: SERVER_GREETER,
          op: notice,
          random: randomString(),
          data: String(notice),
          hash: this.#clientHash!,
        }),
      );
      this.#sent++;
    }
    this.#finish(notice === undefined ? { initiator: 'server' } : { initiator: 'server', status: notice });
    this.#transport.end();
  }

  /** The transport reports that the connection is gone. */
  transportClosed(): void {
    if (this.#state === 'closed') return;
    this.#finish({ initiator: 'client' });
  }

  #onFrame(frame: Frame): void {
    if (this.#state === 'open') {
      if (!this.#window.consume(frame.hash)) {
        this.fail(
          Status.AuthError,
          new NekoError(
            'NEKO_ERR_AUTH_BAD_HASH',
            'packet hash matches no unused server random (wrong secret, replayed or stale hash)',
          ),
        );
        return;
      }
      // Only now, with this packet's hash verified, is H computed over its random.
      this.#clientHash = this.#hasher.bytes(frame.random);
      this.#received++;
      this.#handlers.onPacket(frame);
    } else if (this.#state === 'handshake') {
      this.#onAuthFrame(frame);
    }
  }

  #onAuthFrame(frame: Frame): void {
    if (isTokenAuthFrame(frame)) {
      this.#onTokenAuthFrame(frame);
      return;
    }
    if (!isAuthFrame(frame)) {
      this.fail(
        Status.AuthError,
        new NekoError(
          'NEKO_ERR_AUTH_FIRST_PACKET',
          `first packet must be greeter "auth", op 200, data "200"; got greeter "${frame.greeter}", op ${frame.op}`,
        ),
      );
      return;
    }
    // Computing H(Rc0) here is the check itself; it is sent only if it matched.
    const expected = this.#hasher.bytes(frame.random);
    if (!hashEquals(expected, frame.hash)) {
      this.fail(
        Status.AuthError,
        new NekoError('NEKO_ERR_AUTH_BAD_HASH', 'auth packet hash is not H(random): wrong secret'),
      );
      return;
    }
    this.#open(expected);
  }

  /**
   * A first packet with a per-user token (protocol §15): its data is the
   * token id. The key is derived from the secret and the id, never sent;
   * `H` under that key of the packet's random is sent only once it matched
   * the packet's hash. The chain then runs on the token's key.
   */
  #onTokenAuthFrame(frame: Frame): void {
    const id = frame.data.toString('latin1');
    const token = parseTokenId(id);
    if (token === undefined) {
      this.fail(
        Status.AuthError,
        new NekoError(
          'NEKO_ERR_AUTH_TOKEN',
          `the token id ${JSON.stringify(id.slice(0, 80))} is not <user>.<expiry>`,
        ),
      );
      return;
    }
    if (token.expiresAt * 1000 <= Date.now()) {
      this.fail(
        Status.AuthError,
        new NekoError(
          'NEKO_ERR_AUTH_TOKEN_EXPIRED',
          `the token of ${token.user} expired at ${new Date(token.expiresAt * 1000).toISOString()}`,
        ),
      );
      return;
    }
    const hasher = new Hasher(tokenKey(this.#hasher, id));
    const expected = hasher.bytes(frame.random);
    if (!hashEquals(expected, frame.hash)) {
      this.fail(
        Status.AuthError,
        new NekoError(
          'NEKO_ERR_AUTH_BAD_HASH',
          `auth packet hash is not H(random) under the token of ${token.user}`,
        ),
      );
      return;
    }
    this.#hasher = hasher;
    this.#window = new NonceWindow(hasher, this.#limits.nonceWindow);
    this.#user = token.user;
    this.#open(expected);
  }

  /** The handshake succeeded: the session is open, and the client gets its 200. */
  #open(clientHash: Buffer): void {
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#clientHash = clientHash;
    this.#state = 'open';
    this.#decoder.maxPacket = this.#limits.maxPacketBytes;
    this.sendStatus(Status.Ok);
    this.#handlers.onAuthenticated?.();
  }

  #failFrame(err: NekoError): void {
    if (err.code === 'NEKO_ERR_FRAME_TOO_LARGE') {
      const length = this.#decoder.rejectedLength;
      if (this.#state === 'handshake' && length <= this.#limits.maxPacketBytes) {
        this.fail(
          Status.AuthError,
          new NekoError(
            'NEKO_ERR_AUTH_FIRST_PACKET',
            `first packet of ${length} bytes is larger than any auth packet (${MAX_AUTH_FRAME_LENGTH})`,
          ),
        );
        return;
      }
      this.fail(Status.TooLarge, err);
      return;
    }
    this.fail(Status.Malformed, err);
  }

  /**
   * The client is not reading what it is sent: drops its queue and closes
   * at once, with no status (it would not read one). The owner hears of it
   * in a microtask, not inside the write that found it, so a broadcast
   * going on finishes for every other client before any `onLeave` runs.
   */
  #closeSlowReader(pending: number, next: number): void {
    const error = new NekoError(
      'NEKO_ERR_SESSION_SLOW_READER',
      `the client is not reading: ${pending} bytes wait to be sent to it, and ${next} more would pass limits.maxPendingBytes (${this.#limits.maxPendingBytes})`,
    );
    this.#stop();
    this.#transport.destroy();
    queueMicrotask(() => this.#handlers.onClose({ initiator: 'server', error }));
  }

  #armIdleTimer(): void {
    // The limit is read each time: a reload may change it (it then counts from the next byte).
    const ms = this.#limits.idleTimeoutMs;
    if (ms <= 0 && this.#idleTimer === undefined) return;
    if (this.#idleTimer && ms === this.#idleMs) {
      this.#idleTimer.refresh();
      return;
    }
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#idleMs = ms;
    if (ms <= 0) return;
    this.#idleTimer = setTimeout(() => {
      this.fail(
        Status.Timeout,
        new NekoError('NEKO_ERR_SESSION_IDLE_TIMEOUT', `no bytes from the client for ${ms} ms`),
      );
    }, ms);
    this.#idleTimer.unref();
  }

  #finish(reason: CloseReason): void {
    this.#stop();
    this.#handlers.onClose(reason);
  }

  #stop(): void {
    this.#state = 'closed';
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#idleTimer);
  }
}
