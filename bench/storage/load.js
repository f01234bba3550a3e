/**
 * The load generator of the storage benchmark, run as a child process of
 * bench/storage.js: clients of the todo plugin (plugins/todo) through the
 * real client SDK, as a user's application would be.
 *
 * On `{ type: 'run', id, port, clients, warmupMs, windowMs, op, items }` it
 * connects `clients` clients and drives each in lockstep (send, wait for the
 * reply, send again) with one kind of request:
 *
 *   op 'add'    ADD (op 1) `{"title"}`: the plugin inserts an item and increments its `added` cell;
 *               every reply must be the new item, with an `_id` and the title sent
 *   op 'list'   LIST (op 2): the plugin finds every item, sorted by `createdAt`; every reply must be
 *               exactly `items` items, oldest first
 *
 * After the warm-up it sends `{ type: 'mark', id, phase: 'start' }`, counts
 * the requests answered in the window and records each one's latency, then
 * `{ type: 'mark', id, phase: 'end' }`, lets the requests in flight finish,
 * closes the clients and answers `{ type: 'result', id, result }` (or
 * `{ type: 'error', id, message }`). `result.acknowledged` counts every
 * request answered, warm-up and tail included, so that the orchestrator can
 * check that every acknowledged add is stored.
 */
import { performance } from 'node:perf_hooks';
import { connect } from '../../server/dist/client/index.js';
import { BENCH_SECRET, HOST } from '../lib/common.js';
import { LatencyHistogram } from '../lib/stats.js';

/** The todo plugin's op codes (plugins/todo/spec.conf). */
const OP = { add: 1, list: 2, error: 9 };
const GREETER = 'todo';
/** How long stopping may take: the last requests in flight, then the closes. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * @typedef {object} RunConfig
 * @property {number} id
 * @property {number} port
 * @property {number} clients
 * @property {number} warmupMs
 * @property {number} windowMs
 * @property {'add' | 'list'} op
 * @property {number} items LIST: the items every reply must hold
 */

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A request of one kind and the check of its reply.
 * @param {RunConfig} config
 * @param {import('../../server/dist/client/index.js').NekoClient} client
 * @param {number} index the client's number
 * @returns {() => Promise<void>}
 */
function requester(config, client, index) {
  if (config.op === 'add') {
    let sent = 0;
    return async () => {
      const title = `client ${index} item ${++sent}`;
      const reply = await client.request(GREETER, JSON.stringify({ title }), { op: OP.add });
      const item = reply.op === OP.add ? reply.json() : undefined;
      if (typeof item?._id !== 'string' || item.title !== title) {
        throw new Error(`ADD: unexpected reply (op ${reply.op}): ${reply.text().slice(0, 200)}`);
      }
    };
  }
  return async () => {
    const reply = await client.request(GREETER, '', { op: OP.list });
    const items = reply.op === OP.list ? reply.json() : undefined;
    if (!Array.isArray(items) || items.length !== config.items) {
      throw new Error(
        `LIST: expected ${config.items} items, got ${Array.isArray(items) ? `${items.length} items` : `op ${reply.op}: ${reply.text().slice(0, 200)}`}`,
      );
    }
    for (let i = 1; i < items.length; i++) {
      if (items[i].createdAt < items[i - 1].createdAt)
        throw new Error('LIST: the items are not oldest first');
    }
  };
}

/**
 * One measurement: connect, warm up, measure, stop.
 * @param {RunConfig} config
 * @param {(message: object) => void} send
 */
async function run(config, send) {
  const opened = await Promise.allSettled(
    Array.from({ length: config.clients }, () =>
      connect({ host: HOST, port: config.port, secret: BENCH_SECRET }),
    ),
  );
  const clients = opened.filter((o) => o.status === 'fulfilled').map((o) => o.value);
  const refused = opened.find((o) => o.status === 'rejected');
  if (refused) {
    await Promise.race([Promise.allSettled(clients.map((c) => c.close())), sleep(STOP_TIMEOUT_MS)]);
    throw refused.reason;
  }

  const histogram = new LatencyHistogram();
  let measuring = false;
  let stopping = false;
  let completed = 0;
  let acknowledged = 0;
  /** @type {(err: Error) => void} */
  let fail = () => {};
  const failed = new Promise((_, reject) => (fail = reject));
  failed.catch(() => {});

  const loops = clients.map(async (client, index) => {
    const request = requester(config, client, index);
    try {
      while (!stopping) {
        const started = performance.now();
        await request();
        acknowledged++;
        if (measuring) {
          histogram.record((performance.now() - started) * 1000);
          completed++;
        }
      }
    } catch (err) {
      if (!stopping) {
        stopping = true;
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    }
  });

  try {
    await Promise.race([sleep(config.warmupMs), failed]);
    const cpuStart = process.cpuUsage();
    const windowStart = performance.now();
    measuring = true;
    send({ type: 'mark', id: config.id, phase: 'start' });
    await Promise.race([sleep(config.windowMs), failed]);
    measuring = false;
    const windowEnd = performance.now();
    const cpu = process.cpuUsage(cpuStart);
    const requests = completed;
    send({ type: 'mark', id: config.id, phase: 'end' });
    stopping = true;
    const finished = await Promise.race([
      Promise.all(loops).then(() => true),
      failed,
      sleep(STOP_TIMEOUT_MS).then(() => false),
    ]);
    if (!finished)
      throw new Error(`the requests in flight did not finish within ${STOP_TIMEOUT_MS / 1000} s`);
    const seconds = (windowEnd - windowStart) / 1000;
    return {
      requests,
      acknowledged,
      seconds,
      requestsPerSec: requests / seconds,
      p50Us: histogram.percentile(50),
      p99Us: histogram.percentile(99),
      maxUs: histogram.max,
      clientCpuUsPerRequest: (cpu.user + cpu.system) / requests,
    };
  } finally {
    stopping = true;
    await Promise.race([Promise.allSettled(clients.map((c) => c.close())), sleep(STOP_TIMEOUT_MS)]);
  }
}

if (!process.send) {
  process.stderr.write(
    'bench/storage/load.js runs as a child of bench/storage.js (it needs an IPC channel)\n',
  );
  process.exit(1);
}
const send = (/** @type {object} */ message) =>
  /** @type {NonNullable<typeof process.send>} */ (process.send)(message);
process.on('disconnect', () => process.exit(0));
process.on('message', (/** @type {any} */ message) => {
  if (message.type === 'run') {
    run(message, send).then(
      (result) => send({ type: 'result', id: message.id, result }),
      (err) => send({ type: 'error', id: message.id, message: err?.stack ?? String(err) }),
    );
  } else if (message.type === 'stop') {
    process.exit(0);
  }
});
send({ type: 'ready' });
