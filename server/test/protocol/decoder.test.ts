import { describe, it, expect } from 'vitest';
import { NekoError, type NekoErrorCode } from '../../src/errors.js';
import { MAX_AUTH_FRAME_LENGTH, MIN_FRAME_LENGTH } from '../../src/protocol/constants.js';
import { FrameDecoder, decodeFrame } from '../../src/protocol/decoder.js';
import type { Frame } from '../../src/protocol/frame.js';
import {
  VALID_PARTS,
  decodeChunks,
  plain,
  rawFrame,
  splitAt,
  type PlainFrame,
  type RawFrameParts,
  type RawHeader,
} from '../helpers/frames.js';

const VALID = rawFrame(VALID_PARTS);
const VALID_PLAIN: PlainFrame = {
  greeter: 'echo',
  op: 7,
  random: 'r4nd0m',
  data: Buffer.from('hello'),
  hash: 'h4sh',
};

/** Decodes `bytes` whole and expects a NekoError with `code`; returns it. */
function expectDecodeError(bytes: Uint8Array, code: NekoErrorCode, maxPacket?: number): NekoError {
  const outcome = decodeChunks([bytes], maxPacket);
  expect(outcome.frames).toEqual([]);
  expect(outcome.error).toBeInstanceOf(NekoError);
  expect((outcome.error as NekoError).code).toBe(code);
  // The same error whatever the chunking: byte by byte too.
  const byByte = decodeChunks(
    [...bytes].map((b) => Uint8Array.of(b)),
    maxPacket,
  );
  expect((byByte.error as NekoError | undefined)?.code).toBe(code);
  return outcome.error as NekoError;
}

function malformed(parts: Partial<RawFrameParts>, header?: RawHeader): Buffer {
  return rawFrame({ ...VALID_PARTS, ...parts }, header);
}

