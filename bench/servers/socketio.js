/**
 * Benchmark target: socket.io, the event-and-acknowledgement API people pick
 * for this job: `socket.on('echo', (data, ack) => ack(data))`. WebSocket
 * transport only (no HTTP long-polling, no upgrade dance), no compression.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { HOST } from '../lib/common.js';

/**
 * @param {import('./index.js').ServerOptions} _options
 * @returns {Promise<import('./index.js').BenchServer>}
 */
export async function start(_options) {
  const http = createServer({ noDelay: true });
  const io = new Server(http, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    httpCompression: false,
  });
  io.on('connection', (socket) => {
    socket.on('echo', (data, ack) => ack(data));
  });
  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, HOST, () => resolve(undefined));
  });
  const address = http.address();
  if (!address || typeof address !== 'object') throw new Error('socket.io server has no address');
  return {
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        io.disconnectSockets(true);
        io.close(() => resolve());
      }),
    stats: () => ({ connections: io.engine.clientsCount }),
  };
}
