import { describe, expect, it } from 'vitest';
import { isNekoError } from 'nekoconnect';
import { SERVER_GREETER } from 'nekoconnect/protocol';
import { isNekoTestingError } from '../src/errors.js';
import { FakePeer } from './helpers/fake-peer.js';

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as Error,
  );
}

describe('the nonce chain', () => {
  it('authenticates with an auth packet and accepts the answer carrying H of its random', async () => {
    const peer = new FakePeer();
    expect(peer.client.authenticated).toBe(false);
    const done = peer.client.handshake();
    const auth = peer.last;
    expect([auth.greeter, auth.op, auth.data.toString()]).toEqual(['auth', 200, '200']);
    expect(auth.hash.toString()).toBe(peer.hasher.hex(auth.random));
    peer.status(200);
    await done;
    expect(peer.client.authenticated).toBe(true);
  });

  it('writes one packet per fresh server random, hashed with the newest one, and queues the rest', async () => {
    const peer = new FakePeer();
    const n1 = await peer.handshake();
    peer.client.send('echo', 'a');
    peer.client.send('echo', 'b');
    expect(peer.frames).toHaveLength(2);
    expect(peer.last.hash.toString()).toBe(peer.hasher.hex(n1));
    expect(peer.last.data.toString()).toBe('a');

    const n2 = peer.send('echo', 0, 'a');
    expect(peer.frames).toHaveLength(3);
    expect(peer.last.data.toString()).toBe('b');
    expect(peer.last.hash.toString()).toBe(peer.hasher.hex(n2));
    // Each packet carries a fresh random.
    expect(peer.frames[1]!.random.equals(peer.frames[2]!.random)).toBe(false);
  });

  it('a push also brings a fresh random: the next packet goes out with it', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    peer.client.send('todo', 'x');
    peer.client.send('todo', 'y');
    expect(peer.frames).toHaveLength(2);
    const pushed = peer.send('chat', 4, 'hi');
    expect(peer.frames).toHaveLength(3);
    expect(peer.last.hash.toString()).toBe(peer.hasher.hex(pushed));
  });

  it('fails every wait with NEKO_ERR_TESTING_SERVER_HASH when a packet carries H of a random it never sent', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const answer = peer.client.request('echo', 'a');
    const forged = peer.hasher.hex('a random this client never sent');
    peer.send('echo', 0, 'a', forged);
    const err = await rejection(answer);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_SERVER_HASH')).toBe(true);
    expect(err.message).toBe(
      `client 1: "echo" op 0 with 1 byte "a" carries the hash "${forged}", which is H of no random this client sent`,
    );
    // The client hung up, and refuses to go on.
    expect(peer.ended).toBe(true);
    expect(() => peer.client.send('echo', 'b')).toThrow(err);
  });

  it('accepts the hash `server` on a closing status only', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const answer = peer.client.request('echo', 'a');
    peer.closingStatus(422);
    peer.close();
    expect((await answer).status).toBe(422);
    expect(await peer.client.expectClosed()).toEqual({ by: 'server', status: 422 });

    const other = new FakePeer();
    await other.handshake();
    const waiting = other.client.request('echo', 'a');
    other.status(200, 'server');
    expect((await rejection(waiting)).message).toBe(
      'client 1: status 200 (ok) carries the hash "server", which is H of no random this client sent',
    );
  });

  it('takes a closing status carrying H of its newest random, and never uses the random of that status', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const first = peer.client.request('echo', 'a');
    // Lockstep: the second packet waits for a fresh server random.
    peer.client.send('echo', 'b');
    const written = peer.frames.length;
    const random = peer.closingStatus(413, peer.chainHash);
    expect((await first).status).toBe(413);
    await Promise.resolve();
    expect(peer.frames.slice(written).map((f) => f.hash.toString())).not.toContain(peer.hasher.hex(random));
    expect(peer.frames).toHaveLength(written);
    peer.close();
    expect(await peer.client.expectClosed()).toEqual({ by: 'server', status: 413 });
  });

  it('fails with NEKO_ERR_TESTING_PROTOCOL when the server sends bytes that are not a frame', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const waiting = peer.client.next();
    peer.bytes(Buffer.from([0, 0, 0, 5, 1, 1, 0, 0, 0, 0, 1, 1]));
    const err = await rejection(waiting);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_PROTOCOL')).toBe(true);
    expect(err.message).toBe(
      'client 1: the server sent bytes that are not a valid frame: packet_len 5 is below the smallest frame (16 bytes)',
    );
    expect(peer.ended).toBe(true);
  });
});

