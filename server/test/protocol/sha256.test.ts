import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HMAC_HEX_LENGTH, HmacSha256, SHA256_BYTES, sha256, utf8 } from '../../src/protocol/sha256.js';

const PROTOCOL_SRC = path.join(import.meta.dirname, '..', '..', 'src', 'protocol');

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function ascii(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

function filled(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

function referenceHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function referenceHmac(key: Uint8Array, message: Uint8Array): string {
  return createHmac('sha256', key).update(message).digest('hex');
}

/** Lengths on either side of where the padding needs a second block (55/56) and of the block (64). */
const BOUNDARIES = [
  0, 1, 54, 55, 56, 57, 63, 64, 65, 118, 119, 120, 121, 127, 128, 129, 183, 184, 191, 192, 193,
];

describe('sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    expect(hex(sha256(ascii('')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(sha256(ascii('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    // 448 bits: the padding needs a second block.
    expect(hex(sha256(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    // 896 bits.
    expect(
      hex(
        sha256(
          ascii(
            'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
          ),
        ),
      ),
    ).toBe('cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1');
  });

  it("matches the FIPS 180-4 example of one million 'a'", () => {
    expect(hex(sha256(filled(1_000_000, 0x61)))).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('returns a fresh 32-byte digest and leaves its input as it was', () => {
    const input = ascii('kitten-0001');
    const a = sha256(input);
    const b = sha256(input);
    expect(a).toHaveLength(SHA256_BYTES);
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
    expect(Buffer.from(input).toString('latin1')).toBe('kitten-0001');
  });

  it('equals node:crypto for every length from 0 to 300 bytes', () => {
    for (let length = 0; length <= 300; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 131 + length) & 255);
      expect(hex(sha256(bytes)), `length ${length}`).toBe(referenceHash(bytes));
    }
  });

  it('hashes a view into a larger buffer by its own bytes only', () => {
    const backing = Uint8Array.from({ length: 200 }, (_, i) => i);
    const view = backing.subarray(37, 37 + 70);
    expect(hex(sha256(view))).toBe(referenceHash(backing.slice(37, 37 + 70)));
  });
});

describe('HmacSha256', () => {
  // RFC 4231, section 4: test cases 1 to 7.
  it('matches RFC 4231 test case 1', () => {
    expect(new HmacSha256(filled(20, 0x0b)).hex(ascii('Hi There'))).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    );
  });

  it('matches RFC 4231 test case 2 (a key shorter than the output)', () => {
    expect(new HmacSha256(ascii('Jefe')).hex(ascii('what do ya want for nothing?'))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('matches RFC 4231 test case 3 (50 bytes of 0xdd)', () => {
    expect(new HmacSha256(filled(20, 0xaa)).hex(filled(50, 0xdd))).toBe(
      '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
    );
  });

  it('matches RFC 4231 test case 4 (a 25-byte key 0x01..0x19)', () => {
    const key = Uint8Array.from({ length: 25 }, (_, i) => i + 1);
    expect(new HmacSha256(key).hex(filled(50, 0xcd))).toBe(
      '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
    );
  });

  it('matches RFC 4231 test case 5 (output truncated to 128 bits)', () => {
    const mac = new HmacSha256(filled(20, 0x0c)).mac(ascii('Test With Truncation'));
    expect(hex(mac.subarray(0, 16))).toBe('a3b6167473100ee06e0c796c2955552b');
  });

  it('matches RFC 4231 test case 6 (a 131-byte key, hashed first)', () => {
    expect(
      new HmacSha256(filled(131, 0xaa)).hex(ascii('Test Using Larger Than Block-Size Key - Hash Key First')),
    ).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });

  it('matches RFC 4231 test case 7 (a 131-byte key and 152 bytes of data)', () => {
    const data =
      'This is a test using a larger than block-size key and a larger than block-size data. ' +
      'The key needs to be hashed before being used by the HMAC algorithm.';
    expect(new HmacSha256(filled(131, 0xaa)).hex(ascii(data))).toBe(
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    );
  });

  it('gives the examples of docs/protocol.md §3 (secret neko)', () => {
    const hmac = new HmacSha256(utf8('neko'));
    expect(hmac.hex(utf8('kitten-0001'))).toBe(
      '2e78b99c6734dc7313fa7662408afa74f08be89804d8feebc00ae2dd31ca243d',
    );
    expect(hmac.hex(utf8('purr-0001'))).toBe(
      'f053a2bc948dcac2f7403243c8003d545c27ca37d426e36760bd80e5039426f9',
    );
  });

  it('hex() is 64 lowercase hex digits of mac(), which is a fresh 32-byte array', () => {
    const hmac = new HmacSha256(utf8('neko'));
    const message = utf8('Sv3rN0nce-AAAA01');
    const mac = hmac.mac(message);
    expect(mac).toHaveLength(SHA256_BYTES);
    expect(hmac.mac(message)).not.toBe(mac);
    const h = hmac.hex(message);
    expect(h).toHaveLength(HMAC_HEX_LENGTH);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).toBe(hex(mac));
  });

  it('gives the same results when one instance serves many messages, interleaved with others', () => {
    const first = new HmacSha256(utf8('neko'));
    const messages = BOUNDARIES.map((length) => filled(length, 0x41 + (length % 26)));
    for (const message of messages) {
      const expected = referenceHmac(utf8('neko'), message);
      expect(first.hex(message)).toBe(expected);
      // Another key, a long one, and a plain hash in between share the scratch buffers.
      const second = new HmacSha256(filled(100, 0x5c));
      expect(second.hex(message)).toBe(referenceHmac(filled(100, 0x5c), message));
      expect(hex(sha256(message))).toBe(referenceHash(message));
      expect(first.hex(message)).toBe(expected);
      expect(hex(first.mac(message))).toBe(expected);
    }
  });

  it('leaves the key and message as they were; a later change to the key array does not change the MAC', () => {
    const key = utf8('neko');
    const message = utf8('kitten-0001');
    const hmac = new HmacSha256(key);
    hmac.hex(message);
    expect(Buffer.from(key).toString()).toBe('neko');
    expect(Buffer.from(message).toString()).toBe('kitten-0001');
    key.fill(0);
    expect(hmac.hex(message)).toBe('2e78b99c6734dc7313fa7662408afa74f08be89804d8feebc00ae2dd31ca243d');
  });

  it('keys of exactly one block are used as they are, one byte more is hashed first', () => {
    for (const length of [63, 64, 65]) {
      const key = Uint8Array.from({ length }, (_, i) => i * 7);
      expect(new HmacSha256(key).hex(ascii('r4nd0m')), `key of ${length} bytes`).toBe(
        referenceHmac(key, ascii('r4nd0m')),
      );
    }
  });

  it('equals node:crypto createHmac for arbitrary keys (0-200 bytes) and messages (0-300 bytes)', () => {
    const nearBoundary = fc
      .constantFrom(...BOUNDARIES)
      .chain((length) => fc.uint8Array({ minLength: length, maxLength: length }));
    const message = fc.oneof(fc.uint8Array({ maxLength: 300 }), nearBoundary);
    const key = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc
        .constantFrom(0, 1, 63, 64, 65, 128, 129)
        .chain((length) => fc.uint8Array({ minLength: length, maxLength: length })),
    );
    fc.assert(
      fc.property(key, message, (k, m) => {
        const hmac = new HmacSha256(k);
        const expected = referenceHmac(k, m);
        expect(hmac.hex(m)).toBe(expected);
        expect(hex(hmac.mac(m))).toBe(expected);
        expect(hex(sha256(m))).toBe(referenceHash(m));
      }),
      { numRuns: 500 },
    );
  });
});

describe('utf8', () => {
  it('gives the UTF-8 bytes of text, multi-byte characters included', () => {
    for (const text of ['', 'neko', 'ñeko-猫-🐱', 'kitten-0001']) {
      expect(hex(utf8(text))).toBe(Buffer.from(text, 'utf8').toString('hex'));
    }
    const secret = 'ñeko-猫-🐱';
    expect(new HmacSha256(utf8(secret)).hex(utf8('abc'))).toBe(
      referenceHmac(new Uint8Array(Buffer.from(secret, 'utf8')), ascii('abc')),
    );
  });
});

describe('the browser-safe protocol modules', () => {
  // A browser build of the client takes these files as they are: no module
  // may come in with them, Node's or any other.
  for (const file of ['sha256.ts', 'web-random.ts']) {
    it(`${file} loads no module and names no Node-only global`, () => {
      const source = readFileSync(path.join(PROTOCOL_SRC, file), 'utf8');
      expect(source.length).toBeGreaterThan(0);
      expect(source).not.toMatch(/\bimport\b/);
      expect(source).not.toMatch(/\brequire\b/);
      expect(source).not.toMatch(/\bfrom\s*['"]/);
      expect(source).not.toMatch(/node:/);
      expect(source).not.toMatch(/\b(Buffer|process)\b/);
    });
  }
});
