/**
 * The server over real TCP on 127.0.0.1, spoken to by a raw peer that
 * writes frames by hand and checks every frame it gets back.
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, vi, beforeAll } from 'vitest';
import { connect } from '../../src/client/client.js';
import { MAX_AUTH_FRAME_LENGTH } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { Frame } from '../../src/protocol/frame.js';
import { Hasher } from '../../src/protocol/hash.js';
import { randomString } from '../../src/protocol/random.js';
import { rawFrame } from '../helpers/frames.js';
import { LOGIC, allPlugins, makePluginsDir, specConf, type PluginDef } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { makeCertificate, type TestCertificate } from '../../../scripts/test-support/tls.js';
import { SECRET, connectClient, startServer, type StartedServer } from '../helpers/server.js';
import type { ServerOptions } from '../../src/server/options.js';

const H = new Hasher(SECRET);

/** A server with every test plugin (and `extra`) loaded. */
async function serve(options: Partial<ServerOptions> = {}, extra: PluginDef[] = []): Promise<StartedServer> {
  return startServer({ plugins: await makePluginsDir([...allPlugins(), ...extra]), ...options });
}

/** A raw peer, authenticated. */
async function authedPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  const ok = await peer.handshake(SECRET);
  expect([ok.greeter, ok.op]).toEqual(['nekoconnect-server', 200]);
  return peer;
}

function summary(frame: Frame): [string, number, string, string] {
  return [frame.greeter, frame.op, frame.data.toString('utf8'), frame.hash.toString('latin1')];
}

/**
 * Expects the peer's next frame to be the closing `status`, then the
 * connection to close. Its hash is "server" before authentication and on a
 * 400; else H of the peer's newest verified random, passed as `hash`.
 */
