import { describe, expect, it } from 'vitest';
import { decodeData, showData } from '../../src/playground/data.js';

describe('Playground data', () => {
  it('decodes text as UTF-8, JSON as typed, hex with or without separators', () => {
    expect(decodeData('text', 'héllo')).toEqual(Buffer.from('héllo', 'utf8'));
    expect(decodeData('text', '')).toEqual(Buffer.alloc(0));
    // JSON is checked, then sent as typed: the spaces stay.
    expect(decodeData('json', '{"a": 1}').toString()).toBe('{"a": 1}');
    expect(decodeData('json', '  ')).toEqual(Buffer.alloc(0));
    expect(decodeData('hex', '68 69')).toEqual(Buffer.from('hi'));
    expect(decodeData('hex', '0x6869')).toEqual(Buffer.from('hi'));
    expect(decodeData('hex', 'DE:AD,be ef')).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect(decodeData('hex', '')).toEqual(Buffer.alloc(0));
  });

  it('refuses bad JSON, bad hex and unknown kinds with NEKO_ERR_PLAYGROUND_DATA', () => {
    const refused = (kind: unknown, value: unknown): { code: string; message: string } => {
      try {
        decodeData(kind, value);
      } catch (err) {
        return err as { code: string; message: string };
      }
      throw new Error('accepted');
    };
    expect(refused('json', '{nope')).toMatchObject({
      code: 'NEKO_ERR_PLAYGROUND_DATA',
      message: expect.stringMatching(/^the data is not JSON/),
    });
    expect(refused('hex', 'abc')).toMatchObject({
      message: expect.stringMatching(/3 digits, an odd number/),
    });
    expect(refused('hex', '12 zz')).toMatchObject({ message: expect.stringMatching(/"z" at character 3/) });
    expect(refused('yaml', 'a: 1')).toMatchObject({ message: expect.stringMatching(/text, json, hex/) });
    expect(refused('text', 12)).toMatchObject({ message: 'data.value must be a string; got a number' });
  });

  it('shows bytes as hex always, as text when UTF-8, as JSON when it parses', () => {
    expect(showData(Buffer.from('{"n":[1,2]}'))).toEqual({
      bytes: 11,
      hex: Buffer.from('{"n":[1,2]}').toString('hex'),
      text: '{"n":[1,2]}',
      json: { n: [1, 2] },
    });
    expect(showData(Buffer.from('hello'))).toEqual({ bytes: 5, hex: '68656c6c6f', text: 'hello' });
    expect(showData(Buffer.from('42'))).toMatchObject({ text: '42', json: 42 });
    expect(showData(Buffer.from([0xff, 0xfe, 0x00]))).toEqual({ bytes: 3, hex: 'fffe00' });
    expect(showData(new Uint8Array(0))).toEqual({ bytes: 0, hex: '', text: '' });
    // A view into a larger buffer shows its own bytes only.
    const big = Buffer.from('xxhixx');
    expect(showData(big.subarray(2, 4))).toMatchObject({ hex: '6869', text: 'hi' });
  });
});
