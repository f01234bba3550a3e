import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { Hasher } from '../../src/protocol/hash.js';
import { randomString } from '../../src/protocol/random.js';
import { createServer } from '../../src/server/server.js';
import type { ServerConnection } from '../../src/server/connection.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { makePluginsDir, specConf } from '../helpers/plugins.js';

const SECRET = 'neko';
const H = new Hasher(SECRET);
const WRONG = new Hasher('not-the-secret');

/** What a test step does, on which of the connections opened so far. */
type Step =
  | { kind: 'open'; valid: boolean }
  | { kind: 'play' | 'token' | 'unknownOp' | 'drop'; on: number; forged: boolean }
  | { kind: 'resume'; on: number; forged: boolean; token: number; garbage: boolean };

// Mostly the newest connections (\`on\` counts back from the newest), so that a
// join, a token, a drop and a resume on a new connection do line up.
const on = fc.nat({ max: 2 });
/** A forged hash now and then: it closes the connection, so not too often. */
const rarely = fc.oneof(
  { weight: 5, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('open' as const), valid: fc.boolean() }) },
  ...(['play', 'token', 'drop'] as const).map((kind) => ({
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant(kind), on, forged: rarely }),
  })),
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknownOp' as const), on, forged: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('resume' as const),
      on,
      forged: rarely,
      token: fc.nat(),
      garbage: rarely,
    }),
  },
);

/** Bits of the story that a resume needs, mixed with single random steps. */
const story = fc.constantFrom<Step[]>(
  [
    { kind: 'open', valid: true },
    { kind: 'play', on: 0, forged: false },
    { kind: 'token', on: 0, forged: false },
  ],
  [
    { kind: 'drop', on: 0, forged: false },
    { kind: 'open', valid: true },
    { kind: 'resume', on: 0, forged: false, token: 0, garbage: false },
  ],
);
const script: fc.Arbitrary<Step[]> = fc
  .array(fc.oneof({ weight: 1, arbitrary: story }, { weight: 2, arbitrary: step.map((s) => [s]) }), {
    minLength: 5,
    maxLength: 25,
  })
  .map((parts) => parts.flat());