async function expectClosingStatus(peer: RawPeer, status: number, hash = 'server'): Promise<void> {
  const frame = await peer.next();
  expect(summary(frame)).toEqual(['nekoconnect-server', status, String(status), hash]);
  expect(frame.random.toString('latin1')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  await peer.closed();
  expect(peer.unread).toBe(0);
}

describe('TCP: handshake', () => {
  it('answers a valid auth with 200 from nekoconnect-server, hash H(Rc0)', async () => {
    const { port } = await serve();
    const peer = await RawPeer.connect(port);
    const ok = await peer.handshake(SECRET, 'c1i3nt-r4nd0m');
    expect(summary(ok)).toEqual(['nekoconnect-server', 200, '200', H.hex('c1i3nt-r4nd0m')]);
    expect(ok.random.toString('latin1')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(peer.isClosed).toBe(false);
  });

  it('completes a handshake written one byte at a time', async () => {
    const { port } = await serve();
    const peer = await RawPeer.connect(port);
    const random = randomString();
    await peer.writeByteByByte(
      encodeFrame({ greeter: 'auth', op: 200, random, data: '200', hash: H.hex(random) }),
    );
    expect(summary(await peer.next())).toEqual(['nekoconnect-server', 200, '200', H.hex(random)]);
    peer.hasher = H;
    await peer.packet('echo', 'after bytes');
    expect((await peer.next()).data.toString()).toBe('after bytes');
  });

  it('refuses a first packet that is not auth: 400 with hash "server", then closes', async () => {
    const { port } = await serve();
    const peer = await RawPeer.connect(port);
    const random = randomString();
    await peer.send({ greeter: 'echo', op: 200, random, data: '200', hash: H.hex(random) });
    await expectClosingStatus(peer, 400);
  });

  it('refuses a wrong secret: 400, then closes', async () => {
    const { port, waitForLog } = await serve();
    const peer = await RawPeer.connect(port);
    const ok = await peer.handshake('not-the-secret');
    expect(summary(ok)).toEqual(['nekoconnect-server', 400, '400', 'server']);
    await peer.closed();
    const record = await waitForLog((r) => r.code === 'NEKO_ERR_AUTH_BAD_HASH');
    expect(record.level).toBe('warn');
  });

  it('refuses an auth with op other than 200 or data other than "200": 400', async () => {
    const { port } = await serve();
    for (const [op, data] of [
      [201, '200'],
      [200, '201'],
      [200, ''],
    ] as const) {
      const peer = await RawPeer.connect(port);
      const random = randomString();
      await peer.send({ greeter: 'auth', op, random, data, hash: H.hex(random) });
      await expectClosingStatus(peer, 400);
    }
  });

  it('times out a handshake not completed in time: 408, then closes', async () => {
    const { port } = await serve({ limits: { handshakeTimeoutMs: 200 } });
    const peer = await RawPeer.connect(port);
    const started = Date.now();
    const random = randomString();
    const auth = encodeFrame({ greeter: 'auth', op: 200, random, data: '200', hash: H.hex(random) });
    await peer.write(auth.subarray(0, 40));
    await expectClosingStatus(peer, 408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('refuses a first packet larger than any auth packet but under the limit: 400, from its first 4 bytes', async () => {
    const { port } = await serve();
    const peer = await RawPeer.connect(port);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_AUTH_FRAME_LENGTH + 100);
    await peer.write(head);
    await expectClosingStatus(peer, 400);
  });

  it('refuses a first packet above the packet limit: 413', async () => {
    const { port } = await serve({ limits: { maxPacketBytes: 256 } });
    const peer = await RawPeer.connect(port);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(100_000);
    await peer.write(head);
    await expectClosingStatus(peer, 413);
  });

  it('refuses a malformed first packet: 422, then closes', async () => {
    const { port } = await serve();
    const peer = await RawPeer.connect(port);
    await peer.write(rawFrame({ greeter: 'auth', op: '200', random: 'a b', data: '200', hash: 'x' }));
    await expectClosingStatus(peer, 422);
  });
});

describe('TCP: after the handshake', () => {
  it('routes to a plugin: the reply carries its greeter, op, data and hash H(Rc1)', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    const random = await peer.packet('echo', 'hello', { op: 7 });
    const reply = await peer.next();
    expect(summary(reply)).toEqual(['echo', 7, 'hello', H.hex(random)]);
  });

  it('passes data of any bytes both ways', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
    await peer.packet('echo', data);
    expect((await peer.next()).data).toEqual(data);
  });

  it('answers 404 for an unknown greeter, and the session stays usable', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    const r1 = await peer.packet('nobody-home');
    expect(summary(await peer.next())).toEqual(['nekoconnect-server', 404, '404', H.hex(r1)]);
    const r2 = await peer.packet('echo', 'still here');
    expect(summary(await peer.next())).toEqual(['echo', 0, 'still here', H.hex(r2)]);
  });

  it('answers 200 when the handler sends nothing (sync or async)', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    for (const greeter of ['silent', 'asyncSilent']) {
      const r = await peer.packet(greeter);
      expect(summary(await peer.next())).toEqual(['nekoconnect-server', 200, '200', H.hex(r)]);
    }
  });

  it('answers 100 while the handler waits in ctx.recv(); the next packet to that greeter goes to it', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    const r1 = await peer.packet('concat', 'neko');
    expect(summary(await peer.next())).toEqual(['nekoconnect-server', 100, '100', H.hex(r1)]);
    const r2 = await peer.packet('echo', 'between');
    expect(summary(await peer.next())).toEqual(['echo', 0, 'between', H.hex(r2)]);
    const r3 = await peer.packet('concat', '-connect');
    expect(summary(await peer.next())).toEqual(['concat', 0, 'neko-connect', H.hex(r3)]);
  });

  it('dispatches packets in arrival order', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    await peer.packet('burst', '3');
    const randoms = [await peer.next(), await peer.next(), await peer.next()].map((f) => f.random);
    // Three unused server randoms: three packets back to back, oldest random first.
    await peer.packet('slow', '80', { serverRandom: randoms[0] });
    await peer.packet('echo', 'b', { serverRandom: randoms[1] });
    await peer.packet('echo', 'c', { serverRandom: randoms[2] });
    const replies = [await peer.next(), await peer.next(), await peer.next()];
    expect(replies.map((f) => `${f.greeter}:${f.data.toString()}`)).toEqual([
      'slow:slow-done',
      'echo:b',
      'echo:c',
    ]);
  });

  it('answers 500 to a plugin that throws or rejects, logs its name and stack, and every session goes on', async () => {
    const { port, waitForLog } = await serve({}, [
      { greeter: 'thrower', name: 'Thrower Plugin', logic: LOGIC.throws },
      { greeter: 'rejecter', name: 'Rejecter Plugin', logic: LOGIC.rejects },
    ]);
    const peer = await authedPeer(port);
    const other = await authedPeer(port);
    await other.packet('concat', 'a');
    expect((await other.next()).op).toBe(100);

    const r1 = await peer.packet('thrower');
    expect(summary(await peer.next())).toEqual(['nekoconnect-server', 500, '500', H.hex(r1)]);
    const sync = await waitForLog((r) => r.plugin === 'thrower' && r.level === 'error');
    expect(sync.code).toBe('NEKO_ERR_PLUGIN_HANDLER');
    expect(sync.message).toMatch(
      /^Thrower Plugin: recv failed: Error: sync boom\n\s+at .*thrower[\\/]logic\.js/,
    );

    const r2 = await peer.packet('rejecter');
    expect(summary(await peer.next())).toEqual(['nekoconnect-server', 500, '500', H.hex(r2)]);
    const async = await waitForLog((r) => r.plugin === 'rejecter' && r.level === 'error');
    expect(async.message).toMatch(
      /^Rejecter Plugin: recv failed: Error: async boom\n\s+at .*rejecter[\\/]logic\.js/,
    );

    await peer.packet('echo', 'same session');
    expect((await peer.next()).data.toString()).toBe('same session');
    await other.packet('concat', 'b');
    expect((await other.next()).data.toString()).toBe('ab');
  });

  it('answers 503 for a plugin that failed to load, and serves the others', async () => {
    const { port, server } = await serve({}, [{ greeter: 'broken', logic: LOGIC.importThrows }]);
    expect(server.route('broken').kind).toBe('unavailable');
    const peer = await authedPeer(port);
    const r = await peer.packet('broken');
    expect(summary(await peer.next())).toEqual(['nekoconnect-server', 503, '503', H.hex(r)]);
    await peer.packet('echo', 'x');
    expect((await peer.next()).data.toString()).toBe('x');
  });

  it('rejects a ctx.recv() that times out with NEKO_ERR_CONTEXT_RECV_TIMEOUT', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    await peer.packet('recvTimeout', '100');
    expect((await peer.next()).op).toBe(100);
    const pushed = await peer.next();
    expect([pushed.greeter, pushed.data.toString()]).toEqual([
      'recvTimeout',
      'NEKO_ERR_CONTEXT_RECV_TIMEOUT',
    ]);
  });

  it('ctx.close() closes the connection after what was sent', async () => {
    const { port, server } = await serve();
    const peer = await authedPeer(port);
    await peer.packet('closer');
    expect((await peer.next()).data.toString()).toBe('bye');
    await peer.closed();
    expect(peer.unread).toBe(0);
    await vi.waitFor(() => expect(server.connectionCount).toBe(0));
  });

  it('ctx.send() returns false once the client has left', async () => {
    const key = `__neko_late_${process.pid}_${Date.now()}`;
    const globals = globalThis as unknown as Record<string, unknown>;
    let release!: () => void;
    const left = new Promise<void>((resolve) => (release = resolve));
    const reported = new Promise<boolean>((resolve) => (globals[key] = { left, report: resolve }));
    const { port, server } = await serve({}, [
      {
        greeter: 'late',
        logic: `export class Logic {
  async recv(ctx) {
    const hooks = globalThis[${JSON.stringify(key)}];
    ctx.send('waiting');
    await hooks.left;
    hooks.report(ctx.send('late'));
  }
}
`,
      },
    ]);
    try {
      const peer = await authedPeer(port);
      await peer.packet('late');
      expect((await peer.next()).data.toString()).toBe('waiting');
      peer.socket.end();
      await peer.closed();
      await vi.waitFor(() => expect(server.connectionCount).toBe(0));
      release();
      expect(await reported).toBe(false);
    } finally {
      delete globals[key];
    }
  });

  it('closes an idle session after idleTimeoutMs: 408', async () => {
    const { port } = await serve({ limits: { idleTimeoutMs: 150 } });
    const peer = await authedPeer(port);
    await peer.packet('echo', 'x');
    await peer.next();
    await expectClosingStatus(peer, 408, H.hex(peer.sentRandoms.at(-1)!));
  });

  it('refuses a packet above the limit: 413, then closes', async () => {
    const { port } = await serve({ limits: { maxPacketBytes: 256 } });
    const peer = await authedPeer(port);
    await peer.packet('echo', 'x'.repeat(100));
    expect((await peer.next()).data.toString()).toBe('x'.repeat(100));
    const accepted = peer.sentRandoms.at(-1)!;
    await peer.packet('echo', 'x'.repeat(200));
    // The refused packet's random is never hashed: the status carries H of the one before.
    await expectClosingStatus(peer, 413, H.hex(accepted));
  });

  it('refuses a malformed packet: 422, then closes', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    await peer.write(
      rawFrame({ greeter: 'echo', op: '12345678901', random: 'r', data: '', hash: H.hex(peer.newestRandom) }),
    );
    await expectClosingStatus(peer, 422, H.hex(peer.sentRandoms.at(-1)!));
  });
});

