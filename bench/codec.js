/**
 * Microbenchmark of the protocol hot path, in one process:
 *
 *   node bench/codec.js [--quick] [--time <s>] [--no-write]
 *
 * Each case runs in batches until its time is up (default 1 s, 0.2 s with
 * --quick) after a short warm-up, and reports operations per second. Each
 * case names the step of the hot path it times: nonce, verify, encode,
 * decode, or all (the server's protocol work for one echo packet). The
 * frames are those of the benchmark's echo traffic: greeter `echo`, op 7,
 * a 22-character random, 32 bytes of data, a 64-character hash. Results go
 * to bench/results/codec.json unless --no-write. Before timing anything it
 * checks the results of the fast paths against node:crypto and a round trip
 * through the decoder, and exits 1 if they disagree. Run as a child of
 * bench/run.js (with an IPC channel), it also sends its report there.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FrameDecoder, decodeFrame } from '../server/dist/protocol/decoder.js';
import { encodeFrame } from '../server/dist/protocol/encoder.js';
import { Hasher, hashEquals } from '../server/dist/protocol/hash.js';
import { NonceWindow } from '../server/dist/protocol/nonce-window.js';
import { randomString } from '../server/dist/protocol/random.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    time: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'Usage: node bench/codec.js [--quick] [--time <seconds per case>] [--no-write]\n' +
      'Measures encodeFrame, FrameDecoder.push, Hasher, hashEquals, NonceWindow and randomString (ops/s).',
  );
  process.exit(0);
}
const caseMs = (values.time !== undefined ? Number(values.time) : values.quick ? 0.2 : 1) * 1000;
if (!Number.isFinite(caseMs) || caseMs <= 0)
  throw new Error(`--time must be a positive number, got ${values.time}`);

/**
 * The figures are worthless if the fast paths are wrong: the Hasher must agree
 * with node:crypto for keys and inputs of every size class (one block, several
 * blocks, the long-input fallback, bytes and text, non-ASCII text), and a
 * decoded frame must give back what was encoded.
 */
function checkCorrectness() {
  const secrets = ['k', 'nekoconnect-bench-secret', 'x'.repeat(64), 'y'.repeat(65), 'ñeko-猫'];
  const lengths = [0, 1, 22, 55, 56, 63, 64, 65, 119, 120, 255, 1024, 1025, 5000];
  for (const secret of secrets) {
    const hasher = new Hasher(secret);
    for (const length of lengths) {
      const bytes = randomBytes(length);
      const text = bytes.toString('base64').slice(0, length) + (length % 2 ? '' : 'é');
      for (const input of [bytes, text]) {
        const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(input).digest('hex');
        if (hasher.hex(input) !== expected || hasher.bytes(input).toString('latin1') !== expected) {
          throw new Error(
            `Hasher disagrees with node:crypto (secret of ${secret.length} chars, input of ${length})`,
          );
        }
      }
    }
  }
  const fields = {
    greeter: 'echo',
    op: 4294967295,
    random: randomString(),
    data: Buffer.from('héllo'),
    hash: 'server',
  };
  const frame = decodeFrame(encodeFrame(fields));
  if (
    frame.greeter !== fields.greeter ||
    frame.op !== fields.op ||
    !frame.random.equals(fields.random) ||
    !frame.data.equals(fields.data) ||
    frame.hash.toString('latin1') !== fields.hash
  ) {
    throw new Error('a frame did not decode to what was encoded');
  }
}
checkCorrectness();

const hasher = new Hasher('nekoconnect-bench-secret');
const random = randomString();
const randomText = random.toString('latin1');
const data = Buffer.alloc(32, 0x61);
const hashHex = hasher.hex(random);
const hashBytes = hasher.bytes(random);
const request = { greeter: 'echo', op: 7, random, data, hash: hashHex };
const reply = { greeter: 'echo', op: 7, random, data, hash: hashBytes };
const frame = encodeFrame(request);
const head = frame.subarray(0, 40);
const tail = frame.subarray(40);

/** Keeps results alive so the optimiser cannot drop the work. */
let sink = 0;
/** @param {{ length?: number, byteLength?: number } | string | boolean | number} value */
const keep = (value) => {
  sink = (sink + (typeof value === 'object' ? value.length : 1)) | 0;
};

let decoded = 0;
const decoder = new FrameDecoder({ maxPacket: 1024 * 1024 }, (f) => {
  decoded += f.data.length;
});

