import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/protocol/frame.js';
import { Hasher } from '../../src/protocol/hash.js';
import { eventLog, makePluginsDir, specConf } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET, startServer } from '../helpers/server.js';

// The resume extension (protocol §14) spoken by hand over real TCP: every
// frame is built here from the protocol text, not by the SDK.

const GAME = (key: string): string => `const log = globalThis.${key};
export class Logic {
  onDisconnect(ctx) { log.push('disconnect ' + ctx.session.id + ' ' + ctx.send('while away', { op: 6 })); }
  onReconnect(ctx) { log.push('reconnect ' + ctx.session.id); ctx.send('welcome back', { op: 7 }); }
  onLeave(ctx) { log.push('leave ' + ctx.session.id); }
  async recv(ctx) {
    const [cmd, arg = '', rest = ''] = ctx.text().split(' ');
    if (cmd === 'set') { ctx.state.v = arg; ctx.send('ok'); return; }
    if (cmd === 'get') { ctx.send(ctx.session.id + ' ' + (ctx.state.v ?? '-')); return; }
    if (cmd === 'dm') { ctx.send(await ctx.sendTo(arg, rest, { op: 9 })); return; }
    if (cmd === 'big') { ctx.send(await ctx.sendTo(arg, 'x'.repeat(Number(rest)), { op: 9 })); return; }
    if (cmd === 'join') { ctx.send(String(await ctx.group('room').add(ctx.session.id))); return; }
    if (cmd === 'who') { ctx.send(JSON.stringify(await ctx.group('room').members())); return; }
    if (cmd === 'room') { ctx.send(String(ctx.group('room').broadcast(arg, { op: 8 }))); return; }
    if (cmd === 'bye') { ctx.close(); return; }
    ctx.send('hi');
  }
}
`;

const PLAIN = (key: string): string => `const log = globalThis.${key};
export class Logic {
  onDisconnect(ctx) { log.push('plain disconnect ' + ctx.session.id); }
  onLeave(ctx) { log.push('plain leave ' + ctx.session.id); }
  recv(ctx) { ctx.send('plain'); }
}
`;

async function gameServer(
  options: { grace?: number; maxPendingBytes?: number; withPlain?: boolean } = {},
): Promise<{ port: number; events: string[]; started: Awaited<ReturnType<typeof startServer>> }> {
  const { key, events } = eventLog();
  const defs = [
    {
      greeter: 'game',
      logic: GAME(key),
      spec: `${specConf('Game', 'game')}$grace {"${options.grace ?? 5}"};\n`,
    },
  ];
  if (options.withPlain) defs.push({ greeter: 'plain', logic: PLAIN(key), spec: specConf('Plain', 'plain') });
  const plugins = await makePluginsDir(defs);
  const started = await startServer({
    plugins,
    limits: options.maxPendingBytes ? { maxPendingBytes: options.maxPendingBytes } : {},
  });
  return { port: started.port, events, started };
}

const text = (frame: Frame): string => frame.data.toString('utf8');
const shape = (frame: Frame): [string, number, string] => [frame.greeter, frame.op, text(frame)];

/** Sends a packet in the chain and returns the next frame. */
async function ask(peer: RawPeer, greeter: string, data: string, op = 1): Promise<Frame> {
  await peer.packet(greeter, data, { op });
  return peer.next();
}

/** Connects, authenticates and asks for a resume token. */
async function resumablePeer(port: number): Promise<{ peer: RawPeer; token: string }> {
  const peer = await RawPeer.connect(port);
  await peer.handshake(SECRET);
  const answer = await ask(peer, 'auth', '', 201);
  expect([answer.greeter, answer.op]).toEqual(['nekoconnect-server', 201]);
  return { peer, token: text(answer) };
}

/** Connects, authenticates and presents a token; returns the peer and the answer. */
async function resume(port: number, token: string): Promise<{ peer: RawPeer; answer: Frame }> {
  const peer = await RawPeer.connect(port);
  await peer.handshake(SECRET);
  const answer = await ask(peer, 'auth', token, 202);
  return { peer, answer };
}

