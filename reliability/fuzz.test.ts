// Fuzzing over real TCP: at least 100,000 hostile frames (random, mutated and
// wrong) against a server in its own process, one per connection (the first
// bad frame ends a connection), while a legitimate client on its own
// connection keeps getting correct echo replies. Valid handshakes and packets
// go between them and are counted apart: a hostile frame is one the protocol
// refuses with a closing status, or one left unfinished.
//
// Every connection's outcome is predicted from docs/protocol.md by the model in
// support/peers.ts (never by the server's own codec): a normal answer for each
// frame that is valid, the documented closing status (400 auth, 413 too large,
// 422 malformed; hash `server`) and a closed socket for the first bad one, or,
// for an unfinished frame, silence until the peer closes its side.
//
// The run is seeded: the seed is printed, and NEKO_FUZZ_SEED=<seed> replays
// the same frames (server randoms differ from run to run; the frames built
// from them are chosen the same way).
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from 'nekoconnect/client';
import { EXAMPLE_PLUGINS, startServerProcess } from './support/server-process.js';
import {
  FramePeer,
  Prng,
  SERVER_GREETER,
  SessionModel,
  SocketTracker,
  authParts,
  buildFrame,
  checkAnswer,
  checkClosingStatus,
  deriveSeed,
  describeFrame,
  hashOf,
  mutate,
  parts,
  randomBlob,
  seedFromEnv,
  sleep,
  type FrameParts,
  type Mutation,
  type Prediction,
} from './support/peers.js';

const SECRET = 'fuzz-secret-ねこ';
/** A smaller packet limit than the default, so that frames at and just above it are cheap. */
const MAX_PACKET = 64 * 1024;
/** Hostile frames to send: each refused with its closing status, or left unfinished. */
const TARGET_HOSTILE = 100_000;
const CONCURRENCY = 50;
/** How long a peer waits for an answer or for the server to close. */
const STEP_TIMEOUT_MS = 10_000;
/** The fuzzing stops (and the test fails) if the target is not reached by then. */
const FUZZ_DEADLINE_MS = 140_000;
const ECHO = 'echo';

type ConnectionKind = 'random' | 'preauth-mutated' | 'preauth-wrong' | 'authed';

interface Failure {
  connection: number;
  kind: ConnectionKind;
  steps: string[];
  problem: string;
  /** The last bytes written, in hex (at most 160 bytes). */
  lastWrite: string;
}

interface Counters {
  connections: number;
  /** Every frame written, valid or not (a hostile write may hold valid frames too). */
  framesWritten: number;
  /**
   * Hostile frames (random, mutated, wrong) the server met: each refused with its closing status,
   * or left unfinished until the peer closed its side. At most one per connection: the first ends it.
   */
  hostile: number;
  /** Valid frames the server accepted (the model says which), in valid steps and in hostile writes alike. */
  accepted: Record<'handshakes' | 'packets', number>;
  /** Hostile writes that a mutation left valid (such as op `0007`): accepted whole, so not counted as hostile. */
  hostileWritesAccepted: number;
  byKind: Record<ConnectionKind, number>;
  /** Closing statuses received, as predicted. */
  closing: Record<number, number>;
  answers: Record<'auth-ok' | 'echo' | 'not-found', number>;
  /** Steps that left a frame unfinished (the peer then closed its side). */
  unfinished: number;
  cleanEnds: number;
  resets: number;
  mutations: Map<string, number>;
}

