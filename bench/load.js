/**
 * The load generator, run as a child process of bench/run.js.
 *
 * On `{ type: 'run', id, target, port, connections, warmupMs, windowMs,
 * payloadBytes, op }` it opens `connections` connections to the target and
 * drives each in lockstep (send, wait for the reply, send again). After the
 * warm-up it sends `{ type: 'mark', id, phase: 'start' }`, counts the round
 * trips completed in the window and records each one's latency, then sends
 * `{ type: 'mark', id, phase: 'end' }`, stops, closes every connection and
 * answers `{ type: 'result', id, result }` (or `{ type: 'error', id, message }`).
 *
 * The clients of the targets are in bench/clients/: NekoConnect through the
 * real client SDK, NekoConnect over WebSocket through a ws client driving the
 * SDK's ClientChain, bare echo through a minimal length-prefixed client, ws
 * through the ws client, socket.io through socket.io-client. The loop here is
 * the same for all of them: one awaited promise per round trip.
 */
import { performance } from 'node:perf_hooks';
import { loadClient } from './clients/index.js';
import { LatencyHistogram } from './lib/stats.js';

/** How long stopping may take: the last round trips in flight, then the closes. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * @typedef {object} RunConfig
 * @property {number} id
 * @property {import('./lib/targets.js').TargetId} target
 * @property {number} port
 * @property {number} connections
 * @property {number} warmupMs
 * @property {number} windowMs
 * @property {number} payloadBytes
 * @property {number} op
 */

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One measurement: connect, warm up, measure, stop.
 * @param {RunConfig} config
 * @param {(message: object) => void} send
 */
async function run(config, send) {
  const { open } = await loadClient(config.target);
  const opened = await Promise.allSettled(Array.from({ length: config.connections }, () => open(config)));
  const clients = opened.filter((o) => o.status === 'fulfilled').map((o) => o.value);
  const refused = opened.find((o) => o.status === 'rejected');
  if (refused) {
    await Promise.race([Promise.allSettled(clients.map((c) => c.close())), sleep(STOP_TIMEOUT_MS)]);
    throw refused.reason;
  }
  const payload = Buffer.alloc(config.payloadBytes);
  for (let i = 0; i < payload.length; i++) payload[i] = 0x20 + ((i * 7) % 95);

  const histogram = new LatencyHistogram();
  let measuring = false;
  let stopping = false;
  let completed = 0;
  /** @type {(err: Error) => void} */
  let fail = () => {};
  const failed = new Promise((_, reject) => (fail = reject));
  failed.catch(() => {});

  const loops = clients.map(async (client) => {
    try {
      while (!stopping) {
        const started = performance.now();
        client.check(await client.roundTrip(payload));
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
    const roundTrips = completed;
    send({ type: 'mark', id: config.id, phase: 'end' });
    stopping = true;
    await Promise.race([Promise.all(loops), failed, sleep(STOP_TIMEOUT_MS)]);
    const seconds = (windowEnd - windowStart) / 1000;
    return {
      roundTrips,
      seconds,
      roundTripsPerSec: roundTrips / seconds,
      p50Us: histogram.percentile(50),
      p99Us: histogram.percentile(99),
      maxUs: histogram.max,
      clientCpuUs: cpu.user + cpu.system,
      clientCpuUsPerRoundTrip: (cpu.user + cpu.system) / roundTrips,
    };
  } finally {
    stopping = true;
    await Promise.race([Promise.allSettled(clients.map((c) => c.close())), sleep(STOP_TIMEOUT_MS)]);
  }
}

if (!process.send) {
  process.stderr.write('bench/load.js runs as a child of bench/run.js (it needs an IPC channel)\n');
  process.exit(1);
}
const send = (message) => process.send(message);
process.on('disconnect', () => process.exit(0));
process.on('message', (message) => {
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
