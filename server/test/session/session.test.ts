import fc from 'fast-check';
import { describe, it, expect, vi, onTestFinished } from 'vitest';
import type { NekoError } from '../../src/errors.js';
import { MAX_AUTH_FRAME_LENGTH } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { Frame, FrameFields } from '../../src/protocol/frame.js';
import { Hasher } from '../../src/protocol/hash.js';
import { randomString } from '../../src/protocol/random.js';
import { Session, type CloseReason, type SessionLimits } from '../../src/session/session.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { plain, rawFrame, type PlainFrame } from '../helpers/frames.js';

const SECRET = 'session-secret';
const H = new Hasher(SECRET);
const WRONG = new Hasher('not-the-secret');

const LIMITS: SessionLimits = {
  maxPacketBytes: 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 0,
  nonceWindow: 64,
  maxPendingBytes: 4 * 1024 * 1024,
};

interface Harness {
  session: Session;
  transport: FakeTransport;
  packets: PlainFrame[];
  closes: CloseReason[];
  authenticated: number;
}

function makeSession(
  limits: Partial<SessionLimits> = {},
  onPacket?: (frame: Frame, h: Harness) => void,
): Harness {
  const transport = new FakeTransport();
  const h: Harness = {
    session: undefined as unknown as Session,
    transport,
    packets: [],
    closes: [],
    authenticated: 0,
  };
  h.session = new Session(
    's-7',
    transport,
    H,
    { ...LIMITS, ...limits },
    {
      onPacket: (frame) => {
        h.packets.push(plain(frame));
        onPacket?.(frame, h);
      },
      onAuthenticated: () => h.authenticated++,
      onClose: (reason) => h.closes.push(reason),
    },
  );
  onTestFinished(() => h.session.close());
  return h;
}

function authFrame(random = 'client-random-0', fields: Partial<FrameFields> = {}): Buffer {
  return encodeFrame({ greeter: 'auth', op: 200, random, data: '200', hash: H.hex(random), ...fields });
}

/** A client packet chained to `serverRandom`. */
function packet(serverRandom: Uint8Array, fields: Partial<FrameFields> = {}): Buffer {
  return encodeFrame({
    greeter: 'echo',
    op: 1,
    random: randomString(),
    data: 'x',
    hash: H.hex(serverRandom),
    ...fields,
  });
}

/** Authenticates `h`; returns the server's answer. */
function handshake(h: Harness, random = 'client-random-0'): Frame {
  h.session.receive(authFrame(random));
  const [ok] = h.transport.take();
  expect(ok).toBeDefined();
  return ok!;
}

/** Expects exactly one new frame: the closing `status` with hash "server", then the end. */
/**
 * The session sent one closing status and closed. `hash` is what the status
 * carries: `server` before authentication and on a 400, else H of the
 * newest verified client random.
 */
function expectClosedWith(h: Harness, status: number, code: string, hash = 'server'): void {
  const frames = h.transport.take();
  expect(frames.map(plain)).toEqual([
    {
      greeter: 'nekoconnect-server',
      op: status,
      random: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      data: Buffer.from(String(status)),
      hash,
    },
  ]);
  expect(h.transport.ends).toBe(1);
  expect(h.session.state).toBe('closed');
  expect(h.closes).toHaveLength(1);
  expect(h.closes[0]!.initiator).toBe('server');
  expect(h.closes[0]!.status).toBe(status);
  expect(h.closes[0]!.error?.code).toBe(code);
}