describe('fuzzing a live server over TCP', () => {
  it('survives 100,000+ hostile frames (random, mutated, wrong), each refused with its documented status or left unfinished; every connection gets the documented outcome; a legitimate client is never disturbed', async () => {
    const { seed, fromEnv } = seedFromEnv('NEKO_FUZZ_SEED');
    console.log(
      `fuzz seed: ${seed}${fromEnv ? ' (from NEKO_FUZZ_SEED)' : ''}; replay with NEKO_FUZZ_SEED=${seed}`,
    );

    const server = await startServerProcess({
      secret: SECRET,
      plugins: path.join(EXAMPLE_PLUGINS, 'echo'),
      limits: { maxPacketBytes: MAX_PACKET },
    });
    const tracker = new SocketTracker();
    const started = Date.now();

    // --- the legitimate client, on its own connection, all along ---
    const client = await connect({ secret: SECRET, port: server.port, requestTimeoutMs: STEP_TIMEOUT_MS });
    onTestFinished(() => void client.close());
    const legit = { requests: 0, problems: [] as string[], maxMs: 0 };
    client.on('close', (info) =>
      legit.problems.push(`the legitimate client was closed: ${JSON.stringify(info)}`),
    );
    client.on('packet', (p) =>
      legit.problems.push(`unexpected packet to the legitimate client: ${p.greeter}`),
    );
    let fuzzing = true;
    const legitLoop = (async () => {
      const prng = new Prng(deriveSeed(seed, 0x7fff_ffff));
      while (fuzzing && legit.problems.length < 10) {
        const n = legit.requests++;
        const op = prng.int(100_000);
        const data = prng.chance(0.5)
          ? `legit #${n} ${prng.printable(prng.range(0, 40)).toString('latin1')}`
          : prng.bytes(prng.range(0, 2000));
        const t0 = performance.now();
        try {
          const reply = await client.request(ECHO, data, { op });
          legit.maxMs = Math.max(legit.maxMs, performance.now() - t0);
          const want = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
          if (
            reply.greeter !== ECHO ||
            reply.op !== op ||
            reply.status !== undefined ||
            !reply.data.equals(want)
          ) {
            legit.problems.push(
              `request #${n}: wrong reply ${reply.greeter} op ${reply.op} (${reply.len} bytes)`,
            );
          }
        } catch (err) {
          legit.problems.push(`request #${n} failed: ${(err as Error).message}`);
        }
        await sleep(2);
      }
    })();

    // --- the fuzzing connections ---
    const counters: Counters = {
      connections: 0,
      framesWritten: 0,
      hostile: 0,
      accepted: { handshakes: 0, packets: 0 },
      hostileWritesAccepted: 0,
      byKind: { random: 0, 'preauth-mutated': 0, 'preauth-wrong': 0, authed: 0 },
      closing: {},
      answers: { 'auth-ok': 0, echo: 0, 'not-found': 0 },
      unfinished: 0,
      cleanEnds: 0,
      resets: 0,
      mutations: new Map(),
    };
    const failures: Failure[] = [];
    let nextConnection = 0;

    const runConnection = async (index: number): Promise<void> => {
      const prng = new Prng(deriveSeed(seed, index));
      const kind = prng.weighted<ConnectionKind>([
        [15, 'random'],
        [25, 'preauth-mutated'],
        [12, 'preauth-wrong'],
        [48, 'authed'],
      ]);
      counters.byKind[kind]++;
      counters.connections++;
      const steps: string[] = [];
      let lastWrite: Buffer = Buffer.alloc(0);
      const fail = (problem: string): void => {
        failures.push({
          connection: index,
          kind,
          steps,
          problem,
          lastWrite: lastWrite.subarray(0, 160).toString('hex'),
        });
      };
      const model = new SessionModel({ secret: SECRET, maxPacketBytes: MAX_PACKET, echoGreeter: ECHO });
      let peer: FramePeer;
      try {
        peer = await FramePeer.connect(server.port, tracker);
      } catch (err) {
        fail(`connect failed: ${(err as Error).message}`);
        return;
      }
      try {
        // Most authenticated connections send a few valid packets before their attack, some a longer chain
        // (for stale and replayed hashes): every hostile frame costs a connection, valid packets come on top.
        const maxValidSteps =
          kind === 'authed' ? (prng.chance(0.8) ? prng.range(0, 2) : prng.range(3, 14)) : prng.range(0, 3);
        let validSteps = 0;
        let previousWrite: Buffer | undefined;
        for (;;) {
          let step: Mutation | undefined;
          if (model.state === 'handshake') {
            step = steps.length === 0 ? firstStep(prng, kind) : validAuth(prng);
          } else if (validSteps < maxValidSteps && prng.chance(0.85)) {
            validSteps++;
            step = { bytes: buildFrame(validFrame(prng, model.newest!)), frames: 1, name: 'valid' };
          } else {
            step = attack(prng, model, previousWrite);
          }
          if (!step) {
            // A clean end: the peer closes its side; the server closes without a word.
            steps.push('end');
            model.finish();
            peer.end();
            if (!(await peer.until(() => peer.closed, STEP_TIMEOUT_MS))) {
              return fail('the server did not close after the peer did');
            }
            const extra = peer.frames.slice(peer.consumed);
            if (extra.length > 0)
              return fail(`unexpected frames at the end: ${extra.map(describeFrame).join(', ')}`);
            counters.cleanEnds++;
            return;
          }
          steps.push(step.name);
          counters.mutations.set(step.name, (counters.mutations.get(step.name) ?? 0) + 1);
          const prediction = model.feed(step.bytes);
          lastWrite = step.bytes;
          previousWrite = step.bytes;
          if ((step.name === 'auth' || step.name === 'valid') && prediction.terminal.kind !== 'open') {
            return fail(`a valid ${step.name} step was predicted to end the connection (a bug in the test)`);
          }
          peer.write(step.bytes);
          counters.framesWritten += step.frames;
          for (const answer of prediction.answers) {
            counters.accepted[answer.kind === 'auth-ok' ? 'handshakes' : 'packets']++;
          }
          if (step.name !== 'auth' && step.name !== 'valid' && prediction.terminal.kind === 'open') {
            counters.hostileWritesAccepted++;
          }
          const problem = await settle(peer, model, prediction, counters);
          if (problem) return fail(problem);
          if (model.state === 'closed') return;
          if (steps.length > 40) return fail('the plan did not end (a bug in the test)');
        }
      } finally {
        peer.destroy();
      }
    };

    const deadline = started + FUZZ_DEADLINE_MS;
    const worker = async (): Promise<void> => {
      while (counters.hostile < TARGET_HOSTILE && Date.now() < deadline && failures.length < 50) {
        if (!server.isAlive()) return;
        await runConnection(nextConnection++);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    const fuzzSeconds = (Date.now() - started) / 1000;
    fuzzing = false;
    await legitLoop;

    // A few more legitimate requests after the storm.
    for (let i = 0; i < 20; i++) {
      const reply = await client.request(ECHO, `after #${i}`, { op: i });
      expect([reply.greeter, reply.op, reply.text()]).toEqual([ECHO, i, `after #${i}`]);
    }

    const mutations = [...counters.mutations.entries()].sort((a, b) => b[1] - a[1]);
    console.log(
      [
        `fuzz: ${counters.hostile} hostile frames on ${counters.connections} connections in ${fuzzSeconds.toFixed(1)} s ` +
          `(${Math.round(counters.hostile / fuzzSeconds)} hostile frames/s, ${Math.round(counters.connections / fuzzSeconds)} connections/s)`,
        `  hostile (random/mutated/wrong): ${counters.hostile}, refused with a closing status or left unfinished; ` +
          `valid, accepted: ${counters.accepted.packets} packets with fuzzed greeter/op/random/data and ` +
          `${counters.accepted.handshakes} handshakes; ${counters.framesWritten} frames written in all; ` +
          `${counters.hostileWritesAccepted} hostile writes that a mutation left valid`,
        `  connections by kind: ${JSON.stringify(counters.byKind)}`,
        `  closing statuses: ${JSON.stringify(counters.closing)}; answers: ${JSON.stringify(counters.answers)}`,
        `  unfinished frames: ${counters.unfinished}; clean ends: ${counters.cleanEnds}; resets seen: ${counters.resets}`,
        `  legitimate client: ${legit.requests} echo requests, slowest ${legit.maxMs.toFixed(1)} ms`,
        `  steps: ${mutations.length} kinds; most used: ${mutations
          .slice(0, 12)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      ].join('\n'),
    );

    // The server never went down.
    expect(server.isAlive()).toBe(true);
    // Every connection got what protocol.md says.
    if (failures.length > 0) {
      console.log(`fuzz failures (seed ${seed}):\n${JSON.stringify(failures.slice(0, 10), null, 2)}`);
    }
    expect(failures, `seed ${seed}`).toEqual([]);
    // The hostile frames alone reach the target: each was refused with the status predicted (the server's log
    // is checked against them below) or left unfinished, as predicted.
    expect(counters.hostile).toBeGreaterThanOrEqual(TARGET_HOSTILE);
    // The fuzzer reached every outcome, many times (it could not pass by testing nothing).
    expect(counters.closing[400] ?? 0).toBeGreaterThan(20_000);
    expect(counters.closing[413] ?? 0).toBeGreaterThan(5_000);
    expect(counters.closing[422] ?? 0).toBeGreaterThan(15_000);
    expect(counters.answers.echo).toBeGreaterThan(20_000);
    expect(counters.answers['not-found']).toBeGreaterThan(5_000);
    expect(counters.answers['auth-ok']).toBeGreaterThan(20_000);
    expect(counters.unfinished).toBeGreaterThan(3_000);
    // The legitimate client was served correctly all along.
    expect(legit.problems).toEqual([]);
    expect(legit.requests).toBeGreaterThan(100);
    expect(client.connected).toBe(true);

    // The server logged each closing status it sent, for the reason predicted, and nothing at error level.
    const closeLogs = (): Record<number, number> => {
      const byStatus: Record<number, number> = {};
      for (const record of server.logs) {
        const match = /closed with (\d{3}) /.exec(record.message);
        if (match) byStatus[Number(match[1])] = (byStatus[Number(match[1])] ?? 0) + 1;
      }
      return byStatus;
    };
    const logDeadline = Date.now() + 10_000;
    while (JSON.stringify(closeLogs()) !== JSON.stringify(counters.closing) && Date.now() < logDeadline) {
      await sleep(100);
    }
    expect(closeLogs()).toEqual(counters.closing);
    expect(server.logs.filter((r) => r.level === 'error')).toEqual([]);

    // Every fuzzing connection is gone on the server too: only the legitimate client is left.
    tracker.destroyAll();
    const connectionsDeadline = Date.now() + 10_000;
    let connections = (await server.memory()).connections;
    while (connections !== 1 && Date.now() < connectionsDeadline) {
      await sleep(200);
      connections = (await server.memory()).connections;
    }
    expect(connections).toBe(1);
    await client.close();
    expect(server.isAlive()).toBe(true);
  });
});

/**
 * Waits for what the model predicted after a write and checks it; returns
 * what went wrong, or undefined.
 */
async function settle(
  peer: FramePeer,
  model: SessionModel,
  prediction: Prediction,
  counters: Counters,
): Promise<string | undefined> {
  const start = peer.consumed;
  const { answers, terminal } = prediction;
  if (terminal.kind === 'open') {
    const arrived = await peer.until(
      () => peer.frames.length - start >= answers.length || peer.closed,
      STEP_TIMEOUT_MS,
    );
    const got = peer.frames.slice(start, start + answers.length);
    if (got.length < answers.length) {
      return `expected ${answers.length} answer(s), got ${got.length} and the connection ${
        peer.closed ? 'closed' : arrived ? 'stayed open' : `stayed silent for ${STEP_TIMEOUT_MS} ms`
      }${got.length > 0 ? `: ${got.map(describeFrame).join(', ')}` : ''}`;
    }
    for (let i = 0; i < answers.length; i++) {
      const problem = checkAnswer(SECRET, got[i]!, answers[i]!);
      if (problem) return `answer ${i + 1}: ${problem} (got ${describeFrame(got[i]!)})`;
      model.received(got[i]!.random);
      counters.answers[answers[i]!.kind]++;
    }
    peer.consumed += answers.length;
    return peer.reader.error ? `the server sent a bad frame: ${peer.reader.error}` : undefined;
  }

  if (terminal.kind === 'incomplete') {
    // The server waits for the rest of the frame; the peer gives up and closes its side.
    counters.unfinished++;
    counters.hostile++;
    model.finish();
    peer.end();
  }
  if (!(await peer.until(() => peer.closed, STEP_TIMEOUT_MS))) {
    const got = peer.frames.slice(start).map(describeFrame);
    return terminal.kind === 'close'
      ? `expected status ${terminal.status} (${terminal.reason}) and a close; still open after ${STEP_TIMEOUT_MS} ms, got [${got.join(', ')}]`
      : `the server did not close after the peer did (got [${got.join(', ')}])`;
  }
  if (peer.error) counters.resets++;
  if (peer.reader.error) return `the server sent a bad frame: ${peer.reader.error}`;
  if (peer.reader.buffered > 0) return `the server sent ${peer.reader.buffered} bytes of an unfinished frame`;
  const got = peer.frames.slice(start);
  let normal = got;
  if (terminal.kind === 'close') {
    const last = got.at(-1);
    if (!last)
      return `expected status ${terminal.status} (${terminal.reason}); the server closed without one`;
    const problem = checkClosingStatus(last, terminal.status, terminal.hash);
    if (problem) return `${problem} (${terminal.reason}); frames: ${got.map(describeFrame).join(', ')}`;
    counters.closing[terminal.status] = (counters.closing[terminal.status] ?? 0) + 1;
    counters.hostile++;
    normal = got.slice(0, -1);
  }
  // Answers to the frames accepted before the end: in order, all the required ones, none unexpected.
  if (normal.length > answers.length) {
    return `unexpected frames before the end: ${normal.map(describeFrame).join(', ')}`;
  }
  const required = answers.filter((a) => a.required).length;
  if (normal.length < required) return `expected ${required} answer(s) before the end, got ${normal.length}`;
  for (let i = 0; i < normal.length; i++) {
    const problem = checkAnswer(SECRET, normal[i]!, answers[i]!);
    if (problem) return `answer ${i + 1}: ${problem} (got ${describeFrame(normal[i]!)})`;
    counters.answers[answers[i]!.kind]++;
  }
  peer.consumed = peer.frames.length;
  return undefined;
}

// --- what the fuzzing peers write ---

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function clientRandom(prng: Prng): Buffer {
  return prng.weighted<() => Buffer>([
    [70, () => Buffer.from(Array.from({ length: 22 }, () => ALNUM[prng.int(64)]).join(''), 'latin1')],
    [20, () => prng.printable(prng.range(1, 64))],
    [10, () => prng.printable(prng.range(200, 255))],
  ])();
}

/** A valid auth packet, sometimes with an odd but valid op (`0200`) or a very short or long random. */
function validAuth(prng: Prng): Mutation {
  const op = prng.chance(0.1) ? prng.pick(['0200', '0000000200']) : '200';
  return { bytes: buildFrame(authParts(SECRET, clientRandom(prng), op)), frames: 1, name: 'auth' };
}

function randomGreeter(prng: Prng): Buffer {
  for (;;) {
    const g = prng.printable(prng.chance(0.8) ? prng.range(1, 12) : prng.range(13, 255));
    if (g.toString('latin1') !== ECHO) return g;
  }
}

/** A valid packet after the handshake, chained to `newest`, with fuzzed greeter, op, random and data. */
function validFrame(prng: Prng, newest: Buffer): FrameParts {
  const greeter = prng.weighted<() => Buffer | string>([
    [70, () => ECHO],
    [20, () => randomGreeter(prng)],
    [5, () => 'auth'],
    [5, () => SERVER_GREETER],
  ])();
  const op = prng.weighted<() => string>([
    [55, () => String(prng.range(0, 20))],
    [20, () => String(prng.next())],
    [10, () => String(prng.range(0, 99_999)).padStart(prng.range(1, 10), '0')],
    [10, () => prng.pick(['0', '4294967295', '0000000000', '4294967294'])],
    [5, () => String(prng.range(0, 9))],
  ])();
  const random = clientRandom(prng);
  const hash = hashOf(SECRET, newest);
  const fixed = 12 + Buffer.byteLength(greeter, 'latin1') + op.length + random.length + hash.length;
  const data = prng.weighted<() => Buffer>([
    [10, () => Buffer.alloc(0)],
    [45, () => (prng.chance(0.5) ? prng.printable(prng.range(1, 64)) : prng.bytes(prng.range(1, 64)))],
    [35, () => prng.bytes(prng.range(65, 4000))],
    // A data field holding frames and statuses: the server must not read into it.
    [
      8,
      () =>
        Buffer.concat([
          buildFrame(authParts(SECRET, clientRandom(prng))),
          buildFrame(parts({ greeter: SERVER_GREETER, op: 400, random: 'x', data: '400', hash: 'server' })),
        ]),
    ],
    // Exactly the packet limit, or close to it.
    [1, () => prng.bytes(MAX_PACKET - fixed - (prng.chance(0.5) ? 0 : prng.range(1, 100)))],
  ])();
  return parts({ greeter, op, random, data, hash });
}

/** The first write of a connection that has not authenticated. */
function firstStep(prng: Prng, kind: ConnectionKind): Mutation {
  switch (kind) {
    case 'random':
      return randomBlob(prng);
    case 'preauth-mutated': {
      const base = prng.chance(0.75)
        ? authParts(SECRET, clientRandom(prng))
        : parts({
            greeter: ECHO,
            op: prng.range(0, 9),
            random: clientRandom(prng),
            data: prng.bytes(prng.range(0, 40)),
            hash: hashOf(SECRET, clientRandom(prng)),
          });
      return mutate(prng, base, MAX_PACKET);
    }
    case 'preauth-wrong':
      return wrongFirstPacket(prng);
    case 'authed':
      return validAuth(prng);
  }
}

/** Well-formed first packets that are not a valid auth packet (status 400), and a few that pipeline. */
function wrongFirstPacket(prng: Prng): Mutation {
  const random = clientRandom(prng);
  const good = hashOf(SECRET, random);
  const auth = (
    fields: Partial<Record<keyof FrameParts, string | Buffer | number>>,
    name: string,
  ): Mutation => ({
    bytes: buildFrame(parts({ greeter: 'auth', op: 200, random, data: '200', hash: good, ...fields })),
    frames: 1,
    name,
  });
  const choice = prng.int(16);
  switch (choice) {
    case 0:
      return auth({ hash: prng.bytes(32).toString('hex') }, 'auth-random-hash');
    case 1:
      return auth({ hash: hashOf('not-the-secret', random) }, 'auth-wrong-secret');
    case 2:
      return auth({ hash: 'server' }, 'auth-hash-server');
    case 3:
      return auth({ hash: good.toString('latin1').toUpperCase() }, 'auth-uppercase-hash');
    case 4:
      return auth({ hash: hashOf(SECRET, clientRandom(prng)) }, 'auth-hash-of-other-random');
    case 5:
      return auth({ hash: good.subarray(0, prng.range(1, 63)) }, 'auth-short-hash');
    case 6:
      return auth({ hash: Buffer.concat([good, Buffer.from('0')]) }, 'auth-long-hash');
    case 7:
      return auth({ op: prng.pick([201, 0, 100, 2000, 20]) }, 'auth-wrong-op');
    case 8:
      return auth({ data: prng.pick(['', '201', '200 ', '0200', 'ok', '２００']) }, 'auth-wrong-data');
    case 9:
      return auth(
        { greeter: prng.pick(['Auth', 'AUTH', 'auth2', 'aut', ECHO, SERVER_GREETER]) },
        'auth-wrong-greeter',
      );
    case 10:
      return {
        bytes: buildFrame(parts({ greeter: ECHO, op: 3, random, data: 'meow', hash: good })),
        frames: 1,
        name: 'echo-before-auth',
      };
    case 11:
      return {
        bytes: buildFrame(parts({ greeter: SERVER_GREETER, op: 200, random, data: '200', hash: 'server' })),
        frames: 1,
        name: 'server-status-as-first',
      };
    case 12: {
      // A valid auth and, in the same write, a packet chained to a server random the peer cannot know yet.
      const second = buildFrame(
        parts({ greeter: ECHO, op: 1, random: clientRandom(prng), data: 'early', hash: good }),
      );
      return {
        bytes: Buffer.concat([buildFrame(authParts(SECRET, random)), second]),
        frames: 2,
        name: 'auth-then-early-packet',
      };
    }
    case 13: {
      const again = buildFrame(authParts(SECRET, clientRandom(prng)));
      return {
        bytes: Buffer.concat([buildFrame(authParts(SECRET, random)), again]),
        frames: 2,
        name: 'auth-twice',
      };
    }
    case 14:
      // Larger than any auth packet can be, within the packet limit: 400 from the header alone.
      return auth({ data: prng.bytes(prng.range(600, 4000)) }, 'auth-too-big');
    default:
      return auth({ random: prng.printable(255), hash: prng.printable(255) }, 'auth-max-size-wrong');
  }
}

/**
 * A bad step after the handshake (or, for `undefined`, the peer just leaves):
 * a wrong, replayed or stale hash, a structural mutation, an oversize
 * packet_len, a duplicated or truncated frame…
 */
function attack(prng: Prng, model: SessionModel, previousWrite: Buffer | undefined): Mutation | undefined {
  const newest = model.newest!;
  const valid = (): FrameParts => validFrame(prng, newest);
  const withHash = (hash: Buffer | string, name: string): Mutation => ({
    bytes: buildFrame({ ...valid(), hash: Buffer.from(hash) }),
    frames: 1,
    name,
  });
  const choice = prng.weighted<string>([
    [34, 'mutate'],
    [6, 'random-hash'],
    [3, 'server-hash'],
    [3, 'flipped-hash'],
    [3, 'uppercase-hash'],
    [3, 'own-random-hash'],
    [8, 'replay'],
    [6, 'stale-hash'],
    [6, 'duplicate'],
    [6, 'oversize'],
    [6, 'truncate'],
    [4, 'garbage'],
    [6, 'leave'],
  ]);
  switch (choice) {
    case 'mutate':
      return mutate(prng, valid(), MAX_PACKET);
    case 'random-hash':
      return withHash(prng.bytes(32).toString('hex'), 'bad-hash');
    case 'server-hash':
      return withHash('server', 'hash-server');
    case 'flipped-hash': {
      const h = Buffer.from(hashOf(SECRET, newest));
      const i = prng.int(h.length);
      h[i] = h[i] === 0x30 ? 0x31 : 0x30;
      return withHash(h, 'hash-one-digit-off');
    }
    case 'uppercase-hash':
      return withHash(hashOf(SECRET, newest).toString('latin1').toUpperCase(), 'hash-uppercase');
    case 'own-random-hash': {
      // An oracle attempt: the hash of the packet's own random.
      const p = valid();
      return {
        bytes: buildFrame({ ...p, hash: hashOf(SECRET, p.random) }),
        frames: 1,
        name: 'hash-of-own-random',
      };
    }
    case 'replay':
      if (!previousWrite) return withHash(prng.bytes(32).toString('hex'), 'bad-hash');
      return { bytes: Buffer.from(previousWrite), frames: 1, name: 'replay-previous-write' };
    case 'stale-hash': {
      const old = model.spent.length > 0 ? prng.pick(model.spent) : undefined;
      if (!old) return withHash(prng.bytes(32).toString('hex'), 'bad-hash');
      return withHash(hashOf(SECRET, old), 'stale-hash');
    }
    case 'duplicate': {
      const frame = buildFrame(valid());
      return { bytes: Buffer.concat([frame, frame]), frames: 2, name: 'duplicate-valid' };
    }
    case 'oversize': {
      const frame = buildFrame(valid());
      frame.writeUInt32BE(prng.chance(0.5) ? MAX_PACKET + 1 : prng.range(MAX_PACKET + 1, 0xffff_ffff), 0);
      return { bytes: frame.subarray(0, prng.range(4, frame.length)), frames: 1, name: 'oversize' };
    }
    case 'truncate': {
      const frame = buildFrame(valid());
      return {
        bytes: frame.subarray(0, prng.range(1, frame.length - 1)),
        frames: 1,
        name: 'truncated-valid',
      };
    }
    case 'garbage':
      return randomBlob(prng);
    default:
      return undefined;
  }
}
