/**
 * The targets of the throughput benchmark. Each has a server module in
 * bench/servers/<id>.js (run in its own process by bench/server.js) and a
 * client module in bench/clients/<id>.js (run by the load generator,
 * bench/load.js).
 */

import { listFlag } from './options.js';

/** @typedef {'neko' | 'neko-ws' | 'bare' | 'ws' | 'socketio'} TargetId */

/** Every target, in the order the rounds visit them. */
export const TARGET_IDS = /** @type {const} */ (['neko', 'neko-ws', 'bare', 'ws', 'socketio']);

/** @type {Record<TargetId, { label: string, what: string }>} */
export const TARGETS = {
  neko: {
    label: 'NekoConnect',
    what: 'NekoConnect with the plugins of plugins/, through the client SDK (request to echo)',
  },
  'neko-ws': {
    label: 'NekoConnect WS',
    what: 'the same NekoConnect server over WebSocket, one frame per binary message; ws client driving the chain',
  },
  bare: { label: 'bare echo', what: 'node:net, 4-byte length prefix, frames written straight back' },
  ws: { label: 'ws echo', what: 'ws WebSocket server, binary message sent back; ws client' },
  socketio: {
    label: 'socket.io',
    what: "socket.io, socket.on('echo', (data, ack) => ack(data)); client emitWithAck, websocket transport",
  },
};

/** Other names accepted by --targets. */
const ALIASES = /** @type {Record<string, TargetId>} */ ({
  nekoconnect: 'neko',
  'nekoconnect-ws': 'neko-ws',
  nekows: 'neko-ws',
  'neko-websocket': 'neko-ws',
  net: 'bare',
  'socket.io': 'socketio',
  'socket-io': 'socketio',
  sio: 'socketio',
});

/**
 * @param {string} name
 * @returns {name is TargetId}
 */
export const isTargetId = (name) => /** @type {readonly string[]} */ (TARGET_IDS).includes(name);

/**
 * Parses `--targets neko,ws,...` into target ids, in the standard order.
 * @param {string} text
 * @returns {TargetId[]}
 */
export function parseTargets(text) {
  return listFlag(text, TARGET_IDS, 'targets', 'target', ALIASES);
}
