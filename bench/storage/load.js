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
import { connect } from '../../server/dist/client/index.js';
import { BENCH_SECRET, HOST } from '../lib/common.js';
import { closeClients, measureLockstep, openClients, serveRuns, windowFigures } from '../lib/lockstep.js';

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
  const clients = await openClients(
    config.clients,
    () => connect({ host: HOST, port: config.port, secret: BENCH_SECRET }),
    STOP_TIMEOUT_MS,
  );
  try {
    const window = await measureLockstep({
      requesters: clients.map((client, index) => requester(config, client, index)),
      warmupMs: config.warmupMs,
      windowMs: config.windowMs,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      mark: (phase) => send({ type: 'mark', id: config.id, phase }),
    });
    return { ...windowFigures(window, STOP_TIMEOUT_MS), acknowledged: window.acknowledged };
  } finally {
    await closeClients(clients, STOP_TIMEOUT_MS);
  }
}

serveRuns('bench/storage/load.js', 'bench/storage.js', run);
