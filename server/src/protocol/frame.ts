import { MAX_UINT32 } from './constants.js';

/** A decoded frame (protocol §2). Byte fields are views into the received bytes. */
export interface Frame {
  readonly greeter: string;
  readonly op: number;
  /** The sender's fresh random string (printable ASCII). */
  readonly random: Buffer;
  readonly data: Buffer;
  /** The hash field (printable ASCII): 64 hex characters, or `server`. */
  readonly hash: Buffer;
}

/** What the encoder takes. Strings in `greeter`, `random` and `hash` must be printable ASCII; `data` strings are sent as UTF-8. */
export interface FrameFields {
  readonly greeter: string;
  readonly op: number;
  readonly random: string | Uint8Array;
  readonly data: string | Uint8Array;
  readonly hash: string | Uint8Array;
}

/** True when every byte of `bytes[start, end)` is printable ASCII (0x21–0x7E). */
export function isPrintableBytes(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x21 || b > 0x7e) return false;
  }
  return true;
}

/** True when every char of `s` is printable ASCII (0x21–0x7E). */
export function isPrintableString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** True when `op` can travel in an op field. */
export function isValidOp(op: number): boolean {
  return Number.isInteger(op) && op >= 0 && op <= MAX_UINT32;
}
