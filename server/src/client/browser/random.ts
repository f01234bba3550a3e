/**
 * The browser build's random strings for a frame's random field (protocol
 * §3): `randomString()` of `protocol/random.ts` on `crypto.getRandomValues`
 * (`protocol/web-random.ts`). It returns the string itself; the encoder and
 * the hasher take strings as they take bytes.
 */
import { WEB_RANDOM_LENGTH, webRandomString } from '../../protocol/web-random.js';

/** Characters in a random string: 22 × 6 = 132 bits. */
export const RANDOM_LENGTH = WEB_RANDOM_LENGTH;

/** A fresh random string of {@link RANDOM_LENGTH} printable ASCII characters. */
export function randomString(): string {
  return webRandomString();
}
