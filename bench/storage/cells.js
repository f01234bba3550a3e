/**
 * The key-value cell part of the storage benchmark, run as a child process
 * of bench/storage.js: the latency of `get`, `set` and `incr` (what a plugin
 * calls as `ctx.dbGet`, `ctx.dbStore` and `ctx.dbIncr`) called directly on a
 * plugin database of a `StorageBackend`, selected from the same options a
 * server takes (`selectStorageBackend` of server/dist), one call at a time:
 * no network, no protocol, only the storage layer and, for PostgreSQL, its
 * round trip to the database server.
 *
 * Requests over IPC, each answered with the same type and id (or
 * `{ type: 'error', id, message }`):
 *
 *   { type: 'open', id, target, storage }   selects the backend, prepare(), open('bench-cells')
 *   { type: 'run', id, target, op, calls, warmup }
 *       -> { result }: `warmup` calls not timed, then `calls` calls timed one by one
 *          (p50, p99, max, calls/s of the sequence, CPU of this process per call);
 *          each pass checks what it wrote: `set` reads back its last value, `incr`
 *          must end at its start plus `warmup + calls`, `get` must give what was stored
 *   { type: 'stop' }                        closeAll() of each backend, then exit
 */
import { isDeepStrictEqual } from 'node:util';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from '../lib/stats.js';

/** The greeter whose database the calls go to. */
const GREETER = 'bench-cells';

/** @type {Map<string, { backend: any, db: any }>} */
const opened = new Map();

/**
 * @param {string} target
 * @param {object} storage
 */
async function open(target, storage) {
  const { selectStorageBackend } = await import('../../server/dist/storage/select.js');
  const backend = selectStorageBackend(storage, (/** @type {any} */ warning) =>
    process.stderr.write(`[storage bench cells] ${target}: ${warning.message ?? JSON.stringify(warning)}\n`),
  );
  await backend.prepare?.();
  const db = await backend.open(GREETER);
  await db.set('profile', { name: 'neko', level: 1, tags: ['cat', 'black'] });
  await db.set('hits', 0);
  opened.set(target, { backend, db });
  return { location: db.location };
}

/**
 * @param {{ target: string, op: 'get' | 'set' | 'incr', calls: number, warmup: number }} config
 */
async function run(config) {
  const entry = opened.get(config.target);
  if (!entry) throw new Error(`${config.target} is not open`);
  const { db } = entry;
  /** @type {(i: number) => Promise<unknown>} */
  let call;
  /** @type {unknown} */
  let stored;
  const before = config.op === 'incr' ? await db.get('hits') : undefined;
  if (config.op === 'get') {
    stored = await db.get('profile');
    call = () => db.get('profile');
  } else if (config.op === 'set') {
    call = (i) =>
      db.set('profile', { name: 'neko', level: i, tags: ['cat', 'black'], at: 1_700_000_000_000 + i });
  } else {
    call = () => db.incr('hits');
  }
  for (let i = 0; i < config.warmup; i++) await call(i);
  const histogram = new LatencyHistogram();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  /** @type {unknown} */
  let last;
  for (let i = config.warmup; i < config.warmup + config.calls; i++) {
    const t = performance.now();
    last = await call(i);
    histogram.record((performance.now() - t) * 1000);
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);

  const total = config.warmup + config.calls;
  if (config.op === 'get' && !isDeepStrictEqual(last, stored)) {
    throw new Error(`get gave ${JSON.stringify(last)}, not what is stored (${JSON.stringify(stored)})`);
  }
  if (config.op === 'set') {
    const i = total - 1;
    const expected = { name: 'neko', level: i, tags: ['cat', 'black'], at: 1_700_000_000_000 + i };
    const read = await db.get('profile');
    if (!isDeepStrictEqual(read, expected)) throw new Error(`after set, get gave ${JSON.stringify(read)}`);
  }
  if (config.op === 'incr') {
    const expected = /** @type {number} */ (before) + total;
    const read = await db.get('hits');
    if (last !== expected || read !== expected) {
      throw new Error(
        `after ${total} increments from ${before}, incr gave ${last} and get ${read}, not ${expected}`,
      );
    }
  }
  return {
    calls: config.calls,
    seconds,
    callsPerSec: config.calls / seconds,
    p50Us: histogram.percentile(50),
    p99Us: histogram.percentile(99),
    maxUs: histogram.max,
    cpuUsPerCall: (cpu.user + cpu.system) / config.calls,
  };
}

async function stop() {
  for (const { backend } of opened.values()) await backend.closeAll();
  opened.clear();
}

if (!process.send) {
  process.stderr.write(
    'bench/storage/cells.js runs as a child of bench/storage.js (it needs an IPC channel)\n',
  );
  process.exit(1);
}
const send = (/** @type {object} */ message) =>
  /** @type {NonNullable<typeof process.send>} */ (process.send)(message);
process.on('disconnect', () => process.exit(0));
process.on('message', (/** @type {any} */ message) => {
  const { type, id } = message;
  /** @param {Promise<object>} work */
  const answer = (work) =>
    work.then(
      (fields) => send({ type, id, ...fields }),
      (err) => send({ type: 'error', id, message: err?.stack ?? String(err) }),
    );
  if (type === 'open') {
    void answer(open(message.target, message.storage));
  } else if (type === 'run') {
    void answer(run(message).then((result) => ({ result })));
  } else if (type === 'stop') {
    const cut = setTimeout(() => process.exit(0), 5_000);
    stop().finally(() => {
      clearTimeout(cut);
      process.exit(0);
    });
  }
});
send({ type: 'ready' });
