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
import { loadClient } from './clients/index.js';
import { closeClients, measureLockstep, openClients, serveRuns } from './lib/lockstep.js';

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
 * One measurement: connect, warm up, measure, stop.
 * @param {RunConfig} config
 * @param {(message: object) => void} send
 */
async function run(config, send) {
  const { open } = await loadClient(config.target);
  const clients = await openClients(config.connections, () => open(config), STOP_TIMEOUT_MS);
  const payload = Buffer.alloc(config.payloadBytes);
  for (let i = 0; i < payload.length; i++) payload[i] = 0x20 + ((i * 7) % 95);
  try {
    const window = await measureLockstep({
      requesters: clients.map((client) => async () => client.check(await client.roundTrip(payload))),
      warmupMs: config.warmupMs,
      windowMs: config.windowMs,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      mark: (phase) => send({ type: 'mark', id: config.id, phase }),
    });
    const roundTrips = window.completed;
    return {
      roundTrips,
      seconds: window.seconds,
      roundTripsPerSec: roundTrips / window.seconds,
      p50Us: window.histogram.percentile(50),
      p99Us: window.histogram.percentile(99),
      maxUs: window.histogram.max,
      clientCpuUs: window.cpuUs,
      clientCpuUsPerRoundTrip: window.cpuUs / roundTrips,
    };
  } finally {
    await closeClients(clients, STOP_TIMEOUT_MS);
  }
}

serveRuns('bench/load.js', 'bench/run.js', run);
