import { describe, it, expect } from 'vitest';
import { RawPeer } from '../helpers/raw-peer.js';
import { allPlugins, makePluginsDir } from '../helpers/plugins.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';

describe('smoke', () => {
  it('works', async () => {
    const { port, logs } = await startServer({ plugins: await makePluginsDir(allPlugins()) });
    const peer = await RawPeer.connect(port);
    const ok = await peer.handshake(SECRET);
    expect(ok.op).toBe(200);
    await peer.packet('echo', 'hi', { op: 7 });
    const reply = await peer.next();
    expect(reply.data.toString()).toBe('hi');
    const client = await connectClient(port);
    expect((await client.request('echo', 'yo')).text()).toBe('yo');
    console.log(logs.map((l) => l.message));
  });
});
