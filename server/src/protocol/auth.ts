import { AUTH_GREETER } from './constants.js';
import type { Frame } from './frame.js';
import { Status } from './status.js';

/** The fields of the client's first packet but its random and hash (protocol §4, step 1). */
export const AUTH_PACKET = Object.freeze({ greeter: AUTH_GREETER, op: Status.Ok, data: '200' } as const);

const AUTH_DATA = Buffer.from(AUTH_PACKET.data, 'latin1');

/** True when a frame has the auth packet's greeter, op and data (its hash is checked apart). */
export function isAuthFrame(frame: Frame): boolean {
  return frame.greeter === AUTH_PACKET.greeter && frame.op === AUTH_PACKET.op && frame.data.equals(AUTH_DATA);
}
