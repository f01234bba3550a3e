/**
 * Client of the ws echo target: a `ws` WebSocket client that sends the
 * payload as one binary message and waits for the message that comes back.
 * No compression.
 */
import WebSocket from 'ws';
import { HOST } from '../lib/common.js';

/** How long the connection and the WebSocket handshake may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * @param {import('./index.js').ClientConfig} config
 * @returns {Promise<import('./index.js').BenchClient>}
 */
export function open(config) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://${HOST}:${config.port}/`, {
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    socket.binaryType = 'nodebuffer';
    /** @type {{ resolve: (reply: unknown) => void, reject: (err: Error) => void } | undefined} */
    let waiting;
    socket.on('message', (data, isBinary) => {
      const done = waiting;
      waiting = undefined;
      if (!done) {
        socket.terminate();
        return;
      }
      if (!isBinary) done.reject(new Error('ws echo answered with a text message'));
      else done.resolve(data);
    });
    socket.on('close', () => waiting?.reject(new Error('ws echo connection closed')));
    socket.on('error', (err) => {
      waiting?.reject(err);
      reject(err);
    });
    socket.once('open', () => {
      resolve({
        roundTrip(payload) {
          if (socket.readyState !== WebSocket.OPEN)
            return Promise.reject(new Error('ws echo connection closed'));
          return new Promise((res, rej) => {
            waiting = { resolve: res, reject: rej };
            socket.send(payload, { binary: true });
          });
        },
        check(reply) {
          if (!Buffer.isBuffer(reply) || reply.length !== config.payloadBytes) {
            throw new Error(`unexpected ws reply: ${describe(reply)}`);
          }
        },
        close() {
          if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
          return new Promise((res) => {
            const cut = setTimeout(() => socket.terminate(), 2_000);
            socket.once('close', () => {
              clearTimeout(cut);
              res();
            });
            socket.close();
          });
        },
      });
    });
  });
}

/** @param {unknown} value */
function describe(value) {
  return Buffer.isBuffer(value) ? `${value.length} bytes` : typeof value;
}
