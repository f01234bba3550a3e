/**
 * The broadcast probe of the cluster benchmark, run as a child process of
 * bench/cluster.js: one publisher and the receivers, all clients through the
 * real client SDK in this one process, so that the time a broadcast was sent
 * and the times it arrived are read on one clock (`performance.now()`).
 *
 * On `{ type: 'run', id, publisherPort, localPort, crossPort, receivers,
 * messages, warmup, payload }` it connects the publisher to process A
 * (`publisherPort`), `receivers` receivers to A (`localPort`: local
 * delivery) and as many to B (`crossPort`: delivery through the cluster's
 * bus), each joined to the bench plugin (bench/cluster/plugins/bcast). Under
 * `--workers`, where every process serves one port (no `crossPort`), it
 * connects receivers until it has as many on the publisher's worker as on
 * others, told apart by the pid the plugin answers a join with. Then it
 * publishes `messages` broadcasts one at a time: each is sent, and the
 * next one only once every receiver has it. The publisher's request is
 * answered with the count of A's members reached, which must be `receivers`.
 * Each receiver must get every broadcast, once, in the order published. The
 * first `warmup` broadcasts are not timed; before them, broadcasts are
 * published until one reaches every receiver (B's subscription may still be
 * on its way).
 *
 * Answers `{ type: 'result', id, result: { local, cross, messages } }` with
 * each side's latency percentiles in µs (or `{ type: 'error', id, message }`).
 */
import { performance } from 'node:perf_hooks';
import { connect } from '../../server/dist/client/index.js';
import { BENCH_SECRET, HOST } from '../lib/common.js';
import { closeClients, serveRuns, sleep } from '../lib/lockstep.js';
import { LatencyHistogram } from '../lib/stats.js';

const GREETER = 'bcast';
const OP = { publish: 1, delivered: 2, join: 3 };
/** How long one broadcast may take to reach every receiver. */
const DELIVERY_TIMEOUT_MS = 5_000;
/** How long the first broadcast may take to reach every receiver (B subscribing). */
const FIRST_DELIVERY_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * @typedef {object} RunConfig
 * @property {number} id
 * @property {number} publisherPort
 * @property {number} localPort
 * @property {number | undefined} crossPort undefined: workers sharing `publisherPort`, told apart by pid
 * @property {number} receivers per side
 * @property {number} messages timed broadcasts
 * @property {number} warmup broadcasts not timed
 * @property {number} payload bytes of each broadcast
 */

/**
 * @param {LatencyHistogram} h
 * @param {number} sumUs
 */
const figures = (h, sumUs) => ({
  samples: h.total,
  p50Us: h.percentile(50),
  p90Us: h.percentile(90),
  p99Us: h.percentile(99),
  maxUs: h.max,
  meanUs: sumUs / h.total,
});

/** @typedef {import('../../server/dist/client/index.js').NekoClient} NekoClient */

/**
 * Joins the bench plugin; resolves with the pid of the process that serves the client.
 * @param {NekoClient} client
 * @returns {Promise<number>}
 */
const join = async (client) =>
  Number((await client.request(GREETER, '', { op: OP.join, replyOp: OP.join })).text());

/**
 * The publisher and the receivers, each joined: by port (`crossPort` given:
 * the receivers of A on `localPort`, those of B on `crossPort`), or, for
 * workers sharing one port, by the pid each one's join answers (receivers on
 * the publisher's worker are local, those on any other worker across).
 * Clients opened beyond what each side needs are closed before it returns.
 * @param {RunConfig} config
 * @param {(port: number) => Promise<NekoClient>} open
 * @param {NekoClient[]} opened every client opened, for the caller to close
 */
async function place(config, open, opened) {
  const publisher = await open(config.publisherPort);
  opened.push(publisher);
  const publisherPid = await join(publisher);
  /** @type {NekoClient[]} */
  const local = [];
  /** @type {NekoClient[]} */
  const cross = [];
  if (config.crossPort !== undefined) {
    for (const [side, port] of /** @type {const} */ ([
      [local, config.localPort],
      [cross, config.crossPort],
    ])) {
      while (side.length < config.receivers) {
        const client = await open(port);
        opened.push(client);
        await join(client);
        side.push(client);
      }
    }
    return { publisher, local, cross };
  }
  /** @type {NekoClient[]} */
  const spare = [];
  const attempts = 40 * config.receivers;
  for (let i = 0; i < attempts && (local.length < config.receivers || cross.length < config.receivers); i++) {
    const client = await open(config.publisherPort);
    opened.push(client);
    const pid = await join(client);
    const side = pid === publisherPid ? local : cross;
    (side.length < config.receivers ? side : spare).push(client);
  }
  if (local.length < config.receivers || cross.length < config.receivers) {
    throw new Error(
      `after ${attempts} connections, ${local.length} on the publisher's process and ${cross.length} on others, ` +
        `not ${config.receivers} of each: the port's connections are not spread over the workers`,
    );
  }
  // The spare clients leave the plugin, so that only the receivers get the broadcasts.
  await closeClients(spare, STOP_TIMEOUT_MS);
  await sleep(250);
  return { publisher, local, cross };
}

