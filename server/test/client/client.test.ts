import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { describe, it, expect, vi, onTestFinished } from 'vitest';
import { NekoStatusError, connect, type ClientPacket, type NekoClient } from '../../src/client/client.js';
import { NekoError } from '../../src/errors.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { FrameFields } from '../../src/protocol/frame.js';
import { Hasher } from '../../src/protocol/hash.js';
import { LOGIC, allPlugins, makePluginsDir } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET, connectClient, startServer, type StartedServer } from '../helpers/server.js';

const H = new Hasher(SECRET);

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<StartedServer> {
  return startServer({
    plugins: await makePluginsDir([...allPlugins(), { greeter: 'broken', logic: LOGIC.importThrows }]),
    ...options,
  });
}

/** Awaits `promise`, expecting it to reject; returns the reason. */
async function rejection(promise: Promise<unknown>): Promise<NekoError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(NekoError);
    return err as NekoError;
  }
  throw new Error('expected a rejection');
}

/** A TCP server written by hand: each accepted connection is a RawPeer the test drives. */
async function fakeServer(): Promise<{ port: number; accepted: () => Promise<RawPeer> }> {
  const peers: RawPeer[] = [];
  const waiting: ((peer: RawPeer) => void)[] = [];
  const server: NetServer = createNetServer((socket) => {
    const peer = RawPeer.wrap(socket);
    const waiter = waiting.shift();
    if (waiter) waiter(peer);
    else peers.push(peer);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => {
      const peer = peers.shift();
      return peer ? Promise.resolve(peer) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** The fake server's side of a handshake: reads the auth, answers 200 with `hash` (default H(Rc0)); returns Rc0. */
async function fakeHandshake(peer: RawPeer, fields: Partial<FrameFields> = {}): Promise<string> {
  const auth = await peer.next();
  expect([auth.greeter, auth.op, auth.data.toString()]).toEqual(['auth', 200, '200']);
  expect(auth.hash.toString()).toBe(H.hex(auth.random));
  await peer.send({
    greeter: 'nekoconnect-server',
    op: 200,
    random: 'N1-fake-server',
    data: '200',
    hash: H.hex(auth.random),
    ...fields,
  });
  return auth.random.toString('latin1');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connect()', () => {
  it('connects, authenticates and resolves with a connected client', async () => {
    const { port, server } = await serve();
    const client = await connectClient(port);
    expect(client.connected).toBe(true);
    expect(server.connectionCount).toBe(1);
  });

  it('rejects a wrong secret with NEKO_ERR_CLIENT_AUTH', async () => {
    const { port } = await serve();
    const err = await rejection(connect({ secret: 'wrong', port }));
    expect(err.code).toBe('NEKO_ERR_CLIENT_AUTH');
    expect(err.message).toContain('400');
  });

  it('rejects an empty secret with NEKO_ERR_CLIENT_AUTH, without connecting', async () => {
    const { port, server } = await serve();
    expect((await rejection(connect({ secret: '', port }))).code).toBe('NEKO_ERR_CLIENT_AUTH');
    expect(server.connectionCount).toBe(0);
  });

  it('rejects a closed port with NEKO_ERR_CLIENT_CONNECT', async () => {
    const err = await rejection(connect({ secret: SECRET, port: await closedPort() }));
    expect(err.code).toBe('NEKO_ERR_CLIENT_CONNECT');
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('rejects with NEKO_ERR_CLIENT_CONNECT when the server does not answer in connectTimeoutMs', async () => {
    const fake = await fakeServer();
    const started = Date.now();
    const err = await rejection(connect({ secret: SECRET, port: fake.port, connectTimeoutMs: 150 }));
    expect(err.code).toBe('NEKO_ERR_CLIENT_CONNECT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('rejects with NEKO_ERR_CLIENT_CONNECT when the server closes during the handshake', async () => {
    const fake = await fakeServer();
    const connecting = connect({ secret: SECRET, port: fake.port });
    const peer = await fake.accepted();
    await peer.next();
    peer.socket.end();
    expect((await rejection(connecting)).code).toBe('NEKO_ERR_CLIENT_CONNECT');
  });

  it('accepts a server that proves the secret (the fake server, done right)', async () => {
    const fake = await fakeServer();
    const connecting = connect({ secret: SECRET, port: fake.port });
    await fakeHandshake(await fake.accepted());
    const client = await connecting;
    onTestFinished(() => client.close());
    expect(client.connected).toBe(true);
  });

  it('rejects a server that answers 200 without proving the secret: NEKO_ERR_CLIENT_AUTH', async () => {
    for (const hash of [H.hex('something else'), new Hasher('other').hex('x'), 'server', 'f'.repeat(64)]) {
      const fake = await fakeServer();
      const connecting = connect({ secret: SECRET, port: fake.port });
      await fakeHandshake(await fake.accepted(), { hash });
      const err = await rejection(connecting);
      expect(err.code).toBe('NEKO_ERR_CLIENT_AUTH');
      expect(err.message).toContain('does not prove');
    }
  });

  it('rejects a handshake answer from another greeter or with another op: NEKO_ERR_CLIENT_AUTH', async () => {
    for (const fields of [{ greeter: 'echo' }, { op: 100 }]) {
      const fake = await fakeServer();
      const connecting = connect({ secret: SECRET, port: fake.port });
      await fakeHandshake(await fake.accepted(), fields);
      expect((await rejection(connecting)).code).toBe('NEKO_ERR_CLIENT_AUTH');
    }
  });

  it('rejects bytes that are not a frame during the handshake: NEKO_ERR_CLIENT_PROTOCOL', async () => {
    const fake = await fakeServer();
    const connecting = connect({ secret: SECRET, port: fake.port });
    const peer = await fake.accepted();
    await peer.next();
    await peer.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
    expect((await rejection(connecting)).code).toBe('NEKO_ERR_CLIENT_PROTOCOL');
  });
});

describe('NekoClient.request()', () => {
  it('resolves with the plugin reply: greeter, op, data, no status', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const reply = await client.request('echo', 'hello', { op: 7 });
    expect([reply.greeter, reply.op, reply.text(), reply.status, reply.len]).toEqual([
      'echo',
      7,
      'hello',
      undefined,
      5,
    ]);
    expect(reply.data).toEqual(Buffer.from('hello'));
  });

  it('sends op 0 and empty data by default, and bytes as they are', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const empty = await client.request('echo');
    expect([empty.op, empty.len]).toEqual([0, 0]);
    const bytes = Uint8Array.from([0, 255, 10, 13]);
    expect((await client.request('echo', bytes)).data).toEqual(Buffer.from(bytes));
    expect((await client.request('echo', '{"a":1}')).json()).toEqual({ a: 1 });
  });

  it('resolves a 200 (handler sent nothing) with status 200', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const answer = await client.request('silent');
    expect([answer.greeter, answer.status, answer.op, answer.text()]).toEqual([
      'nekoconnect-server',
      200,
      200,
      '200',
    ]);
  });

  it('resolves a 100 (handler waits) with status 100; the next request to that greeter gets the reply', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    expect((await client.request('concat', 'neko')).status).toBe(100);
    expect((await client.request('concat', 'connect')).text()).toBe('nekoconnect');
  });

  it('rejects a missing greeter with a NekoStatusError of status 404', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const err = await rejection(client.request('nobody'));
    expect(err).toBeInstanceOf(NekoStatusError);
    expect(err.code).toBe('NEKO_ERR_CLIENT_STATUS');
    expect((err as NekoStatusError).status).toBe(404);
    expect((err as NekoStatusError).greeter).toBe('nobody');
    expect(client.connected).toBe(true);
  });

  it('rejects 500 and 503 with NekoStatusErrors, and the client goes on', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    expect(((await rejection(client.request('throws'))) as NekoStatusError).status).toBe(500);
    expect(((await rejection(client.request('broken'))) as NekoStatusError).status).toBe(503);
    expect((await client.request('echo', 'fine')).text()).toBe('fine');
  });

  it('rejects with NEKO_ERR_CLIENT_TIMEOUT when no answer comes in time; later requests still work', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const late: ClientPacket[] = [];
    client.on('packet', (p) => late.push(p));
    const err = await rejection(client.request('slow', '150', { timeoutMs: 30 }));
    expect(err.code).toBe('NEKO_ERR_CLIENT_TIMEOUT');
    // The late answer arrives as a packet event, and frees the chain for the next request.
    expect((await client.request('echo', 'next')).text()).toBe('next');
    expect(late.map((p) => p.text())).toEqual(['slow-done']);
  });

  it('uses requestTimeoutMs as the default timeout', async () => {
    const { port } = await serve();
    const client = await connectClient(port, { requestTimeoutMs: 30 });
    expect((await rejection(client.request('slow', '150'))).code).toBe('NEKO_ERR_CLIENT_TIMEOUT');
  });

  it('resolves many requests queued at once, in order, each waiting for a fresh server random', async () => {
    const { port, server } = await serve();
    const client = await connectClient(port);
    const order: number[] = [];
    const requests = Array.from({ length: 50 }, (_, i) =>
      client.request('echo', `n${i}`, { op: i }).then((reply) => {
        order.push(reply.op);
        return reply.text();
      }),
    );
    expect(await Promise.all(requests)).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(client.connected).toBe(true);
    expect(server.connectionCount).toBe(1);
  });

  it('rejects a request whose greeter or op cannot travel, without breaking the chain', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const bad = client.request('has space');
    const badOp = client.request('echo', '', { op: -1 });
    const good = client.request('echo', 'ok');
    expect((await rejection(bad)).code).toBe('NEKO_ERR_FRAME_NOT_PRINTABLE');
    expect((await rejection(badOp)).code).toBe('NEKO_ERR_FRAME_BAD_OP');
    expect((await good).text()).toBe('ok');
  });

  it('rejects with status 413 when the server refuses a packet as too large, then reports the close', async () => {
    const { port } = await serve({ limits: { maxPacketBytes: 256 } });
    const client = await connectClient(port);
    const closed = once(client, 'close');
    const err = await rejection(client.request('echo', 'x'.repeat(300)));
    expect((err as NekoStatusError).status).toBe(413);
    expect(await closed).toEqual([{ status: 413, error: undefined }]);
    expect(client.connected).toBe(false);
    const after = await rejection(client.request('echo', 'again'));
    expect((after as NekoStatusError).status).toBe(413);
  });

  it('refuses a server frame above its maxPacketBytes: the request rejects with NEKO_ERR_CLIENT_PROTOCOL', async () => {
    const { port } = await serve();
    const client = await connectClient(port, { maxPacketBytes: 200 });
    expect((await client.request('echo', 'x'.repeat(50))).len).toBe(50);
    const err = await rejection(client.request('echo', 'x'.repeat(150)));
    expect(err.code).toBe('NEKO_ERR_CLIENT_PROTOCOL');
    expect((err.cause as NekoError).code).toBe('NEKO_ERR_FRAME_TOO_LARGE');
    expect(client.connected).toBe(false);
  });

  it('reports a closing status that answers no request as a status event (idle timeout: 408)', async () => {
    const { port } = await serve({ limits: { idleTimeoutMs: 100 } });
    const client = await connectClient(port);
    const status = once(client, 'status');
    const closed = once(client, 'close');
    const [err] = (await status) as [NekoStatusError];
    expect(err.status).toBe(408);
    expect(await closed).toEqual([{ status: 408, error: undefined }]);
  });
});

