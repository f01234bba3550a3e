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
  readonly #nonces: Nonce[] = [];

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
    const index = this.#find(hash);
    if (index < 0) return false;
    this.#nonces.splice(0, index + 1);
    return true;
  }

  /**
   * Checks a hash without using up its random: true when it is `H` of a held
   * random, and then the older ones are dropped. The client SDK checks the
   * server's packets this way (they carry `H` of the client's newest verified
   * random, which only moves forward).
   */
  recognize(hash: Uint8Array): boolean {
    const index = this.#find(hash);
    if (index < 0) return false;
    if (index > 0) this.#nonces.splice(0, index);
    return true;
  }

  /** The index of the random whose `H` is `hash`, newest first; -1 if none. */
  #find(hash: Uint8Array): number {
    for (let i = this.#nonces.length - 1; i >= 0; i--) {
      const nonce = this.#nonces[i]!;
      nonce.expected ??= this.#hasher.bytes(nonce.random);
      if (hashEquals(nonce.expected, hash)) return i;
    }
    return -1;
  }
}
