import { FrameDecoder } from '../../src/protocol/decoder.js';
import type { Frame } from '../../src/protocol/frame.js';

/** Field bytes as given to {@link rawFrame}: text is taken as latin1, so every char is one byte. */
export type RawField = string | Uint8Array;

export interface RawFrameParts {
  greeter: RawField;
  op: RawField;
  random: RawField;
  data: RawField;
  hash: RawField;
}

/** Header values that override the ones computed from the parts (to build malformed frames). */
export interface RawHeader {
  packetLength?: number;
  opLength?: number;
  greeterLength?: number;
  dataLength?: number;
  hashLength?: number;
  randomLength?: number;
}

export function bytes(field: RawField): Buffer {
  return typeof field === 'string' ? Buffer.from(field, 'latin1') : Buffer.from(field);
}

/**
 * Builds a frame by hand, independently of `encodeFrame`: a 12-byte header
 * (packet_len, op_len, greeter_len, data_len, hash_len, random_len) and the
 * body in the order greeter, op, random, data, hash. Header values may be
 * overridden to build malformed frames.
 */
export function rawFrame(parts: RawFrameParts, header: RawHeader = {}): Buffer {
  const greeter = bytes(parts.greeter);
  const op = bytes(parts.op);
  const random = bytes(parts.random);
  const data = bytes(parts.data);
  const hash = bytes(parts.hash);
  const head = Buffer.alloc(12);
  const total = 12 + greeter.length + op.length + random.length + data.length + hash.length;
  head.writeUInt32BE(header.packetLength ?? total, 0);
  head[4] = header.opLength ?? op.length;
  head[5] = header.greeterLength ?? greeter.length;
  head.writeUInt32BE(header.dataLength ?? data.length, 6);
  head[10] = header.hashLength ?? hash.length;
  head[11] = header.randomLength ?? random.length;
  return Buffer.concat([head, greeter, op, random, data, hash]);
}

/** A valid frame's parts, to start malformed variants from. */
export const VALID_PARTS: RawFrameParts = {
  greeter: 'echo',
  op: '7',
  random: 'r4nd0m',
  data: 'hello',
  hash: 'h4sh',
};

/** A frame with plain values, easy to compare with `toEqual`. */
export interface PlainFrame {
  greeter: string;
  op: number;
  random: string;
  data: Buffer;
  hash: string;
}

export function plain(frame: Frame): PlainFrame {
  return {
    greeter: frame.greeter,
    op: frame.op,
    random: frame.random.toString('latin1'),
    data: Buffer.from(frame.data),
    hash: frame.hash.toString('latin1'),
  };
}

/** Parses a hex dump such as `0000003a 03 12` (spaces ignored). */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** Splits `buf` into chunks that end at the given offsets (sorted, deduplicated, within bounds). */
export function splitAt(buf: Uint8Array, offsets: readonly number[]): Buffer[] {
  const cuts = [...new Set(offsets.filter((o) => o > 0 && o < buf.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, buf.length]) {
    chunks.push(Buffer.from(buf.subarray(start, cut)));
    start = cut;
  }
  return chunks.filter((c) => c.length > 0);
}

export interface DecodeOutcome {
  frames: PlainFrame[];
  /** What the decoder threw, if anything; feeding stops there. */
  error: unknown;
  /** `decoder.buffered` after the last push. */
  buffered: number;
  /** The largest `buffered` seen after any push. */
  maxBuffered: number;
}

/** Feeds `chunks` to a fresh FrameDecoder, stopping at the first error. */
export function decodeChunks(chunks: readonly Uint8Array[], maxPacket = 0xffff_ffff): DecodeOutcome {
  const frames: PlainFrame[] = [];
  const decoder = new FrameDecoder({ maxPacket }, (f) => frames.push(plain(f)));
  let error: unknown;
  let maxBuffered = 0;
  for (const chunk of chunks) {
    try {
      decoder.push(chunk);
    } catch (err) {
      error = err;
      break;
    } finally {
      maxBuffered = Math.max(maxBuffered, decoder.buffered);
    }
  }
  return { frames, error, buffered: decoder.buffered, maxBuffered };
}
