/**
 * Benchmark target: the NekoConnect server of bench/servers/neko.js (the
 * plugins of plugins/, echo answering), with its WebSocket listener on: the
 * port it reports is the WebSocket one (ws://127.0.0.1:<port>/), where each
 * frame travels as one binary message (protocol §1).
 */
import { startNeko } from './neko.js';

/**
 * @param {import('./index.js').ServerOptions} options
 * @returns {Promise<import('./index.js').BenchServer>}
 */
export function start(options) {
  return startNeko(options, { websocket: true });
}
