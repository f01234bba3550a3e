import { decodeFrame } from '../../src/protocol/decoder.js';
import type { Frame } from '../../src/protocol/frame.js';
import type { Transport } from '../../src/session/transport.js';

/** An in-memory {@link Transport}: records what is written and whether it was ended. */
export class FakeTransport implements Transport {
  readonly remoteAddress: string;
  /** Every write, as written (one frame per write). */
  readonly writes: Buffer[] = [];
  ends = 0;
  destroys = 0;
  /** What {@link pendingBytes} reports: set it to play a client that does not read. */
  pendingBytes = 0;
  #read = 0;

  constructor(remoteAddress = '203.0.113.7') {
    this.remoteAddress = remoteAddress;
  }

  write(bytes: Buffer): void {
    if (this.ends > 0) throw new Error('write after end()');
    this.writes.push(Buffer.from(bytes));
  }

  end(): void {
    this.ends++;
  }

  destroy(): void {
    this.destroys++;
  }

  /** Every frame written so far, decoded. */
  get frames(): Frame[] {
    return this.writes.map((w) => decodeFrame(w));
  }

  /** The frames written since the last call. */
  take(): Frame[] {
    const out = this.frames.slice(this.#read);
    this.#read = this.writes.length;
    return out;
  }
}
