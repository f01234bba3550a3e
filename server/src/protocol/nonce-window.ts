import { hashEquals, type Hasher } from './hash.js';

interface Nonce {
  readonly random: Buffer;
  /** `H(random)`, computed the first time a client hash is checked against it. */
  expected: Buffer | undefined;
}

/**
 * The server randoms sent to one client and not yet used (protocol §4).
 *
 * Holds at most `capacity` of them; past that the oldest is dropped. A client
 * hash is authentic when it equals `H(n)` for one of them; accepting it uses
 * up `n` and every random sent before `n`. `H(n)` is computed only when a
 * hash is checked, newest first, so randoms the client never uses cost no HMAC.
 */
export class NonceWindow {
  readonly capacity: number;
  readonly #hasher: Hasher;
  #nonces: Nonce[] = [];

  constructor(hasher: Hasher, capacity = 64) {
    this.#hasher = hasher;
    this.capacity = capacity;
  }

  /** Unused randoms held. */
  get size(): number {
    return this.#nonces.length;
  }

  /** Records a random just sent to the client. */
  add(random: Buffer): void {
    this.#nonces.push({ random, expected: undefined });
    if (this.#nonces.length > this.capacity) this.#nonces.shift();
  }

  /**
   * Checks a client's hash field. On a match, uses up that random and every
   * older one and returns true; otherwise changes nothing and returns false.
   */
  consume(hash: Uint8Array): boolean {
    for (let i = this.#nonces.length - 1; i >= 0; i--) {
      const nonce = this.#nonces[i]!;
      nonce.expected ??= this.#hasher.bytes(nonce.random);
      if (hashEquals(nonce.expected, hash)) {
        this.#nonces = this.#nonces.slice(i + 1);
        return true;
      }
    }
    return false;
  }
}
