/**
 * Benchmark target, the ceiling: a node:net server that reads frames of a
 * 4-byte big-endian length and a payload and writes each one straight back.
 * TCP_NODELAY on, as NekoConnect sets it. No hashing, no routing, no
 * validation.
 */
import { createServer } from 'node:net';
import { HOST } from '../lib/common.js';

/**
 * @param {import('./index.js').ServerOptions} _options
 * @returns {Promise<import('./index.js').BenchServer>}
 */
export async function start(_options) {
  const sockets = new Set();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    /** @type {Buffer | undefined} bytes of an unfinished frame */
    let pending;
    socket.on('data', (chunk) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let offset = 0;
      while (buf.length - offset >= 4) {
        const end = offset + 4 + buf.readUInt32BE(offset);
        if (end > buf.length) break;
        socket.write(buf.subarray(offset, end));
        offset = end;
      }
      if (offset < buf.length) pending = Buffer.from(buf.subarray(offset));
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(undefined));
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('bare server has no address');
  return {
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
    stats: () => ({ connections: sockets.size }),
  };
}
