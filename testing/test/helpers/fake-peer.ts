import {
  FrameDecoder,
  Hasher,
  SERVER_GREETER,
  UNAUTHENTICATED_HASH,
  encodeFrame,
  randomString,
  type Frame,
} from 'nekoconnect/protocol';
import { TestClient } from '../../src/client.js';
import type { ClientSide } from '../../src/links.js';

export const SECRET = 'peer-secret';

/**
 * A hand-driven server for one {@link TestClient}: it records the frames the
 * client writes and sends whatever frames a test tells it to, right or wrong.
 */
export class FakePeer {
  readonly client: TestClient;
  /** Every frame the client wrote, decoded. */
  readonly frames: Frame[] = [];
  readonly hasher = new Hasher(SECRET);
  ended = false;
  #side!: ClientSide;
  readonly #decoder = new FrameDecoder({ maxPacket: 1 << 20 }, (frame) => this.frames.push(frame));

  constructor(timeout = 1_000) {
    this.client = new TestClient(
      { name: 'client 1', secret: SECRET, timeout, sessionId: undefined },
      (side) => {
        this.#side = side;
        return {
          write: (bytes) => this.#decoder.push(bytes),
          end: () => {
            if (this.ended) return;
            this.ended = true;
            queueMicrotask(() => side.closed());
          },
        };
      },
    );
  }

  /** The newest frame the client wrote. */
  get last(): Frame {
    const frame = this.frames.at(-1);
    if (!frame) throw new Error('the client wrote nothing');
    return frame;
  }

  /** H of the client's newest random, as a correct server's packets carry. */
  get chainHash(): string {
    return this.hasher.hex(this.last.random);
  }

  /** Sends a frame as a correct server would (unless `hash` says otherwise); returns its random. */
  send(greeter: string, op: number, data: string | Uint8Array = '', hash = this.chainHash): string {
    const random = randomString().toString('latin1');
    this.#side.receive(encodeFrame({ greeter, op, random, data, hash }));
    return random;
  }

  status(code: number, hash = this.chainHash): string {
    return this.send(SERVER_GREETER, code, String(code), hash);
  }

  /**
   * A closing status with hash `server`, as the server sends it before
   * authentication (and on a 400); `hash` gives another, such as
   * {@link chainHash} for a 408, 413 or 422 to an authenticated client.
   */
  closingStatus(code: number, hash = UNAUTHENTICATED_HASH): string {
    return this.status(code, hash);
  }

  bytes(bytes: Uint8Array): void {
    this.#side.receive(Buffer.from(bytes));
  }

  /** The server closes the connection. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.#side.closed();
  }

  /** Completes the handshake; returns the server random the client now holds. */
  async handshake(): Promise<string> {
    const done = this.client.handshake();
    const random = this.status(200);
    await done;
    return random;
  }
}
