import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { NekoError } from '../../src/errors.js';
import { decodeFrame } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { FrameFields } from '../../src/protocol/frame.js';
import { decodeChunks, plain, splitAt, type DecodeOutcome, type PlainFrame } from '../helpers/frames.js';

const printableChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const printable = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: printableChar, minLength: 1, maxLength });
const printableBytes = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ min: 0x21, max: 0x7e, minLength: 1, maxLength });

/** Any fields the encoder accepts. */
const validFields: fc.Arbitrary<FrameFields> = fc.record({
  greeter: fc.oneof(printable(8), printable(255)),
  op: fc.oneof(fc.constantFrom(0, 100, 200, 0xffff_ffff), fc.integer({ min: 0, max: 0xffff_ffff })),
  random: fc.oneof(printable(30), printableBytes(255)),
  data: fc.oneof(fc.string({ unit: 'binary', maxLength: 64 }), fc.uint8Array({ maxLength: 600 })),
  hash: fc.oneof(printable(64), printableBytes(255)),
});

function normalize(fields: FrameFields): PlainFrame {
  const text = (v: string | Uint8Array): string =>
    typeof v === 'string' ? v : Buffer.from(v).toString('latin1');
  return {
    greeter: fields.greeter,
    op: fields.op,
    random: text(fields.random),
    data: typeof fields.data === 'string' ? Buffer.from(fields.data, 'utf8') : Buffer.from(fields.data),
    hash: text(fields.hash),
  };
}

/** Cut points for an arbitrary chunking of `length` bytes. */
const cuts = fc.array(fc.nat(), { maxLength: 20 });
const chunked = (bytes: Uint8Array, points: readonly number[]): Buffer[] =>
  splitAt(
    bytes,
    points.map((p) => p % (bytes.length + 1)),
  );

/** The outcome fails the property if anything other than a NEKO_ERR_FRAME_* NekoError was thrown. */
function expectOnlyFrameErrors(outcome: DecodeOutcome): void {
  if (outcome.error === undefined) return;
  expect(outcome.error).toBeInstanceOf(NekoError);
  expect((outcome.error as NekoError).code).toMatch(/^NEKO_ERR_FRAME_/);
}

/** What is comparable between two decodings of the same bytes. */
function summary(outcome: DecodeOutcome): unknown {
  return {
    frames: outcome.frames,
    error: (outcome.error as NekoError | undefined)?.code,
    // After an error the decoder is not to be used again; what it holds then does not matter.
    buffered: outcome.error === undefined ? outcome.buffered : undefined,
  };
}

