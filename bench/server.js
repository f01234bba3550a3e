/**
 * A benchmark target, run as a child process of bench/run.js:
 *
 *   node bench/server.js neko   NekoConnect with the plugins of plugins/ (echo)
 *   node bench/server.js bare   a bare node:net length-prefixed echo server
 *
 * Both listen on 127.0.0.1 on a free port and report it over IPC as
 * `{ type: 'ready', port }`. On `{ type: 'cpu', id }` they answer
 * `{ type: 'cpu', id, usage }` with `process.cpuUsage()`; on `{ type: 'stop' }`
 * they close and exit. They exit as well when the parent goes away.
 */
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_SECRET, ECHO_GREETER, HOST } from './lib/common.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Starts NekoConnect with the repository's plugins directory.
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
async function startNeko() {
  const { createServer } = await import('../server/dist/index.js');
  const server = createServer({
    secret: BENCH_SECRET,
    plugins: path.join(here, '..', 'plugins'),
    host: HOST,
    port: 0,
  });
  server.logger.subscribe((record) => {
    if (record.level !== 'info') process.stderr.write(`[neko server] ${record.level}: ${record.message}\n`);
  });
  const address = await server.listen();
  if (server.router.resolve(ECHO_GREETER).kind !== 'plugin') {
    throw new Error(`no plugin answers to "${ECHO_GREETER}": plugins/echo did not load`);
  }
  return { port: address.port, close: () => server.close() };
}

/**
 * Starts the ceiling: frames of a 4-byte big-endian length and a payload,
 * each sent straight back. TCP_NODELAY on, as NekoConnect sets it.
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
async function startBare() {
  const sockets = new Set();
  const server = createNetServer({ noDelay: true }, (socket) => {
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
  };
}

async function main() {
  const kind = process.argv[2];
  if (kind !== 'neko' && kind !== 'bare')
    throw new Error(`usage: node bench/server.js neko|bare (got ${kind})`);
  if (!process.send)
    throw new Error('bench/server.js runs as a child of bench/run.js (it needs an IPC channel)');
  const target = kind === 'neko' ? await startNeko() : await startBare();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message) => {
    if (message.type === 'cpu') {
      process.send({ type: 'cpu', id: message.id, usage: process.cpuUsage() });
    } else if (message.type === 'stop') {
      const cut = setTimeout(() => process.exit(0), 2_000);
      target.close().finally(() => {
        clearTimeout(cut);
        process.exit(0);
      });
    }
  });
  process.send({ type: 'ready', port: target.port });
}

main().catch((err) => {
  process.stderr.write(`[${process.argv[2]} server] ${err?.stack ?? err}\n`);
  process.exit(1);
});
