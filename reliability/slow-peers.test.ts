// Slow and idle peers: 1,000 connections that never finish the handshake
// (some send nothing, some half an auth packet, some dribble a byte every few
// hundred ms) are all closed by the handshake timeout, with status 408, after
// about that time; meanwhile a legitimate client's p99 echo latency stays
// within 2x of its p99 without them (a p99 below P99_FLOOR_MS counted as that).
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from 'nekoconnect/client';
import { clientHello, makeCertificate } from '../scripts/test-support/tls.js';
import { EXAMPLE_PLUGINS, startServerProcess, type ServerProcess } from './support/server-process.js';
import { FIXTURES } from './support/workloads.js';
import {
  FramePeer,
  FrameReader,
  Prng,
  SocketTracker,
  authParts,
  buildFrame,
  checkClosingStatus,
  hashOf,
  parts,
  percentile,
  sleep,
  summarize,
  type LatencySummary,
} from './support/peers.js';

const SECRET = 'slow-peers-secret';
const HANDSHAKE_TIMEOUT_MS = 2_000;
const PEERS = 1_000;
/**
 * The peers arrive in a ramp: OPEN_BATCH at once, every OPEN_GAP_MS (about 1,000 in 1.2 s). Their handshake
 * timers then fire spread out the same way. (Measured while writing this test: when they arrive 100 at once,
 * the timers of a batch fire in one timers phase and the server closes them back to back, about 0.2-0.3 ms
 * of socket work each on loopback; the loop is then busy 20-80 ms at a time and the loaded p99 was 2.5-3x
 * the unloaded one. That is the cost of a connection burst, which flood.test.ts covers; this test is about
 * peers that are slow, not about how fast they come.)
 */
const OPEN_BATCH = 20;
const OPEN_GAP_MS = 20;
/** Echo round trips per unloaded phase; the loaded phase samples for as long as the peers live. */
const UNLOADED_SAMPLES = 2_000;
const MIN_LOADED_SAMPLES = 500;
const WARMUP_SAMPLES = 300;
/** Loaded p99 may be at most this times the unloaded p99 (or P99_FLOOR_MS, when that is below it). */
const MAX_P99_RATIO = 2;
/**
 * The smallest unloaded p99 the ratio is taken against. Three processes share this machine's 2 cores here
 * (the server, this client, the peers' worker); with the 1,000 peers connected, the client's p99 was 2.2-2.8 ms
 * in every run, before and after the server changes of 2026-12-04, while its unloaded p99 ranged from 0.27
 * to 1.47 ms between runs: below about 2 ms a p99 measures how the scheduler shares the cores, not the
 * server's work, and the plain ratio failed about one run in three, with the code before those changes
 * too. A server that slowed the client for real (1,000 closes back to back: about 200 ms) still fails.
 */
const P99_FLOOR_MS = 2;
/** A peer must be closed between HANDSHAKE_TIMEOUT_MS - EARLY_MS and HANDSHAKE_TIMEOUT_MS + LATE_MS after it connected. */
const EARLY_MS = 200;
const LATE_MS = 1_500;

/** The stream plugin's load on a slow reader: as many 64 KiB broadcasts as it takes to send 100 MiB. */
const STREAM_PACKETS = 1_600;
const STREAM_PACKET_BYTES = 64 * 1024;
/** Packets the stream runs ahead of what the reading client acknowledged (2 MiB: half the cap), and how often it acknowledges. */
const STREAM_WINDOW = 32;
const STREAM_ACK_EVERY = 8;
/** limits.maxPendingBytes, left at its default here. */
const CAP = 4 * 1024 * 1024;
/**
 * The most the server's live buffers (`arrayBuffers` after a full GC) may grow while it streams: the slow
 * reader's queue (at most the cap), the reading client's (at most the stream's window of 2 MiB), and 2 MiB
 * for frames on their way. Without the cap the slow reader's queue takes the whole 100 MiB.
 */
