import { describe, expect, it } from 'vitest';
import type { Frame, FrameFields } from '../../src/protocol/frame.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { Hasher } from '../../src/protocol/hash.js';
import { randomString } from '../../src/protocol/random.js';
import type { Limits } from '../../src/server/options.js';
import { makeCertificate } from '../../../scripts/test-support/tls.js';
import { LOGIC, makePluginsDir } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET, startServer } from '../helpers/server.js';
import { WsPeer } from '../helpers/ws-peer.js';

// The protocol's rules hold the same over TCP and over WebSocket: one
// suite, two transports. Each peer speaks frames by hand.

/** What the suite needs of a hand-speaking peer, whatever carries it. */
interface Peer {
  handshake(secret: string, random?: string | Buffer): Promise<Frame>;
  packet(greeter: string, data?: string | Uint8Array, options?: { op?: number; hash?: string }): unknown;
  send(fields: FrameFields): unknown;
  write(bytes: Uint8Array): unknown;
  next(timeoutMs?: number): Promise<Frame>;
  closed(timeoutMs?: number): Promise<void>;
  readonly newestRandom: Buffer;
}

interface Served {
  dial(): Promise<Peer>;
}

const TRANSPORTS = {
  tcp: async (limits: Partial<Limits> = {}): Promise<Served> => {
    const plugins = await makePluginsDir([{ greeter: 'echo', logic: LOGIC.echo }]);
    const { port } = await startServer({ plugins, limits });
    return { dial: () => RawPeer.connect(port) };
  },
  websocket: async (limits: Partial<Limits> = {}): Promise<Served> => {
    const plugins = await makePluginsDir([{ greeter: 'echo', logic: LOGIC.echo }]);
    const { server } = await startServer({ plugins, limits, websocket: { port: 0 } });
    const port = server.websocketAddress()!.port;
    return { dial: () => WsPeer.connect(port) };
  },
};

const H = new Hasher(SECRET);
const text = (frame: Frame): string => frame.data.toString('utf8');

describe.each(Object.keys(TRANSPORTS) as (keyof typeof TRANSPORTS)[])('the protocol over %s', (name) => {
  const serve = TRANSPORTS[name];

  it('handshake, then the chain: each answer hashes the newest verified client random', async () => {
    const peer = await (await serve()).dial();
    const rc0 = randomString();
    const ok = await peer.handshake(SECRET, rc0);
    expect([ok.greeter, ok.op, text(ok), ok.hash.toString('latin1')]).toEqual([
      'nekoconnect-server',
      200,
      '200',
      H.hex(rc0),
    ]);
    const random = randomString();
    peer.send({ greeter: 'echo', op: 3, random, data: 'meow', hash: H.hex(peer.newestRandom) });
    const echo = await peer.next();
    expect([echo.greeter, echo.op, text(echo), echo.hash.toString('latin1')]).toEqual([
      'echo',
      3,
      'meow',
      H.hex(random),
    ]);
  });

  it('refuses a wrong secret with 400 and the hash "server", then closes', async () => {
    const peer = await (await serve()).dial();
    const refused = await peer.handshake('not-the-secret');
    expect([refused.op, refused.hash.toString('latin1')]).toEqual([400, 'server']);
    await peer.closed();
  });

  it('refuses a replayed hash with 400 and the hash "server"', async () => {
    const peer = await (await serve()).dial();
    await peer.handshake(SECRET);
    const used = H.hex(peer.newestRandom);
    peer.send({ greeter: 'echo', op: 1, random: randomString(), data: 'a', hash: used });
    await peer.next();
    peer.send({ greeter: 'echo', op: 1, random: randomString(), data: 'b', hash: used });
    const refused = await peer.next();
    expect([refused.op, refused.hash.toString('latin1')]).toEqual([400, 'server']);
    await peer.closed();
  });

  it('answers 404 for a greeter nobody serves, and goes on', async () => {
    const peer = await (await serve()).dial();
    await peer.handshake(SECRET);
    peer.packet('woof', '', { op: 1 });
    expect((await peer.next()).op).toBe(404);
    peer.packet('echo', 'still here', { op: 1 });
    expect(text(await peer.next())).toBe('still here');
  });

  it('answers 413 to a frame above the packet limit, judged from its length field', async () => {
    const peer = await (await serve({ maxPacketBytes: 1024 })).dial();
    await peer.handshake(SECRET);
    const header = Buffer.alloc(12);
    header.writeUInt32BE(4096, 0);
    peer.write(header);
    const status = await peer.next();
    expect(status.op).toBe(413);
    // Mid-session: H of the newest verified random, not "server".
    expect(status.hash.toString('latin1')).not.toBe('server');
    await peer.closed();
  });

  it('answers 422 to a malformed frame (empty random)', async () => {
    const peer = await (await serve()).dial();
    await peer.handshake(SECRET);
    const frame = encodeFrame({
      greeter: 'echo',
      op: 1,
      random: 'r',
      data: 'x',
      hash: H.hex(peer.newestRandom),
    });
    frame.writeUInt8(0, 11); // random_len 0: the lengths no longer add up
    peer.write(frame);
    expect((await peer.next()).op).toBe(422);
    await peer.closed();
  });

  it('closes a client that does not authenticate within handshakeTimeoutMs (408)', async () => {
    const peer = await (await serve({ handshakeTimeoutMs: 200 })).dial();
    const status = await peer.next(2_000);
    expect([status.op, status.hash.toString('latin1')]).toEqual([408, 'server']);
    await peer.closed();
  });
});

