import { NekoError } from '../errors.js';
import { HEADER_LENGTH, MAX_UINT32, MIN_FRAME_LENGTH } from './constants.js';
import { isPrintableBytes, type Frame } from './frame.js';

/** Largest value of a 10-digit op field. */
const MAX_OP = MAX_UINT32;

/**
 * A streaming frame decoder (protocol §2).
 *
 * Feed it bytes in any chunking with {@link push}; it calls `onFrame` once per
 * complete frame, in order. It decides "too large" from the first four bytes
 * of a frame and checks the header sum as soon as the 12 header bytes are in,
 * so it never holds more than one frame's bytes, and never more than
 * `maxPacket`. Malformed input throws a {@link NekoError} with a
 * `NEKO_ERR_FRAME_*` code; after that the decoder must not be used again.
 *
 * A frame that arrives whole inside one chunk is decoded without copying:
 * its `data`, `random` and `hash` are views of that chunk.
 */
export class FrameDecoder {
  /** The largest `packet_len` accepted. May be changed between pushes. */
  maxPacket: number;

  readonly #onFrame: (frame: Frame) => void;
  /**
   * The header of a frame split across chunks; made the first time one is
   * (frames mostly arrive whole, and a server holds a decoder per connection).
   */
  #header: Buffer | undefined;
  #headerFilled = 0;
  /** `packet_len` of the frame being assembled, once known. */
  #expected = 0;
  /** Body bytes of the frame being assembled, as received. */
  #bodyChunks: Buffer[] = [];
  #bodyFilled = 0;
  #rejectedLength = 0;
  /** The greeter of the last frame: frames of a connection mostly repeat it, and reuse the string. */
  #greeter = '';