/** One connection, seen from the client side of the test. */
interface Peer {
  readonly transport: FakeTransport;
  readonly connection: ServerConnection;
  /** Randoms of this connection's packets whose hash was right: the only ones the server may hash. */
  readonly verified: Set<string>;
  /** Packets sent after the handshake (a resume is allowed only as the first). */
  sent: number;
  /** The server randoms received, newest last. */
  readonly serverRandoms: string[];
  read: number;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('resume extension: security invariant (property)', () => {
  it('never hashes an unverified random, and resumes with a token at most once, whatever the sequence of connections, tokens, resumes and drops', async () => {
    const plugins = await makePluginsDir([
      {
        greeter: 'game',
        logic: `export class Logic { recv(ctx) { ctx.send('ok'); } }\n`,
        spec: `${specConf('Game', 'game')}$grace {"30"};\n`,
      },
    ]);
    let resumes = 0;
    await fc.assert(
      fc.asyncProperty(script, async (random) => {
        const steps: Step[] = [{ kind: 'open', valid: true }, ...random];
        const server = createServer({ secret: SECRET, port: 0, storage: { backend: 'memory' } });
        expect((await server.loadPlugins(plugins)).failed).toEqual([]);
        const peers: Peer[] = [];
        const tokens: string[] = [];
        const resumedWith = new Set<string>();

        /** Reads a peer's new frames, checking each hash; collects randoms and tokens. */
        const read = (peer: Peer): void => {
          for (const frame of peer.transport.frames.slice(peer.read)) {
            const hash = frame.hash.toString('latin1');
            if (hash === 'server') {
              expect([400, 408, 413, 422]).toContain(frame.op);
            } else {
              const hashed = [...peer.verified].filter((r) => H.hex(r) === hash);
              expect(hashed, `hash ${hash} is H of no verified random of this connection`).toHaveLength(1);
            }
            peer.serverRandoms.push(frame.random.toString('latin1'));
            const data = frame.data.toString('latin1');
            if (frame.greeter === 'nekoconnect-server' && frame.op === 201) tokens.push(data);
            if (frame.greeter === 'nekoconnect-server' && frame.op === 202 && data.startsWith('200 ')) {
              tokens.push(data.slice(4));
            }
          }
          peer.read = peer.transport.frames.length;
        };
        /** Sends a packet in the peer's chain (or with a forged hash); returns its random. */
        const send = (peer: Peer, greeter: string, op: number, data: string, forged: boolean): void => {
          const random = randomString().toString('latin1');
          const newest = peer.serverRandoms.at(-1) ?? 'none';
          const hash = forged ? WRONG.hex(newest) : H.hex(newest);
          if (!forged && peer.serverRandoms.length > 0) peer.verified.add(random);
          peer.sent++;
          peer.connection.receive(encodeFrame({ greeter, op, random, data, hash }));
        };

        for (const s of steps) {
          if (s.kind === 'open') {
            const transport = new FakeTransport();
            const connection = server.accept(transport);
            const peer: Peer = {
              transport,
              connection,
              verified: new Set(),
              sent: 0,
              serverRandoms: [],
              read: 0,
            };
            const rc0 = randomString().toString('latin1');
            if (s.valid) peer.verified.add(rc0);
            connection.receive(
              encodeFrame({
                greeter: 'auth',
                op: 200,
                random: rc0,
                data: '200',
                hash: (s.valid ? H : WRONG).hex(rc0),
              }),
            );
            peers.push(peer);
          } else {
            const open = peers.filter((p) => p.connection.state === 'open');
            // A resume goes mostly to a connection that has sent nothing yet (where it may work).
            const fresh = open.filter((p) => p.sent === 0);
            const among = s.kind === 'resume' && s.on < 2 && fresh.length > 0 ? fresh : open;
            const peer = among[among.length - 1 - (s.on % Math.max(1, among.length))];
            if (peer === undefined) continue;
            if (s.kind === 'play') send(peer, 'game', 1, 'move', s.forged);
            else if (s.kind === 'token') send(peer, 'auth', 201, '', s.forged);
            else if (s.kind === 'unknownOp') send(peer, 'auth', 250, '', s.forged);
            else if (s.kind === 'drop') peer.connection.transportClosed();
            else if (s.kind === 'resume') {
              // Mostly one of the newest tokens (older ones are used or voided).
              const token =
                s.garbage || tokens.length === 0
                  ? 'not-a-token-000000000'
                  : tokens[tokens.length - 1 - (s.token % Math.min(tokens.length, 3))]!;
              const first = peer.sent === 0;
              send(peer, 'auth', 202, token, s.forged);
              await tick();
              read(peer);
              const answer = peer.transport.frames.at(-1);
              if (!s.forged && answer?.op === 202 && answer.data.toString('latin1').startsWith('200 ')) {
                // A token resumes once, only as the first packet of a new connection.
                expect(first).toBe(true);
                expect(resumedWith.has(token)).toBe(false);
                resumedWith.add(token);
                resumes++;
              }
            }
          }
          await tick();
          for (const peer of peers) read(peer);
        }
        await server.close();
        for (const peer of peers) read(peer);
      }),
      {
        numRuns: 100,
        // The plain story first: join, token, drop, resume on a new connection.
        examples: [
          [
            [
              { kind: 'play', on: 0, forged: false },
              { kind: 'token', on: 0, forged: false },
              { kind: 'drop', on: 0, forged: false },
              { kind: 'open', valid: true },
              { kind: 'resume', on: 0, forged: false, token: 0, garbage: false },
              { kind: 'play', on: 0, forged: false },
              { kind: 'drop', on: 0, forged: false },
              { kind: 'open', valid: true },
              { kind: 'play', on: 0, forged: false },
              { kind: 'open', valid: true },
            ],
          ],
        ],
      },
    );
    // The sequences do reach the interesting case, beyond the example: sessions resumed.
    expect(resumes).toBeGreaterThan(10);
  });
});