describe('TCP: reserved greeters and plugin context', () => {
  it('never routes the reserved greeters: a later auth packet or one to nekoconnect-server gets 404', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    for (const greeter of ['auth', 'nekoconnect-server']) {
      const random = await peer.packet(greeter, '200', { op: 200 });
      expect(summary(await peer.next())).toEqual(['nekoconnect-server', 404, '404', H.hex(random)]);
    }
    await peer.packet('echo', 'still open');
    expect((await peer.next()).data.toString()).toBe('still open');
  });

  it('does not load a plugin that declares a reserved greeter', async () => {
    const { port, server } = await serve({}, [
      { greeter: 'sneaky', spec: specConf('Sneaky', 'auth'), logic: LOGIC.echo },
    ]);
    expect(server.route('auth').kind).toBe('missing');
    const peer = await authedPeer(port);
    await peer.packet('auth', 'x');
    expect((await peer.next()).op).toBe(404);
  });

  it('loads TypeScript logic and gives the handler its session: id, remote address, connect time', async () => {
    const before = Date.now();
    const { port } = await serve({}, [
      {
        greeter: 'whoami',
        file: 'logic.ts',
        logic: `interface Ctx { session: { id: string; remoteAddress: string; connectedAt: number }; send(d: string): boolean }
export class Logic {
  recv(ctx: Ctx): void {
    ctx.send(JSON.stringify(ctx.session));
  }
}
`,
      },
    ]);
    const first = await authedPeer(port);
    const second = await authedPeer(port);
    await first.packet('whoami');
    await second.packet('whoami');
    const a = JSON.parse((await first.next()).data.toString()) as Record<string, unknown>;
    const b = JSON.parse((await second.next()).data.toString()) as Record<string, unknown>;
    expect(a).toEqual({
      id: expect.stringMatching(/^s-\d+$/),
      remoteAddress: expect.stringMatching(/127\.0\.0\.1$/),
      connectedAt: expect.any(Number),
      transport: 'tcp',
    });
    expect(a['id']).not.toBe(b['id']);
    expect(a['connectedAt'] as number).toBeGreaterThanOrEqual(before);
    expect(a['connectedAt'] as number).toBeLessThanOrEqual(Date.now());
  });
});

