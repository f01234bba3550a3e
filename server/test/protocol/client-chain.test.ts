import { MAX_TOKEN_ID_LENGTH } from '../../src/protocol/token.js';
import { describe, it, expect } from 'vitest';
import { isAuthFrame } from '../../src/protocol/auth.js';
import { ClientChain, replyRule, type ChainPacket } from '../../src/protocol/client-chain.js';
import {
  AUTH_PACKET,
  MAX_AUTH_FRAME_LENGTH,
  SERVER_GREETER,
  UNAUTHENTICATED_HASH,
} from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { Frame } from '../../src/protocol/frame.js';
import { Hasher } from '../../src/protocol/hash.js';
import { Status } from '../../src/protocol/status.js';

const hasher = new Hasher('neko');

interface Sent extends ChainPacket {
  readonly name: string;
}

const packet = (name: string, greeter = 'echo', data: string = name): Sent => ({
  name,
  greeter,
  op: 0,
  data,
});

/** Takes the chain's next write and decodes it; fails when there is none or it is an error. */
function write(chain: ClientChain<Sent>): { packet: Sent; frame: Frame } {
  const next = chain.nextWrite();
  if (!next) throw new Error('no write');
  if (next.error) throw next.error;
  return { packet: next.packet, frame: decodeFrame(next.frame) };
}

let serverRandoms = 0;

/** A server frame answering `to` (the client frame whose random it hashes). */
function fromServer(
  greeter: string,
  op: number,
  to: Frame | undefined,
  hash: string | Buffer = hasher.bytes(to!.random),
): { frame: Frame; random: Buffer } {
  const random = Buffer.from(`server-random-${++serverRandoms}`, 'latin1');
  const data = greeter === SERVER_GREETER ? String(op) : 'reply';
  return { frame: decodeFrame(encodeFrame({ greeter, op, random, data, hash })), random };
}

/** A chain past the handshake, with the server's random from the 200. */
function authenticated(): { chain: ClientChain<Sent>; serverRandom: Buffer; auth: Frame } {
  const chain = new ClientChain<Sent>(hasher);
  chain.enqueue({ ...AUTH_PACKET, name: 'auth' });
  const { frame: auth } = write(chain);
  const ok = fromServer(SERVER_GREETER, Status.Ok, auth);
  const arrival = chain.receive(ok.frame);
  expect(arrival).toMatchObject({ kind: 'packet', status: 200, closing: false });
  return { chain, serverRandom: ok.random, auth };
}

describe('auth packet', () => {
  it('isAuthFrame() accepts greeter auth, op 200, data "200" only', () => {
    const frame = (greeter: string, op: number, data: string): Frame =>
      decodeFrame(encodeFrame({ greeter, op, random: 'r', data, hash: 'h' }));
    expect(isAuthFrame(frame('auth', 200, '200'))).toBe(true);
    expect(isAuthFrame(frame('auth', 200, '201'))).toBe(false);
    expect(isAuthFrame(frame('auth', 201, '200'))).toBe(false);
    expect(isAuthFrame(frame('echo', 200, '200'))).toBe(false);
  });

  it('MAX_AUTH_FRAME_LENGTH is the size of a token auth packet with the longest id, a random and a hash of 255 bytes', () => {
    const id = `${'u'.repeat(64)}.${'9'.repeat(12)}`;
    expect(id.length).toBe(MAX_TOKEN_ID_LENGTH);
    const longest = encodeFrame({
      greeter: 'auth',
      op: 210,
      data: id,
      random: 'r'.repeat(255),
      hash: 'h'.repeat(255),
    });
    expect(longest.length).toBe(MAX_AUTH_FRAME_LENGTH);
    expect(MAX_AUTH_FRAME_LENGTH).toBe(606);
    // The auth packet of the secret fits too.
    expect(encodeFrame({ ...AUTH_PACKET, random: 'r'.repeat(255), hash: 'h'.repeat(255) }).length).toBe(532);
  });
});