describe('frame properties', () => {
  it('decode(encode(x)) is x for any valid fields', () => {
    fc.assert(
      fc.property(validFields, (fields) => {
        expect(plain(decodeFrame(encodeFrame(fields)))).toEqual(normalize(fields));
      }),
      { numRuns: 300 },
    );
  });

  it('encode is canonical: re-encoding a decoded frame gives the same bytes', () => {
    fc.assert(
      fc.property(validFields, (fields) => {
        const bytes = encodeFrame(fields);
        expect(encodeFrame(decodeFrame(bytes))).toEqual(bytes);
      }),
    );
  });

  it('a concatenation of valid frames, in any chunking, decodes to the same frames', () => {
    fc.assert(
      fc.property(fc.array(validFields, { minLength: 1, maxLength: 8 }), cuts, (list, points) => {
        const stream = Buffer.concat(list.map((f) => encodeFrame(f)));
        const outcome = decodeChunks(chunked(stream, points));
        expect(outcome.error).toBeUndefined();
        expect(outcome.frames).toEqual(list.map(normalize));
        expect(outcome.buffered).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('arbitrary bytes in any chunking: only NEKO_ERR_FRAME_* errors, the same outcome as one chunk, never more than the limit buffered', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        cuts,
        fc.integer({ min: 16, max: 300 }),
        (bytes, points, max) => {
          const whole = decodeChunks([bytes], max);
          const split = decodeChunks(chunked(bytes, points), max);
          expectOnlyFrameErrors(whole);
          expectOnlyFrameErrors(split);
          expect(summary(split)).toEqual(summary(whole));
          expect(split.maxBuffered).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 500 },
    );
  });

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  );

  it('mutated valid frames (flipped, inserted, deleted bytes) in any chunking: only NEKO_ERR_FRAME_* errors', () => {
    fc.assert(
      fc.property(
        fc.array(validFields, { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        cuts,
        (list, mutations, points) => {
          const bytes = [...Buffer.concat(list.map((f) => encodeFrame(f)))];
          for (const m of mutations) {
            const at = m.at % (bytes.length + (m.kind === 'insert' ? 1 : 0));
            if (m.kind === 'flip') bytes[at]! ^= m.mask;
            else if (m.kind === 'insert') bytes.splice(at, 0, m.byte);
            else bytes.splice(at, 1);
          }
          const stream = Buffer.from(bytes);
          const max = 2048;
          const whole = decodeChunks([stream], max);
          const split = decodeChunks(chunked(stream, points), max);
          expectOnlyFrameErrors(whole);
          expectOnlyFrameErrors(split);
          expect(summary(split)).toEqual(summary(whole));
        },
      ),
      { numRuns: 500 },
    );
  });

  /**
   * An independent reading of protocol §2 for the first frame of `bytes`:
   * what a decoder must do with it.
   */
  function reference(bytes: Buffer, max: number): 'ok' | 'too-large' | 'malformed' | 'incomplete' {
    if (bytes.length < 4) return 'incomplete';
    const packetLength = bytes.readUInt32BE(0);
    if (packetLength > max) return 'too-large';
    if (packetLength < 16) return 'malformed';
    if (bytes.length < 12) return 'incomplete';
    const [opLength, greeterLength, hashLength, randomLength] = [
      bytes[4]!,
      bytes[5]!,
      bytes[10]!,
      bytes[11]!,
    ];
    const dataLength = bytes.readUInt32BE(6);
    if (12 + opLength + greeterLength + dataLength + hashLength + randomLength !== packetLength)
      return 'malformed';
    if (opLength === 0 || greeterLength === 0 || hashLength === 0 || randomLength === 0) return 'malformed';
    if (bytes.length < packetLength) return 'incomplete';
    let at = 12;
    const take = (n: number): Buffer => bytes.subarray(at, (at += n));
    const greeter = take(greeterLength);
    const op = take(opLength).toString('latin1');
    const random = take(randomLength);
    take(dataLength);
    const hash = take(hashLength);
    const isPrintable = (b: Buffer): boolean => b.every((c) => c >= 0x21 && c <= 0x7e);
    if (!isPrintable(greeter) || !isPrintable(random) || !isPrintable(hash)) return 'malformed';
    if (!/^[0-9]{1,10}$/.test(op) || Number(op) > 4294967295) return 'malformed';
    return 'ok';
  }

  const fieldByte = fc.oneof(
    fc.integer({ min: 0x21, max: 0x7e }),
    fc.integer({ min: 0x30, max: 0x39 }),
    fc.constantFrom(0x00, 0x20, 0x7f, 0x80, 0xff),
  );
  const field = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => b.map((x) => 0x21 + (x % 94))),
    },
    { weight: 1, arbitrary: fc.array(fieldByte, { maxLength: 12 }).map((a) => Uint8Array.from(a)) },
  );
  const opField = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[1-9][0-9]{0,8}$/).map((s) => Buffer.from(s, 'latin1')) },
    fc.stringMatching(/^[0-9]{1,12}$/).map((s) => Buffer.from(s, 'latin1')),
    fc
      .constantFrom('4294967295', '4294967296', '0000000000', '00000000000')
      .map((s) => Buffer.from(s, 'latin1')),
    fc.array(fieldByte, { maxLength: 12 }).map((a) => Uint8Array.from(a)),
  );
  const headerDeltas = fc.oneof(
    { weight: 2, arbitrary: fc.constant([0, 0, 0, 0, 0, 0]) },
    fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -3, max: 3 })), {
      minLength: 6,
      maxLength: 6,
    }),
  );

  it('accepts exactly the frames protocol §2 calls well-formed, and refuses the rest with the right class of error', () => {
    fc.assert(
      fc.property(
        fc.record({
          greeter: field,
          op: opField,
          random: field,
          data: fc.uint8Array({ maxLength: 20 }),
          hash: field,
        }),
        headerDeltas,
        fc.oneof(fc.integer({ min: 16, max: 120 }), fc.constant(0xffff_ffff)),
        fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: -4, max: 4 })),
        (parts, deltas, max, trim) => {
          const { greeter, op, random, data, hash } = parts;
          const lengths = [
            12 + greeter.length + op.length + random.length + data.length + hash.length,
            op.length,
            greeter.length,
            data.length,
            hash.length,
            random.length,
          ].map((v, i) => Math.max(0, v + (deltas[i] ?? 0)));
          const head = Buffer.alloc(12);
          head.writeUInt32BE(lengths[0]!, 0);
          head[4] = lengths[1]! & 0xff;
          head[5] = lengths[2]! & 0xff;
          head.writeUInt32BE(lengths[3]!, 6);
          head[10] = lengths[4]! & 0xff;
          head[11] = lengths[5]! & 0xff;
          let bytes = Buffer.concat([head, greeter, op, random, data, hash]);
          if (trim < 0) bytes = bytes.subarray(0, Math.max(0, bytes.length + trim));
          else bytes = Buffer.concat([bytes, Buffer.alloc(trim, 0x41)]);

          const expected = reference(bytes, max);
          const outcome = decodeChunks([bytes], max);
          expectOnlyFrameErrors(outcome);
          const code = (outcome.error as NekoError | undefined)?.code;
          const actual =
            outcome.frames.length > 0
              ? 'ok'
              : code === undefined
                ? 'incomplete'
                : code === 'NEKO_ERR_FRAME_TOO_LARGE'
                  ? 'too-large'
                  : 'malformed';
          expect(actual).toBe(expected);
          if (actual === 'ok' && deltas.every((d) => d === 0)) {
            const frame = outcome.frames[0]!;
            expect(frame.greeter).toBe(Buffer.from(greeter).toString('latin1'));
            expect(frame.op).toBe(Number(Buffer.from(op).toString('latin1')));
            expect(frame.data).toEqual(Buffer.from(data));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