describe('FrameDecoder: valid input', () => {
  it('decodes the fields of a hand-built frame (body order greeter, op, random, data, hash)', () => {
    expect(decodeChunks([VALID])).toEqual({
      frames: [VALID_PLAIN],
      error: undefined,
      buffered: 0,
      maxBuffered: 0,
    });
  });

  it('decodes a frame fed one byte at a time, only after its last byte', () => {
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ maxPacket: 1024 }, (f) => frames.push(f));
    for (let i = 0; i < VALID.length; i++) {
      expect(frames).toHaveLength(0);
      expect(decoder.buffered).toBe(i);
      decoder.push(VALID.subarray(i, i + 1));
    }
    expect(frames.map(plain)).toEqual([VALID_PLAIN]);
    expect(decoder.buffered).toBe(0);
  });

  it('decodes many frames from one chunk, in order', () => {
    const parts = Array.from({ length: 50 }, (_, i) => ({
      ...VALID_PARTS,
      op: String(i),
      data: `data-${i}`,
    }));
    const outcome = decodeChunks([Buffer.concat(parts.map((p) => rawFrame(p)))]);
    expect(outcome.error).toBeUndefined();
    expect(outcome.frames.map((f) => [f.op, f.data.toString()])).toEqual(
      parts.map((_, i) => [i, `data-${i}`]),
    );
  });

  it('decodes a frame split at every possible offset into two chunks', () => {
    for (let cut = 1; cut < VALID.length; cut++) {
      const outcome = decodeChunks(splitAt(VALID, [cut]));
      expect(outcome.error, `split at ${cut}`).toBeUndefined();
      expect(outcome.frames, `split at ${cut}`).toEqual([VALID_PLAIN]);
      expect(outcome.buffered).toBe(0);
    }
  });

  it('decodes two frames split at every possible offset, with the cut moving through both', () => {
    const second = rawFrame({ ...VALID_PARTS, greeter: 'other', data: '' });
    const both = Buffer.concat([VALID, second]);
    for (let cut = 1; cut < both.length; cut++) {
      for (const extra of [cut + 1, cut + 13, VALID.length + 2]) {
        const outcome = decodeChunks(splitAt(both, [cut, extra]));
        expect(outcome.error, `cuts ${cut}, ${extra}`).toBeUndefined();
        expect(outcome.frames.map((f) => f.greeter)).toEqual(['echo', 'other']);
      }
    }
  });

  it('holds a trailing partial frame without emitting it, then completes it', () => {
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ maxPacket: 1024 }, (f) => frames.push(f));
    decoder.push(Buffer.concat([VALID, VALID.subarray(0, 20)]));
    expect(frames).toHaveLength(1);
    expect(decoder.buffered).toBe(20);
    decoder.push(VALID.subarray(20));
    expect(frames.map(plain)).toEqual([VALID_PLAIN, VALID_PLAIN]);
    expect(decoder.buffered).toBe(0);
  });

  it('decodes a frame with 0 bytes of data', () => {
    const outcome = decodeChunks([malformed({ data: '' })]);
    expect(outcome.error).toBeUndefined();
    expect(outcome.frames[0]!.data).toEqual(Buffer.alloc(0));
  });

  it('passes data of arbitrary bytes through unchanged', () => {
    const data = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    const outcome = decodeChunks([malformed({ data })]);
    expect(outcome.error).toBeUndefined();
    expect(outcome.frames[0]!.data).toEqual(data);
  });

  it('decodes an op with leading zeros to its value', () => {
    expect(decodeChunks([malformed({ op: '0000000007' })]).frames[0]!.op).toBe(7);
    expect(decodeChunks([malformed({ op: '00' })]).frames[0]!.op).toBe(0);
  });

  it('decodes the op range ends 0 and 4294967295', () => {
    expect(decodeChunks([malformed({ op: '0' })]).frames[0]!.op).toBe(0);
    expect(decodeChunks([malformed({ op: '4294967295' })]).frames[0]!.op).toBe(4294967295);
  });

  it('accepts the printable range ends 0x21 and 0x7e in greeter, random and hash', () => {
    const edge = '!~';
    const outcome = decodeChunks([malformed({ greeter: edge, random: edge, hash: edge })]);
    expect(outcome.error).toBeUndefined();
    expect(outcome.frames[0]).toMatchObject({ greeter: edge, random: edge, hash: edge });
  });

  it('accepts fields of 255 bytes and the smallest frame of 16 bytes', () => {
    const long = 'x'.repeat(255);
    const outcome = decodeChunks([malformed({ greeter: long, random: long, hash: long })]);
    expect(outcome.frames[0]).toMatchObject({ greeter: long, random: long, hash: long });
    const smallest = rawFrame({ greeter: 'g', op: '1', random: 'r', data: '', hash: 'h' });
    expect(smallest).toHaveLength(MIN_FRAME_LENGTH);
    expect(decodeChunks([smallest]).frames).toHaveLength(1);
  });

  it('accepts packet_len equal to the limit', () => {
    expect(decodeChunks([VALID], VALID.length).frames).toEqual([VALID_PLAIN]);
  });

  it('returns views of the chunk for a frame that arrives whole', () => {
    const chunk = Buffer.from(VALID);
    const frames: Frame[] = [];
    new FrameDecoder({ maxPacket: 1024 }, (f) => frames.push(f)).push(chunk);
    expect(frames[0]!.data.buffer).toBe(chunk.buffer);
  });

  it('accepts a plain Uint8Array as well as a Buffer', () => {
    const view = new Uint8Array(VALID.length + 4);
    view.set(VALID, 2);
    expect(decodeChunks([view.subarray(2, 2 + VALID.length)]).frames).toEqual([VALID_PLAIN]);
  });

  it('honours a limit raised between pushes', () => {
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ maxPacket: 20 }, (f) => frames.push(f));
    decoder.maxPacket = VALID.length;
    decoder.push(VALID);
    expect(frames).toHaveLength(1);
  });
});