describe('Session: handshake', () => {
  it('answers a valid auth with 200 from nekoconnect-server, hash H(Rc0), a fresh random', () => {
    const h = makeSession();
    expect(h.session.state).toBe('handshake');
    const ok = handshake(h, 'c1i3nt-r4nd0m');
    expect(plain(ok)).toEqual({
      greeter: 'nekoconnect-server',
      op: 200,
      random: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      data: Buffer.from('200'),
      hash: H.hex('c1i3nt-r4nd0m'),
    });
    expect(h.session.state).toBe('open');
    expect(h.session.isOpen).toBe(true);
    expect(h.authenticated).toBe(1);
    expect(h.session.sentCount).toBe(1);
    expect(h.session.receivedCount).toBe(0);
    expect(h.packets).toEqual([]);
    expect(h.transport.ends).toBe(0);
  });

  it('completes a handshake fed one byte at a time', () => {
    const h = makeSession();
    const auth = authFrame('byte-by-byte');
    for (let i = 0; i < auth.length - 1; i++) h.session.receive(auth.subarray(i, i + 1));
    expect(h.transport.writes).toHaveLength(0);
    h.session.receive(auth.subarray(auth.length - 1));
    expect(h.transport.take().map((f) => [f.op, f.hash.toString()])).toEqual([[200, H.hex('byte-by-byte')]]);
  });

  it('checks a packet in the same chunk as the auth against the chain (it cannot know N1 yet)', () => {
    const h = makeSession();
    h.session.receive(Buffer.concat([authFrame('rc0'), packet(Buffer.from('a guess'))]));
    expect(h.authenticated).toBe(1);
    const [ok, refusal] = h.transport.take();
    expect([ok!.op, ok!.hash.toString()]).toEqual([200, H.hex('rc0')]);
    expect([refusal!.op, refusal!.hash.toString()]).toEqual([400, 'server']);
    expect(h.closes[0]!.error?.code).toBe('NEKO_ERR_AUTH_BAD_HASH');
    expect(h.packets).toEqual([]);
  });

  it('refuses a wrong secret: 400 with hash "server", then closes', () => {
    const h = makeSession();
    h.session.receive(authFrame('c1i3nt-r4nd0m', { hash: WRONG.hex('c1i3nt-r4nd0m') }));
    expectClosedWith(h, 400, 'NEKO_ERR_AUTH_BAD_HASH');
    expect(h.authenticated).toBe(0);
  });

  it('refuses an auth whose hash is H of another random, or uppercase hex', () => {
    for (const hash of [H.hex('other'), H.hex('c1i3nt-r4nd0m').toUpperCase(), 'server']) {
      const h = makeSession();
      h.session.receive(authFrame('c1i3nt-r4nd0m', { hash }));
      expectClosedWith(h, 400, 'NEKO_ERR_AUTH_BAD_HASH');
    }
  });

  it('refuses a first packet that is not greeter auth, op 200, data "200"', () => {
    const cases: Partial<FrameFields>[] = [
      { greeter: 'echo' },
      { greeter: 'nekoconnect-server' },
      { greeter: 'Auth' },
      { op: 201 },
      { op: 0 },
      { op: 100 },
      { data: '2000' },
      { data: '' },
      { data: ' 200' },
      { data: '400' },
      { data: Buffer.from('200\0') },
    ];
    for (const fields of cases) {
      const h = makeSession();
      h.session.receive(authFrame('r', fields));
      expectClosedWith(h, 400, 'NEKO_ERR_AUTH_FIRST_PACKET');
    }
  });

  it('accepts an auth packet whose op is written "0200" (it decodes to 200)', () => {
    const h = makeSession();
    h.session.receive(
      rawFrame({ greeter: 'auth', op: '0200', random: 'rr', data: '200', hash: H.hex('rr') }),
    );
    expect(h.transport.take().map((f) => f.op)).toEqual([200]);
    expect(h.session.isOpen).toBe(true);
  });

  it('refuses a first packet larger than any auth packet from its first 4 bytes: 400', () => {
    const h = makeSession();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_AUTH_FRAME_LENGTH + 1);
    h.session.receive(head);
    expectClosedWith(h, 400, 'NEKO_ERR_AUTH_FIRST_PACKET');
  });

  it('accepts an auth packet of the largest possible size', () => {
    const h = makeSession();
    const random = 'r'.repeat(255);
    const auth = encodeFrame({ greeter: 'auth', op: 200, random, data: '200', hash: H.hex(random) });
    // The hash is 64 bytes, so this is below MAX_AUTH_FRAME_LENGTH; a 255-byte hash cannot verify.
    expect(auth.length).toBeLessThanOrEqual(MAX_AUTH_FRAME_LENGTH);
    h.session.receive(auth);
    expect(h.session.isOpen).toBe(true);
  });

  it('refuses a first packet above the packet limit: 413', () => {
    const h = makeSession({ maxPacketBytes: 300 });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(301);
    h.session.receive(head);
    expectClosedWith(h, 413, 'NEKO_ERR_FRAME_TOO_LARGE');
  });

  it('refuses a malformed first packet: 422 with the frame error', () => {
    const h = makeSession();
    h.session.receive(rawFrame({ greeter: 'auth', op: '2x0', random: 'r', data: '200', hash: H.hex('r') }));
    expectClosedWith(h, 422, 'NEKO_ERR_FRAME_BAD_OP');
  });

  it('times out a handshake not completed in handshakeTimeoutMs: 408', () => {
    vi.useFakeTimers();
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const h = makeSession({ handshakeTimeoutMs: 200 });
    h.session.receive(authFrame().subarray(0, 30));
    vi.advanceTimersByTime(199);
    expect(h.transport.writes).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expectClosedWith(h, 408, 'NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT');
  });

  it('does not time out once authenticated', () => {
    vi.useFakeTimers();
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const h = makeSession({ handshakeTimeoutMs: 200 });
    handshake(h);
    vi.advanceTimersByTime(60_000);
    expect(h.transport.writes).toHaveLength(1);
    expect(h.session.isOpen).toBe(true);
  });
});

