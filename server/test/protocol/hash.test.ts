import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { describe, it, expect, vi } from 'vitest';
import { HASH_LENGTH, Hasher, hashEquals } from '../../src/protocol/hash.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);

function reference(secret: string | Buffer, random: string | Buffer): string {
  return crypto.createHmac('sha256', secret).update(random).digest('hex');
}

describe('Hasher', () => {
  it('is lowercase hex HMAC-SHA256 keyed with the secret, over the random', () => {
    const hasher = new Hasher('neko');
    for (const random of ['c1i3nt-r4nd0m', 'x', '!~'.repeat(127), 'Sv3rN0nce-AAAA01']) {
      const h = hasher.hex(random);
      expect(h).toBe(reference('neko', random));
      expect(h).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(HASH_LENGTH).toBe(64);
  });

  it('matches a published HMAC-SHA256 test vector (RFC 4231 case 2)', () => {
    expect(new Hasher('Jefe').hex('what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('keys with the UTF-8 bytes of the secret', () => {
    const secret = 'ñeko-猫-🐱';
    expect(new Hasher(secret).hex('abc')).toBe(reference(Buffer.from(secret, 'utf8'), 'abc'));
    expect(new Hasher(secret).hex('abc')).not.toBe(reference(Buffer.from(secret, 'latin1'), 'abc'));
  });

  it('gives the same hash for a random as text or as bytes', () => {
    const hasher = new Hasher('neko');
    expect(hasher.hex(Buffer.from('r4nd0m', 'latin1'))).toBe(hasher.hex('r4nd0m'));
    expect(hasher.hex(new Uint8Array(Buffer.from('r4nd0m')))).toBe(hasher.hex('r4nd0m'));
  });

  it('depends on the secret and on the random', () => {
    expect(new Hasher('neko').hex('a')).not.toBe(new Hasher('neko2').hex('a'));
    expect(new Hasher('neko').hex('a')).not.toBe(new Hasher('neko').hex('b'));
  });

  it('bytes() is the 64 ASCII bytes of hex()', () => {
    const hasher = new Hasher('neko');
    const b = hasher.bytes('r4nd0m');
    expect(b).toHaveLength(64);
    expect(b.toString('latin1')).toBe(hasher.hex('r4nd0m'));
  });
});

describe('hashEquals', () => {
  const a = Buffer.from(new Hasher('neko').hex('a'), 'latin1');

  it('is true for equal bytes and false when one byte differs', () => {
    expect(hashEquals(a, Buffer.from(a))).toBe(true);
    for (const i of [0, 31, 63]) {
      const b = Buffer.from(a);
      b[i] = b[i]! ^ 1;
      expect(hashEquals(a, b)).toBe(false);
    }
  });

  it('compares equal lengths with crypto.timingSafeEqual', () => {
    timingSafeEqual.mockClear();
    const b = Buffer.from(a);
    b[63] = b[63]! ^ 1;
    expect(hashEquals(a, b)).toBe(false);
    expect(hashEquals(a, Buffer.from(a))).toBe(true);
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
  });

  it('is false on a length mismatch, without throwing (timingSafeEqual would)', () => {
    timingSafeEqual.mockClear();
    expect(hashEquals(a, a.subarray(0, 63))).toBe(false);
    expect(hashEquals(a, Buffer.from('server'))).toBe(false);
    expect(hashEquals(Buffer.alloc(0), a)).toBe(false);
    expect(timingSafeEqual).not.toHaveBeenCalled();
  });
});

describe('Hasher, against node:crypto (property)', () => {
  const secret = fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 60, maxLength: 200 }),
  );
  const random = fc.oneof(
    fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 255,
    }),
    fc.uint8Array({ minLength: 0, maxLength: 300 }),
    fc.uint8Array({ minLength: 1000, maxLength: 3000 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
  );

  it('H(random) is HMAC-SHA256(secret as UTF-8, random) in lowercase hex, for any secret and random', () => {
    fc.assert(
      fc.property(secret, random, (s, r) => {
        const hasher = new Hasher(s);
        const expected = reference(
          Buffer.from(s, 'utf8'),
          typeof r === 'string' ? Buffer.from(r, 'utf8') : Buffer.from(r),
        );
        expect(hasher.hex(r)).toBe(expected);
        expect(hasher.bytes(r).toString('latin1')).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('one hasher gives the same answers over many calls (no state leaks between calls)', () => {
    const hasher = new Hasher('neko');
    fc.assert(
      fc.property(fc.array(random, { minLength: 1, maxLength: 20 }), (list) => {
        for (const r of list)
          expect(hasher.hex(r)).toBe(
            reference('neko', typeof r === 'string' ? Buffer.from(r, 'utf8') : Buffer.from(r)),
          );
      }),
      { numRuns: 50 },
    );
  });

  it('bytes() returns a fresh buffer each call', () => {
    const hasher = new Hasher('neko');
    const a = hasher.bytes('a');
    const copy = Buffer.from(a);
    hasher.bytes('b');
    expect(a).toEqual(copy);
  });
});