describe('ClientChain', () => {
  it('writes the first packet alone, hashed with its own random (the auth packet), and is authenticated by H of it', () => {
    const chain = new ClientChain<Sent>(hasher);
    chain.enqueue({ ...AUTH_PACKET, name: 'auth' });
    chain.enqueue(packet('a'));
    const { frame } = write(chain);
    expect(isAuthFrame(frame)).toBe(true);
    expect(frame.hash.equals(hasher.bytes(frame.random))).toBe(true);
    expect(chain.nextWrite()).toBeUndefined();
    expect(chain.authenticated).toBe(false);
    const arrival = chain.receive(fromServer(SERVER_GREETER, Status.Ok, frame).frame);
    expect(arrival).toMatchObject({ kind: 'packet', answers: { name: 'auth' } });
    expect(chain.authenticated).toBe(true);
  });

  it('sends in lockstep: one packet per fresh server random, hashed with the newest', () => {
    const { chain, serverRandom } = authenticated();
    chain.enqueue(packet('a'));
    chain.enqueue(packet('b'));
    const a = write(chain);
    expect(a.packet.name).toBe('a');
    expect(a.frame.hash.equals(hasher.bytes(serverRandom))).toBe(true);
    expect(chain.nextWrite()).toBeUndefined();
    const push = fromServer('other', 1, a.frame);
    const reply = fromServer('echo', 0, a.frame);
    chain.receive(push.frame);
    chain.receive(reply.frame);
    const b = write(chain);
    expect(b.packet.name).toBe('b');
    expect(b.frame.hash.equals(hasher.bytes(reply.random))).toBe(true);
    expect(chain.nextWrite()).toBeUndefined();
  });

  it('a status answers the oldest packet in flight; a plugin packet the oldest one to its greeter', () => {
    const { chain } = authenticated();
    chain.enqueue(packet('a', 'echo'));
    const a = write(chain);
    // A push from another plugin answers nothing, but brings a random.
    expect(chain.receive(fromServer('chat', 0, a.frame).frame)).toMatchObject({
      kind: 'packet',
      status: undefined,
      answers: undefined,
    });
    chain.enqueue(packet('b', 'chat'));
    const b = write(chain);
    expect(chain.receive(fromServer('chat', 0, b.frame).frame)).toMatchObject({ answers: { name: 'b' } });
    chain.enqueue(packet('c', 'chat'));
    const c = write(chain);
    expect(chain.receive(fromServer(SERVER_GREETER, Status.NotFound, c.frame).frame)).toMatchObject({
      status: 404,
      closing: false,
      answers: { name: 'a' },
    });
    expect(chain.receive(fromServer(SERVER_GREETER, Status.Ok, c.frame).frame)).toMatchObject({
      answers: { name: 'c' },
    });
    expect(chain.receive(fromServer(SERVER_GREETER, Status.Ok, c.frame).frame)).toMatchObject({
      answers: undefined,
    });
  });

  it('a packet with a reply rule is answered only by a plugin packet it accepts; a status still answers it', () => {
    const { chain } = authenticated();
    const board: Sent = { ...packet('board', 'game'), op: 5, reply: replyRule([5, 6], undefined) };
    const picky: Sent = {
      ...packet('picky', 'game'),
      reply: replyRule(undefined, (f) => f.data.toString() === 'mine'),
    };
    chain.enqueue(board);
    const b = write(chain);
    // A push of op 2 passes the request by and answers nothing.
    expect(chain.receive(fromServer('game', 2, b.frame).frame)).toMatchObject({ answers: undefined });
    chain.enqueue(picky);
    const p = write(chain);
    // Op 6 fits the board request, the oldest in flight to "game".
    expect(chain.receive(fromServer('game', 6, p.frame).frame)).toMatchObject({ answers: { name: 'board' } });
    // "reply" is not "mine": a push.
    expect(chain.receive(fromServer('game', 0, p.frame).frame)).toMatchObject({ answers: undefined });
    expect(chain.receive(fromServer(SERVER_GREETER, Status.HandlerError, p.frame).frame)).toMatchObject({
      answers: { name: 'picky' },
    });
  });

  it('replyRule() reads an op or a list, refuses what is not an op, and is undefined without options', () => {
    expect(replyRule(undefined, undefined)).toBeUndefined();
    expect(replyRule(5, undefined)).toEqual({ ops: [5], match: undefined });
    expect(replyRule([1, 2], undefined)?.ops).toEqual([1, 2]);
    expect(() => replyRule([1, 1.5], undefined)).toThrow(/replyOp/);
    expect(() => replyRule(-1, undefined)).toThrow(/replyOp/);
  });

  it('refuses a packet that carries H of no random it sent, keeping nothing of it', () => {
    const { chain, auth, serverRandom } = authenticated();
    const forged = fromServer('echo', 0, undefined, hasher.bytes('not-sent'));
    expect(chain.receive(forged.frame)).toEqual({ kind: 'forged' });
    // A status other than a closing one may not carry "server".
    expect(chain.receive(fromServer(SERVER_GREETER, Status.Ok, auth, UNAUTHENTICATED_HASH).frame)).toEqual({
      kind: 'forged',
    });
    // The server random of the handshake is still the one to use.
    chain.enqueue(packet('a'));
    expect(write(chain).frame.hash.equals(hasher.bytes(serverRandom))).toBe(true);
  });

  it('takes a closing status with hash "server" or H of a sent random, and never keeps its random', () => {
    for (const hash of ['server', 'own'] as const) {
      const { chain } = authenticated();
      chain.enqueue(packet('a'));
      const a = write(chain);
      chain.enqueue(packet('b'));
      const closing = fromServer(
        SERVER_GREETER,
        Status.Timeout,
        a.frame,
        hash === 'server' ? UNAUTHENTICATED_HASH : hasher.bytes(a.frame.random),
      );
      expect(chain.receive(closing.frame)).toMatchObject({
        kind: 'packet',
        status: 408,
        closing: true,
        answers: { name: 'a' },
      });
      expect(chain.nextWrite()).toBeUndefined();
    }
  });

  it('hands back a packet that cannot travel with its error, and keeps the server random for the next', () => {
    const { chain, serverRandom } = authenticated();
    chain.enqueue(packet('bad', 'has space'));
    chain.enqueue(packet('a'));
    const bad = chain.nextWrite();
    expect(bad?.packet.name).toBe('bad');
    expect(bad?.error?.code).toBe('NEKO_ERR_FRAME_NOT_PRINTABLE');
    const a = write(chain);
    expect(a.frame.hash.equals(hasher.bytes(serverRandom))).toBe(true);
  });

  it('forget() drops a packet from the queue or the in-flight list; drop() empties both', () => {
    const { chain } = authenticated();
    const a = packet('a');
    const b = packet('b');
    const c = packet('c');
    chain.enqueue(a);
    chain.enqueue(b);
    chain.enqueue(c);
    const written = write(chain);
    chain.forget(a);
    chain.forget(b);
    // The status answers no packet: a was forgotten.
    expect(chain.receive(fromServer(SERVER_GREETER, Status.Ok, written.frame).frame)).toMatchObject({
      answers: undefined,
    });
    expect(chain.drop()).toEqual({ inFlight: [], queued: [c] });
    expect(chain.nextWrite()).toBeUndefined();
  });
});
