import { randomFillSync } from 'node:crypto';

/** 64 printable ASCII symbols: each random byte masked to 6 bits picks one, with no bias. */
const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');

/** Characters in a random string: 22 × 6 = 132 bits. */
export const RANDOM_LENGTH = 22;

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * A fresh random string for a frame's random field: 132 bits from
 * `crypto.randomFillSync`, as printable ASCII. Randomness is drawn in 4 KiB
 * blocks, since one call per string costs many times more.
 */
export function randomString(): Buffer {
  if (poolOffset + RANDOM_LENGTH > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.allocUnsafe(RANDOM_LENGTH);
  for (let i = 0; i < RANDOM_LENGTH; i++) {
    const at = poolOffset + i;
    out[i] = ALPHABET[pool[at]! & 63]!;
    // Spent bytes are wiped so that no copy of a sent random lingers in the pool.
    pool[at] = 0;
  }
  poolOffset += RANDOM_LENGTH;
  return out;
}
