/**
 * The active client of the scale benchmark: a child process of
 * bench/scale.js with one NekoConnect connection (client SDK), kept for the
 * whole run, so that every pass measures the same client.
 *
 * Requests (IPC), each answered with the same type and id, or with
 * `{ type: 'error', id, message }`:
 *
 *   { type: 'connect', id, port }  connects and completes the handshake
 *   { type: 'probe', id, roundTrips, payloadBytes, op, record }
 *       makes `roundTrips` echo requests one after the other (each waits for
 *       the previous answer); with `record`, answers
 *       `{ p50Us, p99Us, maxUs, meanUs, seconds }`, otherwise `{}` (a warm-up)
 *   { type: 'stop' }  exits
 */
import { performance } from 'node:perf_hooks';
import { connect } from '../../server/dist/client/index.js';
import { BENCH_SECRET, ECHO_GREETER, HOST } from '../lib/common.js';
import { LatencyHistogram } from '../lib/stats.js';

/** @type {import('../../server/dist/client/index.js').NekoClient | undefined} */
let client;

/**
 * @param {{ roundTrips: number, payloadBytes: number, op: number, record: boolean }} request
 */
async function probe({ roundTrips, payloadBytes, op, record }) {
  if (!client?.connected) throw new Error('the active client is not connected');
  const payload = Buffer.alloc(payloadBytes, 0x61);
  const histogram = new LatencyHistogram();
  let sum = 0;
  const started = performance.now();
  for (let i = 0; i < roundTrips; i++) {
    const sent = performance.now();
    const reply = await client.request(ECHO_GREETER, payload, { op });
    const micros = (performance.now() - sent) * 1000;
    if (reply.status !== undefined || reply.op !== op || reply.data.length !== payloadBytes) {
      throw new Error(
        `unexpected reply: greeter ${reply.greeter}, op ${reply.op}, ${reply.data.length} bytes`,
      );
    }
    histogram.record(micros);
    sum += micros;
  }
  const seconds = (performance.now() - started) / 1000;
  if (!record) return {};
  return {
    p50Us: histogram.percentile(50),
    p99Us: histogram.percentile(99),
    maxUs: histogram.max,
    meanUs: sum / roundTrips,
    seconds,
  };
}

if (!process.send) {
  process.stderr.write('bench/scale/probe.js runs as a child of bench/scale.js (it needs an IPC channel)\n');
  process.exit(1);
}
const send = (/** @type {object} */ message) => process.send?.(message);
process.on('disconnect', () => process.exit(0));
process.on('message', (/** @type {any} */ message) => {
  const { type, id } = message;
  /** @type {Promise<object> | undefined} */
  let work;
  if (type === 'connect') {
    work = connect({ host: HOST, port: message.port, secret: BENCH_SECRET }).then((c) => {
      client = c;
      return {};
    });
  } else if (type === 'probe') {
    work = probe(message);
  } else if (type === 'stop') {
    process.exit(0);
  }
  work?.then(
    (result) => send({ type, id, ...result }),
    (err) => send({ type: 'error', id, message: err?.stack ?? String(err) }),
  );
});
send({ type: 'ready', pid: process.pid });