describe('WebSocket only', () => {
  async function wsServer(options: { origins?: string[]; path?: string; limits?: Partial<Limits> } = {}) {
    const plugins = await makePluginsDir([{ greeter: 'echo', logic: LOGIC.echo }]);
    const started = await startServer({
      plugins,
      limits: options.limits ?? {},
      websocket: { port: 0, path: options.path, origins: options.origins },
    });
    return { ...started, wsPort: started.server.websocketAddress()!.port };
  }

  it('answers 422 to a text message, to two frames in one message, and to part of a frame', async () => {
    const { wsPort } = await wsServer();
    const text422 = await WsPeer.connect(wsPort);
    await text422.handshake(SECRET);
    text422.ws.send('hello');
    expect((await text422.next()).op).toBe(422);

    const two = await WsPeer.connect(wsPort);
    await two.handshake(SECRET);
    const frame = (): Buffer =>
      encodeFrame({
        greeter: 'echo',
        op: 1,
        random: randomString(),
        data: 'x',
        hash: H.hex(two.newestRandom),
      });
    two.write(Buffer.concat([frame(), frame()]));
    expect((await two.next()).op).toBe(422);

    const part = await WsPeer.connect(wsPort);
    await part.handshake(SECRET);
    const whole = encodeFrame({
      greeter: 'echo',
      op: 1,
      random: randomString(),
      data: 'xyz',
      hash: H.hex(part.newestRandom),
    });
    part.write(whole.subarray(0, 20));
    const status = await part.next();
    expect(status.op).toBe(422);
    // Mid-session, a closing status carries H of the newest verified random, as on TCP.
    expect(status.hash.toString('latin1')).not.toBe('server');
    await part.closed();
  });

  it('serves only its path, and with origins set, refuses other browser origins (403)', async () => {
    const { wsPort, logs } = await wsServer({ path: '/neko', origins: ['https://game.example'] });
    await expect(WsPeer.connect(wsPort, { path: '/other' })).rejects.toThrow('HTTP 404');
    await expect(WsPeer.connect(wsPort, { path: '/neko', origin: 'https://evil.example' })).rejects.toThrow(
      'HTTP 403',
    );
    const good = await WsPeer.connect(wsPort, { path: '/neko', origin: 'https://game.example' });
    expect((await good.handshake(SECRET)).op).toBe(200);
    // Not a browser: no Origin header, let through.
    const tool = await WsPeer.connect(wsPort, { path: '/neko' });
    expect((await tool.handshake(SECRET)).op).toBe(200);
    expect(logs.map((r) => r.code)).toEqual(
      expect.arrayContaining(['NEKO_ERR_WS_PATH', 'NEKO_ERR_WS_ORIGIN']),
    );
  });

  it("serves wss:// with the server's TLS certificate, and tells plugins it is wss", async () => {
    const certificate = await makeCertificate();
    const plugins = await makePluginsDir([
      { greeter: 'who', logic: `export class Logic { recv(ctx) { ctx.send(ctx.session.transport); } }\n` },
    ]);
    const { server } = await startServer({ plugins, tls: certificate, websocket: { port: 0 } });
    const peer = await WsPeer.connect(server.websocketAddress()!.port, { ca: certificate.cert });
    expect((await peer.handshake(SECRET)).op).toBe(200);
    peer.packet('who', '', { op: 1 });
    expect(text(await peer.next())).toBe('wss');
    // A plain ws:// client does not get in.
    await expect(WsPeer.connect(server.websocketAddress()!.port)).rejects.toThrow();
  });

  it('answers a plain HTTP request with 426', async () => {
    const { wsPort } = await wsServer();
    const res = await fetch(`http://127.0.0.1:${wsPort}/`);
    expect(res.status).toBe(426);
  });

  it('counts maxConnections across TCP and WebSocket', async () => {
    const { wsPort, port } = await wsServer({ limits: { maxConnections: 2 } });
    const tcp = await RawPeer.connect(port);
    expect((await tcp.handshake(SECRET)).op).toBe(200);
    const ws = await WsPeer.connect(wsPort);
    expect((await ws.handshake(SECRET)).op).toBe(200);
    await expect(WsPeer.connect(wsPort)).rejects.toThrow('HTTP 503');
    const third = await RawPeer.connect(port);
    await third.closed();
  });

  it('tells plugins and the server which transport carries a session', async () => {
    const plugins = await makePluginsDir([
      { greeter: 'who', logic: `export class Logic { recv(ctx) { ctx.send(ctx.session.transport); } }\n` },
    ]);
    const { server, port } = await startServer({ plugins, websocket: { port: 0 } });
    const ws = await WsPeer.connect(server.websocketAddress()!.port);
    await ws.handshake(SECRET);
    ws.packet('who', '', { op: 1 });
    expect(text(await ws.next())).toBe('ws');
    const tcp = await RawPeer.connect(port);
    await tcp.handshake(SECRET);
    await tcp.packet('who', '', { op: 1 });
    expect(text(await tcp.next())).toBe('tcp');
    expect(
      server
        .sessions()
        .map((s) => s.transport)
        .sort(),
    ).toEqual(['tcp', 'ws']);
  });

  it('a TCP client and a WebSocket client in the same chat room see each other', async () => {
    const chat = `export class Logic {
  recv(ctx) { ctx.broadcast(ctx.text(), { op: 2, except: ctx.session.id }); ctx.send('sent', { op: 1 }); }
}\n`;
    const plugins = await makePluginsDir([{ greeter: 'chat', logic: chat }]);
    const { server, port } = await startServer({ plugins, websocket: { port: 0 } });
    const web = await WsPeer.connect(server.websocketAddress()!.port);
    await web.handshake(SECRET);
    const tcp = await RawPeer.connect(port);
    await tcp.handshake(SECRET);
    web.packet('chat', 'hello from the web', { op: 1 });
    expect(text(await web.next())).toBe('sent');
    await tcp.packet('chat', 'hello from tcp', { op: 1 });
    // The TCP client joined after the web one's message: it hears nothing of it, then gets its own answer.
    expect(text(await tcp.next())).toBe('sent');
    expect(text(await web.next())).toBe('hello from tcp');
    web.packet('chat', 'hi tcp', { op: 1 });
    expect(text(await web.next())).toBe('sent');
    expect(text(await tcp.next())).toBe('hi tcp');
  });
});