describe('NekoClient: pushed packets', () => {
  it('delivers packets that answer no request as packet events; send() resolves once written', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const got: string[] = [];
    const three = new Promise<void>((resolve) =>
      client.on('packet', (p) => {
        got.push(`${p.greeter}:${p.text()}`);
        if (got.length === 3) resolve();
      }),
    );
    await client.send('burst', '3');
    await three;
    expect(got).toEqual(['burst:burst-1', 'burst:burst-2', 'burst:burst-3']);
  });

  it('packets() yields pushed packets in order; breaking out removes its listeners', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const iterator = client.packets();
    await client.send('burst', '3');
    const got: string[] = [];
    for await (const packet of iterator) {
      got.push(packet.text());
      if (got.length === 3) break;
    }
    expect(got).toEqual(['burst-1', 'burst-2', 'burst-3']);
    expect(client.listenerCount('packet')).toBe(0);
  });

  it('packets() buffers from the call on, before the first next()', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const iterator = client.packets();
    const emitted = once(client, 'packet');
    await client.send('echo', 'early');
    await emitted;
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect((first.value as ClientPacket).text()).toBe('early');
    await iterator.return(undefined);
  });

  it('packets() ends when the connection closes, after the buffered packets', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const iterator = client.packets();
    await client.send('closer');
    const got: string[] = [];
    for await (const packet of iterator) got.push(packet.text());
    expect(got).toEqual(['bye']);
    expect(client.connected).toBe(false);
  });
});

