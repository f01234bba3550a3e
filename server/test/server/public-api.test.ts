/**
 * What a program (the testing harness, the dev watcher, a tool of its own)
 * reaches of a running server: its connections through accept() and
 * onConnection(), its plugins through plugins(), route() and
 * pluginDatabase(). Nothing else of the server is public.
 */
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { Hasher } from '../../src/protocol/hash.js';
import { createServer, type NekoServer } from '../../src/server/server.js';
import type { ServerConnection } from '../../src/server/connection.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { LOGIC, makePluginsDir } from '../helpers/plugins.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';

function authFrame(secret = SECRET): Buffer {
  const random = 'public-api-random';
  return encodeFrame({ greeter: 'auth', op: 200, random, data: '200', hash: new Hasher(secret).hex(random) });
}

describe('server.accept(transport)', () => {
  it('serves a client over any transport through a small handle: id, state, receive, transportClosed', async () => {
    const server = createServer({ secret: SECRET, port: 0, storage: { backend: 'memory' } });
    const transport = new FakeTransport('198.51.100.4');
    const connection = server.accept(transport, 1_000);
    expect(Object.keys(connection).sort()).toEqual(['id', 'receive', 'reject', 'state', 'transportClosed']);
    expect(connection.id).toMatch(/^s-\d+$/);
    expect(connection.state).toBe('handshake');
    expect(server.sessions()).toMatchObject([
      { id: connection.id, remoteAddress: '198.51.100.4', connectedAt: 1_000, state: 'handshake' },
    ]);

    connection.receive(authFrame());
    expect(connection.state).toBe('open');
    expect(transport.frames.map((f) => [f.greeter, f.op])).toEqual([['nekoconnect-server', 200]]);
    expect(server.sessions()[0]?.state).toBe('open');

    connection.transportClosed();
    expect(connection.state).toBe('closed');
    expect(server.connectionCount).toBe(0);
    expect(server.sessions()).toEqual([]);
    await server.close();
  });
});

describe('server.onConnection(listener)', () => {
  it('reports each connection accepted, by the TCP listener or by accept(), until stopped', async () => {
    const { server, port } = await startServer();
    const seen: ServerConnection[] = [];
    const stop = server.onConnection((connection) => seen.push(connection));

    const client = await connectClient(port);
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(seen[0]?.state).toBe('open');
    expect(server.sessions().map((s) => s.id)).toEqual([seen[0]?.id]);

    const memory = server.accept(new FakeTransport());
    expect(seen).toEqual([seen[0], memory]);

    stop();
    server.accept(new FakeTransport());
    expect(seen).toHaveLength(2);
    await client.close();
  });

  it('a listener that throws is logged; the connection is served', async () => {
    const { server, logs } = await startServer();
    server.onConnection(() => {
      throw new Error('listener boom');
    });
    const transport = new FakeTransport();
    const connection = server.accept(transport);
    connection.receive(authFrame());
    expect(connection.state).toBe('open');
    expect(logs.some((r) => r.level === 'error' && r.message.includes('listener boom'))).toBe(true);
  });
});

describe('server.plugins(), server.route(greeter), server.pluginDatabase(greeter)', () => {
  async function served(): Promise<{ server: NekoServer; plugins: string }> {
    const plugins = await makePluginsDir([
      { greeter: 'echo', logic: LOGIC.echo },
      { greeter: 'broken', logic: LOGIC.importThrows },
    ]);
    const { server } = await startServer({ plugins });
    return { server, plugins };
  }

  it('list the plugins serving, and where each greeter leads', async () => {
    const { server, plugins } = await served();
    const [echo, ...others] = server.plugins();
    expect(others).toEqual([]);
    expect(echo).toMatchObject({ greeter: 'echo', version: 1, sessionCount: 0 });
    expect(echo?.plugin.dir).toBe(path.join(plugins, 'echo'));
    expect(echo?.sessions()).toEqual([]);

    const route = server.route('echo');
    expect(route.kind === 'plugin' && route.host).toBe(echo);
    expect(server.route('broken')).toMatchObject({ kind: 'unavailable', greeter: 'broken' });
    expect(server.route('nobody')).toEqual({ kind: 'missing' });
    expect(server.pluginStatuses().find((s) => s.greeter === 'echo')?.host).toBe(echo);

    expect(server.pluginDatabase('echo')).toBe(echo?.db);
    expect(server.pluginDatabase('broken')).toBeUndefined();
    expect(server.pluginDatabase('nobody')).toBeUndefined();
  });

  it('follow a reload (the same live view, a new version) and an unload', async () => {
    const { server, plugins } = await served();
    const [echo] = server.plugins();
    expect((await server.reloadPlugin(path.join(plugins, 'echo'))).kind).toBe('loaded');
    expect(server.plugins()).toEqual([echo]);
    expect(echo?.version).toBe(2);
    expect(await server.unloadPlugin('echo')).toBe(true);
    expect(server.plugins()).toEqual([]);
    expect(server.route('echo')).toEqual({ kind: 'missing' });
  });
});
