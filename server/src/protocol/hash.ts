import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Length of a hash in hex characters (HMAC-SHA256). */
export const HASH_LENGTH = 64;

/**
 * `H(s)` of protocol §3: lowercase hex of HMAC-SHA256 over the random
 * string's bytes, keyed with the shared secret (UTF-8).
 */
export class Hasher {
  readonly #key: KeyObject;

  constructor(secret: string) {
    this.#key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /** `H(random)` as a 64-character lowercase hex string. */
  hex(random: string | Uint8Array): string {
    return createHmac('sha256', this.#key).update(random).digest('hex');
  }

  /** `H(random)` as the 64 ASCII bytes that travel in a hash field. */
  bytes(random: string | Uint8Array): Buffer {
    return Buffer.from(this.hex(random), 'latin1');
  }
}

/** Compares two hash fields in constant time (for equal lengths; lengths are not secret). */
export function hashEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