describe('TCP: the nonce chain', () => {
  it('refuses a replayed hash: 400, then closes', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    const n1 = peer.newestRandom;
    await peer.packet('echo', 'once', { serverRandom: n1 });
    await peer.next();
    await peer.packet('echo', 'twice', { serverRandom: n1 });
    await expectClosingStatus(peer, 400);
  });

  it('accepts an older unused server random and uses up every older one, keeping the newer ones', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    await peer.packet('burst', '4');
    const [b1, b2, b3, b4] = [await peer.next(), await peer.next(), await peer.next(), await peer.next()].map(
      (f) => f.random,
    );
    // Using b2 uses up b1 and b2; b3, b4 and the reply's random stay usable.
    await peer.packet('echo', 'via b2', { serverRandom: b2 });
    expect((await peer.next()).data.toString()).toBe('via b2');
    await peer.packet('echo', 'via b3', { serverRandom: b3 });
    expect((await peer.next()).data.toString()).toBe('via b3');
    await peer.packet('echo', 'via b4', { serverRandom: b4 });
    expect((await peer.next()).data.toString()).toBe('via b4');
    // b1 was used up by b2.
    await peer.packet('echo', 'via b1', { serverRandom: b1 });
    await expectClosingStatus(peer, 400);
  });

  it('keeps nonceWindow server randoms: with 2, the oldest of three is refused', async () => {
    const { port } = await serve({ limits: { nonceWindow: 2 } });
    const peer = await authedPeer(port);
    await peer.packet('burst', '3');
    await peer.next();
    const b2 = (await peer.next()).random;
    await peer.next();
    await peer.packet('echo', 'kept', { serverRandom: b2 });
    expect((await peer.next()).data.toString()).toBe('kept');

    const second = await authedPeer(port);
    await second.packet('burst', '3');
    const c1 = (await second.next()).random;
    await second.next();
    await second.next();
    await second.packet('echo', 'dropped', { serverRandom: c1 });
    await expectClosingStatus(second, 400);
  });

  it('keeps 64 server randoms by default', async () => {
    const { port } = await serve();
    const ok = await authedPeer(port);
    await ok.packet('burst', '64');
    const first = (await ok.next()).random;
    for (let i = 1; i < 64; i++) await ok.next();
    await ok.packet('echo', 'oldest kept', { serverRandom: first });
    expect((await ok.next()).data.toString()).toBe('oldest kept');

    const over = await authedPeer(port);
    await over.packet('burst', '65');
    const dropped = (await over.next()).random;
    for (let i = 1; i < 65; i++) await over.next();
    await over.packet('echo', 'dropped', { serverRandom: dropped });
    await expectClosingStatus(over, 400);
  });
});

