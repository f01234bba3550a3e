/**
 * Benchmark target: a WebSocket echo server from the `ws` package. Every
 * message is sent back as it came (binary stays binary). No compression
 * (permessage-deflate off, as it is by default on a ws server). ws turns
 * TCP_NODELAY on for every connection.
 */
import { WebSocketServer } from 'ws';
import { HOST } from '../lib/common.js';

/**
 * @param {import('./index.js').ServerOptions} _options
 * @returns {Promise<import('./index.js').BenchServer>}
 */
export async function start(_options) {
  const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('error', () => {});
  });
  await new Promise((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => resolve(undefined));
  });
  const address = wss.address();
  if (!address || typeof address !== 'object') throw new Error('ws server has no address');
  return {
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
    stats: () => ({ connections: wss.clients.size }),
  };
}
