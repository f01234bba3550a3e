import { connect as netConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTestServer } from '../src/index.js';
import { Op } from './fixtures/plugins/probe/logic.js';
import { PROBE } from './helpers/fixtures.js';

describe("transport: 'tcp'", () => {
  it('runs the real listener on a free port, with clients over sockets', async () => {
    const server = await createTestServer({ plugin: PROBE, transport: 'tcp' });
    expect(server.transport).toBe('tcp');
    expect(server.port).toBeGreaterThan(0);
    expect(server.neko.address()?.port).toBe(server.port);
    const [a, b] = await Promise.all([server.connect(), server.connect()]);
    expect((await a.request('probe', 'over tcp', { op: Op.Echo })).text()).toBe('over tcp');
    await b.request('probe', 'b', { op: Op.Note });
    a.send('probe', 'to b', { op: Op.Broadcast });
    expect((await b.next()).text()).toBe('to b');
    // Each client knows its own session, even when they connected at once.
    const sessions = server.sessions();
    expect(sessions.map((s) => s.id).sort()).toEqual([a.sessionId, b.sessionId].sort());
    expect(sessions.find((s) => s.id === b.sessionId)?.plugins.probe).toEqual({ joined: true, note: 'b' });
    expect(sessions[0]!.remoteAddress).toBe('127.0.0.1');
  });

  it('raw bytes and closing statuses travel as over the network', async () => {
    const server = await createTestServer({ plugin: PROBE, transport: 'tcp' });
    const client = await server.connect();
    // A well-sized frame whose greeter is a space: not printable ASCII.
    client.raw(Buffer.from([0, 0, 0, 16, 1, 1, 0, 0, 0, 0, 1, 1, 0x20, 0x31, 0x72, 0x68]));
    expect(await client.expectClosed()).toEqual({ by: 'server', status: 422 });
  });

  it('close() closes the listener and every socket', async () => {
    const server = await createTestServer({ plugin: PROBE, transport: 'tcp' });
    const client = await server.connect();
    await server.close();
    expect(client.connected).toBe(false);
    const refused = await new Promise<string>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port: server.port! });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