describe('Session: after the handshake', () => {
  it('passes a packet chained to N1 to onPacket, and counts it', () => {
    const h = makeSession();
    const ok = handshake(h);
    h.session.receive(packet(ok.random, { greeter: 'echo', op: 7, data: 'hello' }));
    expect(h.packets).toEqual([
      expect.objectContaining({ greeter: 'echo', op: 7, data: Buffer.from('hello') }),
    ]);
    expect(h.session.receivedCount).toBe(1);
    // The session itself sends nothing for an accepted packet: that is the dispatcher's job.
    expect(h.transport.writes).toHaveLength(1);
  });

  it('sends with a fresh random and H of the newest verified client random', () => {
    const h = makeSession();
    const ok = handshake(h, 'rc0');
    expect(h.session.send('echo', 5, 'a')).toBe(true);
    const [first] = h.transport.take();
    expect(plain(first!)).toEqual({
      greeter: 'echo',
      op: 5,
      random: expect.any(String),
      data: Buffer.from('a'),
      hash: H.hex('rc0'),
    });
    h.session.receive(packet(first!.random, { random: 'rc1' }));
    h.session.receive(packet(ok.random, { random: 'rc-older-server-random' }));
    // rc-older… used N1, which was older than first.random and so already used up: refused.
    expect(h.transport.take().map((f) => [f.op, f.hash.toString()])).toEqual([[400, 'server']]);
  });

  it('sends H(Rc) of the newest verified packet', () => {
    const h = makeSession();
    handshake(h);
    h.session.receive(packet(h.transport.frames.at(-1)!.random, { random: 'rc1' }));
    h.session.sendStatus(200);
    h.session.receive(packet(h.transport.frames.at(-1)!.random, { random: 'rc2' }));
    h.session.sendStatus(404);
    expect(h.transport.take().map((f) => [f.greeter, f.op, f.data.toString(), f.hash.toString()])).toEqual([
      ['nekoconnect-server', 200, '200', H.hex('rc1')],
      ['nekoconnect-server', 404, '404', H.hex('rc2')],
    ]);
    expect(h.session.sentCount).toBe(3);
    expect(h.session.receivedCount).toBe(2);
  });

  it('gives every sent packet a different random', () => {
    const h = makeSession();
    handshake(h);
    for (let i = 0; i < 100; i++) h.session.send('echo', 0, '');
    expect(new Set(h.transport.frames.map((f) => f.random.toString())).size).toBe(101);
  });

  it('refuses a replayed hash: 400 with hash "server", then closes', () => {
    const h = makeSession();
    const ok = handshake(h);
    h.session.receive(packet(ok.random));
    h.session.sendStatus(200);
    h.transport.take();
    h.session.receive(packet(ok.random));
    expectClosedWith(h, 400, 'NEKO_ERR_AUTH_BAD_HASH');
    expect(h.packets).toHaveLength(1);
  });

  it('refuses a packet with a wrong secret, a forged hash or the literal "server"', () => {
    for (const hash of [WRONG.hex('x'), 'f'.repeat(64), 'server']) {
      const h = makeSession();
      const ok = handshake(h);
      h.session.receive(packet(ok.random, { hash }));
      expectClosedWith(h, 400, 'NEKO_ERR_AUTH_BAD_HASH');
      expect(h.packets).toEqual([]);
    }
    const h = makeSession();
    const ok = handshake(h);
    h.session.receive(packet(ok.random, { hash: WRONG.hex(ok.random) }));
    expectClosedWith(h, 400, 'NEKO_ERR_AUTH_BAD_HASH');
  });

  it('accepts an older unused server random, using it up with every older one, keeping the newer', () => {
    const h = makeSession();
    handshake(h);
    h.session.receive(packet(h.transport.frames.at(-1)!.random));
    for (let i = 0; i < 3; i++) h.session.send('burst', 0, String(i));
    const [n2, n3, n4] = h.transport.take();
    h.session.receive(packet(n3!.random));
    expect(h.packets).toHaveLength(2);
    h.session.receive(packet(n4!.random));
    expect(h.packets).toHaveLength(3);
    h.session.receive(packet(n2!.random));
    expectClosedWith(h, 400, 'NEKO_ERR_AUTH_BAD_HASH');
  });

  it('keeps nonceWindow randoms: with 2, the oldest of three is dropped and refused', () => {
    const burst = (): { h: Harness; n: Frame[] } => {
      const h = makeSession({ nonceWindow: 2 });
      const ok = handshake(h);
      h.session.receive(packet(ok.random));
      for (let i = 0; i < 3; i++) h.session.send('burst', 0, String(i));
      return { h, n: h.transport.take() };
    };
    const kept = burst();
    kept.h.session.receive(packet(kept.n[1]!.random));
    expect(kept.h.packets).toHaveLength(2);
    expect(kept.h.session.isOpen).toBe(true);

    const dropped = burst();
    dropped.h.session.receive(packet(dropped.n[0]!.random));
    expectClosedWith(dropped.h, 400, 'NEKO_ERR_AUTH_BAD_HASH');
  });

  it('refuses a packet above maxPacketBytes from its first 4 bytes: 413', () => {
    const h = makeSession({ maxPacketBytes: 256 });
    const ok = handshake(h);
    const big = packet(ok.random, { data: 'x'.repeat(200) });
    h.session.receive(big.subarray(0, 4));
    expectClosedWith(h, 413, 'NEKO_ERR_FRAME_TOO_LARGE', H.hex('client-random-0'));
    expect(h.packets).toEqual([]);
  });

  it('accepts a packet of exactly maxPacketBytes', () => {
    const h = makeSession({ maxPacketBytes: 256 });
    const ok = handshake(h);
    const base = packet(ok.random, { data: '' }).length;
    h.session.receive(packet(ok.random, { data: 'x'.repeat(256 - base) }));
    expect(h.packets).toHaveLength(1);
  });

  it('refuses a malformed packet: 422', () => {
    const h = makeSession();
    const ok = handshake(h);
    h.session.receive(
      rawFrame({ greeter: 'echo', op: '1', random: 'a b', data: '', hash: H.hex(ok.random) }),
    );
    expectClosedWith(h, 422, 'NEKO_ERR_FRAME_NOT_PRINTABLE', H.hex('client-random-0'));
  });

  it('handles the valid packets of a chunk before a malformed tail', () => {
    const h = makeSession();
    const ok = handshake(h);
    h.session.receive(Buffer.concat([packet(ok.random), Buffer.from([0, 0, 0, 1])]));
    expect(h.packets).toHaveLength(1);
    // The closing status carries H of the random of the packet just accepted.
    expectClosedWith(h, 422, 'NEKO_ERR_FRAME_LENGTH_MISMATCH', H.hex(h.packets[0]!.random));
  });

  it('ignores what follows a refused packet in the same chunk', () => {
    const h = makeSession();
    const ok = handshake(h);
    h.session.receive(
      Buffer.concat([packet(Buffer.from('nope')), packet(ok.random), Buffer.from('garbage')]),
    );
    expectClosedWith(h, 400, 'NEKO_ERR_AUTH_BAD_HASH');
    expect(h.packets).toEqual([]);
  });

  it('times out after idleTimeoutMs without a byte: 408, and bytes push the deadline back', () => {
    vi.useFakeTimers();
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const h = makeSession({ idleTimeoutMs: 100 });
    const ok = handshake(h);
    vi.advanceTimersByTime(90);
    const next = packet(ok.random);
    h.session.receive(next.subarray(0, 1));
    vi.advanceTimersByTime(90);
    h.session.receive(next.subarray(1));
    vi.advanceTimersByTime(99);
    expect(h.session.isOpen).toBe(true);
    vi.advanceTimersByTime(1);
    expectClosedWith(h, 408, 'NEKO_ERR_SESSION_IDLE_TIMEOUT', H.hex(h.packets[0]!.random));
  });

  it('never times out for idleness when idleTimeoutMs is 0', () => {
    vi.useFakeTimers();
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const h = makeSession({ idleTimeoutMs: 0 });
    handshake(h);
    vi.advanceTimersByTime(24 * 3600 * 1000);
    expect(h.session.isOpen).toBe(true);
  });
});