describe('FrameDecoder: too large', () => {
  it('decides from the first 4 bytes, before any body byte arrives', () => {
    const decoder = new FrameDecoder({ maxPacket: 1024 }, () => {
      throw new Error('no frame expected');
    });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(0xffff_ffff);
    decoder.push(head.subarray(0, 3));
    expect(decoder.buffered).toBe(3);
    let error: unknown;
    try {
      decoder.push(head.subarray(3));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NekoError);
    expect((error as NekoError).code).toBe('NEKO_ERR_FRAME_TOO_LARGE');
    expect(decoder.rejectedLength).toBe(0xffff_ffff);
    expect(decoder.buffered).toBeLessThanOrEqual(1024);
    expect(decoder.buffered).toBe(4);
  });

  it('refuses a packet_len one above the limit, from 4 bytes pushed at once', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(101);
    const outcome = decodeChunks([head], 100);
    expect((outcome.error as NekoError).code).toBe('NEKO_ERR_FRAME_TOO_LARGE');
    expect(outcome.buffered).toBeLessThanOrEqual(100);
  });

  it('refuses a too large frame that arrives whole in one chunk', () => {
    expectDecodeError(VALID, 'NEKO_ERR_FRAME_TOO_LARGE', VALID.length - 1);
  });

  it('refuses a too large frame that follows a valid one in the same chunk', () => {
    const big = Buffer.alloc(8);
    big.writeUInt32BE(MAX_AUTH_FRAME_LENGTH + 1);
    const outcome = decodeChunks([Buffer.concat([VALID, big])], MAX_AUTH_FRAME_LENGTH);
    expect(outcome.frames).toEqual([VALID_PLAIN]);
    expect((outcome.error as NekoError).code).toBe('NEKO_ERR_FRAME_TOO_LARGE');
    expect(outcome.buffered).toBeLessThanOrEqual(MAX_AUTH_FRAME_LENGTH);
  });

  it('never buffers more than the limit, whatever arrives', () => {
    const limit = 64;
    const stream = Buffer.concat([
      rawFrame({ ...VALID_PARTS, data: 'x'.repeat(30) }),
      VALID,
      Buffer.alloc(200, 0xff),
    ]);
    for (let size = 1; size <= 30; size++) {
      const chunks = splitAt(
        stream,
        Array.from({ length: Math.ceil(stream.length / size) }, (_, i) => i * size),
      );
      const outcome = decodeChunks(chunks, limit);
      expect(outcome.maxBuffered).toBeLessThanOrEqual(limit);
      expect((outcome.error as NekoError).code).toBe('NEKO_ERR_FRAME_TOO_LARGE');
    }
  });
});

