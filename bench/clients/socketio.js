/**
 * Client of the socket.io target: socket.io-client over the websocket
 * transport only (no long-polling), no reconnection, no compression; each
 * round trip is `emitWithAck('echo', payload)` with a binary payload (a
 * Buffer), resolved by the server's acknowledgement.
 */
import { io } from 'socket.io-client';
import { HOST } from '../lib/common.js';

/** How long the connection and the socket.io handshake may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * @param {import('./index.js').ClientConfig} config
 * @returns {Promise<import('./index.js').BenchClient>}
 */
export function open(config) {
  return new Promise((resolve, reject) => {
    const socket = io(`http://${HOST}:${config.port}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: CONNECT_TIMEOUT_MS,
      perMessageDeflate: false,
    });
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
    socket.once('connect', () => {
      resolve({
        roundTrip(payload) {
          if (!socket.connected) return Promise.reject(new Error('socket.io connection closed'));
          return socket.emitWithAck('echo', payload);
        },
        check(reply) {
          if (!Buffer.isBuffer(reply) || reply.length !== config.payloadBytes) {
            throw new Error(
              `unexpected socket.io reply: ${Buffer.isBuffer(reply) ? `${reply.length} bytes` : typeof reply}`,
            );
          }
        },
        close() {
          socket.close();
          return Promise.resolve();
        },
      });
    });
  });
}
