/**
 * A benchmark target's server, run as a child process of bench/run.js or
 * bench/scale.js:
 *
 *   node bench/server.js neko      NekoConnect with the plugins of plugins/ (echo)
 *   node bench/server.js neko-ws   the same, with its WebSocket listener on (the port reported is that one)
 *   node bench/server.js bare      a bare node:net length-prefixed echo server
 *   node bench/server.js ws        a ws WebSocket echo server
 *   node bench/server.js socketio  a socket.io server answering 'echo' with an ack
 *
 * Options (NekoConnect only): --plugins <dir> (default plugins/),
 * --max-connections <n> (`limits.maxConnections`).
 *
 * Each listens on 127.0.0.1 on a free port (see bench/servers/) and reports it
 * over IPC as `{ type: 'ready', port, pid }`. Requests, each answered with the
 * same type and id:
 *
 *   { type: 'cpu', id }     -> { usage }: process.cpuUsage()
 *   { type: 'stats', id }   -> { stats }: connections held (NekoConnect: and how many authenticated,
 *                              and how many joined the echo plugin)
 *   { type: 'memory', id }  -> { gc, usage, vmRssBytes, stats }: process.memoryUsage() and
 *                              VmRSS after two full garbage collections (when started with --expose-gc)
 *   { type: 'stop' }        closes and exits
 *
 * It exits as well when the parent goes away.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadServer } from './servers/index.js';

/**
 * This process's resident set from /proc/self/status, in bytes (undefined
 * off Linux).
 * @returns {Promise<number | undefined>}
 */
async function vmRss() {
  try {
    const status = await readFile('/proc/self/status', 'utf8');
    const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    options: {
      plugins: { type: 'string' },
      'max-connections': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const kind = positionals[0] ?? '';
  if (!process.send)
    throw new Error('bench/server.js runs as a child of bench/run.js (it needs an IPC channel)');
  const send = process.send.bind(process);
  const { start } = await loadServer(kind);
  const maxConnections =
    values['max-connections'] !== undefined ? Number(values['max-connections']) : undefined;
  const target = await start({ plugins: values.plugins, maxConnections });
  const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (/** @type {any} */ message) => {
    const { type, id } = message;
    if (type === 'cpu') {
      send({ type, id, usage: process.cpuUsage() });
    } else if (type === 'stats') {
      send({ type, id, stats: target.stats() });
    } else if (type === 'memory') {
      const stats = target.stats();
      if (gc) {
        gc();
        gc();
      }
      const usage = process.memoryUsage();
      void vmRss().then((vmRssBytes) => send({ type, id, gc: gc !== undefined, usage, vmRssBytes, stats }));
    } else if (type === 'stop') {
      const cut = setTimeout(() => process.exit(0), 2_000);
      target.close().finally(() => {
        clearTimeout(cut);
        process.exit(0);
      });
    }
  });
  send({ type: 'ready', port: target.port, pid: process.pid });
}

main().catch((err) => {
  process.stderr.write(`[${process.argv[2]} server] ${err?.stack ?? err}\n`);
  process.exit(1);
});
