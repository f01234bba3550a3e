/**
 * What the load generators share (bench/load.js, bench/storage/load.js):
 * opening the clients, driving each in lockstep (send, wait for the reply,
 * send again), the warm-up and the measured window, and the child-process
 * protocol with the orchestrator.
 */
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './stats.js';

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens `count` clients; if any fails, closes those that opened and throws its error.
 * @template {{ close(): unknown }} C
 * @param {number} count
 * @param {() => Promise<C>} open
 * @param {number} stopTimeoutMs how long the closes may take
 * @returns {Promise<C[]>}
 */
export async function openClients(count, open, stopTimeoutMs) {
  const opened = await Promise.allSettled(Array.from({ length: count }, () => open()));
  const clients = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const refused = opened.find((o) => o.status === 'rejected');
  if (refused) {
    await closeClients(clients, stopTimeoutMs);
    throw refused.reason;
  }
  return clients;
}

/**
 * Closes every client, waiting at most `stopTimeoutMs`.
 * @param {{ close(): unknown }[]} clients
 * @param {number} stopTimeoutMs
 */
export async function closeClients(clients, stopTimeoutMs) {
  await Promise.race([Promise.allSettled(clients.map((c) => c.close())), sleep(stopTimeoutMs)]);
}

/**
 * @typedef {object} Window
 * @property {number} completed requests answered inside the window
 * @property {number} acknowledged requests answered in all, warm-up and tail included
 * @property {number} seconds the window's length as measured
 * @property {LatencyHistogram} histogram the latency of each request of the window, in µs
 * @property {number} cpuUs this process's CPU time (user + system) during the window, in µs
 * @property {boolean} finished whether the requests in flight at the end finished within `stopTimeoutMs`
 */

/**
 * The figures of a measured window, as the load generators report them.
 * @param {Window} window
 * @param {number} stopTimeoutMs
 * @throws Error when the requests in flight at the end did not finish in time
 */
export function windowFigures(window, stopTimeoutMs) {
  if (!window.finished)
    throw new Error(`the requests in flight did not finish within ${stopTimeoutMs / 1000} s`);
  const requests = window.completed;
  return {
    requests,
    seconds: window.seconds,
    requestsPerSec: requests / window.seconds,
    p50Us: window.histogram.percentile(50),
    p99Us: window.histogram.percentile(99),
    maxUs: window.histogram.max,
    clientCpuUsPerRequest: window.cpuUs / requests,
  };
}

/**
 * Runs one request loop per requester, in lockstep, through `warmupMs` then
 * a measured window of `windowMs`; marks its start and end with `mark`. The
 * first request that throws ends every loop and is thrown.
 * @param {{ requesters: (() => Promise<unknown>)[], warmupMs: number, windowMs: number, stopTimeoutMs: number, mark: (phase: 'start' | 'end') => void }} options
 * @returns {Promise<Window>}
 */
export async function measureLockstep({ requesters, warmupMs, windowMs, stopTimeoutMs, mark }) {
  const histogram = new LatencyHistogram();
  let measuring = false;
  let stopping = false;
  let completed = 0;
  let acknowledged = 0;
  /** @type {(err: Error) => void} */
  let fail = () => {};
  /** @type {Promise<never>} */
  const failed = new Promise((_, reject) => (fail = reject));
  failed.catch(() => {});

  const loops = requesters.map(async (request) => {
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
    await Promise.race([sleep(warmupMs), failed]);
    const cpuStart = process.cpuUsage();
    const windowStart = performance.now();
    measuring = true;
    mark('start');
    await Promise.race([sleep(windowMs), failed]);
    measuring = false;
    const windowEnd = performance.now();
    const cpu = process.cpuUsage(cpuStart);
    const inWindow = completed;
    mark('end');
    stopping = true;
    const finished = await Promise.race([
      Promise.all(loops).then(() => true),
      failed,
      sleep(stopTimeoutMs).then(() => false),
    ]);
    return {
      completed: inWindow,
      acknowledged,
      seconds: (windowEnd - windowStart) / 1000,
      histogram,
      cpuUs: cpu.user + cpu.system,
      finished,
    };
  } finally {
    stopping = true;
  }
}

/**
 * Serves the orchestrator over the IPC channel: each `{ type: 'run', id, … }`
 * is answered `{ type: 'result', id, result }` or `{ type: 'error', id,
 * message }`; `{ type: 'stop' }` ends the process.
 * @param {string} self this script, for the message when it is not a child
 * @param {string} parent the script that runs it
 * @param {(config: any, send: (message: object) => void) => Promise<unknown>} run
 */
export function serveRuns(self, parent, run) {
  const channel = process.send?.bind(process);
  if (!channel) {
    process.stderr.write(`${self} runs as a child of ${parent} (it needs an IPC channel)\n`);
    process.exit(1);
  }
  const send = (/** @type {object} */ message) => channel(message);
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
}
