import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type NekoServer } from 'nekoconnect';
import { connect, type NekoClient } from 'nekoconnect/client';

describe('echo plugin', () => {
  let server: NekoServer;
  let client: NekoClient;

  beforeAll(async () => {
    server = createServer({
      secret: 'echo-test',
      plugins: join(import.meta.dirname, '..'),
      port: 0,
      storage: { inMemory: true },
    });
    const { port } = await server.listen();
    client = await connect({ secret: 'echo-test', port });
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it('replies with the same op and data', async () => {
    const reply = await client.request('echo', 'hello', { op: 7 });
    expect(reply.greeter).toBe('echo');
    expect(reply.op).toBe(7);
    expect(reply.text()).toBe('hello');
  });

  it('echoes binary data byte for byte, including an empty packet', async () => {
    const bytes = Uint8Array.from([0, 255, 1, 128, 10, 13]);
    expect([...(await client.request('echo', bytes, { op: 4294967295 })).data]).toEqual([...bytes]);
    const empty = await client.request('echo', '', { op: 0 });
    expect([empty.op, empty.len]).toEqual([0, 0]);
  });
});