describe('TCP: security invariant (no hashing oracle)', () => {
  /** Every frame the peer got, until the server closed; none may carry H of a random the peer sent. */
  async function expectNoOracle(peer: RawPeer): Promise<void> {
    await peer.closed();
    expect(peer.received.length).toBeGreaterThan(0);
    const forbidden = new Set(peer.sentRandoms.map((r) => H.hex(r)));
    for (const frame of peer.received) {
      expect(forbidden.has(frame.hash.toString('latin1'))).toBe(false);
      expect(frame.hash.toString('latin1')).toBe('server');
    }
  }

  const attacks: [string, (peer: RawPeer) => Promise<void>][] = [
    [
      'auth with a wrong hash',
      async (peer) => {
        const random = randomString();
        await peer.send({ greeter: 'auth', op: 200, random, data: '200', hash: 'f'.repeat(64) });
      },
    ],
    [
      'auth with the random as its own hash',
      async (peer) => {
        const random = randomString();
        await peer.send({ greeter: 'auth', op: 200, random, data: '200', hash: random });
      },
    ],
    [
      'a first packet to a plugin',
      async (peer) => {
        await peer.send({ greeter: 'echo', op: 1, random: randomString(), data: 'x', hash: 'server' });
      },
    ],
    [
      'a first packet with a wrong op',
      async (peer) => {
        await peer.send({ greeter: 'auth', op: 100, random: randomString(), data: '200', hash: 'x' });
      },
    ],
    [
      'two auth packets at once, both wrong',
      async (peer) => {
        const a = { greeter: 'auth', op: 200, data: '200', hash: 'a'.repeat(64) };
        await peer.send({ ...a, random: randomString() });
        await peer.send({ ...a, random: randomString() });
      },
    ],
    [
      'a partial auth, then silence',
      async (peer) => {
        const random = randomString();
        peer.sentRandoms.push(random);
        const auth = encodeFrame({ greeter: 'auth', op: 200, random, data: '200', hash: 'b'.repeat(64) });
        await peer.write(auth.subarray(0, auth.length - 1));
      },
    ],
    [
      'a malformed auth',
      async (peer) => {
        const random = randomString();
        peer.sentRandoms.push(random);
        await peer.write(rawFrame({ greeter: 'auth', op: '2 0', random, data: '200', hash: 'c'.repeat(64) }));
      },
    ],
  ];

  for (const [name, attack] of attacks) {
    it(`an unauthenticated peer never gets H of its random: ${name}`, async () => {
      const { port } = await serve({ limits: { handshakeTimeoutMs: 200 } });
      const peer = await RawPeer.connect(port);
      await attack(peer);
      await expectNoOracle(peer);
    });
  }

  it('an authenticated peer sending a bad hash never gets H of that packet random', async () => {
    const { port } = await serve();
    for (const hash of ['f'.repeat(64), 'server', new Hasher('wrong').hex('x')]) {
      const peer = await authedPeer(port);
      await peer.packet('echo', 'ok');
      await peer.next();
      const before = peer.received.length;
      const bad = await peer.packet('echo', 'would echo', { hash });
      await peer.closed();
      expect(peer.received.slice(before).map(summary)).toEqual([
        ['nekoconnect-server', 400, '400', 'server'],
      ]);
      for (const frame of peer.received) expect(frame.hash.toString('latin1')).not.toBe(H.hex(bad));
    }
  });

  it('a packet replaying the auth (its random and hash) is refused without hashing its random', async () => {
    const { port } = await serve();
    const peer = await RawPeer.connect(port);
    const random = randomString();
    const auth = { greeter: 'auth', op: 200, random, data: '200', hash: H.hex(random) };
    await peer.send(auth);
    await peer.next();
    const replay = randomString();
    await peer.send({ ...auth, random: replay, hash: H.hex(random) });
    await expectClosingStatus(peer, 400);
    for (const frame of peer.received) expect(frame.hash.toString('latin1')).not.toBe(H.hex(replay));
  });
});

