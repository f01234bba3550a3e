/**
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) on `Uint8Array` and plain
 * numbers only, with no dependency at all: the hash `H` of protocol §3 for
 * builds without Node's crypto module (a browser), and synchronous where
 * WebCrypto's `subtle.sign` is not.
 *
 * Calls run one at a time to the end (nothing here awaits), so the schedule
 * and padding buffers below are shared by every call; padding bytes that held
 * a message are wiped after each use.
 */

/** Bytes in a SHA-256 block. */
const BLOCK_BYTES = 64;

/** Bytes in a SHA-256 digest. */
export const SHA256_BYTES = 32;

/** Characters in the hex form of an HMAC-SHA256. */
export const HMAC_HEX_LENGTH = 64;

/** The SHA-256 initial state (FIPS 180-4, 5.3.3). */
export const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** The message schedule of the block being compressed. */
const W = new Int32Array(64);
/** The running state of the hash being computed. */
const state = new Int32Array(8);
/** The message's last partial block and its padding: one or two blocks. */
const tail = new Uint8Array(2 * BLOCK_BYTES);
/** The two-character lowercase hex form of each byte value. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

const encoder = new TextEncoder();

/** The UTF-8 bytes of `text` (a secret, a random string). */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The SHA-256 digest of `bytes`: 32 bytes. */
export function sha256(bytes: Uint8Array): Uint8Array {
  state.set(IV);
  absorb(state, bytes, 0);
  const out = new Uint8Array(SHA256_BYTES);
  storeState(state, out);
  return out;
}

/**
 * HMAC-SHA256 under one key. The states after the blocks `key ^ ipad` and
 * `key ^ opad` are computed once, here (RFC 2104, section 4), so a MAC over a
 * message of up to 55 bytes (a random string) costs two runs of the
 * compression function: one for the message, one for the inner digest.
 */
export class HmacSha256 {
  /** SHA-256 state after the block `key ^ ipad`. */
  readonly #inner = new Int32Array(8);
  /** SHA-256 state after the block `key ^ opad`. */
  readonly #outer = new Int32Array(8);

  /** `key`: the secret's bytes (see {@link utf8}); a key longer than a block is hashed first (RFC 2104, section 2). */
  constructor(key: Uint8Array) {
    hmacStates(key.byteLength > BLOCK_BYTES ? sha256(key) : key, this.#inner, this.#outer);
  }

  /** HMAC-SHA256 of `message`: 32 bytes. */
  mac(message: Uint8Array): Uint8Array {
    this.#run(message);
    const out = new Uint8Array(SHA256_BYTES);
    storeState(state, out);
    return out;
  }

  /** HMAC-SHA256 of `message` as 64 lowercase hex characters: `H(s)` of protocol §3. */
  hex(message: Uint8Array): string {
    this.#run(message);
    let out = '';
    for (let i = 0; i < 8; i++) {
      const v = state[i]!;
      out +=
        HEX_PAIRS[v >>> 24]! +
        HEX_PAIRS[(v >>> 16) & 255]! +
        HEX_PAIRS[(v >>> 8) & 255]! +
        HEX_PAIRS[v & 255]!;
    }
    return out;
  }

  /** Leaves the HMAC of `message` in `state`. */
  #run(message: Uint8Array): void {
    // Inner hash: on from the state after key ^ ipad, over the message.
    state.set(this.#inner);
    absorb(state, message, BLOCK_BYTES);
    // Outer hash: on from the state after key ^ opad, over the inner digest
    // (32 bytes, so one padded block: 0x80, zeros, then 96 bytes as bits).
    storeState(state, tail);
    tail[SHA256_BYTES] = 0x80;
    tail.fill(0, SHA256_BYTES + 1, BLOCK_BYTES - 2);
    tail[BLOCK_BYTES - 2] = ((BLOCK_BYTES + SHA256_BYTES) * 8) >>> 8;
    tail[BLOCK_BYTES - 1] = ((BLOCK_BYTES + SHA256_BYTES) * 8) & 255;
    state.set(this.#outer);
    compress(state, tail, 0);
    tail.fill(0, 0, SHA256_BYTES);
  }
}

/**
 * Folds `message` and the padding into `h`, a state that has already taken
 * `before` bytes (0 for a plain hash, one block for the inner hash of an HMAC).
 */
function absorb(h: Int32Array, message: Uint8Array, before: number): void {
  const length = message.byteLength;
  const rest = length % BLOCK_BYTES;
  const whole = length - rest;
  for (let offset = 0; offset < whole; offset += BLOCK_BYTES) compress(h, message, offset);
  for (let i = 0; i < rest; i++) tail[i] = message[whole + i]!;
  // Padding: 0x80, zeros, then the length in bits as a 64-bit big-endian number.
  const end = rest < BLOCK_BYTES - 8 ? BLOCK_BYTES : 2 * BLOCK_BYTES;
  tail[rest] = 0x80;
  tail.fill(0, rest + 1, end - 8);
  const bits = (before + length) * 8;
  const high = Math.floor(bits / 0x100000000);
  const low = bits >>> 0;
  tail[end - 8] = high >>> 24;
  tail[end - 7] = high >>> 16;
  tail[end - 6] = high >>> 8;
  tail[end - 5] = high;
  tail[end - 4] = low >>> 24;
  tail[end - 3] = low >>> 16;
  tail[end - 2] = low >>> 8;
  tail[end - 1] = low;
  compress(h, tail, 0);
  if (end > BLOCK_BYTES) compress(h, tail, BLOCK_BYTES);
  tail.fill(0, 0, rest);
}

/**
 * The SHA-256 states after the HMAC key's inner and outer pad blocks (RFC
 * 2104): what every MAC under that key starts from. `key` is at most one
 * block (a longer key is hashed first, by the caller).
 */
export function hmacStates(key: Uint8Array, inner: Int32Array, outer: Int32Array): void {
  const block = new Uint8Array(BLOCK_BYTES);
  block.set(key);
  for (let i = 0; i < BLOCK_BYTES; i++) block[i] = block[i]! ^ 0x36;
  inner.set(IV);
  compress(inner, block, 0);
  for (let i = 0; i < BLOCK_BYTES; i++) block[i] = block[i]! ^ 0x36 ^ 0x5c;
  outer.set(IV);
  compress(outer, block, 0);
  block.fill(0);
}

/** Writes the state as 32 big-endian bytes at the start of `out`. */
export function storeState(from: Int32Array, out: Uint8Array): void {
  for (let i = 0; i < 8; i++) {
    const v = from[i]!;
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = v >>> 16;
    out[4 * i + 2] = v >>> 8;
    out[4 * i + 3] = v;
  }
}

/** The SHA-256 compression function: folds the 64-byte block at `bytes[offset]` into `h`. */
export function compress(h: Int32Array, bytes: Uint8Array, offset: number): void {
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let f = h[5]!;
  let g = h[6]!;
  let hh = h[7]!;
  for (let i = 0; i < 64; i++) {
    let w: number;
    if (i < 16) {
      const j = offset + 4 * i;
      w = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
    } else {
      const w15 = W[i - 15]!;
      const w2 = W[i - 2]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      w = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    }
    W[i] = w;
    const sigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const choose = g ^ (e & (f ^ g));
    const t1 = (hh + sigma1 + choose + K[i]! + w) | 0;
    const sigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const majority = (a & b) | (c & (a | b));
    const t2 = (sigma0 + majority) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}
