import { AUTH_GREETER } from './constants.js';
import type { Frame } from './frame.js';
import { Hasher } from './hash.js';

/**
 * The per-user token extension (protocol §15). A web page must not hold the
 * shared secret (every visitor could read it), so the author's own backend,
 * which holds it, issues each user a short-lived token: an id naming the
 * user and an expiry, and a key derived from the secret and that id. The
 * client authenticates with the id (in the data of its first packet, op
 * 210) and runs the whole hash chain with the key in place of the secret.
 * The server derives the same key from the secret; the id cannot be changed
 * (another user, a later expiry) without the key changing with it.
 */

/** Op of the first packet that authenticates with a token instead of the secret. */
export const TOKEN_AUTH_OP = 210;

/** A user name in a token: 1–64 of `A-Z a-z 0-9 _ -`. */
export const TOKEN_USER = /^[A-Za-z0-9_-]{1,64}$/;

/** The longest token id: a 64-character user, a dot, and up to 12 digits of expiry. */
export const MAX_TOKEN_ID_LENGTH = 64 + 1 + 12;

/** What the key derivation hashes before the id: keys of tokens never equal a hash of the chain. */
const KEY_CONTEXT = 'nekoconnect-token:';

/** A token as a backend hands it to a client. */
export interface UserToken {
  /** `<user>.<expiry in seconds since the epoch>`: what the client sends. */
  readonly id: string;
  /** The key the client hashes with instead of the secret (64 hex characters): keep it from others. */
  readonly key: string;
  readonly user: string;
  /** When it stops working, in seconds since the epoch. */
  readonly expiresAt: number;
}

/** A token id, read: its user and expiry. */
export interface TokenId {
  readonly user: string;
  readonly expiresAt: number;
}

/** Reads a token id; undefined when it is not one. */
export function parseTokenId(id: string): TokenId | undefined {
  if (id.length > MAX_TOKEN_ID_LENGTH) return undefined;
  const dot = id.lastIndexOf('.');
  const user = id.slice(0, dot);
  const expiry = id.slice(dot + 1);
  if (dot < 1 || !TOKEN_USER.test(user) || !/^[1-9]\d{0,11}$/.test(expiry)) return undefined;
  return { user, expiresAt: Number(expiry) };
}

/** The key of a token id, from the hasher of the shared secret: `H(nekoconnect-token:<id>)`. */
export function tokenKey(secretHasher: Hasher, id: string): string {
  return secretHasher.hex(KEY_CONTEXT + id);
}

/** True for a first packet that authenticates with a token (its id is checked apart). */
export function isTokenAuthFrame(frame: Frame): boolean {
  return frame.greeter === AUTH_GREETER && frame.op === TOKEN_AUTH_OP;
}

/**
 * Issues a token for `user`, valid `ttlSeconds` from now (default one
 * hour): what an author's web backend, which holds the secret, gives a
 * signed-in user so that the page never holds the secret.
 *
 * @throws TypeError for a user name outside `A-Z a-z 0-9 _ -` (1–64) or a ttl that is not a positive whole number
 */
export function issueToken(
  secret: string,
  user: string,
  options: { ttlSeconds?: number; now?: number } = {},
): UserToken {
  if (!TOKEN_USER.test(user)) {
    throw new TypeError(`a token's user must be 1 to 64 of A-Z a-z 0-9 _ -; got ${JSON.stringify(user)}`);
  }
  const ttl = options.ttlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl < 1) {
    throw new TypeError(`ttlSeconds must be a positive whole number; got ${String(ttl)}`);
  }
  const expiresAt = Math.floor((options.now ?? Date.now()) / 1000) + ttl;
  const id = `${user}.${expiresAt}`;
  return { id, key: tokenKey(new Hasher(secret), id), user, expiresAt };
}
