/**
 * The client side of the benchmark targets: `loadClient(id)` imports
 * bench/clients/<id>.js, whose `open(config)` connects one client to the
 * target's server and resolves when it is ready for round trips.
 */
import { isTargetId } from '../lib/targets.js';

/**
 * @typedef {object} ClientConfig
 * @property {number} port
 * @property {number} payloadBytes size of every request's payload
 * @property {number} op NekoConnect: the op of every request
 */

/**
 * One connection, driven in lockstep: `roundTrip` is never called again
 * before its previous promise settled.
 * @typedef {object} BenchClient
 * @property {(payload: Buffer) => Promise<unknown>} roundTrip sends one request; resolves with its reply
 * @property {(reply: unknown) => void} check throws unless the reply is the echo expected
 * @property {() => Promise<void>} close
 */

/**
 * @param {string} id
 * @returns {Promise<{ open: (config: ClientConfig) => Promise<BenchClient> }>}
 */
export async function loadClient(id) {
  if (!isTargetId(id)) throw new Error(`unknown benchmark target "${id}"`);
  return import(`./${id}.js`);
}