describe('resume tokens (auth op 201)', () => {
  it('answers with a fresh printable token in the chain, and the session goes on', async () => {
    const { port } = await gameServer();
    const peer = await RawPeer.connect(port);
    await peer.handshake(SECRET);
    const random = await peer.packet('auth', '', { op: 201 });
    const answer = await peer.next();
    expect([answer.greeter, answer.op]).toEqual(['nekoconnect-server', 201]);
    expect(text(answer)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Like every packet of the session, it carries H of the client's newest verified random.
    expect(answer.hash.toString('latin1')).toBe(new Hasher(SECRET).hex(random));
    // Its random is the next one to answer.
    expect(text(await ask(peer, 'game', 'hello'))).toBe('hi');
    // A second request gives another token.
    const again = await ask(peer, 'auth', '', 201);
    expect(text(again)).not.toBe(text(answer));
  });

  it('answers 404 to an extension op it does not know, and the session stays open', async () => {
    const { port } = await gameServer();
    const peer = await RawPeer.connect(port);
    await peer.handshake(SECRET);
    expect(shape(await ask(peer, 'auth', '', 299))).toEqual(['nekoconnect-server', 404, '404']);
    expect(text(await ask(peer, 'game', 'hello'))).toBe('hi');
  });

  it('checks the hash of an extension packet like any other: a wrong one gets 400 with the hash "server"', async () => {
    const { port } = await gameServer();
    const peer = await RawPeer.connect(port);
    await peer.handshake(SECRET);
    await peer.packet('auth', '', { op: 201, hash: 'f'.repeat(64) });
    const refusal = await peer.next();
    expect([refusal.op, refusal.hash.toString('latin1')]).toEqual([400, 'server']);
    await peer.closed();
  });

  it('never takes a resume packet as a first packet: the handshake is auth op 200 only', async () => {
    const { port } = await gameServer();
    const peer = await RawPeer.connect(port);
    const hasher = new Hasher(SECRET);
    await peer.send({
      greeter: 'auth',
      op: 202,
      random: 'r-0123456789abcdef',
      data: 'token',
      hash: hasher.hex('r-0123456789abcdef'),
    });
    const refusal = await peer.next();
    expect([refusal.op, refusal.hash.toString('latin1')]).toEqual([400, 'server']);
  });
});

describe('resuming a dropped session (auth op 202)', () => {
  it('moves the session, its state and groups to the new connection, with what was sent during the gap first', async () => {
    const { port, events, started } = await gameServer();
    const { peer: first, token } = await resumablePeer(port);
    expect(text(await ask(first, 'game', 'set cat'))).toBe('ok');
    expect(text(await ask(first, 'game', 'join'))).toBe('true');
    const other = await RawPeer.connect(port);
    await other.handshake(SECRET);
    expect(text(await ask(other, 'game', 'hello'))).toBe('hi');

    first.socket.destroy();
    await expect.poll(() => events).toContain('disconnect s-1 true');
    expect(started.server.sessions().find((s) => s.id === 's-1')?.state).toBe('detached');
    // During the gap: a direct message is queued, a group broadcast counts it, the group keeps it.
    expect(text(await ask(other, 'game', 'dm s-1 psst'))).toBe('queued');
    expect(text(await ask(other, 'game', 'room meow'))).toBe('1');
    expect(text(await ask(other, 'game', 'who'))).toBe('["s-1"]');

    const { peer: second, answer } = await resume(port, token);
    expect(answer.greeter).toBe('nekoconnect-server');
    expect(answer.op).toBe(202);
    const [outcome, nextToken] = text(answer).split(' ');
    expect(outcome).toBe('200');
    expect(nextToken).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // What was sent while away, in order, before anything new (onReconnect's packet comes after).
    expect(shape(await second.next())).toEqual(['game', 6, 'while away']);
    expect(shape(await second.next())).toEqual(['game', 9, 'psst']);
    expect(shape(await second.next())).toEqual(['game', 8, 'meow']);
    expect(shape(await second.next())).toEqual(['game', 7, 'welcome back']);
    // The same session: id, state, group.
    expect(text(await ask(second, 'game', 'get'))).toBe('s-1 cat');
    expect(text(await ask(other, 'game', 'dm s-1 again'))).toBe('delivered');
    expect(shape(await second.next())).toEqual(['game', 9, 'again']);
    expect(events).toEqual(['disconnect s-1 true', 'reconnect s-1']);
    expect(started.server.sessions().map((s) => [s.id, s.state])).toEqual([
      ['s-2', 'open'],
      ['s-1', 'open'],
    ]);
  });

  it('uses a token once: presented again, it is refused with 410 and that connection goes on as a new session', async () => {
    const { port } = await gameServer();
    const { peer: first, token } = await resumablePeer(port);
    await ask(first, 'game', 'set cat');
    first.socket.destroy();
    const { peer: second, answer } = await resume(port, token);
    expect(text(answer).split(' ')[0]).toBe('200');
    second.socket.destroy();
    const { peer: third, answer: refused } = await resume(port, token);
    expect(shape(refused)).toEqual(['nekoconnect-server', 202, '410']);
    expect(text(await ask(third, 'game', 'get'))).toMatch(/^s-\d+ -$/);
  });

  it('refuses with 409 a resume that is not the first packet after the handshake, and the token still works', async () => {
    const { port } = await gameServer();
    const { peer: first, token } = await resumablePeer(port);
    await ask(first, 'game', 'set cat');
    first.socket.destroy();
    const late = await RawPeer.connect(port);
    await late.handshake(SECRET);
    await ask(late, 'game', 'hello');
    expect(shape(await ask(late, 'auth', token, 202))).toEqual(['nekoconnect-server', 202, '409']);
    const { peer, answer } = await resume(port, token);
    expect(text(answer).split(' ')[0]).toBe('200');
    await peer.next(); // 'while away'
    await peer.next(); // 'welcome back'
    expect(text(await ask(peer, 'game', 'get'))).toBe('s-1 cat');
  });

  it('ends the session when the grace period runs out: onLeave, and the token is refused', async () => {
    const { port, events } = await gameServer({ grace: 1 });
    const { peer, token } = await resumablePeer(port);
    await ask(peer, 'game', 'hello');
    peer.socket.destroy();
    await expect.poll(() => events).toContain('disconnect s-1 true');
    expect(events).not.toContain('leave s-1');
    await expect.poll(() => events, { timeout: 3_000 }).toContain('leave s-1');
    const { answer } = await resume(port, token);
    expect(shape(answer)).toEqual(['nekoconnect-server', 202, '410']);
  });

  it('keeps nothing for a client that never asked for a token: the drop is the end, as before', async () => {
    const { port, events } = await gameServer();
    const peer = await RawPeer.connect(port);
    await peer.handshake(SECRET);
    await ask(peer, 'game', 'hello');
    peer.socket.destroy();
    await expect.poll(() => events).toEqual(['leave s-1']);
  });

  it('is never resumable after the server closed the session (ctx.close)', async () => {
    const { port, events } = await gameServer();
    const { peer, token } = await resumablePeer(port);
    await peer.packet('game', 'bye');
    await peer.closed();
    await expect.poll(() => events).toEqual(['leave s-1']);
    const { answer } = await resume(port, token);
    expect(text(answer)).toBe('410');
  });

  it('gives onLeave at the drop to a plugin without a grace, onDisconnect to the one with it', async () => {
    const { port, events } = await gameServer({ withPlain: true });
    const { peer } = await resumablePeer(port);
    await ask(peer, 'plain', 'x');
    await ask(peer, 'game', 'hello');
    peer.socket.destroy();
    await expect.poll(() => [...events].sort()).toEqual(['disconnect s-1 true', 'plain leave s-1']);
  });

  it('ends the session when more is sent to it during the gap than maxPendingBytes: resume refused, fault counted', async () => {
    const { port, events, started } = await gameServer({ maxPendingBytes: 4096 });
    const { peer, token } = await resumablePeer(port);
    await ask(peer, 'game', 'hello');
    const other = await RawPeer.connect(port);
    await other.handshake(SECRET);
    peer.socket.destroy();
    await expect.poll(() => events).toContain('disconnect s-1 true');
    expect(text(await ask(other, 'game', 'big s-1 2000'))).toBe('queued');
    expect(text(await ask(other, 'game', 'big s-1 2000'))).toBe('gone');
    await expect.poll(() => events).toContain('leave s-1');
    expect(started.server.faultCloses()).toMatchObject({ NEKO_ERR_SESSION_RESUME_OVERFLOW: 1 });
    const { answer } = await resume(port, token);
    expect(text(answer)).toBe('410');
  });

  it('takes over a session whose old connection still looks alive: the old one is closed', async () => {
    const { port, events } = await gameServer();
    const { peer: first, token } = await resumablePeer(port);
    await ask(first, 'game', 'set cat');
    const { peer: second, answer } = await resume(port, token);
    expect(text(answer).split(' ')[0]).toBe('200');
    await first.closed();
    expect(shape(await second.next())).toEqual(['game', 6, 'while away']);
    expect(shape(await second.next())).toEqual(['game', 7, 'welcome back']);
    expect(text(await ask(second, 'game', 'get'))).toBe('s-1 cat');
    expect(events).toEqual(['disconnect s-1 true', 'reconnect s-1']);
  });

  it('ends waiting sessions at shutdown: their onLeave runs before the server is closed', async () => {
    const { port, events, started } = await gameServer();
    const { peer } = await resumablePeer(port);
    await ask(peer, 'game', 'hello');
    peer.socket.destroy();
    await expect.poll(() => events).toContain('disconnect s-1 true');
    await started.server.close();
    expect(events).toEqual(['disconnect s-1 true', 'leave s-1']);
  });
});
