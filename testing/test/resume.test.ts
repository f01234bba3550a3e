import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestServer, isNekoTestingError } from '../src/index.js';
import { FIXTURES } from './helpers/fixtures.js';

const KEEPER = join(FIXTURES, 'resumable', 'keeper');

describe.each(['memory', 'tcp'] as const)('drop() and reconnect() (%s)', (transport) => {
  it('resume the session: same id and state, and what was sent during the gap comes first', async () => {
    const server = await createTestServer({ plugin: KEEPER, transport });
    const mimi = await server.connect({ resume: true });
    const tama = await server.connect();
    expect((await mimi.request('keeper', 'set cat', { op: 1 })).text()).toBe('ok');
    const id = mimi.sessionId;

    await mimi.drop();
    expect(mimi.connected).toBe(false);
    await expect.poll(() => server.sessions().find((s) => s.id === id)?.state).toBe('detached');
    expect((await tama.request('keeper', `dm ${id} psst`, { op: 1 })).text()).toBe('queued');

    expect(await mimi.reconnect()).toBe('resumed');
    expect(mimi.sessionId).toBe(id);
    expect((await mimi.next()).text()).toBe('psst');
    expect((await mimi.next()).text()).toBe(`welcome back ${id}`);
    expect((await mimi.request('keeper', 'get', { op: 1 })).text()).toBe(`${id} cat`);
    // And again: the token given on resume works for the next drop.
    await mimi.drop();
    expect(await mimi.reconnect()).toBe('resumed');
    expect((await mimi.next()).text()).toBe(`welcome back ${id}`);
  });

  it('fails a request in flight at the drop with NEKO_ERR_TESTING_DROPPED; it is never sent again', async () => {
    const server = await createTestServer({ plugin: KEEPER, transport });
    const mimi = await server.connect({ resume: true });
    const slow = mimi.request('keeper', 'slow', { op: 1, replyOp: 2 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await mimi.drop();
    const error = await slow.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isNekoTestingError(error, 'NEKO_ERR_TESTING_DROPPED')).toBe(true);
    expect(await mimi.reconnect()).toBe('resumed');
    // The plugin finished the run it had started, once: its answer reaches the session (kept or after the resume).
    const ops = [(await mimi.next()).op, (await mimi.next()).op].sort();
    expect(ops).toEqual([2, 7]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(mimi.unread()).toEqual([]);
  });

  it('starts a new session with { resume: false }, or when the client never asked for a token', async () => {
    const server = await createTestServer({ plugin: KEEPER, transport });
    const mimi = await server.connect({ resume: true });
    await mimi.request('keeper', 'set cat', { op: 1 });
    const first = mimi.sessionId;
    await mimi.drop();
    expect(await mimi.reconnect({ resume: false })).toBe('fresh');
    expect(mimi.sessionId).not.toBe(first);
    expect((await mimi.request('keeper', 'get', { op: 1 })).text()).toBe(`${mimi.sessionId} -`);

    const plain = await server.connect();
    await plain.request('keeper', 'set dog', { op: 1 });
    await plain.drop();
    expect(await plain.reconnect()).toBe('fresh');
    expect((await plain.request('keeper', 'get', { op: 1 })).text()).toBe(`${plain.sessionId} -`);
  });

  it('refuses reconnect() while connected or after close()', async () => {
    const server = await createTestServer({ plugin: KEEPER, transport });
    const mimi = await server.connect({ resume: true });
    await expect(mimi.reconnect()).rejects.toMatchObject({ code: 'NEKO_ERR_TESTING_OPTIONS' });
    await mimi.close();
    await expect(mimi.reconnect()).rejects.toMatchObject({ code: 'NEKO_ERR_TESTING_OPTIONS' });
  });
});