describe('Session: a client that does not read', () => {
  const LIMIT = 10_000;

  it('puts a frame on an empty queue whatever its size', () => {
    const h = makeSession({ maxPendingBytes: LIMIT });
    handshake(h);
    h.transport.take();
    expect(h.session.send('echo', 0, 'x'.repeat(LIMIT * 2))).toBe(true);
    expect(h.transport.take()).toHaveLength(1);
    expect(h.session.isOpen).toBe(true);
  });

  it('queues frames while the waiting bytes stay within maxPendingBytes', () => {
    const h = makeSession({ maxPendingBytes: LIMIT });
    handshake(h);
    h.transport.take();
    const size = encodeFrame({
      greeter: 'echo',
      op: 0,
      random: randomString(),
      data: 'x'.repeat(100),
      hash: H.hex('client-random-0'),
    }).length;
    h.transport.pendingBytes = LIMIT - size;
    expect(h.session.send('echo', 0, 'x'.repeat(100))).toBe(true);
    expect(h.transport.take()).toHaveLength(1);
    expect(h.session.isOpen).toBe(true);
  });

  it('closes, without a status and for good, when a frame would pass maxPendingBytes', async () => {
    const h = makeSession({ maxPendingBytes: LIMIT });
    handshake(h);
    h.transport.take();
    const sentBefore = h.session.sentCount;
    h.transport.pendingBytes = LIMIT - 50;
    expect(h.session.send('echo', 0, 'x'.repeat(100))).toBe(false);
    // Nothing written, the queue dropped at once, and nothing more is sent.
    expect(h.transport.take()).toEqual([]);
    expect(h.transport.destroys).toBe(1);
    expect(h.transport.ends).toBe(0);
    expect(h.session.sentCount).toBe(sentBefore);
    expect(h.session.isClosed).toBe(true);
    expect(h.session.send('echo', 0, 'y')).toBe(false);
    expect(h.session.sendStatus(200)).toBe(false);
    // The owner hears of it after the write that found it, once.
    expect(h.closes).toEqual([]);
    await Promise.resolve();
    expect(h.closes).toHaveLength(1);
    expect(h.closes[0]!.initiator).toBe('server');
    expect(h.closes[0]!.status).toBeUndefined();
    expect(h.closes[0]!.error?.code).toBe('NEKO_ERR_SESSION_SLOW_READER');
    expect(h.closes[0]!.error?.message).toContain(`limits.maxPendingBytes (${LIMIT})`);
    h.session.transportClosed();
    h.session.close();
    await Promise.resolve();
    expect(h.closes).toHaveLength(1);
    expect(h.transport.ends).toBe(0);
  });
});

