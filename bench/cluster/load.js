/**
 * The load generator of the cluster benchmark's throughput part, run as a
 * child process of bench/cluster.js, in a process of its own: clients of the
 * echo example plugin (plugins/echo) through the real client SDK, each in
 * lockstep (send, wait for the reply, send again).
 *
 * On `{ type: 'run', id, ports, clients, warmupMs, windowMs, payload }` it
 * connects `clients` clients, spread in turn over `ports` (one port for one
 * process or for workers sharing it; two for two processes), warms up, sends
 * `{ type: 'mark', id, phase: 'start' }`, measures the window, sends
 * `{ type: 'mark', id, phase: 'end' }`, and answers `{ type: 'result', id,
 * result }` (or `{ type: 'error', id, message }`). Every reply must carry the
 * op and the data sent.
 */
import { connect } from '../../server/dist/client/index.js';
import { BENCH_SECRET, ECHO_GREETER, HOST } from '../lib/common.js';
import { closeClients, measureLockstep, openClients, serveRuns, windowFigures } from '../lib/lockstep.js';

const OP = 7;
const STOP_TIMEOUT_MS = 10_000;

/**
 * @param {{ id: number, ports: number[], clients: number, warmupMs: number, windowMs: number, payload: number }} config
 * @param {(message: object) => void} send
 */
async function run(config, send) {
  let opened = 0;
  const clients = await openClients(
    config.clients,
    () => connect({ host: HOST, port: config.ports[opened++ % config.ports.length], secret: BENCH_SECRET }),
    STOP_TIMEOUT_MS,
  );
  try {
    const window = await measureLockstep({
      requesters: clients.map((client, index) => {
        const body = `client ${index} `.padEnd(config.payload, '.');
        return async () => {
          const reply = await client.request(ECHO_GREETER, body, { op: OP });
          if (reply.op !== OP || reply.text() !== body) {
            throw new Error(`echo: unexpected reply (op ${reply.op}): ${reply.text().slice(0, 200)}`);
          }
        };
      }),
      warmupMs: config.warmupMs,
      windowMs: config.windowMs,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      mark: (phase) => send({ type: 'mark', id: config.id, phase }),
    });
    return {
      ...windowFigures(window, STOP_TIMEOUT_MS),
      clientCoresBusy: window.cpuUs / 1e6 / window.seconds,
    };
  } finally {
    await closeClients(clients, STOP_TIMEOUT_MS);
  }
}

serveRuns('bench/cluster/load.js', 'bench/cluster.js', run);
