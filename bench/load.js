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
 * NekoConnect is driven through the real client SDK (`connect` + `request`);
 * the bare echo server through a minimal length-prefixed client.
 */
import { connect as netConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as nekoConnect } from '../server/dist/client/index.js';
import { BENCH_SECRET, ECHO_GREETER, HOST } from './lib/common.js';
import { LatencyHistogram } from './lib/stats.js';

/** How long stopping may take: the last round trips in flight, then the closes. */
const STOP_TIMEOUT_MS = 5_000;
/** How long the bare client may take to connect (the SDK has its own 10 s limit). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * @typedef {object} RunConfig
 * @property {number} id
 * @property {'neko' | 'bare'} target
 * @property {number} port
 * @property {number} connections
 * @property {number} warmupMs
 * @property {number} windowMs
 * @property {number} payloadBytes
 * @property {number} op
 */

/**
 * @typedef {object} BenchClient
 * @property {(payload: Buffer) => Promise<unknown>} roundTrip sends one request; resolves with its reply
 * @property {(reply: unknown) => void} check throws unless the reply is the echo expected
 * @property {() => Promise<void>} close
 */

/**
 * A NekoConnect client from the SDK.
 * @param {RunConfig} config
 * @returns {Promise<BenchClient>}
 */
async function openNeko(config) {
  const client = await nekoConnect({ host: HOST, port: config.port, secret: BENCH_SECRET });
  const { op, payloadBytes } = config;
  return {
    // The SDK's promise itself, with no wrapper: the loop costs the same for both targets.
    roundTrip: (payload) => client.request(ECHO_GREETER, payload, { op }),
    check(/** @type {import('../server/dist/client/index.js').ClientPacket} */ reply) {
      if (reply.status !== undefined || reply.op !== op || reply.data.length !== payloadBytes) {
        throw new Error(
          `unexpected reply: greeter ${reply.greeter}, op ${reply.op}, ${reply.data.length} bytes`,
        );
      }
    },
    close: () => client.close(),
  };
}

/**
 * A minimal client of the bare echo server: writes a 4-byte big-endian
 * length and the payload, and waits for the same number of bytes back.
 * @param {RunConfig} config
 * @returns {Promise<BenchClient>}
 */
function openBare(config) {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: HOST, port: config.port, noDelay: true, timeout: CONNECT_TIMEOUT_MS });
    socket.once('timeout', () =>
      socket.destroy(new Error(`no connection to ${HOST}:${config.port} within ${CONNECT_TIMEOUT_MS} ms`)),
    );
    socket.setNoDelay(true);
    /** @type {{ resolve: () => void, reject: (err: Error) => void } | undefined} */
    let waiting;
    let expected = 0;
    let received = 0;
    socket.on('data', (chunk) => {
      if (received === 0 && chunk.length >= 4 && chunk.readUInt32BE(0) !== expected - 4) {
        socket.destroy(new Error(`bare echo sent a frame of ${chunk.readUInt32BE(0)} bytes`));
        return;
      }
      received += chunk.length;
      if (received < expected) return;
      if (received > expected || !waiting) {
        socket.destroy(new Error(`bare echo sent ${received} bytes, expected ${expected}`));
        return;
      }
      const done = waiting;
      waiting = undefined;
      done.resolve();
    });
    socket.on('close', () => waiting?.reject(new Error('bare echo connection closed')));
    socket.on('error', (err) => {
      waiting?.reject(err);
      reject(err);
    });
    /** @type {Buffer | undefined} the frame for the payload last seen */
    let frame;
    /** @type {Buffer | undefined} */
    let framedPayload;
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve({
        roundTrip(payload) {
          if (payload !== framedPayload) {
            frame = Buffer.alloc(4 + payload.length);
            frame.writeUInt32BE(payload.length, 0);
            payload.copy(frame, 4);
            framedPayload = payload;
          }
          if (socket.destroyed) return Promise.reject(new Error('bare echo connection closed'));
          expected = frame.length;
          received = 0;
          return new Promise((res, rej) => {
            waiting = { resolve: res, reject: rej };
            socket.write(frame);
          });
        },
        check() {
          // The length was checked as the bytes arrived.
        },
        close() {
          socket.destroy();
          return Promise.resolve();
        },
      });
    });
  });
}

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
  const open = config.target === 'neko' ? openNeko : openBare;
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
