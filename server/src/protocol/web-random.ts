/**
 * Random strings for a frame's random field (protocol §3) from
 * `crypto.getRandomValues`, for builds without Node's crypto module (a
 * browser): the same strings as `randomString()` of random.ts, as text.
 */

/** 64 printable ASCII symbols: each random byte masked to 6 bits picks one, with no bias. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Characters in a random string: 22 × 6 = 132 bits. */
export const WEB_RANDOM_LENGTH = 22;

const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * A fresh random string for a frame's random field: 132 bits from
 * `globalThis.crypto.getRandomValues`, as 22 printable ASCII characters.
 * Randomness is drawn in 4 KiB blocks, since one call per string costs many
 * times more.
 */
export function webRandomString(): string {
  if (poolOffset + WEB_RANDOM_LENGTH > POOL_SIZE) {
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  let out = '';
  for (let i = 0; i < WEB_RANDOM_LENGTH; i++) {
    const at = poolOffset + i;
    out += ALPHABET[pool[at]! & 63]!;
    // Spent bytes are wiped so that no copy of a sent random lingers in the pool.
    pool[at] = 0;
  }
  poolOffset += WEB_RANDOM_LENGTH;
  return out;
}
