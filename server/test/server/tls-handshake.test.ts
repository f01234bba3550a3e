/**
 * TLS handshakes under the server's limits: a socket's time to authenticate
 * counts from the TCP accept, TLS handshake included; sockets still in their
 * TLS handshake count toward maxConnections and are cut at shutdown.
 */
import net from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect, type NekoClient } from '../../src/client/client.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import type { Frame } from '../../src/protocol/frame.js';
import { allPlugins, makePluginsDir } from '../helpers/plugins.js';
import { SECRET, startServer, type StartedServer } from '../helpers/server.js';
import { clientHello, makeCertificate, type TestCertificate } from '../../../scripts/test-support/tls.js';
import type { ServerOptions } from '../../src/server/options.js';

let certificate: TestCertificate;
let hello: Buffer;

beforeAll(async () => {
  certificate = await makeCertificate();
  hello = await clientHello();
});

async function serveTls(options: Partial<ServerOptions> = {}): Promise<StartedServer> {
  return startServer({ plugins: await makePluginsDir(allPlugins()), tls: certificate, ...options });
}

/** A plain TCP connection to the server; it resolves once connected and is destroyed after the test. */
async function rawSocket(port: number): Promise<net.Socket & { closedAt: Promise<number> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  onTestFinished(() => {
    socket.destroy();
  });
  socket.on('error', () => {
    // A reset when the server cuts it.
  });
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return Object.assign(socket, { closedAt });
}

/** A raw socket that sends a ClientHello and never answers the server's reply. */
async function stalledHalfway(port: number): Promise<net.Socket & { closedAt: Promise<number> }> {
  const socket = await rawSocket(port);
  const replied = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write(hello);
  await replied;
  return socket;
}

/** Waits at most `ms` for `promise`; undefined when it did not settle by then. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('TLS: the handshake limit counts from the TCP accept', () => {
  it('closes a connection that never starts TLS at handshakeTimeoutMs', async () => {
    const { port, server, waitForLog } = await serveTls({ limits: { handshakeTimeoutMs: 300 } });
    const started = Date.now();
    const socket = await rawSocket(port);
    const closedAt = await within(socket.closedAt, 5_000);
    expect(closedAt, 'the server kept a connection that never sent a ClientHello').toBeDefined();
    expect(closedAt! - started).toBeGreaterThanOrEqual(250);
    const record = await waitForLog((r) => r.code === 'NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT');
    expect(record.level).toBe('warn');
    expect(record.message).toContain('TLS handshake not done within 300 ms');
    expect(server.faultCloses()).toEqual({ NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT: 1 });
    expect(server.connectionCount).toBe(0);
  });

  it('closes a connection whose TLS handshake stalls halfway', async () => {
    const { port, server } = await serveTls({ limits: { handshakeTimeoutMs: 300 } });
    const socket = await stalledHalfway(port);
    expect(await within(socket.closedAt, 5_000), 'a half-done TLS handshake was kept').toBeDefined();
    expect(server.faultCloses()).toEqual({ NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT: 1 });
  });

  it('gives the session only what the TLS handshake left of the budget', async () => {
    const timeout = 2_000;
    const tlsDelay = 1_500;
    const { port, server } = await serveTls({ limits: { handshakeTimeoutMs: timeout } });
    const raw = await rawSocket(port);
    const acceptedBy = Date.now();
    await new Promise((resolve) => setTimeout(resolve, tlsDelay));
    // The TLS handshake starts late and the client never sends its auth packet.
    const tls = tlsConnect({ socket: raw, ca: certificate.cert, servername: 'localhost' });
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ maxPacket: 1 << 20 }, (frame) => frames.push(frame));
    tls.on('data', (chunk: Buffer) => decoder.push(chunk));
    tls.on('error', () => {});
    await new Promise<void>((resolve) => tls.once('secureConnect', () => resolve()));
    // The server's side of the TLS handshake ends a moment after the client's.
    while (server.sessions().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const [session] = server.sessions();
    expect(session!.connectedAt).toBeLessThanOrEqual(acceptedBy);
    const closedAt = await within(
      new Promise<number>((resolve) => tls.once('close', () => resolve(Date.now()))),
      timeout * 2,
    );
    expect(closedAt).toBeDefined();
    // Counted from the accept, not from the end of the TLS handshake (which would be ~3.5 s).
    expect(closedAt! - acceptedBy).toBeLessThan(timeout + tlsDelay - 500);
    expect(frames.map((f) => [f.greeter, f.op, f.hash.toString('latin1')])).toEqual([
      ['nekoconnect-server', 408, 'server'],
    ]);
  });
});

describe('TLS: sockets in their TLS handshake', () => {
  it('count toward maxConnections', async () => {
    const { port } = await serveTls({ limits: { maxConnections: 2 } });
    const first = await rawSocket(port);
    await stalledHalfway(port);
    await expect(
      connect({
        secret: SECRET,
        port,
        tls: { ca: certificate.cert, servername: 'localhost' },
        connectTimeoutMs: 2_000,
      }),
    ).rejects.toMatchObject({ code: 'NEKO_ERR_CLIENT_CONNECT' });
    first.destroy();
    await first.closedAt;
    // Once the server has seen that close, there is room again.
    let client: NekoClient | undefined;
    for (let attempt = 0; client === undefined; attempt++) {
      client = await connect({
        secret: SECRET,
        port,
        tls: { ca: certificate.cert, servername: 'localhost' },
      }).catch((err: unknown) => {
        if (attempt === 20) throw err;
        return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50));
      });
    }
    expect((await client.request('echo', 'in')).text()).toBe('in');
    await client.close();
  });

  it('are cut at shutdown at once, with the sessions', async () => {
    const { port, server } = await serveTls();
    const stalled = [
      ...(await Promise.all([1, 2, 3].map(() => rawSocket(port)))),
      ...(await Promise.all([1, 2].map(() => stalledHalfway(port)))),
    ];
    const client = await connect({
      secret: SECRET,
      port,
      tls: { ca: certificate.cert, servername: 'localhost' },
    });
    expect((await client.request('echo', 'before')).text()).toBe('before');
    const started = Date.now();
    const closed = await within(
      server.close().then(() => 'closed'),
      5_000,
    );
    expect(closed ?? 'still closing after 5 s').toBe('closed');
    // The sessions get their grace period to flush; sockets without a session get none.
    expect(Date.now() - started).toBeLessThan(2_000);
    const closedAt = await Promise.all(stalled.map((s) => within(s.closedAt, 1_000)));
    expect(closedAt.every((t) => t !== undefined)).toBe(true);
  });
});
