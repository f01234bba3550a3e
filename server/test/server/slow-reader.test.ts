/**
 * A client that stops reading, over real TCP: the bytes waiting for it are
 * capped by limits.maxPendingBytes; past the cap its session closes, its
 * plugins' onLeave runs, and every client still reading gets every packet,
 * in order.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import type { ClientPacket, NekoClient } from '../../src/client/client.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { WsPeer } from '../helpers/ws-peer.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';

const PACKET_BYTES = 64 * 1024;
const CAP = 256 * 1024;

/** The reliability suite's stream plugin: numbered pushes to every member, paced by the session that asked. */
const STREAM = path.join(import.meta.dirname, '..', '..', '..', 'reliability', 'fixtures', 'stream');
/** Packets the stream may run ahead of the reading client's acknowledgements: below the cap. */
const WINDOW = 2;

/** Counts op-1 pushes and acknowledges each, op-2 announcements; resolves `done` on op 3. */
function readStream(reader: NekoClient): { received: number[]; others: string[]; done: Promise<void> } {
  const received: number[] = [];
  const others: string[] = [];
  const done = new Promise<void>((resolve) => {
    reader.on('packet', (packet: ClientPacket) => {
      if (packet.op === 1) {
        received.push(packet.data.readUInt32BE(0));
        void reader.send('stream', String(received.length), { op: 4 });
      } else if (packet.op === 2) others.push(packet.text());
      else if (packet.op === 3) resolve();
    });
  });
  return { received, others, done };
}

describe('a client that stops reading', () => {
  it('is closed once the bytes waiting for it pass maxPendingBytes; a reading client gets every packet in order', async () => {
    const { port, server, logs, waitForLog } = await startServer({
      plugins: STREAM,
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
    const { received, others, done } = readStream(reader);
    expect((await reader.request('stream', '', { op: 0 })).text()).toBe('joined');
    const total = 400; // 25 MiB: far more than the slow client's socket buffers hold
    await reader.send('stream', `${total} ${PACKET_BYTES} ${WINDOW}`, { op: 1 });
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
    const { port, server } = await startServer({ plugins: STREAM, limits: { maxPendingBytes: CAP } });
    const reader = await connectClient(port);
    const { received, done } = readStream(reader);
    await reader.request('stream', '', { op: 0 });
    await reader.send('stream', `200 ${PACKET_BYTES} ${WINDOW}`, { op: 1 });
    await done;
    expect(received).toHaveLength(200);
    expect(server.faultCloses()).toEqual({});
  });
});

describe('a WebSocket client that stops reading', () => {
  it('is closed the same way: the WebSocket buffer counts toward maxPendingBytes', async () => {
    const { port, server, waitForLog } = await startServer({
      plugins: STREAM,
      limits: { maxPendingBytes: CAP },
      websocket: { port: 0 },
    });
    const slow = await WsPeer.connect(server.websocketAddress()!.port);
    await slow.handshake(SECRET);
    slow.packet('stream', '', { op: 0 });
    expect((await slow.next()).data.toString()).toBe('joined');
    const slowId = server.sessions()[0]!.id;
    slow.ws.pause();

    const reader = await connectClient(port);
    const { received, others, done } = readStream(reader);
    expect((await reader.request('stream', '', { op: 0 })).text()).toBe('joined');
    const total = 400;
    await reader.send('stream', `${total} ${PACKET_BYTES} ${WINDOW}`, { op: 1 });
    await done;

    expect(received).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(others).toEqual([`left ${slowId}`]);
    const record = await waitForLog((r) => r.code === 'NEKO_ERR_SESSION_SLOW_READER');
    expect(record.session).toBe(slowId);
    expect(server.sessions().map((s) => s.id)).not.toContain(slowId);
    slow.ws.resume();
    await slow.closed();
  });
});