/**
 * @param {RunConfig} config
 */
async function run(config) {
  const open = (/** @type {number} */ port) => connect({ host: HOST, port, secret: BENCH_SECRET });
  /** @type {NekoClient[]} */
  const opened = [];
  try {
    const { publisher, local, cross } = await place(config, open, opened);
    const sides = [
      { name: 'local', clients: local, histogram: new LatencyHistogram(), sumUs: 0 },
      { name: 'cross', clients: cross, histogram: new LatencyHistogram(), sumUs: 0 },
    ];
    const everyone = local.length + cross.length;

    // The broadcast in flight: its sequence number, when it was sent, who has it.
    let current = -1;
    let sentAt = 0;
    let timing = false;
    let arrived = 0;
    /** @type {() => void} */
    let allArrived = () => {};
    /** @type {Error | undefined} */
    let broken;
    const prefix = (/** @type {number} */ seq) => `${seq}:`;
    const padding = 'x'.repeat(Math.max(0, config.payload - 12));

    for (const side of sides) {
      for (const [index, client] of side.clients.entries()) {
        let last = -1;
        client.on('packet', (packet) => {
          if (packet.op !== OP.delivered || packet.greeter !== GREETER) return;
          const now = performance.now();
          const text = packet.text();
          const seq = Number(text.slice(0, text.indexOf(':')));
          if (seq <= last) {
            broken ??= new Error(
              `${side.name} receiver ${index} got broadcast ${seq} after ${last}: a repeat or out of order`,
            );
          }
          last = seq;
          if (seq !== current) return; // a first broadcast that arrived after its wait was given up
          if (timing) {
            const us = (now - sentAt) * 1000;
            side.histogram.record(us);
            side.sumUs += us;
          }
          if (++arrived === everyone) allArrived();
        });
      }
    }

    let seq = 0;
    /**
     * Publishes one broadcast and waits until every receiver has it.
     * @param {number} timeoutMs
     * @param {boolean} [checkCount] whether the count of A's members reached must be the local receivers
     * @returns {Promise<boolean>} false when it did not reach everyone in time
     */
    const publish = async (timeoutMs, checkCount = true) => {
      current = seq++;
      arrived = 0;
      const reached = new Promise((resolve) => (allArrived = () => resolve(true)));
      sentAt = performance.now();
      const reply = await publisher.request(GREETER, `${prefix(current)}${padding}`, {
        op: OP.publish,
        replyOp: OP.publish,
      });
      if (checkCount && Number(reply.text()) !== local.length) {
        throw new Error(
          `the broadcast reached ${reply.text()} members on A, not the ${local.length} receivers`,
        );
      }
      const ok = await Promise.race([reached, sleep(timeoutMs).then(() => false)]);
      if (broken) throw broken;
      return /** @type {boolean} */ (ok);
    };

    // Until B delivers: its subscription to the plugin's channel may still be on its way.
    const firstBy = performance.now() + FIRST_DELIVERY_MS;
    while (!(await publish(250, false))) {
      if (performance.now() > firstBy) {
        throw new Error(`no broadcast reached every receiver within ${FIRST_DELIVERY_MS / 1000} s`);
      }
    }
    for (let i = 0; i < config.warmup; i++) {
      if (!(await publish(DELIVERY_TIMEOUT_MS))) throw new Error(`warm-up broadcast ${i + 1} was lost`);
    }
    timing = true;
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < config.messages; i++) {
      if (!(await publish(DELIVERY_TIMEOUT_MS))) {
        throw new Error(
          `broadcast ${i + 1} of ${config.messages} reached ${arrived} of ${everyone} receivers within ${DELIVERY_TIMEOUT_MS / 1000} s`,
        );
      }
    }
    const cpu = process.cpuUsage(cpuStart);
    const seconds = (performance.now() - started) / 1000;
    return {
      messages: config.messages,
      seconds,
      broadcastsPerSec: config.messages / seconds,
      probeCpuUsPerBroadcast: (cpu.user + cpu.system) / config.messages,
      local: figures(sides[0].histogram, sides[0].sumUs),
      cross: figures(sides[1].histogram, sides[1].sumUs),
    };
  } finally {
    await closeClients(opened, STOP_TIMEOUT_MS);
  }
}

serveRuns('bench/cluster/latency.js', 'bench/cluster.js', run);
