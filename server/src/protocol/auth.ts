import { AUTH_PACKET } from './constants.js';
import type { Frame } from './frame.js';

const AUTH_DATA = Buffer.from(AUTH_PACKET.data, 'latin1');

/** True when a frame has the auth packet's greeter, op and data (its hash is checked apart). */
export function isAuthFrame(frame: Frame): boolean {
  return frame.greeter === AUTH_PACKET.greeter && frame.op === AUTH_PACKET.op && frame.data.equals(AUTH_DATA);
}