describe('Session: sending and closing', () => {
  it('sends nothing before the handshake', () => {
    const h = makeSession();
    expect(h.session.send('echo', 0, 'x')).toBe(false);
    expect(h.session.sendStatus(200)).toBe(false);
    expect(h.transport.writes).toHaveLength(0);
    expect(h.session.sentCount).toBe(0);
  });

  it('close() ends the transport once, reports the server as initiator, and sends nothing after', () => {
    const h = makeSession();
    handshake(h);
    h.session.close();
    h.session.close();
    expect(h.transport.ends).toBe(1);
    expect(h.closes).toEqual([{ initiator: 'server' }]);
    expect(h.session.send('echo', 0, 'x')).toBe(false);
    expect(h.session.isClosed).toBe(true);
    h.session.fail(400, {} as NekoError);
    expect(h.transport.writes).toHaveLength(1);
  });

  it('transportClosed() reports the client as initiator without ending again', () => {
    const h = makeSession();
    handshake(h);
    h.session.transportClosed();
    h.session.transportClosed();
    h.session.close();
    expect(h.closes).toEqual([{ initiator: 'client' }]);
    expect(h.transport.ends).toBe(0);
  });

  it('ignores bytes after it closed', () => {
    const h = makeSession();
    const ok = handshake(h);
    h.session.close();
    h.session.receive(packet(ok.random));
    h.session.receive(Buffer.from('garbage that would be malformed'));
    expect(h.packets).toEqual([]);
    expect(h.transport.writes).toHaveLength(1);
  });

  it('describes itself as plugins see it', () => {
    const before = Date.now();
    const h = makeSession();
    expect(h.session.info).toEqual({
      id: 's-7',
      remoteAddress: '203.0.113.7',
      connectedAt: h.session.connectedAt,
      transport: 'custom',
    });
    expect(h.session.connectedAt).toBeGreaterThanOrEqual(before);
    expect(h.session.connectedAt).toBeLessThanOrEqual(Date.now());
  });
});

