import { connect as netConnect, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { Frame, FrameFields } from '../../src/protocol/frame.js';
import { Hasher } from '../../src/protocol/hash.js';
import { randomString } from '../../src/protocol/random.js';

/** How long a peer waits for an expected event before failing the test. */
export const EVENT_TIMEOUT_MS = 3_000;

/**
 * A client that speaks frames by hand over real TCP: it writes whatever
 * bytes a test gives it and records every frame the server sends, so that
 * tests can check each one (statuses, hashes, randoms).
 */
export class RawPeer {
  readonly socket: Socket;
  /** Every frame received, in order (copies, safe to keep). */
  readonly received: Frame[] = [];
  /** Every random this peer put in a frame it sent. */
  readonly sentRandoms: Buffer[] = [];
  /** What the peer's own decoder threw on the server's bytes (should stay undefined). */
  decodeError: unknown;
  #read = 0;
  #closed = false;
  readonly #closedPromise: Promise<void>;
  readonly #waiters = new Set<() => void>();
  hasher: Hasher | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    const decoder = new FrameDecoder({ maxPacket: 0xffff_ffff }, (frame) => {
      this.received.push({
        greeter: frame.greeter,
        op: frame.op,
        random: Buffer.from(frame.random),
        data: Buffer.from(frame.data),
        hash: Buffer.from(frame.hash),
      });
      this.#wakeAll();
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        this.decodeError = err;
        socket.destroy();
      }
    });
    socket.on('error', () => {
      // A reset by the server: 'close' follows.
    });
    this.#closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        this.#wakeAll();
        resolve();
      }),
    );
  }

  /** Wraps a connected socket (e.g. one a fake server accepted); it is destroyed when the test finishes. */
  static wrap(socket: Socket): RawPeer {
    const peer = new RawPeer(socket);
    onTestFinished(() => {
      socket.destroy();
    });
    return peer;
  }

  /** Connects to 127.0.0.1:`port`; the socket is destroyed when the test finishes. */
  static async connect(port: number): Promise<RawPeer> {
    const socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return RawPeer.wrap(socket);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Frames received and not yet returned by {@link next}. */
  get unread(): number {
    return this.received.length - this.#read;
  }

  /** The random of the newest frame received: the one a client must hash next. */
  get newestRandom(): Buffer {
    const last = this.received.at(-1);
    if (!last) throw new Error('no frame received yet');
    return last.random;
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Writes `bytes` one byte per write, letting the event loop turn between bytes. */
  async writeByteByByte(bytes: Uint8Array): Promise<void> {
    for (const byte of bytes) {
      await this.write(Uint8Array.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Encodes and writes one frame; remembers its random. */
  send(fields: FrameFields): Promise<void> {
    this.sentRandoms.push(Buffer.from(fields.random));
    return this.write(encodeFrame(fields));
  }

  /** The next frame not yet read; fails after `timeoutMs` or if the connection closes first. */
  async next(timeoutMs = EVENT_TIMEOUT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.#read >= this.received.length) {
      if (this.#closed) throw new Error(`connection closed; no frame after the ${this.#read} read`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms (${this.#read} read)`);
      await this.#event(left);
    }
    return this.received[this.#read++]!;
  }

  /** Resolves once the server has closed the connection; fails after `timeoutMs`. */
  async closed(timeoutMs = EVENT_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.#closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits `ms` (a small bounded wait) and returns the frames that arrived meanwhile. */
  async framesWithin(ms: number): Promise<Frame[]> {
    const before = this.received.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.#read = this.received.length;
    return this.received.slice(before);
  }

  /** Sends a valid auth packet for `secret`; returns the server's answer. */
  async handshake(secret: string, random: string | Buffer = randomString()): Promise<Frame> {
    this.hasher = new Hasher(secret);
    await this.send({ greeter: 'auth', op: 200, random, data: '200', hash: this.hasher.hex(random) });
    return this.next();
  }

  /**
   * Sends a packet chained to the newest server random received (or to
   * `options.serverRandom`), with a fresh random of its own; returns that random.
   */
  async packet(
    greeter: string,
    data: string | Uint8Array = '',
    options: { op?: number; serverRandom?: Uint8Array; hash?: string } = {},
  ): Promise<Buffer> {
    const hasher = this.hasher;
    if (!hasher) throw new Error('handshake first');
    const random = randomString();
    const hash = options.hash ?? hasher.hex(options.serverRandom ?? this.newestRandom);
    await this.send({ greeter, op: options.op ?? 0, random, data, hash });
    return random;
  }

  #event(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}