describe('NekoClient.packets(): listeners', () => {
  it('drops its listeners when the connection closes, even if never iterated', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    void client.packets();
    expect(client.listenerCount('packet')).toBe(1);
    await client.close();
    expect(client.listenerCount('packet')).toBe(0);
    expect(client.listenerCount('close')).toBe(0);
  });
});

describe('NekoClient.close()', () => {
  it('rejects pending and queued requests with NEKO_ERR_CLIENT_CLOSED, and later calls too', async () => {
    const { port } = await serve();
    const client = await connectClient(port);
    const pending = client.request('slow', '2000');
    const queued = client.request('echo', 'queued');
    const queuedSend = client.send('echo', 'queued send');
    const closed = once(client, 'close');
    await client.close();
    expect(client.connected).toBe(false);
    expect((await rejection(pending)).code).toBe('NEKO_ERR_CLIENT_CLOSED');
    expect((await rejection(queued)).code).toBe('NEKO_ERR_CLIENT_CLOSED');
    expect((await rejection(queuedSend)).code).toBe('NEKO_ERR_CLIENT_CLOSED');
    expect(await closed).toEqual([{ status: undefined, error: undefined }]);
    expect((await rejection(client.request('echo'))).code).toBe('NEKO_ERR_CLIENT_CLOSED');
    expect((await rejection(client.send('echo'))).code).toBe('NEKO_ERR_CLIENT_CLOSED');
    await client.close();
  });

  it('ends the session on the server', async () => {
    const { port, server } = await serve();
    const client = await connectClient(port);
    await client.close();
    await vi.waitFor(() => expect(server.connectionCount).toBe(0));
  });
});

