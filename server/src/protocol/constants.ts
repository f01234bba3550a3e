import { Status } from './status.js';

/** Size of the fixed frame header in bytes (protocol §2). */
export const HEADER_LENGTH = 12;

/** The smallest frame: a 12-byte header and one byte each of greeter, op, random and hash. */
export const MIN_FRAME_LENGTH = HEADER_LENGTH + 4;

/** The largest value a `packet_len` or `data_len` field can hold. */
export const MAX_UINT32 = 0xffff_ffff;

/** The largest value of a one-byte length field. */
export const MAX_FIELD_LENGTH = 255;

/** The greeter of the client's first packet. */
export const AUTH_GREETER = 'auth';

/** The fields of the client's first packet but its random and hash (protocol §4, step 1). */
export const AUTH_PACKET = Object.freeze({ greeter: AUTH_GREETER, op: Status.Ok, data: '200' } as const);

/** The greeter of the server's status packets. */
export const SERVER_GREETER = 'nekoconnect-server';

/** Greeters no plugin may use. */
export const RESERVED_GREETERS: readonly string[] = Object.freeze([AUTH_GREETER, SERVER_GREETER]);

/** The literal hash of status packets sent to a peer that is not (or no longer) authenticated. */
export const UNAUTHENTICATED_HASH = 'server';

/** The port the original server listened on. */
export const DEFAULT_PORT = 10390;

/** The interface a server listens on, and the host a client connects to, unless told otherwise: loopback. */
export const DEFAULT_HOST = '127.0.0.1';

/** The longest data of a first packet: a token id (protocol §15: a 64-character user, a dot, 12 digits). */
const MAX_FIRST_DATA_LENGTH = 64 + 1 + 12;

/**
 * The largest frame a well-formed first packet can be: greeter `auth`, a
 * three-digit op (`200`, or `210` with a token), data `200` or a token id,
 * and a random and hash of at most 255 bytes each. Before the handshake a
 * larger `packet_len` cannot be an auth packet.
 */
export const MAX_AUTH_FRAME_LENGTH =
  HEADER_LENGTH +
  AUTH_PACKET.greeter.length +
  String(AUTH_PACKET.op).length +
  MAX_FIRST_DATA_LENGTH +
  2 * MAX_FIELD_LENGTH;