describe('answers, pushes and statuses', () => {
  it('a status answers the oldest unanswered packet; a plugin packet the oldest one to its greeter', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    peer.client.send('todo', 'x');
    peer.send('chat', 4, 'pushed');
    const answer = peer.client.request('echo', 'y', { op: 7 });
    // The status answers the todo packet, sent first; the echo packet answers the request.
    peer.status(200);
    peer.send('echo', 7, 'y');
    const reply = await answer;
    expect([reply.greeter, reply.op, reply.text(), reply.status]).toEqual(['echo', 7, 'y', undefined]);
    expect(peer.client.unread().map(String)).toEqual([
      '"chat" op 4 with 6 bytes "pushed"',
      'status 200 (ok)',
    ]);
    expect((await peer.client.next()).text()).toBe('pushed');
    expect((await peer.client.expectStatus(200)).status).toBe(200);
    expect(peer.client.unread()).toEqual([]);
  });

  it('request resolves with the status that answers it', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const answer = peer.client.request('nope', 'x');
    peer.status(404);
    const status = await answer;
    expect([status.greeter, status.op, status.status, status.text()]).toEqual([
      SERVER_GREETER,
      404,
      404,
      '404',
    ]);
  });

  it('next() skips statuses unless asked for them, and filters by greeter', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    peer.client.send('a', '1');
    peer.status(200);
    peer.send('b', 1, 'from b');
    peer.send('a', 1, 'from a');
    expect((await peer.client.next({ greeter: 'a' })).text()).toBe('from a');
    expect((await peer.client.next()).text()).toBe('from b');
    expect((await peer.client.next({ greeter: SERVER_GREETER })).status).toBe(200);
  });

  it('a waiting next() takes the first matching packet as it arrives', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const fromB = peer.client.next({ greeter: 'b' });
    const any = peer.client.next();
    peer.send('a', 1, 'first');
    peer.send('b', 2, 'second');
    expect((await any).text()).toBe('first');
    expect((await fromB).text()).toBe('second');
  });

  it('sends objects and arrays as JSON, and refuses a packet that cannot travel before writing anything', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    peer.client.send('todo', { title: 'milk' }, { op: 1 });
    expect(peer.last.data.toString()).toBe('{"title":"milk"}');
    peer.status(200);
    let thrown: unknown;
    try {
      peer.client.send('todo', 'x', { op: -1 });
    } catch (err) {
      thrown = err;
    }
    expect(isNekoError(thrown, 'NEKO_ERR_FRAME_BAD_OP')).toBe(true);
    await expect(peer.client.request('bad greeter', 'x')).rejects.toMatchObject({
      code: 'NEKO_ERR_FRAME_NOT_PRINTABLE',
    });
    expect(peer.frames).toHaveLength(2);
  });
});

describe('request() with { replyOp } or match', () => {
  it('a push of another op from the greeter stays unread for next(); the reply of a listed op answers', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const board = peer.client.request('game', 'top', { op: 5, replyOp: [5, 6] });
    peer.send('game', 2, 'match-found');
    peer.send('game', 6, 'board');
    const reply = await board;
    expect([reply.op, reply.text()]).toEqual([6, 'board']);
    const push = await peer.client.next({ greeter: 'game' });
    expect([push.op, push.text()]).toEqual([2, 'match-found']);
  });

  it('match picks the answer among packets of the greeter; a throwing predicate counts as false', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const reply = peer.client.request('chat', 'who', {
      op: 1,
      match: (p) => p.json<{ id: number }>().id === 7,
    });
    peer.send('chat', 1, 'not json');
    peer.send('chat', 1, '{"id":3}');
    peer.send('chat', 1, '{"id":7}');
    expect((await reply).text()).toBe('{"id":7}');
    expect(peer.client.unread().map((p) => p.text())).toEqual(['not json', '{"id":3}']);
  });

  it('a status still answers it; without options a push answers the request as before', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const waiting = peer.client.request('game', 'x', { op: 5, replyOp: 5 });
    peer.status(404);
    expect((await waiting).status).toBe(404);
    const plain = peer.client.request('game', 'y', { op: 5 });
    peer.send('game', 2, 'push');
    expect((await plain).op).toBe(2);
  });

  it('times out with NEKO_ERR_TESTING_TIMEOUT naming the reply op and what arrived; a bad replyOp is NEKO_ERR_TESTING_OPTIONS', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const board = peer.client.request('game', 'top', { op: 5, replyOp: 5, timeout: 30 });
    peer.send('game', 2, 'match');
    const err = await rejection(board);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_TIMEOUT')).toBe(true);
    expect(err.message).toBe(
      'client 1: no answer of op 5 from "game" to op 5 within 30 ms; arrived instead: "game" op 2 with 5 bytes "match"',
    );
    const bad = await rejection(peer.client.request('game', 'x', { replyOp: 1.5 }));
    expect(isNekoTestingError(bad, 'NEKO_ERR_TESTING_OPTIONS')).toBe(true);
  });
});

