/**
 * The server of the storage benchmark, run as a child process of
 * bench/storage.js: NekoConnect (`createServer()` from server/dist) serving
 * the todo example plugin (plugins/todo) on 127.0.0.1, a free port, with the
 * storage given as JSON in its one argument, as a user would select it:
 *
 *   node bench/storage/server.js '{"backend":"nedb","dir":"/tmp/…"}'
 *   node bench/storage/server.js '{"backend":"postgres","url":"postgres://…"}'
 *
 * It reports `{ type: 'ready', port, pid, location }` over IPC (`location`:
 * where the plugin's data lives, a URL without its password). Requests, each
 * answered with the same type and id (or `{ type: 'error', id, message }`):
 *
 *   { type: 'cpu', id }            -> { usage }: process.cpuUsage()
 *   { type: 'reset', id, items }   -> { documents, added }: the todo database emptied, then `items`
 *                                     items stored (one insertMany) and the `added` cell set to 0
 *   { type: 'count', id }          -> { documents, added }: the items stored and the `added` cell
 *   { type: 'stop' }               closes and exits
 *
 * It exits as well when the parent goes away.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_SECRET, HOST } from '../lib/common.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TODO_PLUGIN = path.join(here, '..', '..', 'plugins', 'todo');
export const TODO_GREETER = 'todo';

async function main() {
  if (!process.send)
    throw new Error('bench/storage/server.js runs as a child of bench/storage.js (it needs an IPC channel)');
  const send = process.send.bind(process);
  const storage = JSON.parse(process.argv[2] ?? 'null');
  const { createServer } = await import('../../server/dist/index.js');
  const server = createServer({ secret: BENCH_SECRET, plugins: TODO_PLUGIN, host: HOST, port: 0, storage });
  server.logger.subscribe((record) => {
    if (record.level !== 'info')
      process.stderr.write(`[storage bench server] ${record.level}: ${record.message}\n`);
  });
  const address = await server.listen();
  const route = server.route(TODO_GREETER);
  if (route.kind !== 'plugin')
    throw new Error(`no plugin answers to "${TODO_GREETER}": plugins/todo did not load`);
  const db = server.pluginDatabase(TODO_GREETER);
  if (!db) throw new Error('the todo plugin has no database');

  const count = async () => ({ documents: await db.count({}), added: (await db.get('added')) ?? 0 });
  /** @param {number} items */
  const reset = async (items) => {
    await db.remove({}, { multi: true });
    const now = Date.now();
    if (items > 0) {
      await db.insertMany(
        Array.from({ length: items }, (_, i) => ({
          title: `stored item ${i + 1}: water the plants on the balcony`,
          done: i % 3 === 0,
          createdAt: now - items + i,
        })),
      );
    }
    await db.set('added', 0);
    return count();
  };

  process.on('disconnect', () => process.exit(0));
  process.on('message', (/** @type {any} */ message) => {
    const { type, id } = message;
    /** @param {Promise<object>} work */
    const answer = (work) =>
      work.then(
        (fields) => send({ type, id, ...fields }),
        (err) => send({ type: 'error', id, message: err?.stack ?? String(err) }),
      );
    if (type === 'cpu') {
      send({ type, id, usage: process.cpuUsage() });
    } else if (type === 'reset') {
      void answer(reset(message.items));
    } else if (type === 'count') {
      void answer(count());
    } else if (type === 'stop') {
      const cut = setTimeout(() => process.exit(0), 5_000);
      server.close().finally(() => {
        clearTimeout(cut);
        process.exit(0);
      });
    }
  });
  send({ type: 'ready', port: address.port, pid: process.pid, location: route.host.db.location ?? null });
}

main().catch((err) => {
  process.stderr.write(`[storage bench server] ${err?.stack ?? err}\n`);
  process.exit(1);
});
