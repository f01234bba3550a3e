import { describe, expect, it } from 'vitest';
import type { ClientPacket } from '../../src/client/client.js';
import { issueToken } from '../../src/protocol/token.js';
import { makeCertificate } from '../../../scripts/test-support/tls.js';
import { LOGIC, makePluginsDir, specConf } from '../helpers/plugins.js';
import { startRelay } from '../helpers/proxy.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';

// The client SDK over WebSocket: connect({ url }).

async function chatServer(options: { tls?: { key: string; cert: string } } = {}) {
  const plugins = await makePluginsDir([
    { greeter: 'chat', logic: LOGIC.roomProbe, spec: `${specConf('Chat', 'chat')}$grace {"5"};\n` },
  ]);
  const started = await startServer({ plugins, websocket: { port: 0, path: '/neko' }, ...options });
  return { ...started, wsPort: started.server.websocketAddress()!.port };
}

describe('connect({ url: "ws://…" })', () => {
  it('talks to the same plugins as a TCP client, in the same room', async () => {
    const { port, wsPort } = await chatServer();
    const web = await connectClient(0, { url: `ws://127.0.0.1:${wsPort}/neko` });
    const tcp = await connectClient(port);
    expect((await web.request('chat', '', { op: 1, replyOp: 1 })).text()).toBe('ws -');
    expect((await tcp.request('chat', '', { op: 1, replyOp: 1 })).text()).toBe('tcp -');
    const heard: ClientPacket[] = [];
    tcp.on('packet', (p) => heard.push(p));
    await web.request('chat', 'hello from the web', { op: 0, replyOp: 1 });
    await expect.poll(() => heard.map((p) => p.text())).toEqual(['hello from the web']);
    const webHeard = web.packets();
    await tcp.request('chat', 'hello from tcp', { op: 0, replyOp: 1 });
    expect((await webHeard.next()).value?.text()).toBe('hello from tcp');
  });

  it('authenticates with a per-user token over wss://', async () => {
    const certificate = await makeCertificate();
    const { wsPort } = await chatServer({ tls: certificate });
    const token = issueToken(SECRET, 'mimi', { ttlSeconds: 60 });
    const web = await connectClient(0, {
      secret: undefined,
      token,
      url: `wss://localhost:${wsPort}/neko`,
      tls: { ca: certificate.cert },
    });
    expect((await web.request('chat', '', { op: 1, replyOp: 1 })).text()).toBe('wss mimi');
  });

  it('reconnects and resumes over WebSocket', async () => {
    const { wsPort } = await chatServer();
    const relay = await startRelay(wsPort);
    const web = await connectClient(0, {
      url: `ws://127.0.0.1:${relay.port}/neko`,
      reconnect: { backoff: { initialMs: 20, maxMs: 40 } },
    });
    const resumed = new Promise<void>((resolve) => web.once('resumed', () => resolve()));
    await web.request('chat', 'cat', { op: 3, replyOp: 3 });
    const before = (await web.request('chat', '', { op: 4, replyOp: 4 })).text();
    relay.cut();
    await resumed;
    expect((await web.request('chat', '', { op: 4, replyOp: 4 })).text()).toBe(before);
    expect(before).toMatch(/ cat$/);
  });

  it('names the URL when it cannot connect, and refuses a url that is not ws:// or wss://', async () => {
    const { wsPort } = await chatServer();
    await expect(connectClient(0, { url: `ws://127.0.0.1:${wsPort}/other` })).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_CONNECT',
      message: expect.stringContaining(`ws://127.0.0.1:${wsPort}/other`),
    });
    await expect(connectClient(0, { url: 'http://127.0.0.1:1/' })).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_CONNECT',
    });
  });
});