  constructor(options: { maxPacket: number }, onFrame: (frame: Frame) => void) {
    this.maxPacket = options.maxPacket;
    this.#onFrame = onFrame;
  }

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.#headerFilled + this.#bodyFilled;
  }

  /** The `packet_len` of the last frame refused as too large (0 if none). */
  get rejectedLength(): number {
    return this.#rejectedLength;
  }

  /** Feeds received bytes. Throws a `NEKO_ERR_FRAME_*` NekoError on malformed input. */
  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let offset = 0;
    while (offset < buf.length) {
      if (this.#headerFilled === 0 && buf.length - offset >= HEADER_LENGTH) {
        // 1. Fast path: a whole header in this chunk.
        const packetLength = this.#checkHeader(buf, offset);
        if (buf.length - offset >= packetLength) {
          const frame = parseFrame(buf, offset, this.#greeter);
          this.#greeter = frame.greeter;
          offset += packetLength;
          this.#onFrame(frame);
          continue;
        }
        // The body continues in later chunks.
        buf.copy((this.#header ??= Buffer.alloc(HEADER_LENGTH)), 0, offset, offset + HEADER_LENGTH);
        this.#headerFilled = HEADER_LENGTH;
        this.#expected = packetLength;
        offset += HEADER_LENGTH;
        continue;
      }
      if (this.#headerFilled < HEADER_LENGTH) {
        // 2. Collect a header split across chunks.
        const take = Math.min(HEADER_LENGTH - this.#headerFilled, buf.length - offset);
        const header = (this.#header ??= Buffer.alloc(HEADER_LENGTH));
        buf.copy(header, this.#headerFilled, offset, offset + take);
        const before = this.#headerFilled;
        this.#headerFilled += take;
        offset += take;
        if (before < 4 && this.#headerFilled >= 4) this.#checkPacketLength(header.readUInt32BE(0));
        if (this.#headerFilled === HEADER_LENGTH) {
          this.#expected = this.#checkHeader(header, 0);
        }
        continue;
      }
      // 3. Collect body bytes of a split frame.
      const need = this.#expected - HEADER_LENGTH - this.#bodyFilled;
      const take = Math.min(need, buf.length - offset);
      this.#bodyChunks.push(buf.subarray(offset, offset + take));
      this.#bodyFilled += take;
      offset += take;
      if (take === need) this.#complete();
    }
  }

  #complete(): void {
    // A frame is completed here only after its header was collected into #header.
    const whole = Buffer.concat([this.#header!, ...this.#bodyChunks], this.#expected);
    this.#headerFilled = 0;
    this.#bodyChunks = [];
    this.#bodyFilled = 0;
    this.#expected = 0;
    const frame = parseFrame(whole, 0, this.#greeter);
    this.#greeter = frame.greeter;
    this.#onFrame(frame);
  }

  #checkPacketLength(packetLength: number): void {
    if (packetLength > this.maxPacket) {
      this.#rejectedLength = packetLength;
      throw new NekoError(
        'NEKO_ERR_FRAME_TOO_LARGE',
        `packet_len ${packetLength} is above the limit of ${this.maxPacket} bytes`,
      );
    }
    if (packetLength < MIN_FRAME_LENGTH) {
      throw new NekoError(
        'NEKO_ERR_FRAME_LENGTH_MISMATCH',
        `packet_len ${packetLength} is below the smallest frame (${MIN_FRAME_LENGTH} bytes)`,
      );
    }
  }

  /** Checks the 12 header bytes at `offset`; returns `packet_len`. */
  #checkHeader(buf: Buffer, offset: number): number {
    const packetLength = buf.readUInt32BE(offset);
    this.#checkPacketLength(packetLength);
    const opLength = buf[offset + 4]!;
    const greeterLength = buf[offset + 5]!;
    const dataLength = buf.readUInt32BE(offset + 6);
    const hashLength = buf[offset + 10]!;
    const randomLength = buf[offset + 11]!;
    const sum = HEADER_LENGTH + greeterLength + opLength + randomLength + dataLength + hashLength;
    if (sum !== packetLength) {
      throw new NekoError(
        'NEKO_ERR_FRAME_LENGTH_MISMATCH',
        `packet_len is ${packetLength} but the header's field lengths add up to ${sum}`,
      );
    }
    if (greeterLength === 0 || opLength === 0 || randomLength === 0 || hashLength === 0) {
      const empty = [
        greeterLength === 0 ? 'greeter' : '',
        opLength === 0 ? 'op' : '',
        randomLength === 0 ? 'random' : '',
        hashLength === 0 ? 'hash' : '',
      ].filter(Boolean);
      throw new NekoError('NEKO_ERR_FRAME_EMPTY_FIELD', `empty ${empty.join(', ')} field`);
    }
    return packetLength;
  }
}

/**
 * Parses one complete frame whose header starts at `offset`. The header
 * sum must already have been checked. `lastGreeter` is returned as the
 * greeter when the bytes match it, saving a string allocation.
 */
function parseFrame(buf: Buffer, offset: number, lastGreeter: string): Frame {
  const opLength = buf[offset + 4]!;
  const greeterLength = buf[offset + 5]!;
  const dataLength = buf.readUInt32BE(offset + 6);
  const hashLength = buf[offset + 10]!;
  const randomLength = buf[offset + 11]!;
  const greeterStart = offset + HEADER_LENGTH;
  const opStart = greeterStart + greeterLength;
  const randomStart = opStart + opLength;
  const dataStart = randomStart + randomLength;
  const hashStart = dataStart + dataLength;
  const end = hashStart + hashLength;

  if (!isPrintableBytes(buf, greeterStart, opStart)) notPrintable('greeter');
  if (!isPrintableBytes(buf, randomStart, dataStart)) notPrintable('random');
  if (!isPrintableBytes(buf, hashStart, end)) notPrintable('hash');

  if (opLength > 10) {
    throw new NekoError('NEKO_ERR_FRAME_BAD_OP', `op field has ${opLength} bytes; at most 10 digits`);
  }
  let op = 0;
  for (let i = opStart; i < randomStart; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) {
      throw new NekoError(
        'NEKO_ERR_FRAME_BAD_OP',
        `op field holds byte 0x${buf[i]!.toString(16)}, not a digit`,
      );
    }
    op = op * 10 + digit;
  }
  if (op > MAX_OP) {
    throw new NekoError('NEKO_ERR_FRAME_BAD_OP', `op ${op} is above 4294967295`);
  }

  return {
    greeter: readGreeter(buf, greeterStart, opStart, lastGreeter),
    op,
    random: buf.subarray(randomStart, dataStart),
    data: buf.subarray(dataStart, hashStart),
    hash: buf.subarray(hashStart, end),
  };
}

/** The greeter bytes as a string: `last` itself when they spell it. */
function readGreeter(buf: Buffer, start: number, end: number, last: string): string {
  const length = end - start;
  if (length === last.length) {
    let i = 0;
    while (i < length && buf[start + i] === last.charCodeAt(i)) i++;
    if (i === length) return last;
  }
  return buf.toString('latin1', start, end);
}

function notPrintable(field: string): never {
  throw new NekoError(
    'NEKO_ERR_FRAME_NOT_PRINTABLE',
    `${field} field holds a byte outside printable ASCII (0x21-0x7e)`,
  );
}

/**
 * Decodes exactly one frame from `bytes` (which must hold it whole and nothing
 * else). A convenience for tests and tools; servers stream with FrameDecoder.
 */
export function decodeFrame(bytes: Uint8Array, maxPacket = MAX_UINT32): Frame {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder({ maxPacket }, (f) => frames.push(f));
  decoder.push(bytes);
  if (frames.length !== 1 || decoder.buffered !== 0) {
    throw new NekoError(
      'NEKO_ERR_FRAME_LENGTH_MISMATCH',
      `expected exactly one frame, found ${frames.length} and ${decoder.buffered} extra bytes`,
    );
  }
  return frames[0]!;
}