const BUFFER_GROWTH_BOUND = CAP + 2 * 1024 * 1024 + 2 * 1024 * 1024;
/**
 * The most the server's RSS may grow: 8 times the cap. RSS also keeps what the allocator has not given back
 * after the stream's 200 MiB of short-lived frames (measured: 10-22 MiB of growth with the cap, 130 MiB and
 * more without it).
 */
const RSS_GROWTH_BOUND = 8 * CAP;
/** Stalled TLS connections per step. */
const TLS_STALLED = 200;
/** server.close() with stalled TLS handshakes open must take less than this. */
const SHUTDOWN_BOUND_MS = 1_500;

interface PeerResult {
  index: number;
  kind: 'silent' | 'half' | 'dribble';
  connectedAt: number | null;
  closedAt: number | null;
  ended: boolean;
  error: string | null;
  sent: number;
  received: Uint8Array;
}

interface Round {
  before: LatencySummary;
  loaded: LatencySummary;
  after: LatencySummary;
  ratio: number;
}

describe('slow and idle peers', () => {
  it('closes 1,000 peers that never finish the handshake at the handshake timeout (408), without slowing a legitimate client', async () => {
    const prng = new Prng(0x510e);
    const server = await startServerProcess({
      secret: SECRET,
      plugins: path.join(EXAMPLE_PLUGINS, 'echo'),
      limits: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
    });
    const client = await connect({ secret: SECRET, port: server.port, requestTimeoutMs: 10_000 });
    onTestFinished(() => void client.close());
    const clientProblems: string[] = [];
    client.on('close', (info) =>
      clientProblems.push(`the legitimate client was closed: ${JSON.stringify(info)}`),
    );

    let requests = 0;
    /** One echo round trip, checked; returns its duration in ms. */
    const roundTrip = async (): Promise<number> => {
      const op = prng.int(1_000_000);
      const data = prng.bytes(32);
      const t0 = performance.now();
      const reply = await client.request('echo', data, { op });
      const ms = performance.now() - t0;
      requests++;
      if (reply.greeter !== 'echo' || reply.op !== op || !reply.data.equals(data)) {
        clientProblems.push(`round trip ${requests}: wrong reply ${reply.greeter} op ${reply.op}`);
      }
      // A short pause between requests: the client measures latency, it is not a load generator.
      await sleep(1);
      return ms;
    };
    const measure = async (n: number): Promise<number[]> => {
      const samples: number[] = [];
      for (let i = 0; i < n; i++) samples.push(await roundTrip());
      return samples;
    };

    await measure(WARMUP_SAMPLES);

    /** One measurement: unloaded, loaded by PEERS slow peers (checked), unloaded again. */
    const runRound = async (round: number): Promise<Round> => {
      const before = summarize(await measure(UNLOADED_SAMPLES));

      const logsBefore = timeoutLogs(server);
      const peers = startSlowPeers(server.port);
      const loadedSamples: number[] = [];
      while (!peers.done) loadedSamples.push(await roundTrip());
      const { results, openMs } = await peers.finished;
      const loaded = summarize(loadedSamples);

      // Every slow peer was closed by the server's handshake timeout, with a 408.
      checkPeers(results);
      // The server logged each of them as a handshake timeout.
      const logDeadline = Date.now() + 10_000;
      while (timeoutLogs(server) - logsBefore < PEERS && Date.now() < logDeadline) await sleep(50);
      expect(timeoutLogs(server) - logsBefore).toBe(PEERS);
      // They are gone: only the legitimate client is left.
      expect(await connectionsSettleTo(server, 1)).toBe(1);
      await sleep(200);

      const after = summarize(await measure(UNLOADED_SAMPLES));
      const unloadedP99 = Math.max(before.p99, after.p99);
      const ratio = loaded.p99 / Math.max(unloadedP99, P99_FLOOR_MS);
      const durations = results.map((r) => r.closedAt! - r.connectedAt!);
      const dribbled = results.filter((r) => r.kind === 'dribble').map((r) => r.sent);
      console.log(
        [
          `slow peers, round ${round}: ${PEERS} peers opened in ${openMs.toFixed(0)} ms ` +
            `closed ${percentile(durations, 0).toFixed(0)}–${percentile(durations, 1).toFixed(0)} ms after connecting ` +
            `(median ${percentile(durations, 0.5).toFixed(0)} ms; handshake timeout ${HANDSHAKE_TIMEOUT_MS} ms); ` +
            `dribblers sent ${Math.min(...dribbled)}-${Math.max(...dribbled)} bytes each`,
          `  unloaded before: p50 ${fmt(before.p50)} p99 ${fmt(before.p99)} max ${fmt(before.max)} ms (${before.samples} round trips)`,
          `  loaded:          p50 ${fmt(loaded.p50)} p99 ${fmt(loaded.p99)} max ${fmt(loaded.max)} ms (${loaded.samples} round trips)`,
          `  unloaded after:  p50 ${fmt(after.p50)} p99 ${fmt(after.p99)} max ${fmt(after.max)} ms (${after.samples} round trips)`,
          `  loaded p99 / max(unloaded p99, ${P99_FLOOR_MS} ms) = ${ratio.toFixed(2)} (limit ${MAX_P99_RATIO}; ` +
            `loaded p99 / unloaded p99 = ${(loaded.p99 / unloadedP99).toFixed(2)}); ` +
            `machine load average ${os.loadavg()[0]!.toFixed(2)} on ${os.availableParallelism()} cores`,
        ].join('\n'),
      );
      expect(loaded.samples).toBeGreaterThanOrEqual(MIN_LOADED_SAMPLES);
      return { before, loaded, after, ratio };
    };

    // This machine is shared and its timing is noisy: one unlucky stall can double a p99 on its own. So when
    // the first measurement exceeds the limit, the whole measurement (unloaded, loaded with a fresh set of
    // 1,000 peers, unloaded) is repeated once, and the test fails only if the second one exceeds it too.
    // The unloaded p99 the ratio is taken against is at least P99_FLOOR_MS (see there why).
    let round = await runRound(1);
    if (round.ratio > MAX_P99_RATIO) {
      console.log(`slow peers: ratio ${round.ratio.toFixed(2)} above ${MAX_P99_RATIO}; measuring once more`);
      round = await runRound(2);
    }
    expect(round.ratio).toBeLessThanOrEqual(MAX_P99_RATIO);

    expect(clientProblems).toEqual([]);
    expect(client.connected).toBe(true);
    expect(server.isAlive()).toBe(true);
    expect(server.logs.filter((r) => r.level === 'error')).toEqual([]);
  });
});

