/**
 * Opens many connections and holds them idle: a child process of
 * bench/scale.js (which runs several, each with its own file descriptors).
 *
 * Requests (IPC), each answered with the same type and id, or with
 * `{ type: 'error', id, message }`:
 *
 *   { type: 'open', id, kind, port, count, concurrency }
 *       opens `count` connections, at most `concurrency` being set up at
 *       once. kind 'neko': NekoConnect clients from the SDK, each completing
 *       the handshake and sending nothing more; kind 'bare': plain TCP
 *       connections. Sends `{ type: 'progress', id, opened, failed }` now and
 *       then; answers `{ opened, failed, errors, seconds }`, `errors` counting
 *       the failures by reason.
 *   { type: 'join', id, concurrency }
 *       every NekoConnect session held makes one echo request (at most
 *       `concurrency` at once), so that it joins the echo plugin, and is idle
 *       again once answered. Answers `{ joined, failed, errors, seconds }`.
 *   { type: 'count', id }  -> { alive, lost }: connections still open, and
 *                             those that closed while held (the holder never
 *                             closes one by itself)
 *   { type: 'close', id }  -> { closed }: closes every connection
 *   { type: 'stop' }       exits
 */
import { connect as netConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as nekoConnect } from '../../server/dist/client/index.js';
import { BENCH_SECRET, ECHO_GREETER, HOST } from '../lib/common.js';

/** The SDK's limit for the TCP connection and the handshake, and ours for a bare connect. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * @typedef {object} Held
 * @property {() => boolean} alive
 * @property {() => Promise<void>} close
 * @property {() => Promise<void>} [join] NekoConnect: one echo request, answered
 */

/** Every connection opened and not yet closed by a `close` request. */
/** @type {Held[]} */
let held = [];
/** Held connections that closed by themselves (the server, or the network). */
let lost = 0;
let closing = false;

/**
 * One NekoConnect session: the handshake.
 * @param {number} port
 * @returns {Promise<Held>}
 */
async function openNeko(port) {
  const client = await nekoConnect({
    host: HOST,
    port,
    secret: BENCH_SECRET,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
  });
  client.on('close', () => {
    if (!closing) lost++;
  });
  return {
    alive: () => client.connected,
    close: () => client.close(),
    join: async () => {
      const reply = await client.request(ECHO_GREETER, 'hi', { op: 1, timeoutMs: CONNECT_TIMEOUT_MS });
      if (reply.status !== undefined || reply.text() !== 'hi') {
        throw new Error(`unexpected echo reply: op ${reply.op}, status ${reply.status}, ${reply.len} bytes`);
      }
    },
  };
}

/**
 * One plain TCP connection.
 * @param {number} port
 * @returns {Promise<Held>}
 */
function openBare(port) {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: HOST, port, noDelay: true, timeout: CONNECT_TIMEOUT_MS });
    socket.once('timeout', () => socket.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('error', reject);
      socket.on('error', () => {});
      socket.once('close', () => {
        if (!closing) lost++;
      });
      resolve({
        alive: () => !socket.destroyed,
        close: () =>
          new Promise((res) => {
            socket.once('close', () => res());
            socket.destroy();
          }),
      });
    });
  });
}

/**
 * A failure's reason, short enough to count by: its code and message.
 * @param {unknown} err
 * @returns {string}
 */
function reasonOf(err) {
  if (!(err instanceof Error)) return String(err);
  const code = /** @type {{ code?: string }} */ (err).code;
  const cause = /** @type {{ cause?: { code?: string } }} */ (err).cause?.code;
  return [code, cause, err.message.slice(0, 160)].filter(Boolean).join(' ');
}

/**
 * @param {{ id: number, kind: 'neko' | 'bare', port: number, count: number, concurrency: number }} request
 * @param {(message: object) => void} send
 */
async function open(request, send) {
  const { id, kind, port, count, concurrency } = request;
  closing = false;
  const started = performance.now();
  let next = 0;
  let opened = 0;
  let failed = 0;
  /** @type {Record<string, number>} */
  const errors = {};
  let lastProgress = started;
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        held.push(kind === 'neko' ? await openNeko(port) : await openBare(port));
        opened++;
      } catch (err) {
        failed++;
        const reason = reasonOf(err);
        errors[reason] = (errors[reason] ?? 0) + 1;
      }
      const now = performance.now();
      if (now - lastProgress >= 500) {
        lastProgress = now;
        send({ type: 'progress', id, opened, failed });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { opened, failed, errors, seconds: (performance.now() - started) / 1000 };
}

/**
 * Every NekoConnect session held makes one echo request.
 * @param {{ concurrency: number }} request
 */
async function joinAll({ concurrency }) {
  const started = performance.now();
  const list = held.filter((h) => h.join !== undefined);
  let next = 0;
  let joined = 0;
  let failed = 0;
  /** @type {Record<string, number>} */
  const errors = {};
  const worker = async () => {
    while (next < list.length) {
      const h = list[next++];
      try {
        await h?.join?.();
        joined++;
      } catch (err) {
        failed++;
        const reason = reasonOf(err);
        errors[reason] = (errors[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  return { joined, failed, errors, seconds: (performance.now() - started) / 1000 };
}

async function closeAll() {
  closing = true;
  const list = held;
  held = [];
  await Promise.all(list.map((h) => h.close()));
  return { closed: list.length };
}

if (!process.send) {
  process.stderr.write('bench/scale/holder.js runs as a child of bench/scale.js (it needs an IPC channel)\n');
  process.exit(1);
}
const send = (/** @type {object} */ message) => process.send?.(message);
process.on('disconnect', () => process.exit(0));
process.on('message', (/** @type {any} */ message) => {
  const { type, id } = message;
  /** @type {Promise<object> | undefined} */
  let work;
  if (type === 'open') work = open(message, send);
  else if (type === 'join') work = joinAll(message);
  else if (type === 'count') work = Promise.resolve({ alive: held.filter((h) => h.alive()).length, lost });
  else if (type === 'close') work = closeAll();
  else if (type === 'stop') process.exit(0);
  work?.then(
    (result) => send({ type, id, ...result }),
    (err) => send({ type: 'error', id, message: err?.stack ?? String(err) }),
  );
});
send({ type: 'ready', pid: process.pid });
