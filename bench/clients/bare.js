/**
 * Client of the bare echo target: writes a 4-byte big-endian length and the
 * payload, and waits for the same number of bytes back.
 */
import { connect } from 'node:net';
import { HOST } from '../lib/common.js';

/** How long the connection may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * @param {import('./index.js').ClientConfig} config
 * @returns {Promise<import('./index.js').BenchClient>}
 */
export function open(config) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port: config.port, noDelay: true, timeout: CONNECT_TIMEOUT_MS });
    socket.once('timeout', () =>
      socket.destroy(new Error(`no connection to ${HOST}:${config.port} within ${CONNECT_TIMEOUT_MS} ms`)),
    );
    socket.setNoDelay(true);
    /** @type {{ resolve: (reply: unknown) => void, reject: (err: Error) => void } | undefined} */
    let waiting;
    let expected = 0;
    let received = 0;
    socket.on('data', (chunk) => {
      if (received === 0 && chunk.length >= 4 && chunk.readUInt32BE(0) !== expected - 4) {
        socket.destroy(new Error(`bare echo sent a frame of ${chunk.readUInt32BE(0)} bytes`));
        return;
      }
      received += chunk.length;
      if (received < expected) return;
      if (received > expected || !waiting) {
        socket.destroy(new Error(`bare echo sent ${received} bytes, expected ${expected}`));
        return;
      }
      const done = waiting;
      waiting = undefined;
      done.resolve(undefined);
    });
    socket.on('close', () => waiting?.reject(new Error('bare echo connection closed')));
    socket.on('error', (err) => {
      waiting?.reject(err);
      reject(err);
    });
    /** @type {Buffer | undefined} the frame for the payload last seen */
    let frame;
    /** @type {Buffer | undefined} */
    let framedPayload;
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve({
        roundTrip(payload) {
          if (payload !== framedPayload || !frame) {
            frame = Buffer.alloc(4 + payload.length);
            frame.writeUInt32BE(payload.length, 0);
            payload.copy(frame, 4);
            framedPayload = payload;
          }
          if (socket.destroyed) return Promise.reject(new Error('bare echo connection closed'));
          expected = frame.length;
          received = 0;
          const bytes = frame;
          return new Promise((res, rej) => {
            waiting = { resolve: res, reject: rej };
            socket.write(bytes);
          });
        },
        check() {
          // The length was checked as the bytes arrived.
        },
        close() {
          socket.destroy();
          return Promise.resolve();
        },
      });
    });
  });
}
