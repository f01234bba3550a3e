/**
 * The browser build's `H(s)` (protocol §3): the `Hasher` and `hashEquals` of
 * `protocol/hash.ts`, with the same API and results, on the portable
 * HMAC-SHA256 of `protocol/sha256.ts` instead of `node:crypto`.
 */
import { HMAC_HEX_LENGTH, HmacSha256, utf8 } from '../../protocol/sha256.js';
import { Buffer } from './buffer.js';

/** Length of a hash in hex characters (HMAC-SHA256). */
export const HASH_LENGTH = HMAC_HEX_LENGTH;

/** HMAC-SHA256 keyed with the secret (or a token's key), as lowercase hex. */
export class Hasher {
  readonly #hmac: HmacSha256;

  constructor(secret: string) {
    const key = utf8(secret);
    this.#hmac = new HmacSha256(key);
    key.fill(0);
  }

  /** `H(random)` as a 64-character lowercase hex string. */
  hex(random: string | Uint8Array): string {
    return this.#hmac.hex(typeof random === 'string' ? utf8(random) : random);
  }

  /** `H(random)` as the 64 ASCII bytes that travel in a hash field. */
  bytes(random: string | Uint8Array): Buffer {
    return Buffer.from(this.hex(random), 'latin1');
  }
}

/** Compares two hash fields in constant time (for equal lengths; lengths are not secret). */
export function hashEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let difference = 0;
  for (let i = 0; i < a.byteLength; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}
