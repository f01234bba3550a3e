import { describe, it, expect } from 'vitest';
import { NekoError, type NekoErrorCode } from '../../src/errors.js';
import { decodeFrame } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { FrameFields } from '../../src/protocol/frame.js';
import { hex, plain, rawFrame } from '../helpers/frames.js';

const FIELDS: FrameFields = { greeter: 'echo', op: 7, random: 'r4nd0m', data: 'hello', hash: 'h4sh' };

function expectEncodeError(fields: Partial<FrameFields>, code: NekoErrorCode): NekoError {
  let error: unknown;
  try {
    encodeFrame({ ...FIELDS, ...fields });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(NekoError);
  expect((error as NekoError).code).toBe(code);
  return error as NekoError;
}

describe('encodeFrame: canonical output', () => {
  it('writes the header in the order op, greeter, data, hash, random and the body greeter, op, random, data, hash', () => {
    const frame = encodeFrame(FIELDS);
    // packet_len 32 | op_len 1 | greeter_len 4 | data_len 5 | hash_len 4 | random_len 6
    expect(frame.subarray(0, 12)).toEqual(hex('00000020 01 04 00000005 04 06'));
    expect(frame.subarray(12).toString('latin1')).toBe('echo' + '7' + 'r4nd0m' + 'hello' + 'h4sh');
    expect(frame).toEqual(
      rawFrame({ greeter: 'echo', op: '7', random: 'r4nd0m', data: 'hello', hash: 'h4sh' }),
    );
  });

  it('writes packet_len as the whole frame length, its own 4 bytes included', () => {
    const frame = encodeFrame(FIELDS);
    expect(frame.readUInt32BE(0)).toBe(frame.length);
  });

  it('writes op in decimal without leading zeros', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [7, '7'],
      [200, '200'],
      [1_000_000, '1000000'],
      [4294967295, '4294967295'],
    ];
    for (const [op, text] of cases) {
      const frame = encodeFrame({ ...FIELDS, op });
      expect(frame[4]).toBe(text.length);
      expect(frame.subarray(16, 16 + text.length).toString('latin1')).toBe(text);
      expect(decodeFrame(frame).op).toBe(op);
    }
  });

  it('writes string data as UTF-8 and byte data as is', () => {
    const text = encodeFrame({ ...FIELDS, data: 'héllo 猫' });
    expect(text.readUInt32BE(6)).toBe(Buffer.byteLength('héllo 猫'));
    expect(decodeFrame(text).data.toString('utf8')).toBe('héllo 猫');

    const data = Uint8Array.from([0, 1, 0x7f, 0x80, 0xff]);
    expect(decodeFrame(encodeFrame({ ...FIELDS, data })).data).toEqual(Buffer.from(data));
  });

  it('writes empty data', () => {
    const frame = encodeFrame({ ...FIELDS, data: '' });
    expect(frame.readUInt32BE(6)).toBe(0);
    expect(frame).toHaveLength(27);
  });

  it('takes random and hash as strings or bytes, with the same output', () => {
    const asBytes = encodeFrame({
      ...FIELDS,
      random: Buffer.from('r4nd0m', 'latin1'),
      hash: new Uint8Array(Buffer.from('h4sh', 'latin1')),
    });
    expect(asBytes).toEqual(encodeFrame(FIELDS));
  });

  it('round-trips through the decoder', () => {
    expect(plain(decodeFrame(encodeFrame(FIELDS)))).toEqual({
      greeter: 'echo',
      op: 7,
      random: 'r4nd0m',
      data: Buffer.from('hello'),
      hash: 'h4sh',
    });
  });

  it('accepts greeter, random and hash of 255 printable bytes', () => {
    const long = '~'.repeat(255);
    const frame = encodeFrame({ ...FIELDS, greeter: long, random: long, hash: long });
    expect(frame.subarray(4, 12)).toEqual(hex('01 ff 00000005 ff ff'));
  });
});

describe('encodeFrame: refusals', () => {
  it('refuses an op that is not an integer from 0 to 4294967295 (NEKO_ERR_FRAME_BAD_OP)', () => {
    for (const op of [-1, 1.5, 4294967296, Number.NaN, Number.POSITIVE_INFINITY, -0.5]) {
      expectEncodeError({ op }, 'NEKO_ERR_FRAME_BAD_OP');
    }
  });

  for (const field of ['greeter', 'random', 'hash'] as const) {
    it(`refuses an empty ${field} (NEKO_ERR_FRAME_EMPTY_FIELD)`, () => {
      expect(expectEncodeError({ [field]: '' }, 'NEKO_ERR_FRAME_EMPTY_FIELD').message).toContain(field);
      if (field !== 'greeter')
        expectEncodeError({ [field]: new Uint8Array(0) }, 'NEKO_ERR_FRAME_EMPTY_FIELD');
    });

    it(`refuses a ${field} of 256 bytes (NEKO_ERR_FRAME_FIELD_TOO_LONG)`, () => {
      expect(
        expectEncodeError({ [field]: 'a'.repeat(256) }, 'NEKO_ERR_FRAME_FIELD_TOO_LONG').message,
      ).toContain(field);
      if (field !== 'greeter')
        expectEncodeError({ [field]: Buffer.alloc(256, 0x61) }, 'NEKO_ERR_FRAME_FIELD_TOO_LONG');
    });

    it(`refuses a ${field} with a character outside 0x21-0x7e (NEKO_ERR_FRAME_NOT_PRINTABLE)`, () => {
      for (const bad of ['a b', 'a\x7f', '\0', 'é', '猫', 'tab\t']) {
        expect(expectEncodeError({ [field]: bad }, 'NEKO_ERR_FRAME_NOT_PRINTABLE').message).toContain(field);
      }
      if (field !== 'greeter') {
        for (const byte of [0x20, 0x7f, 0x80, 0x00]) {
          expectEncodeError({ [field]: Uint8Array.of(0x61, byte) }, 'NEKO_ERR_FRAME_NOT_PRINTABLE');
        }
      }
    });
  }
});