describe('failure messages', () => {
  it('a request that times out says what it waited for and what arrived instead', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const answer = peer.client.request('echo', 'hi', { op: 7, timeout: 30 });
    peer.send('chat', 4, '{"nick":"mimi"}');
    const err = await rejection(answer);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_TIMEOUT')).toBe(true);
    expect(err.message).toBe(
      'client 1: no answer from "echo" to op 7 within 30 ms; arrived instead: "chat" op 4 with 15 bytes "{\\"nick\\":\\"mimi\\"}"',
    );
  });

  it('a request that could not even be written says so, and lists what was unread before', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    peer.client.send('todo', 'x');
    const err = await rejection(peer.client.request('echo', 'hi', { timeout: 30 }));
    expect(err.message).toBe(
      'client 1: no answer from "echo" to op 0 within 30 ms; nothing arrived; the packet was never written: the client holds no unused server random (the server has not answered the previous packet)',
    );
  });

  it('next() that times out names the greeter and lists the unread packets', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    peer.send('chat', 4, Buffer.from([0, 255, 16]));
    const err = await rejection(peer.client.next({ greeter: 'todo', timeout: 30 }));
    expect(err.message).toBe(
      'client 1: no packet from "todo" within 30 ms; nothing arrived; unread from before: "chat" op 4 with 3 bytes <00 ff 10>',
    );
    const any = await rejection(new FakePeer().client.next({ timeout: 20 }));
    expect(any.message).toBe('client 1: no packet from a plugin within 20 ms; nothing arrived');
  });

  it('expectStatus() names both codes when another status comes, and the awaited one on a timeout', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    peer.client.send('echo', 'x');
    peer.status(200);
    const wrong = await rejection(peer.client.expectStatus(404));
    expect(isNekoTestingError(wrong, 'NEKO_ERR_TESTING_UNEXPECTED_STATUS')).toBe(true);
    expect(wrong.message).toBe(
      'client 1: expected status 404 (no plugin answers to that greeter), got status 200 (ok)',
    );
    // That status was taken all the same.
    expect(peer.client.unread()).toEqual([]);
    const late = await rejection(peer.client.expectStatus(500, { timeout: 25 }));
    expect(isNekoTestingError(late, 'NEKO_ERR_TESTING_TIMEOUT')).toBe(true);
    expect(late.message).toBe(
      'client 1: no status 500 (plugin handler failed) within 25 ms; nothing arrived',
    );
  });

  it('expectClosed() says the connection is still open, and what arrived meanwhile', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const waiting = peer.client.expectClosed({ timeout: 30 });
    peer.send('chat', 5, 'bye');
    const err = await rejection(waiting);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_TIMEOUT')).toBe(true);
    expect(err.message).toBe(
      'client 1: the connection is still open after 30 ms (expected the server to close it); arrived instead: "chat" op 5 with 3 bytes "bye"',
    );
  });

  it('a wait cut short by the close names the closing status', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const waiting = peer.client.next();
    peer.closingStatus(408);
    peer.close();
    const err = await rejection(waiting);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_CLOSED')).toBe(true);
    expect(err.message).toBe(
      'client 1: the connection closed (after status 408 (timed out)) while waiting for a packet from a plugin; arrived instead: status 408 (timed out)',
    );
    expect(peer.client.connected).toBe(false);
    expect(peer.client.closedInfo).toEqual({ by: 'server', status: 408 });
  });

  it('calls after close() fail with NEKO_ERR_TESTING_CLOSED', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const pending = peer.client.next();
    await peer.client.close();
    expect((await rejection(pending)).message).toBe(
      'client 1: the connection closed (by close()) while waiting for a packet from a plugin; nothing arrived',
    );
    expect(() => peer.client.send('echo', 'x')).toThrow(
      'client 1: cannot send a packet to "echo": the connection is closed (by close())',
    );
    expect(() => peer.client.raw(Buffer.from('x'))).toThrow(
      'client 1: cannot write raw bytes: the connection is closed (by close())',
    );
    const request = await rejection(peer.client.request('echo', 'x'));
    expect(isNekoTestingError(request, 'NEKO_ERR_TESTING_CLOSED')).toBe(true);
    expect(request.message).toBe(
      'client 1: cannot send a request to "echo": the connection is closed (by close())',
    );
    expect(await peer.client.expectClosed()).toEqual({ by: 'client', status: undefined });
  });

  it('a timeout that is not a whole number of ms fails with NEKO_ERR_TESTING_OPTIONS', async () => {
    const peer = new FakePeer();
    await peer.handshake();
    const err = await rejection(peer.client.next({ timeout: 0.5 }));
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_OPTIONS')).toBe(true);
    expect(err.message).toBe('client 1: timeout must be a whole number of ms ≥ 1, got 0.5');
    await expect(peer.client.request('echo', 'x', { timeout: -5 })).rejects.toThrow(
      'client 1: timeout must be a whole number of ms ≥ 1, got -5',
    );
    // The refused request was not sent.
    expect(peer.frames).toHaveLength(1);
  });

  it('a refused or unanswered handshake fails with NEKO_ERR_TESTING_HANDSHAKE', async () => {
    const refused = new FakePeer();
    const done = refused.client.handshake();
    refused.closingStatus(400);
    const err = await rejection(done);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_HANDSHAKE')).toBe(true);
    expect(err.message).toBe(
      'client 1: the server refused the handshake with status 400 (authentication error)',
    );

    const silent = new FakePeer();
    const timedOut = await rejection(silent.client.handshake({ timeout: 20 }));
    expect(isNekoTestingError(timedOut, 'NEKO_ERR_TESTING_HANDSHAKE')).toBe(true);
    expect(timedOut.message).toBe(
      'client 1: no handshake: no answer from "auth" to op 200 within 20 ms; nothing arrived',
    );
  });
});