describe('slow readers', () => {
  it('closes a client that stops reading once 4 MiB wait for it: the server keeps its memory, a reading client gets every broadcast in order', async () => {
    const server = await startServerProcess({ secret: SECRET, plugins: path.join(FIXTURES, 'stream') });
    const tracker = new SocketTracker();

    // The slow reader: authenticated, joined to the plugin, then it never reads again.
    const slow = await FramePeer.connect(server.port, tracker);
    const authRandom = Buffer.from('slow-reader-random-001');
    slow.write(buildFrame(authParts(SECRET, authRandom)));
    expect(await slow.until(() => slow.frames.length === 1, 5_000)).toBe(true);
    const joinRandom = Buffer.from('slow-reader-random-002');
    slow.write(
      buildFrame(
        parts({
          greeter: 'stream',
          op: 0,
          random: joinRandom,
          data: '',
          hash: hashOf(SECRET, slow.frames[0]!.random),
        }),
      ),
    );
    expect(await slow.until(() => slow.frames.length === 2, 5_000)).toBe(true);
    expect(slow.frames[1]!.data.toString()).toBe('joined');
    slow.socket.pause();

    const reader = await connect({ secret: SECRET, port: server.port, requestTimeoutMs: 30_000 });
    onTestFinished(() => void reader.close());
    const received: number[] = [];
    const announcements: string[] = [];
    const done = new Promise<void>((resolve) => {
      reader.on('packet', (packet) => {
        if (packet.op === 1) {
          received.push(packet.data.readUInt32BE(0));
          // The reader paces the stream, so it never lags far behind however loaded the machine is.
          if (received.length % STREAM_ACK_EVERY === 0)
            void reader.send('stream', String(received.length), { op: 4 });
        } else if (packet.op === 2) announcements.push(packet.text());
        else if (packet.op === 3) resolve();
      });
    });
    expect((await reader.request('stream', '', { op: 0 })).text()).toBe('joined');

    const before = (await server.memory()).usage;
    const baseline = before.rss;
    let peak = baseline;
    let peakBuffers = before.arrayBuffers;
    const sample = async (): Promise<void> => {
      const { usage } = await server.memory();
      peak = Math.max(peak, usage.rss);
      peakBuffers = Math.max(peakBuffers, usage.arrayBuffers);
    };
    await reader.send('stream', `${STREAM_PACKETS} ${STREAM_PACKET_BYTES} ${STREAM_WINDOW}`, { op: 1 });
    let streaming = true;
    void done.then(() => (streaming = false));
    const deadline = Date.now() + 60_000;
    while (streaming && server.isAlive() && Date.now() < deadline) {
      await sample();
      await sleep(50);
    }
    expect(server.isAlive(), 'the server process exited while streaming').toBe(true);
    expect(streaming ? 'still streaming after 60 s' : 'done').toBe('done');
    await sample();
    const growth = peak - baseline;
    const bufferGrowth = peakBuffers - before.arrayBuffers;
    console.log(
      `slow reader: ${STREAM_PACKETS} broadcasts of ${STREAM_PACKET_BYTES / 1024} KiB; server RSS ` +
        `${mib(baseline)} MiB before, peak ${mib(peak)} MiB (growth ${mib(growth)} MiB, bound ${mib(RSS_GROWTH_BOUND)} MiB); ` +
        `live buffers grew ${mib(bufferGrowth)} MiB at most (bound ${mib(BUFFER_GROWTH_BOUND)} MiB)`,
    );

    // Every packet reached the reading client, in order; the slow one was closed once, and its onLeave ran.
    expect(received).toEqual(Array.from({ length: STREAM_PACKETS }, (_, i) => i));
    const slowReaderLogs = server.logs.filter((r) => r.code === 'NEKO_ERR_SESSION_SLOW_READER');
    expect(slowReaderLogs).toHaveLength(1);
    expect(slowReaderLogs[0]!.message).toContain('closed without a status');
    expect(announcements).toEqual([`left ${slowReaderLogs[0]!.session}`]);
    expect(await connectionsSettleTo(server, 1)).toBe(1);
    // What the server held for the slow reader stayed near the cap, far below the 100 MiB it was sent.
    expect(bufferGrowth).toBeLessThanOrEqual(BUFFER_GROWTH_BOUND);
    expect(growth).toBeLessThanOrEqual(RSS_GROWTH_BOUND);
    // Reading again, it finds what its socket buffers held, then the end: no closing status.
    slow.socket.resume();
    expect(await slow.until(() => slow.closed, 10_000)).toBe(true);
    expect(slow.frames.filter((f) => f.greeter.toString() === 'nekoconnect-server')).toHaveLength(1);
    console.log(
      `slow reader: it got ${slow.frames.length - 2} of ${STREAM_PACKETS} pushes before it was cut`,
    );
    expect(slow.frames.length - 2).toBeLessThan(STREAM_PACKETS);
    expect(server.logs.filter((r) => r.level === 'error')).toEqual([]);
  });
});

