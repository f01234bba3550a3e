/**
 * Benchmark target: NekoConnect (`createServer()` from server/dist) with a
 * plugins directory, plugins/ by default (the echo plugin answers `echo`).
 * Plugin databases stay in memory, so a run leaves no files behind.
 * `startNeko(options, { websocket: true })` also opens the WebSocket
 * listener and reports its port instead (the neko-ws target).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_SECRET, ECHO_GREETER, HOST } from '../lib/common.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * @param {import('./index.js').ServerOptions} options
 * @returns {Promise<import('./index.js').BenchServer>}
 */
export function start(options) {
  return startNeko(options, { websocket: false });
}

/**
 * @param {import('./index.js').ServerOptions} options
 * @param {{ websocket: boolean }} over `websocket`: also listen for WebSocket connections (on 127.0.0.1,
 *   a free port, path `/`), and report that port
 * @returns {Promise<import('./index.js').BenchServer>}
 */
export async function startNeko(options, over) {
  const { createServer } = await import('../../server/dist/index.js');
  const server = createServer({
    secret: BENCH_SECRET,
    plugins: options.plugins ?? path.join(here, '..', '..', 'plugins'),
    host: HOST,
    port: 0,
    storage: { backend: 'memory' },
    limits: options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : undefined,
    websocket: over.websocket ? { port: 0, host: HOST, path: '/' } : undefined,
  });
  server.logger.subscribe((record) => {
    if (record.level !== 'info') process.stderr.write(`[neko server] ${record.level}: ${record.message}\n`);
  });
  const address = await server.listen();
  if (server.route(ECHO_GREETER).kind !== 'plugin') {
    throw new Error(`no plugin answers to "${ECHO_GREETER}": plugins/echo did not load`);
  }
  const wsAddress = server.websocketAddress();
  if (over.websocket && !wsAddress) throw new Error('NekoConnect has no WebSocket address after listen()');
  return {
    port: over.websocket && wsAddress ? wsAddress.port : address.port,
    close: () => server.close(),
    stats: () => {
      let open = 0;
      for (const session of server.sessions()) if (session.state === 'open') open++;
      const echo = server.route(ECHO_GREETER);
      // Sessions that have sent the echo plugin a packet, and so joined it (and are still connected).
      const joined = echo.kind === 'plugin' ? echo.host.sessionCount : 0;
      return { connections: server.connectionCount, authenticated: open, joined };
    },
  };
}
