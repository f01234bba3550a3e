/**
 * A client that stops reading, over real TCP: the bytes waiting for it are
 * capped by limits.maxPendingBytes; past the cap its session closes, its
 * plugins' onLeave runs, and every client still reading gets every packet,
 * in order.
 */
import { describe, expect, it } from 'vitest';
import type { ClientPacket } from '../../src/client/client.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';

const PACKET_BYTES = 64 * 1024;
const CAP = 256 * 1024;

/**
 * op 0: joins (answers "joined"). op 1 with a count n: pushes n numbered
 * packets of 64 KiB to every member, one per turn of the event loop, then
 * "done" (op 3). A member that leaves is announced to the others (op 2).
 */
const STREAM = `
export class Logic {
  onLoad(plugin) { this.plugin = plugin; }
  onLeave(ctx) { ctx.broadcast('left ' + ctx.session.id, { op: 2 }); }
  recv(ctx) {
    if (ctx.op === 0) { ctx.send('joined', { op: 0 }); return; }
    const total = Number(ctx.text());
    let next = 0;
    const step = () => {
      if (next === total) { this.plugin.broadcast('done', { op: 3 }); return; }
      const data = Buffer.alloc(${PACKET_BYTES}, next % 256);
      data.writeUInt32BE(next, 0);
      this.plugin.broadcast(data, { op: 1 });
      next++;
      setImmediate(step);
    };
    step();
  }
}
`;

describe('a client that stops reading', () => {
  it('is closed once the bytes waiting for it pass maxPendingBytes; a reading client gets every packet in order', async () => {
    const plugins = await makePluginsDir([{ greeter: 'stream', logic: STREAM }]);
    const { port, server, logs, waitForLog } = await startServer({
      plugins,
      limits: { maxPendingBytes: CAP },
    });

    // The slow one: authenticated, joined, then it never reads again.
    const slow = await RawPeer.connect(port);
    await slow.handshake(SECRET);
    await slow.packet('stream', '', { op: 0 });
    expect((await slow.next()).data.toString()).toBe('joined');
    const slowId = server.sessions()[0]!.id;
    slow.socket.pause();

    const reader = await connectClient(port);
    const received: number[] = [];
    const others: string[] = [];
    const done = new Promise<void>((resolve) => {
      reader.on('packet', (packet: ClientPacket) => {
        if (packet.op === 1) received.push(packet.data.readUInt32BE(0));
        else if (packet.op === 2) others.push(packet.text());
        else if (packet.op === 3) resolve();
      });
    });
    expect((await reader.request('stream', '', { op: 0 })).text()).toBe('joined');
    const total = 400; // 25 MiB: far more than the slow client's socket buffers hold
    await reader.send('stream', String(total), { op: 1 });
    await done;

    expect(received).toEqual(Array.from({ length: total }, (_, i) => i));
    // The slow client was closed: once, as a slow reader, and its onLeave ran.
    expect(others).toEqual([`left ${slowId}`]);
    const record = await waitForLog((r) => r.code === 'NEKO_ERR_SESSION_SLOW_READER');
    expect(record.level).toBe('warn');
    expect(record.session).toBe(slowId);
    expect(record.message).toContain('closed without a status');
    expect(logs.filter((r) => r.code === 'NEKO_ERR_SESSION_SLOW_READER')).toHaveLength(1);
    expect(server.faultCloses()).toEqual({ NEKO_ERR_SESSION_SLOW_READER: 1 });
    expect(server.sessions().map((s) => s.id)).not.toContain(slowId);
    // Its socket is cut: reading now finds the end, and no closing status among what was queued.
    slow.socket.resume();
    await slow.closed();
    const statuses = slow.received.filter((f) => f.greeter === 'nekoconnect-server');
    expect(statuses.map((f) => f.op)).toEqual([200]);
  });

  it('keeps a client that reads, however much is pushed to it', async () => {
    const plugins = await makePluginsDir([{ greeter: 'stream', logic: STREAM }]);
    const { port, server } = await startServer({ plugins, limits: { maxPendingBytes: CAP } });
    const reader = await connectClient(port);
    const received: number[] = [];
    const done = new Promise<void>((resolve) => {
      reader.on('packet', (packet: ClientPacket) => {
        if (packet.op === 1) received.push(packet.data.readUInt32BE(0));
        else if (packet.op === 3) resolve();
      });
    });
    await reader.request('stream', '', { op: 0 });
    await reader.send('stream', '200', { op: 1 });
    await done;
    expect(received).toHaveLength(200);
    expect(server.faultCloses()).toEqual({});
  });
});