describe('TLS handshakes that stall', () => {
  it('closes connections that never start TLS, or stall halfway, at the handshake timeout; shutdown cuts them at once', async () => {
    const certificate = await makeCertificate();
    const hello = await clientHello();
    const server = await startServerProcess({
      secret: SECRET,
      plugins: path.join(EXAMPLE_PLUGINS, 'echo'),
      limits: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
      tls: certificate,
    });
    const tlsOptions = { ca: certificate.cert, servername: 'localhost' };
    const client = await connect({
      secret: SECRET,
      port: server.port,
      tls: tlsOptions,
      requestTimeoutMs: 10_000,
    });
    onTestFinished(() => void client.close());

    const tracker = new SocketTracker();
    /** Opens `count` stalled connections, half silent, half stopped after their ClientHello. */
    const openStalled = async (count: number): Promise<StalledTls[]> => {
      const out: StalledTls[] = [];
      for (let i = 0; i < count; i++) {
        const peer = await FramePeer.connect(server.port, tracker);
        const halfway = i % 2 === 1;
        if (halfway) peer.write(hello);
        out.push({ peer, halfway, connectedAt: Date.now(), closedAt: null });
        if (i % 20 === 19) await sleep(20);
      }
      for (const s of out)
        void s.peer.until(() => s.peer.closed, 60_000).then(() => (s.closedAt = Date.now()));
      return out;
    };

    const stalled = await openStalled(TLS_STALLED);
    // The legitimate client keeps talking meanwhile.
    let echoes = 0;
    while (stalled.some((s) => s.closedAt === null) && echoes < 100_000) {
      const reply = await client.request('echo', `m${echoes}`);
      expect(reply.text()).toBe(`m${echoes}`);
      echoes++;
      if (Date.now() - stalled[0]!.connectedAt > HANDSHAKE_TIMEOUT_MS + LATE_MS + 5_000) break;
      await sleep(2);
    }
    const problems: string[] = [];
    for (const [i, s] of stalled.entries()) {
      if (s.closedAt === null) {
        problems.push(`stalled connection ${i} (${s.halfway ? 'halfway' : 'silent'}) still open`);
        continue;
      }
      const after = s.closedAt - s.connectedAt;
      if (after < HANDSHAKE_TIMEOUT_MS - EARLY_MS || after > HANDSHAKE_TIMEOUT_MS + LATE_MS) {
        problems.push(`stalled connection ${i} closed ${after} ms after connecting`);
      }
      if (s.halfway && s.peer.bytesReceived === 0)
        problems.push(`stalled connection ${i} got no ServerHello`);
    }
    expect(problems.slice(0, 20)).toEqual([]);
    const tlsTimeouts = server.logs.filter(
      (r) => r.code === 'NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT' && r.message.includes('TLS handshake not done'),
    );
    expect(tlsTimeouts).toHaveLength(TLS_STALLED);
    expect(client.connected).toBe(true);

    // At shutdown, connections still in their TLS handshake do not hold the server.
    const more = await openStalled(TLS_STALLED);
    const closing = await server.close();
    console.log(
      `TLS stalls: ${TLS_STALLED} connections closed at the ${HANDSHAKE_TIMEOUT_MS} ms handshake timeout ` +
        `while the client made ${echoes} round trips; shutdown with ${TLS_STALLED} more took ${closing.closeMs.toFixed(0)} ms`,
    );
    expect(closing.code).toBe(0);
    expect(closing.closeMs).toBeLessThan(SHUTDOWN_BOUND_MS);
    expect(await Promise.all(more.map((s) => s.peer.until(() => s.peer.closed, 5_000)))).not.toContain(false);
  });
});

