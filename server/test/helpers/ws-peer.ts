import { onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { Frame, FrameFields } from '../../src/protocol/frame.js';
import { Hasher } from '../../src/protocol/hash.js';
import { randomString } from '../../src/protocol/random.js';
import { EVENT_TIMEOUT_MS } from './raw-peer.js';

/**
 * A client that speaks frames by hand over a real WebSocket: each frame it
 * sends is one binary message (or whatever bytes a test gives), and it
 * records every frame the server sends, one per message.
 */
export class WsPeer {
  readonly ws: WebSocket;
  readonly received: Frame[] = [];
  /** Close code the server sent, once closed. */
  closeCode: number | undefined;
  hasher: Hasher | undefined;
  #read = 0;
  #closed = false;
  readonly #waiters = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) throw new Error('the server sent a text message');
      // One message, one frame: decoding must give exactly one.
      const frames: Frame[] = [];
      new FrameDecoder({ maxPacket: 0xffff_ffff }, (f) =>
        frames.push({
          ...f,
          random: Buffer.from(f.random),
          data: Buffer.from(f.data),
          hash: Buffer.from(f.hash),
        }),
      ).push(data);
      if (frames.length !== 1) throw new Error(`a message held ${frames.length} frames`);
      this.received.push(frames[0]!);
      this.#wake();
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      this.closeCode = code;
      this.#closed = true;
      this.#wake();
    });
  }

  /** Connects to ws://127.0.0.1:`port``path` (wss:// trusting `ca`); closed when the test finishes. */
  static async connect(
    port: number,
    options: { path?: string; origin?: string; ca?: string | Buffer } = {},
  ): Promise<WsPeer> {
    const scheme = options.ca === undefined ? 'ws' : 'wss';
    const ws = new WebSocket(`${scheme}://127.0.0.1:${port}${options.path ?? '/'}`, {
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.ca === undefined ? {} : { ca: options.ca, servername: 'localhost' }),
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    onTestFinished(() => ws.terminate());
    return new WsPeer(ws);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get newestRandom(): Buffer {
    const last = this.received.at(-1);
    if (!last) throw new Error('no frame received yet');
    return last.random;
  }

  /** Sends bytes as one binary message. */
  write(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  send(fields: FrameFields): void {
    this.write(encodeFrame(fields));
  }

  async next(timeoutMs = EVENT_TIMEOUT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.#read >= this.received.length) {
      if (this.#closed) throw new Error(`connection closed; no frame after the ${this.#read} read`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
    return this.received[this.#read++]!;
  }

  async closed(timeoutMs = EVENT_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error(`connection still open after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async handshake(secret: string, random: string | Buffer = randomString()): Promise<Frame> {
    this.hasher = new Hasher(secret);
    this.send({ greeter: 'auth', op: 200, random, data: '200', hash: this.hasher.hex(random) });
    return this.next();
  }

  /** Sends a packet chained to the newest server random; returns its random. */
  packet(
    greeter: string,
    data: string | Uint8Array = '',
    options: { op?: number; hash?: string } = {},
  ): Buffer {
    const hasher = this.hasher;
    if (!hasher) throw new Error('handshake first');
    const random = randomString();
    this.send({
      greeter,
      op: options.op ?? 0,
      random,
      data,
      hash: options.hash ?? hasher.hex(this.newestRandom),
    });
    return random;
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
    this.#waiters.clear();
  }
}
