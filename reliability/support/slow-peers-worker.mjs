// Slow and idle peers, in a worker thread of the slow-peers test: they open
// connections and never finish the handshake. Kept off the main thread so that
// the legitimate client's latency measured there is not disturbed by this
// thread's own socket work (in real life they are other machines).
//
// workerData: { port, count, authFrame (bytes of a valid auth packet),
//               dribbleMinMs, dribbleMaxMs, deadlineMs, batch }
// Posts { type: 'opened', at, connectErrors } once every peer tried to connect, then
// { type: 'done', results } once every peer is closed (or the deadline passed).
// On { type: 'abort' } it destroys every socket and stops.
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

const { port, count, authFrame, dribbleMinMs, dribbleMaxMs, deadlineMs, batch, batchGapMs } = workerData;
const frame = Buffer.from(authFrame);
const KINDS = ['silent', 'half', 'dribble'];
const now = () => performance.timeOrigin + performance.now();
const peers = [];
let finished = false;

function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  const results = peers.map((p) => ({
    index: p.index,
    kind: p.kind,
    connectedAt: p.connectedAt,
    closedAt: p.closedAt,
    ended: p.ended,
    error: p.error,
    sent: p.sent,
    received: Buffer.concat(p.received),
  }));
  for (const p of peers) {
    clearTimeout(p.timer);
    p.socket.destroy();
  }
  parentPort.postMessage({ type: 'done', results });
  parentPort.close();
}

function maybeDone() {
  if (opened && peers.every((p) => p.closedAt !== null)) finish();
}

function openPeer(index) {
  return new Promise((resolve) => {
    const kind = KINDS[index % KINDS.length];
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const peer = {
      index,
      kind,
      socket,
      connectedAt: null,
      closedAt: null,
      ended: false,
      error: null,
      sent: 0,
      received: [],
      timer: undefined,
    };
    peers.push(peer);
    const dribble = () => {
      const wait = dribbleMinMs + Math.random() * (dribbleMaxMs - dribbleMinMs);
      peer.timer = setTimeout(() => {
        if (socket.destroyed || peer.ended || peer.sent >= frame.length) return;
        socket.write(frame.subarray(peer.sent, peer.sent + 1));
        peer.sent++;
        dribble();
      }, wait);
    };
    socket.on('connect', () => {
      peer.connectedAt = now();
      if (kind === 'half') {
        // Half an auth packet: a header that adds up, and part of the body.
        const half = Math.floor(frame.length / 2);
        socket.write(frame.subarray(0, half));
        peer.sent = half;
      } else if (kind === 'dribble') {
        dribble();
      }
      resolve();
    });
    socket.on('data', (chunk) => peer.received.push(chunk));
    socket.on('end', () => {
      peer.ended = true;
    });
    socket.on('error', (err) => {
      peer.error ??= err.code ?? err.message;
      if (peer.connectedAt === null) resolve();
    });
    socket.on('close', () => {
      peer.closedAt = now();
      clearTimeout(peer.timer);
      maybeDone();
    });
  });
}

let opened = false;
const deadline = setTimeout(finish, deadlineMs);
parentPort.on('message', (message) => {
  if (message?.type === 'abort') finish();
});

for (let i = 0; i < count && !finished; i += batch) {
  await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => openPeer(i + j)));
  if (batchGapMs > 0) await new Promise((resolve) => setTimeout(resolve, batchGapMs));
}
opened = true;
if (!finished) {
  parentPort.postMessage({
    type: 'opened',
    at: now(),
    connectErrors: peers.filter((p) => p.connectedAt === null).length,
  });
  maybeDone();
}