interface StalledTls {
  peer: FramePeer;
  halfway: boolean;
  connectedAt: number;
  closedAt: number | null;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

function fmt(ms: number): string {
  return ms.toFixed(2);
}

/** Log lines of the server for a handshake timeout (status 408). */
function timeoutLogs(server: ServerProcess): number {
  return server.logs.filter(
    (r) => r.code === 'NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT' && /closed with 408 /.test(r.message),
  ).length;
}

/** Polls the server's connection count until it is `n` (at most 10 s); returns the last count. */
async function connectionsSettleTo(server: ServerProcess, n: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  let connections = (await server.memory()).connections;
  while (connections !== n && Date.now() < deadline) {
    await sleep(100);
    connections = (await server.memory()).connections;
  }
  return connections;
}

interface SlowPeers {
  readonly done: boolean;
  finished: Promise<{ results: PeerResult[]; openedAt: number; openMs: number }>;
}

/** Starts PEERS slow peers in a worker thread (support/slow-peers-worker.mjs). */
function startSlowPeers(port: number): SlowPeers {
  const startedAt = performance.timeOrigin + performance.now();
  // The bytes they send (all of them, half of them, or a byte at a time) are a valid auth packet's.
  const random = Buffer.from('slow-peer-random-00001');
  const worker = new Worker(new URL('./support/slow-peers-worker.mjs', import.meta.url), {
    workerData: {
      port,
      count: PEERS,
      authFrame: buildFrame(authParts(SECRET, random)),
      dribbleMinMs: 200,
      dribbleMaxMs: 400,
      deadlineMs: HANDSHAKE_TIMEOUT_MS + LATE_MS + 15_000,
      batch: OPEN_BATCH,
      batchGapMs: OPEN_GAP_MS,
    },
  });
  onTestFinished(() => {
    worker.postMessage({ type: 'abort' });
    void worker.terminate();
  });
  let done = false;
  let openedAt = 0;
  const finished = new Promise<{ results: PeerResult[]; openedAt: number; openMs: number }>(
    (resolve, reject) => {
      worker.on(
        'message',
        (message: { type: string; at?: number; connectErrors?: number; results?: PeerResult[] }) => {
          if (message.type === 'opened') {
            openedAt = message.at!;
            if (message.connectErrors)
              reject(new Error(`${message.connectErrors} slow peers could not connect`));
          } else if (message.type === 'done') {
            done = true;
            resolve({ results: message.results!, openedAt, openMs: openedAt - startedAt });
          }
        },
      );
      worker.on('error', (err) => {
        done = true;
        reject(err);
      });
      worker.on('exit', (code) => {
        done = true;
        reject(new Error(`the slow-peers worker exited (code ${code}) before reporting`));
      });
    },
  );
  const state: SlowPeers = {
    get done() {
      return done;
    },
    finished,
  };
  return state;
}

/** Every peer: connected, then closed by the server after about the handshake timeout, with exactly one 408. */
function checkPeers(results: PeerResult[]): void {
  expect(results).toHaveLength(PEERS);
  const problems: string[] = [];
  const byKind = new Map<string, number>();
  for (const r of results) {
    byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
    const say = (problem: string): void => {
      if (problems.length < 20) problems.push(`peer ${r.index} (${r.kind}): ${problem}`);
    };
    if (r.connectedAt === null) {
      say(`could not connect (${r.error})`);
      continue;
    }
    if (r.closedAt === null) {
      say('still open at the deadline: the server never closed it');
      continue;
    }
    const reader = new FrameReader();
    const frames = reader.push(Buffer.from(r.received));
    if (reader.error || reader.buffered > 0 || frames.length !== 1) {
      say(`expected one frame (status 408), got ${frames.length} frame(s) in ${r.received.length} bytes`);
      continue;
    }
    const problem = checkClosingStatus(frames[0]!, 408);
    if (problem) say(problem);
    const after = r.closedAt - r.connectedAt;
    if (after < HANDSHAKE_TIMEOUT_MS - EARLY_MS || after > HANDSHAKE_TIMEOUT_MS + LATE_MS) {
      say(
        `closed ${after.toFixed(0)} ms after connecting; the handshake timeout is ${HANDSHAKE_TIMEOUT_MS} ms`,
      );
    }
    // A dribbler sends a byte every 200-400 ms: several before the timeout, which they must not push back.
    if (r.kind === 'dribble' && r.sent < 3) say(`the dribbler sent only ${r.sent} bytes (a bug in the test)`);
  }
  expect(problems).toEqual([]);
  expect(Object.fromEntries(byKind)).toEqual({ silent: 334, half: 333, dribble: 333 });
}
