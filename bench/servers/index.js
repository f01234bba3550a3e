/**
 * The server side of the benchmark targets: `loadServer(id)` imports
 * bench/servers/<id>.js, whose `start(options)` listens on 127.0.0.1 on a
 * free port.
 */
import { isTargetId } from '../lib/targets.js';

/**
 * @typedef {object} ServerOptions
 * @property {string} [plugins] NekoConnect: the plugins directory (default plugins/)
 * @property {number} [maxConnections] NekoConnect: `limits.maxConnections`
 */

/**
 * @typedef {object} BenchServer
 * @property {number} port
 * @property {() => Promise<void>} close
 * @property {() => { connections: number, authenticated?: number, joined?: number }} stats connections held
 *   now (NekoConnect: how many authenticated, and how many joined the echo plugin)
 */

/**
 * @param {string} id
 * @returns {Promise<{ start: (options: ServerOptions) => Promise<BenchServer> }>}
 */
export async function loadServer(id) {
  if (!isTargetId(id)) throw new Error(`unknown benchmark target "${id}"`);
  return import(`./${id}.js`);
}