describe('TCP: liveness', () => {
  it('after each accepted packet the client gets at least one packet with a fresh random, hashed H(its random)', async () => {
    const { port } = await serve();
    const peer = await authedPeer(port);
    const seen = new Set([peer.newestRandom.toString('latin1')]);
    const steps: [string, string, number][] = [
      ['echo', 'a', 1],
      ['nobody', '', 1],
      ['silent', '', 1],
      ['asyncSilent', '', 1],
      ['concat', 'x', 1],
      ['concat', 'y', 1],
      ['burst', '2', 2],
      ['rejects', '', 1],
      ['throws', '', 1],
      ['recvTimeout', '5000', 1],
      ['recvTimeout', 'z', 1],
      ['echo', 'last', 1],
    ];
    for (const [greeter, data, expected] of steps) {
      const random = await peer.packet(greeter, data);
      for (let i = 0; i < expected; i++) {
        const frame = await peer.next();
        expect(seen.has(frame.random.toString('latin1'))).toBe(false);
        seen.add(frame.random.toString('latin1'));
        expect(frame.hash.toString('latin1')).toBe(H.hex(random));
      }
    }
    expect(peer.isClosed).toBe(false);
  });
});

describe('TCP: the server', () => {
  it('server.close() lets a running handler finish, then closes the connection', async () => {
    const { port, server, waitForLog } = await serve({ limits: { shutdownTimeoutMs: 5_000 } }, [
      {
        greeter: 'work',
        logic: `export class Logic {
  async recv(ctx) {
    ctx.log('started ' + ctx.text());
    await new Promise((r) => setTimeout(r, 150));
    ctx.send('done ' + ctx.text());
  }
}
`,
      },
    ]);
    const client = await connectClient(port);
    const events: string[] = [];
    client.on('close', () => events.push('client closed'));
    const reply = client.request('work', 'a').then((p) => events.push(`reply ${p.text()}`));
    await waitForLog((r) => r.message === 'started a');
    await server.close();
    await reply;
    await vi.waitFor(() => expect(client.connected).toBe(false));
    expect(events).toEqual(['reply done a', 'client closed']);
  });

  it('server.close() does not wait for a handler waiting in ctx.recv(); it gets NEKO_ERR_CONTEXT_CLOSED; the client gets the 503 shutdown notice', async () => {
    const { port, server, waitForLog } = await serve({ limits: { shutdownTimeoutMs: 5_000 } }, [
      {
        greeter: 'waiter',
        logic: `export class Logic {
  async recv(ctx) {
    try {
      await ctx.recv({ timeoutMs: 10000 });
    } catch (err) {
      ctx.log('recv ended: ' + err.code + ', send: ' + ctx.send('x'));
    }
  }
}
`,
      },
    ]);
    const peer = await authedPeer(port);
    await peer.packet('waiter');
    expect((await peer.next()).op).toBe(100);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    await peer.closed();
    // The shutdown notice: status 503 as a closing status, with H of the client's newest verified random.
    const notice = await peer.next();
    expect([notice.greeter, notice.op, notice.data.toString()]).toEqual(['nekoconnect-server', 503, '503']);
    expect(notice.hash.toString('latin1')).toBe(peer.hasher!.hex(peer.sentRandoms.at(-1)!));
    expect(peer.unread).toBe(0);
    await waitForLog((r) => r.message === 'recv ended: NEKO_ERR_CONTEXT_CLOSED, send: false');
  });

  it('refuses new connections once closing', async () => {
    const { port, server } = await serve();
    await server.close();
    await expect(connect({ secret: SECRET, port, connectTimeoutMs: 1000 })).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_CONNECT',
    });
  });

  it('sets TCP_NODELAY on accepted sockets', async () => {
    const spy = vi.spyOn(net.Socket.prototype, 'setNoDelay');
    try {
      const { port } = await serve();
      const peer = await authedPeer(port);
      const localPort = peer.socket.localPort;
      const serverSide = spy.mock.contexts.find(
        (s) => (s as net.Socket).localPort === port && (s as net.Socket).remotePort === localPort,
      );
      expect(serverSide).toBeDefined();
      const index = spy.mock.contexts.indexOf(serverSide);
      expect(spy.mock.calls[index]).toEqual([true]);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses connections beyond limits.maxConnections', async () => {
    const { port, server } = await serve({ limits: { maxConnections: 1 } });
    await connectClient(port);
    await expect(connect({ secret: SECRET, port, connectTimeoutMs: 2000 })).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_CONNECT',
    });
    expect(server.connectionCount).toBe(1);
  });

  it('serves the example echo plugin (TypeScript) from a copy of plugins/echo', async () => {
    const source = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../plugins/echo');
    const root = await mkdtemp(path.join(os.tmpdir(), 'neko-echo-'));
    try {
      await mkdir(path.join(root, 'echo'));
      for (const file of ['spec.conf', 'logic.ts'])
        await copyFile(path.join(source, file), path.join(root, 'echo', file));
      const { port } = await startServer({ plugins: root });
      const peer = await authedPeer(port);
      const random = await peer.packet('echo', 'hello', { op: 7 });
      expect(summary(await peer.next())).toEqual(['echo', 7, 'hello', H.hex(random)]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('TCP: TLS', () => {
  let tls: TestCertificate | undefined;

  beforeAll(async () => {
    tls = await makeCertificate();
  });

  it('serves TLS; the client verifies the certificate and talks through it', async () => {
    const { port } = await serve({ tls });
    const client = await connectClient(port, { tls: { ca: tls!.cert, servername: 'localhost' } });
    expect((await client.request('echo', 'over tls', { op: 3 })).text()).toBe('over tls');
    await expect(client.request('nobody')).rejects.toMatchObject({ status: 404 });
  });

  it('a client that does not trust the certificate cannot connect', async () => {
    const { port } = await serve({ tls });
    await expect(connect({ secret: SECRET, port, tls: true, connectTimeoutMs: 2000 })).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_CONNECT',
    });
  });

  it('a plain TCP client cannot talk to a TLS server', async () => {
    const { port } = await serve({ tls });
    await expect(connect({ secret: SECRET, port, connectTimeoutMs: 2000 })).rejects.toMatchObject({
      code: expect.stringMatching(/^NEKO_ERR_CLIENT_(CONNECT|PROTOCOL)$/),
    });
  });
});