describe('NekoClient: the nonce chain, seen from a fake server', () => {
  async function connected(): Promise<{ client: NekoClient; peer: RawPeer; authRandom: string }> {
    const fake = await fakeServer();
    const connecting = connect({ secret: SECRET, port: fake.port });
    const peer = await fake.accepted();
    const authRandom = await fakeHandshake(peer);
    const client = await connecting;
    onTestFinished(() => client.close());
    return { client, peer, authRandom };
  }

  it('chains each packet to the newest server random and waits for a fresh one between sends', async () => {
    const { client, peer } = await connected();
    const first = client.request('echo', 'one');
    const second = client.request('echo', 'two');
    const p1 = await peer.next();
    expect([p1.greeter, p1.data.toString(), p1.hash.toString()]).toEqual([
      'echo',
      'one',
      H.hex('N1-fake-server'),
    ]);
    // The client holds no unused server random: the second packet must wait.
    expect(await peer.framesWithin(60)).toEqual([]);
    await peer.send({ greeter: 'echo', op: 0, random: 'N2', data: 'one', hash: H.hex(p1.random) });
    expect((await first).text()).toBe('one');
    const p2 = await peer.next();
    expect([p2.data.toString(), p2.hash.toString()]).toEqual(['two', H.hex('N2')]);
    expect(p2.random.equals(p1.random)).toBe(false);
    await peer.send({ greeter: 'echo', op: 0, random: 'N3', data: 'two', hash: H.hex(p2.random) });
    expect((await second).text()).toBe('two');
  });

  it('uses the newest of several server randoms received', async () => {
    const { client, peer, authRandom } = await connected();
    const pushed = new Promise<void>((resolve) =>
      client.on('packet', (p) => p.text() === 'push-3' && resolve()),
    );
    for (const i of [1, 2, 3]) {
      await peer.send({
        greeter: 'news',
        op: 0,
        random: `P${i}`,
        data: `push-${i}`,
        hash: H.hex(authRandom),
      });
    }
    await pushed;
    void client.send('echo', 'now');
    const packet = await peer.next();
    expect([packet.data.toString(), packet.hash.toString()]).toEqual(['now', H.hex('P3')]);
  });

  it('closes, without hashing its random, on a packet that does not carry H of a random it sent', async () => {
    const { client, peer } = await connected();
    const pending = client.request('echo', 'x');
    const sent = await peer.next();
    const closed = new Promise<{ error?: Error }>((resolve) => client.once('close', resolve));
    // An injected packet: its hash is H of something the client never sent.
    await peer.send({ greeter: 'echo', op: 0, random: 'ORACLE-BAIT', data: 'x', hash: H.hex('forged') });
    const err = await rejection(pending);
    expect(err.code).toBe('NEKO_ERR_CLIENT_AUTH');
    expect((await closed).error?.message).toMatch(/does not carry H of any random this client sent/);
    // Nothing the client wrote after the injected packet carries H(ORACLE-BAIT).
    const rest = await peer.framesWithin(100);
    expect(rest.map((f) => f.hash.toString())).not.toContain(H.hex('ORACLE-BAIT'));
    expect(sent.hash.toString()).toBe(H.hex('N1-fake-server'));
  });

  it('reads nothing after a packet that does not carry H of a random it sent, even in the same chunk', async () => {
    const { client, peer } = await connected();
    const pushes: string[] = [];
    client.on('packet', (p) => pushes.push(p.text()));
    const closed = new Promise<{ error?: Error }>((resolve) => client.once('close', resolve));
    await client.send('echo', 'first');
    const first = await peer.next();
    // No unused server random: this one waits.
    const waiting = client.send('echo', 'waiting');
    const forged = encodeFrame({
      greeter: 'echo',
      op: 0,
      random: 'BAIT-1',
      data: 'x',
      hash: H.hex('forged'),
    });
    // Behind it in the same chunk, a packet carrying H of the client's random: its random would be hashed.
    const after = encodeFrame({
      greeter: 'news',
      op: 0,
      random: 'BAIT-2',
      data: 'y',
      hash: H.hex(first.random),
    });
    await peer.write(Buffer.concat([forged, after]));
    expect((await closed).error?.message).toMatch(/does not carry H of any random this client sent/);
    expect((await rejection(waiting)).code).toBe('NEKO_ERR_CLIENT_AUTH');
    expect(pushes).toEqual([]);
    expect(await peer.framesWithin(100)).toEqual([]);
  });

  it('accepts H of an older random it sent, and a closing status with hash "server"', async () => {
    const { client, peer, authRandom } = await connected();
    const first = client.request('echo', 'one');
    const p1 = await peer.next();
    // The server may still carry H of the auth random (its newest verified one, from its point of view).
    await peer.send({ greeter: 'echo', op: 0, random: 'S2', data: 'one', hash: H.hex(authRandom) });
    expect((await first).text()).toBe('one');
    const second = client.request('echo', 'two');
    const p2 = await peer.next();
    expect(p2.hash.toString()).toBe(H.hex('S2'));
    await peer.send({ greeter: 'nekoconnect-server', op: 413, random: 'S3', data: '413', hash: 'server' });
    const err = await rejection(second);
    expect([err.code, (err as NekoStatusError).status]).toEqual(['NEKO_ERR_CLIENT_STATUS', 413]);
    expect(p1.hash.toString()).toBe(H.hex('N1-fake-server'));
  });

  it('takes a closing status carrying H of its newest random (408, 413, 422 mid-session), and never uses its random', async () => {
    for (const status of [408, 413, 422]) {
      const { client, peer } = await connected();
      const first = client.request('echo', 'one');
      const p1 = await peer.next();
      // A second request waits for a fresh server random.
      const second = client.request('echo', 'two');
      const closed = new Promise<{ status?: number }>((resolve) => client.once('close', resolve));
      await peer.send({
        greeter: 'nekoconnect-server',
        op: status,
        random: `CLOSING-${status}`,
        data: String(status),
        hash: H.hex(p1.random),
      });
      const err = (await rejection(first)) as NekoStatusError;
      expect([err.code, err.status]).toEqual(['NEKO_ERR_CLIENT_STATUS', status]);
      // The waiting request is never written with H of the closing status's random.
      expect(await peer.framesWithin(100)).toEqual([]);
      peer.socket.end();
      expect(((await rejection(second)) as NekoStatusError).status).toBe(status);
      expect((await closed).status).toBe(status);
    }
  });

  it('rejects pending requests with NEKO_ERR_CLIENT_PROTOCOL when the server sends bytes that are not a frame', async () => {
    const { client, peer } = await connected();
    const pending = client.request('echo', 'x');
    await peer.next();
    await peer.write(Buffer.from([0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]));
    const err = await rejection(pending);
    expect(err.code).toBe('NEKO_ERR_CLIENT_PROTOCOL');
    expect(client.connected).toBe(false);
  });

  it('matches a status to the oldest packet in flight', async () => {
    const { client, peer } = await connected();
    const first = client.request('a');
    const p1 = await peer.next();
    await peer.send({
      greeter: 'nekoconnect-server',
      op: 404,
      random: 'S1',
      data: '404',
      hash: H.hex(p1.random),
    });
    const err = (await rejection(first)) as NekoStatusError;
    expect([err.status, err.greeter]).toEqual([404, 'a']);
  });
  it('with { replyOp: [5, 6] }: a push of another op goes to the packet event, the reply answers', async () => {
    const { client, peer } = await connected();
    const pushes: ClientPacket[] = [];
    client.on('packet', (p) => pushes.push(p));
    const board = client.request('game', 'top', { op: 5, replyOp: [5, 6] });
    const p1 = await peer.next();
    // A match push arrives first, chained to the request's random: it must not answer it.
    await peer.send({ greeter: 'game', op: 2, random: 'M1', data: 'match-found', hash: H.hex(p1.random) });
    await peer.send({ greeter: 'game', op: 6, random: 'M2', data: 'board', hash: H.hex(p1.random) });
    const answer = await board;
    expect([answer.op, answer.text()]).toEqual([6, 'board']);
    expect(pushes.map((p) => [p.op, p.text()])).toEqual([[2, 'match-found']]);
  });

  it('with a match predicate: only the packet it accepts answers; the others are pushes', async () => {
    const { client, peer } = await connected();
    const iterator = client.packets();
    const reply = client.request('chat', 'who', {
      op: 1,
      replyOp: 1,
      match: (p) => (p.json() as { id?: number }).id === 7,
    });
    const p1 = await peer.next();
    await peer.send({ greeter: 'chat', op: 1, random: 'C1', data: '{"id":3}', hash: H.hex(p1.random) });
    await peer.send({ greeter: 'chat', op: 1, random: 'C2', data: 'not json', hash: H.hex(p1.random) });
    await peer.send({ greeter: 'chat', op: 1, random: 'C3', data: '{"id":7}', hash: H.hex(p1.random) });
    expect((await reply).text()).toBe('{"id":7}');
    expect((await iterator.next()).value?.text()).toBe('{"id":3}');
    expect((await iterator.next()).value?.text()).toBe('not json');
    await iterator.return();
  });

  it('without replyOp the next packet from the greeter answers (the default), and a status still answers a replyOp request', async () => {
    const { client, peer } = await connected();
    const plain = client.request('game', 'x', { op: 5 });
    const p1 = await peer.next();
    await peer.send({ greeter: 'game', op: 2, random: 'G1', data: 'push', hash: H.hex(p1.random) });
    expect((await plain).op).toBe(2);
    const waiting = client.request('game', 'y', { op: 5, replyOp: 5 });
    const p2 = await peer.next();
    await peer.send({
      greeter: 'nekoconnect-server',
      op: 500,
      random: 'G2',
      data: '500',
      hash: H.hex(p2.random),
    });
    expect(((await rejection(waiting)) as NekoStatusError).status).toBe(500);
  });

  it('rejects a replyOp request with no fitting packet in time with NEKO_ERR_CLIENT_TIMEOUT listing what arrived', async () => {
    const { client, peer } = await connected();
    const pushes: ClientPacket[] = [];
    client.on('packet', (p) => pushes.push(p));
    const board = client.request('game', 'top', { op: 5, replyOp: 5, timeoutMs: 150 });
    const p1 = await peer.next();
    await peer.send({ greeter: 'game', op: 2, random: 'T1', data: 'match-found', hash: H.hex(p1.random) });
    const err = await rejection(board);
    expect(err.code).toBe('NEKO_ERR_CLIENT_TIMEOUT');
    expect(err.message).toContain('reply op 5');
    expect(err.message).toContain('arrived instead: op 2 from "game" (11 bytes)');
    expect(pushes).toHaveLength(1);
  });

  it('rejects a replyOp that is not an op, sending nothing', async () => {
    const { client, peer } = await connected();
    await expect(client.request('game', 'x', { replyOp: [1, -1] })).rejects.toThrow(/replyOp/);
    expect(await peer.framesWithin(40)).toEqual([]);
  });

  it('sends plain objects and arrays as JSON', async () => {
    const { client, peer } = await connected();
    const answer = client.request('todo', { title: 'feed the cat', tags: ['cat'] }, { op: 1 });
    const p1 = await peer.next();
    expect(JSON.parse(p1.data.toString())).toEqual({ title: 'feed the cat', tags: ['cat'] });
    await peer.send({ greeter: 'todo', op: 1, random: 'J1', data: 'ok', hash: H.hex(p1.random) });
    await answer;
    void client.send('todo', [1, 'two']);
    expect((await peer.next()).data.toString()).toBe('[1,"two"]');
  });

  it('rejects data it cannot send with NEKO_ERR_CLIENT_DATA, sending nothing', async () => {
    const { client, peer } = await connected();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: unknown[] = [() => 1, Symbol('s'), 10n, cyclic, { n: 1n }, 42, null, new Map()];
    for (const data of bad) {
      const viaRequest = await rejection(client.request('echo', data as string));
      expect(viaRequest.code).toBe('NEKO_ERR_CLIENT_DATA');
      expect((await rejection(client.send('echo', data as string))).code).toBe('NEKO_ERR_CLIENT_DATA');
    }
    expect(await peer.framesWithin(40)).toEqual([]);
    const ok = client.request('echo', 'still fine');
    const p1 = await peer.next();
    expect(p1.data.toString()).toBe('still fine');
    await peer.send({ greeter: 'echo', op: 0, random: 'D1', data: 'still fine', hash: H.hex(p1.random) });
    expect((await ok).text()).toBe('still fine');
  });
});
