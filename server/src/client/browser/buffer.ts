/**
 * The part of Node's `Buffer` that the client SDK and the protocol modules it
 * bundles use, for the browser build (`scripts/build-browser-client.js`
 * injects it wherever the code names `Buffer`): a `Uint8Array` with the
 * encodings `utf8` and `latin1`, and no more. A method the code starts to
 * use and this class lacks fails the tests of the browser build
 * (`test/client/browser-modules.test.ts` runs the codec on it, and
 * `browser.test.ts` the whole client in Chromium), so the two stay in step.
 */

/** The encodings the protocol uses: UTF-8 for data, latin1 for the ASCII fields. */
export type BufferEncoding = 'utf8' | 'utf-8' | 'latin1';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Characters per `String.fromCharCode` call when decoding latin1 (below any engine's argument limit). */
const CHARS_PER_CALL = 4096;

function isUtf8(encoding: BufferEncoding): boolean {
  if (encoding === 'utf8' || encoding === 'utf-8') return true;
  if (encoding === 'latin1') return false;
  throw new TypeError(`the browser build's Buffer knows utf8 and latin1, not ${String(encoding)}`);
}

/**
 * A byte array with the instance methods of Node's `Buffer` that the client
 * uses. Its views (`subarray`) are `Bytes` too.
 */
export class Bytes extends Uint8Array {
  /** The bytes `[start, end)` decoded as UTF-8 (by default) or latin1. */
  override toString(encoding: BufferEncoding = 'utf8', start = 0, end = this.length): string {
    const from = Math.max(0, start);
    const to = Math.min(this.length, end);
    if (to <= from) return '';
    if (isUtf8(encoding)) return decoder.decode(this.subarray(from, to));
    let out = '';
    for (let i = from; i < to; i += CHARS_PER_CALL) {
      out += String.fromCharCode(...this.subarray(i, Math.min(to, i + CHARS_PER_CALL)));
    }
    return out;
  }

  /** Writes `s` at `offset` (UTF-8 by default, or latin1) as far as it fits; returns the bytes written. */
  write(s: string, offset = 0, encoding: BufferEncoding = 'utf8'): number {
    if (isUtf8(encoding)) return encoder.encodeInto(s, this.subarray(offset)).written;
    const count = Math.min(s.length, this.length - offset);
    for (let i = 0; i < count; i++) this[offset + i] = s.charCodeAt(i);
    return Math.max(0, count);
  }

  /** True when `other` holds the same bytes. */
  equals(other: Uint8Array): boolean {
    if (other.byteLength !== this.byteLength) return false;
    for (let i = 0; i < this.length; i++) if (this[i] !== other[i]) return false;
    return true;
  }

  /** The unsigned big-endian 32-bit integer at `offset`. */
  readUInt32BE(offset = 0): number {
    if (offset < 0 || offset + 4 > this.length) {
      throw new RangeError(`readUInt32BE at ${offset} is outside a buffer of ${this.length} bytes`);
    }
    return (
      this[offset]! * 0x1000000 + ((this[offset + 1]! << 16) | (this[offset + 2]! << 8) | this[offset + 3]!)
    );
  }

  /** Copies `[sourceStart, sourceEnd)` into `target` at `targetStart`, as much as fits; returns the bytes copied. */
  copy(target: Uint8Array, targetStart = 0, sourceStart = 0, sourceEnd = this.length): number {
    const end = Math.min(sourceEnd, this.length, sourceStart + (target.length - targetStart));
    if (end <= sourceStart) return 0;
    target.set(this.subarray(sourceStart, end), targetStart);
    return end - sourceStart;
  }
}

/**
 * The bytes of a string (UTF-8 by default, or latin1); a copy of a byte
 * array; or a view of an `ArrayBuffer` (sharing its memory).
 */
function from(value: string, encoding?: BufferEncoding): Bytes;
function from(value: ArrayLike<number>): Bytes;
function from(value: ArrayBuffer, byteOffset?: number, length?: number): Bytes;
function from(
  value: string | ArrayLike<number> | ArrayBuffer,
  encodingOrOffset?: BufferEncoding | number,
  length?: number,
): Bytes {
  if (typeof value === 'string') {
    const encoding = (encodingOrOffset ?? 'utf8') as BufferEncoding;
    if (isUtf8(encoding)) {
      const bytes = encoder.encode(value);
      return new Bytes(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    const out = new Bytes(value.length);
    for (let i = 0; i < value.length; i++) out[i] = value.charCodeAt(i);
    return out;
  }
  if (value instanceof ArrayBuffer) {
    const offset = (encodingOrOffset as number | undefined) ?? 0;
    return new Bytes(value, offset, length ?? value.byteLength - offset);
  }
  const out = new Bytes(value.length);
  out.set(value);
  return out;
}

/** The bytes `s` takes in UTF-8 (or latin1), without encoding it. */
function byteLength(s: string, encoding: BufferEncoding = 'utf8'): number {
  if (!isUtf8(encoding)) return s.length;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: one code point of 4 bytes.
      bytes += 4;
      i++;
    } else {
      // Three bytes, and a lone surrogate becomes U+FFFD (3 bytes), as TextEncoder writes it.
      bytes += 3;
    }
  }
  return bytes;
}

/** The arrays one after another, cut or zero-filled to `totalLength` when given. */
function concat(list: readonly Uint8Array[], totalLength?: number): Bytes {
  if (list.length === 0) return new Bytes(0);
  const total = totalLength ?? list.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Bytes(total);
  let offset = 0;
  for (const part of list) {
    if (offset >= total) break;
    const take = Math.min(part.byteLength, total - offset);
    out.set(take === part.byteLength ? part : part.subarray(0, take), offset);
    offset += take;
  }
  return out;
}

/**
 * What the bundled code calls on `Buffer` itself. `alloc` and `allocUnsafe`
 * both give zeroed bytes: a browser has no uninitialised memory to hand out.
 */
export const Buffer = {
  from,
  alloc: (size: number): Bytes => new Bytes(size),
  allocUnsafe: (size: number): Bytes => new Bytes(size),
  byteLength,
  concat,
  isBuffer: (value: unknown): value is Bytes => value instanceof Bytes,
};

/** A `Buffer` of the browser build is a {@link Bytes}. */
export type Buffer = Bytes;