/**
 * The server's protocol work for one echo round trip, without I/O: decode
 * the request, check its hash against the newest server random, hash the
 * client random, encode the reply with a fresh random.
 */
const window = new NonceWindow(hasher, 64);
let serverRandom = randomString();
window.add(serverRandom);
const serverDecoder = new FrameDecoder({ maxPacket: 1024 * 1024 }, (f) => {
  if (!window.consume(f.hash)) throw new Error('hash did not verify');
  const clientHash = hasher.bytes(f.random);
  serverRandom = randomString();
  window.add(serverRandom);
  keep(encodeFrame({ greeter: f.greeter, op: f.op, random: serverRandom, data: f.data, hash: clientHash }));
});

/** A client's nonce window check: the random just added, then its hash. */
const nonceWindow = new NonceWindow(hasher, 64);
const windowRandom = randomString();
const windowHash = hasher.bytes(windowRandom);

/**
 * The cases, each tagged with the step of the hot path it times, so that a
 * regression points at one step: `nonce` (making a fresh random), `verify`
 * (HMAC and the nonce window's check), `encode`, `decode`, and `all` (the
 * server's whole protocol work for one echo packet).
 * @type {[string, string, () => void][]}
 */
const cases = [
  ['nonce', 'randomString()', () => keep(randomString())],
  ['verify', 'Hasher.hex(22-byte Buffer)', () => keep(hasher.hex(random))],
  ['verify', 'Hasher.hex(22-char string)', () => keep(hasher.hex(randomText))],
  ['verify', 'Hasher.bytes(22-byte Buffer)', () => keep(hasher.bytes(random))],
  ['verify', 'hashEquals(64 bytes)', () => keep(hashEquals(hashBytes, hashBytes))],
  [
    'verify',
    'NonceWindow.add + consume (1 HMAC)',
    () => {
      nonceWindow.add(windowRandom);
      keep(nonceWindow.consume(windowHash));
    },
  ],
  ['encode', 'encodeFrame (client: hex string hash)', () => keep(encodeFrame(request))],
  ['encode', 'encodeFrame (server: Buffer hash)', () => keep(encodeFrame(reply))],
  ['decode', 'FrameDecoder.push (whole frame)', () => decoder.push(frame)],
  [
    'decode',
    'FrameDecoder.push (frame in 2 chunks)',
    () => {
      decoder.push(head);
      decoder.push(tail);
    },
  ],
  [
    'all',
    'server protocol work per echo packet',
    () => {
      serverDecoder.push(
        encodeFrame({
          greeter: 'echo',
          op: 7,
          random: randomString(),
          data,
          hash: hasher.bytes(serverRandom),
        }),
      );
    },
  ],
];

/**
 * Runs `fn` in batches for about `ms` milliseconds.
 * @param {() => void} fn
 * @param {number} ms
 * @returns {{ ops: number, seconds: number }}
 */
function time(fn, ms) {
  let batch = 64;
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    now = performance.now();
    if (now - start < ms / 20) batch *= 2;
  }
  return { ops, seconds: (now - start) / 1000 };
}

const results = [];
for (const [step, name, fn] of cases) {
  time(fn, Math.min(200, caseMs / 4));
  const { ops, seconds } = time(fn, caseMs);
  results.push({ step, name, opsPerSec: ops / seconds, nsPerOp: (seconds * 1e9) / ops });
}
if (decoded === 0 || sink === 0.5) console.log('(unreachable)');

const nameWidth = Math.max(...results.map((r) => r.name.length));
console.log(
  `${'step'.padEnd(6)}  ${'case'.padEnd(nameWidth)}  ${'ops/s'.padStart(12)}  ${'ns/op'.padStart(8)}`,
);
for (const r of results) {
  console.log(
    `${r.step.padEnd(6)}  ${r.name.padEnd(nameWidth)}  ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)}  ${r.nsPerOp.toFixed(0).padStart(8)}`,
  );
}

const report = {
  date: new Date().toISOString(),
  node: process.version,
  caseSeconds: caseMs / 1000,
  results,
};
// Run by bench/run.js: the figures go into its report too.
if (process.send) process.send({ type: 'report', report });

if (!values['no-write']) {
  const out = path.join(here, 'results', 'codec.json');
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nReport written to ${path.relative(process.cwd(), out)}`);
}
process.disconnect?.();