describe('FrameDecoder: malformed frames', () => {
  it('refuses packet_len below 16 (NEKO_ERR_FRAME_LENGTH_MISMATCH)', () => {
    for (const length of [0, 1, 12, 15]) {
      const head = Buffer.alloc(12);
      head.writeUInt32BE(length);
      expectDecodeError(head, 'NEKO_ERR_FRAME_LENGTH_MISMATCH');
    }
  });

  it('refuses packet_len below 16 from its first 4 bytes', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(15);
    expect((decodeChunks([head]).error as NekoError).code).toBe('NEKO_ERR_FRAME_LENGTH_MISMATCH');
  });

  it('refuses a header whose field lengths do not add up to packet_len', () => {
    expectDecodeError(malformed({}, { packetLength: VALID.length + 1 }), 'NEKO_ERR_FRAME_LENGTH_MISMATCH');
    expectDecodeError(malformed({}, { packetLength: VALID.length - 1 }), 'NEKO_ERR_FRAME_LENGTH_MISMATCH');
    expectDecodeError(malformed({}, { dataLength: 6 }), 'NEKO_ERR_FRAME_LENGTH_MISMATCH');
    expectDecodeError(malformed({}, { hashLength: 3 }), 'NEKO_ERR_FRAME_LENGTH_MISMATCH');
    expectDecodeError(malformed({}, { dataLength: 0xffff_ffff }), 'NEKO_ERR_FRAME_LENGTH_MISMATCH');
  });

  it('refuses the sum mismatch as soon as the 12 header bytes are in', () => {
    const bad = malformed({}, { packetLength: VALID.length + 1 });
    expect((decodeChunks([bad.subarray(0, 12)]).error as NekoError).code).toBe(
      'NEKO_ERR_FRAME_LENGTH_MISMATCH',
    );
    expect(decodeChunks([bad.subarray(0, 11)]).error).toBeUndefined();
  });

  for (const field of ['greeter', 'op', 'random', 'hash'] as const) {
    it(`refuses an empty ${field} (NEKO_ERR_FRAME_EMPTY_FIELD)`, () => {
      const err = expectDecodeError(malformed({ [field]: '' }), 'NEKO_ERR_FRAME_EMPTY_FIELD');
      expect(err.message).toContain(field);
    });
  }

  for (const field of ['greeter', 'random', 'hash'] as const) {
    for (const byte of [0x20, 0x7f, 0x00, 0x80, 0xff]) {
      it(`refuses byte 0x${byte.toString(16)} in the ${field} (NEKO_ERR_FRAME_NOT_PRINTABLE)`, () => {
        for (const position of ['start', 'end']) {
          const value = Buffer.from('abc', 'latin1');
          value[position === 'start' ? 0 : 2] = byte;
          const err = expectDecodeError(malformed({ [field]: value }), 'NEKO_ERR_FRAME_NOT_PRINTABLE');
          expect(err.message).toContain(field);
        }
      });
    }
  }

  it('refuses an op holding a non-digit (NEKO_ERR_FRAME_BAD_OP)', () => {
    for (const op of ['2a0', '-1', '+1', ' 1', '1 ', '1.5', '0x1', '/', ':', '\u00b2']) {
      expectDecodeError(malformed({ op }), 'NEKO_ERR_FRAME_BAD_OP');
    }
  });

  it('refuses an op of 11 digits, even all zeros (op_len above 10)', () => {
    expectDecodeError(malformed({ op: '00000000007' }), 'NEKO_ERR_FRAME_BAD_OP');
    expectDecodeError(malformed({ op: '12345678901' }), 'NEKO_ERR_FRAME_BAD_OP');
    expectDecodeError(malformed({ op: '9'.repeat(255) }), 'NEKO_ERR_FRAME_BAD_OP');
  });

  it('refuses an op above 4294967295', () => {
    expectDecodeError(malformed({ op: '4294967296' }), 'NEKO_ERR_FRAME_BAD_OP');
    expectDecodeError(malformed({ op: '9999999999' }), 'NEKO_ERR_FRAME_BAD_OP');
  });

  it('emits the valid frames before a malformed one in the same chunk', () => {
    const outcome = decodeChunks([Buffer.concat([VALID, VALID, malformed({ op: 'x' })])]);
    expect(outcome.frames).toEqual([VALID_PLAIN, VALID_PLAIN]);
    expect((outcome.error as NekoError).code).toBe('NEKO_ERR_FRAME_BAD_OP');
  });

  it('throws only NekoErrors, whose codes are NEKO_ERR_FRAME_*', () => {
    const err = expectDecodeError(malformed({ greeter: '' }), 'NEKO_ERR_FRAME_EMPTY_FIELD');
    expect(err.name).toBe('NekoError');
    expect(err.code.startsWith('NEKO_ERR_FRAME_')).toBe(true);
  });
});

describe('decodeFrame', () => {
  it('decodes exactly one frame', () => {
    expect(plain(decodeFrame(VALID))).toEqual(VALID_PLAIN);
  });

  it('refuses extra or missing bytes with NEKO_ERR_FRAME_LENGTH_MISMATCH', () => {
    for (const bytes of [
      Buffer.concat([VALID, VALID]),
      Buffer.concat([VALID, Buffer.of(0)]),
      VALID.subarray(0, 20),
    ]) {
      let error: unknown;
      try {
        decodeFrame(bytes);
      } catch (err) {
        error = err;
      }
      expect((error as NekoError).code).toBe('NEKO_ERR_FRAME_LENGTH_MISMATCH');
    }
  });

  it('applies its limit', () => {
    expect(() => decodeFrame(VALID, VALID.length - 1)).toThrow(
      expect.objectContaining({ code: 'NEKO_ERR_FRAME_TOO_LARGE' }),
    );
  });
});