describe('Session: security invariant and liveness (property)', () => {
  type Step =
    | { kind: 'valid'; pick: number; replies: number }
    | { kind: 'stale' | 'dropped' | 'forged' | 'wrongSecret' | 'serverLiteral' | 'ownRandom'; pick: number };

  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('valid' as const),
        pick: fc.nat(),
        replies: fc.integer({ min: 1, max: 3 }),
      }),
    },
    fc.record({
      kind: fc.constantFrom('stale', 'dropped', 'forged', 'wrongSecret', 'serverLiteral', 'ownRandom'),
      pick: fc.nat(),
    }),
  );
  const auth = fc.constantFrom('valid', 'wrongSecret', 'forged', 'notAuth', 'badOp');

  it('never sends H(r) of a packet whose hash did not verify, and answers each accepted packet with a fresh random', () => {
    fc.assert(
      fc.property(
        auth,
        fc.array(step, { maxLength: 25 }),
        fc.integer({ min: 1, max: 6 }),
        (first, steps, capacity) => {
          let replies = 0;
          const h = makeSession({ nonceWindow: capacity }, (_frame, harness) => {
            // The owner's answer: as many packets as the step asks for.
            for (let i = 0; i < replies; i++) harness.session.send('echo', 0, 'r');
          });
          const refused: string[] = [];
          const verified: string[] = [];
          /** Server randoms in the order sent; `usedUpTo` is the index past the newest used one. */
          const sent: Buffer[] = [];
          let usedUpTo = 0;
          const collect = (): Frame[] => {
            const frames = h.transport.take();
            for (const f of frames) if (f.hash.toString() !== 'server') sent.push(Buffer.from(f.random));
            return frames;
          };

          const rc0 = randomString().toString('latin1');
          const authFields: Partial<FrameFields> =
            first === 'wrongSecret'
              ? { hash: WRONG.hex(rc0) }
              : first === 'forged'
                ? { hash: 'a'.repeat(64) }
                : first === 'notAuth'
                  ? { greeter: 'echo' }
                  : first === 'badOp'
                    ? { op: 100 }
                    : {};
          h.session.receive(authFrame(rc0, authFields));
          const answer = collect();
          if (first === 'valid') {
            expect(answer.map((f) => [f.op, f.hash.toString()])).toEqual([[200, H.hex(rc0)]]);
            verified.push(rc0);
          } else {
            refused.push(rc0);
            expect(answer.map((f) => [f.op, f.hash.toString()])).toEqual([[400, 'server']]);
          }

          for (const s of steps) {
            if (!h.session.isOpen) break;
            const random = randomString().toString('latin1');
            const usable = sent.slice(Math.max(usedUpTo, sent.length - capacity));
            const usableFrom = sent.length - usable.length;
            let hash: string;
            let accept = false;
            if (s.kind === 'valid') {
              const index = s.pick % usable.length;
              hash = H.hex(usable[index]!);
              usedUpTo = usableFrom + index + 1;
              replies = s.replies;
              accept = true;
            } else if (s.kind === 'stale' && usedUpTo > 0) {
              hash = H.hex(sent[s.pick % usedUpTo]!);
            } else if (s.kind === 'dropped' && usableFrom > usedUpTo) {
              hash = H.hex(sent[usedUpTo + (s.pick % (usableFrom - usedUpTo))]!);
            } else if (s.kind === 'wrongSecret') {
              hash = WRONG.hex(sent.at(-1)!);
            } else if (s.kind === 'serverLiteral') {
              hash = 'server';
            } else if (s.kind === 'ownRandom') {
              hash = H.hex(random);
            } else {
              hash = 'f'.repeat(63) + String(s.pick % 10);
            }
            const sentBefore = h.session.sentCount;
            h.session.receive(encodeFrame({ greeter: 'echo', op: 0, random, data: 'd', hash }));
            const frames = collect();
            if (accept) {
              verified.push(random);
              // Liveness: at least one packet with a random the client has not seen, all hashed H(this random).
              expect(frames.length).toBeGreaterThanOrEqual(1);
              expect(h.session.sentCount - sentBefore).toBe(frames.length);
              for (const f of frames) expect(f.hash.toString()).toBe(H.hex(random));
            } else {
              refused.push(random);
              expect(frames.map((f) => [f.op, f.hash.toString()])).toEqual([[400, 'server']]);
              expect(h.session.isClosed).toBe(true);
            }
          }

          // The invariant, over every frame ever sent.
          const forbidden = new Set(refused.map((r) => H.hex(r)));
          const allowed = new Set(['server', ...verified.map((r) => H.hex(r))]);
          for (const f of h.transport.frames) {
            expect(forbidden.has(f.hash.toString())).toBe(false);
            expect(allowed.has(f.hash.toString())).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
