import { describe, expect, it } from 'vitest';
import { createTestServer } from '@nekoconnect/testing';

/** The echo plugin, served in memory, with one authenticated client. */
async function echoClient() {
  const server = await createTestServer({ plugin: import.meta.dirname });
  return { server, client: await server.connect() };
}

describe('echo plugin', () => {
  it('replies with the same op and data', async () => {
    const { client } = await echoClient();
    const reply = await client.request('echo', 'hello', { op: 7 });
    expect([reply.greeter, reply.op, reply.text(), reply.status]).toEqual(['echo', 7, 'hello', undefined]);
  });

  it('echoes binary data byte for byte', async () => {
    const { client } = await echoClient();
    const bytes = Uint8Array.from([0, 255, 1, 128, 10, 13]);
    expect([...(await client.request('echo', bytes, { op: 4 })).data]).toEqual([...bytes]);
  });

  it('echoes an empty packet', async () => {
    const { client } = await echoClient();
    const empty = await client.request('echo', '', { op: 0 });
    expect([empty.op, empty.len, empty.status]).toEqual([0, 0, undefined]);
  });

  it('keeps the largest op', async () => {
    const { client } = await echoClient();
    expect((await client.request('echo', 'max', { op: 4294967295 })).op).toBe(4294967295);
  });

  it('echoes UTF-8 text unchanged', async () => {
    const { client } = await echoClient();
    expect((await client.request('echo', 'ねこ 🐱 neko', { op: 1 })).text()).toBe('ねこ 🐱 neko');
  });

  it('echoes JSON', async () => {
    const { client } = await echoClient();
    const reply = await client.request('echo', { nick: 'mimi', tags: ['a', 'b'] }, { op: 2 });
    expect(reply.json()).toEqual({ nick: 'mimi', tags: ['a', 'b'] });
  });

  it('answers a hundred requests on one connection, in order', async () => {
    const { client } = await echoClient();
    for (let i = 0; i < 100; i++) {
      const reply = await client.request('echo', `#${i}`, { op: i });
      expect([reply.op, reply.text()]).toEqual([i, `#${i}`]);
    }
  });

  it('answers packets sent back to back, in the order sent', async () => {
    const { client } = await echoClient();
    for (let i = 1; i <= 5; i++) client.send('echo', `packet ${i}`, { op: i });
    for (let i = 1; i <= 5; i++) {
      const reply = await client.next({ greeter: 'echo' });
      expect([reply.op, reply.text()]).toEqual([i, `packet ${i}`]);
    }
    expect(client.unread()).toEqual([]);
  });

  it('echoes a packet of half a megabyte', async () => {
    const { client } = await echoClient();
    const big = Buffer.alloc(512 * 1024, 'n');
    expect((await client.request('echo', big, { op: 3 })).data.equals(big)).toBe(true);
  });

  it('answers each client, and only that client', async () => {
    const { server, client: mimi } = await echoClient();
    const tama = await server.connect();
    const [a, b] = await Promise.all([
      mimi.request('echo', 'from mimi', { op: 1 }),
      tama.request('echo', 'from tama', { op: 2 }),
    ]);
    expect([a.text(), b.text()]).toEqual(['from mimi', 'from tama']);
    expect([mimi.unread(), tama.unread()]).toEqual([[], []]);
  });
});
