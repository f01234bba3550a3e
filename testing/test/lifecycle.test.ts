import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestServer,
  isNekoTestingError,
  useTestServer,
  type TestClient,
  type TestServer,
} from '../src/index.js';
import { Op } from './fixtures/plugins/probe/logic.js';
import { PROBE } from './helpers/fixtures.js';

describe('a server created inside a test', () => {
  let left: { server: TestServer; client: TestClient } | undefined;

  it('is left open by a test that forgets to close it', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    await client.request('probe', 'x', { op: Op.Note });
    left = { server, client };
  });

  it('was closed, with its clients, when that test finished', async () => {
    expect(left).toBeDefined();
    const { server, client } = left!;
    expect(client.connected).toBe(false);
    expect(server.sessions()).toEqual([]);
    expect(server.logs({ plugin: 'probe' }).map((r) => r.message)).toContain('probe unloaded');
    await expect(server.connect()).rejects.toMatchObject({ code: 'NEKO_ERR_TESTING_CLOSED' });
  });
});

describe('useTestServer', () => {
  const server = useTestServer({ plugin: PROBE });
  let notStarted: unknown;
  try {
    server.db('probe');
  } catch (err) {
    notStarted = err;
  }
  let first: { neko: unknown; client: TestClient } | undefined;

  it('throws NEKO_ERR_TESTING_NOT_STARTED when used before its beforeAll hook', async () => {
    expect(isNekoTestingError(notStarted, 'NEKO_ERR_TESTING_NOT_STARTED')).toBe(true);
    expect((notStarted as Error).message).toBe(
      'useTestServer(): server.db() was used before the server started (it starts in the beforeAll hook of its describe block)',
    );
  });

  it('serves every test of its describe block', async () => {
    const client = await server.connect();
    await client.request('probe', 'first', { op: Op.Note });
    expect(server.sessions()).toHaveLength(1);
    first = { neko: server.neko, client };
  });

  it('is the same server in the next test, but the clients of the last test are gone', async () => {
    expect(server.neko).toBe(first!.neko);
    expect(first!.client.connected).toBe(false);
    expect(server.sessions()).toEqual([]);
    const client = await server.connect();
    expect((await client.request('probe', 'again', { op: Op.Echo })).text()).toBe('again');
    expect(client.name).toBe('client 2');
  });
});

describe('a server created in beforeAll', () => {
  let server: TestServer;
  let earlier: TestClient | undefined;
  beforeAll(async () => {
    server = await createTestServer({ plugin: PROBE });
  });
  afterAll(() => server.close());

  it('serves a test', async () => {
    earlier = await server.connect();
    await earlier.request('probe', 'x', { op: Op.Note });
  });

  it('is not closed when that test finishes (its afterAll hook closes it); the clients of that test are', async () => {
    expect(earlier?.connected).toBe(false);
    const client = await server.connect();
    expect((await client.request('probe', 'still', { op: Op.Echo })).text()).toBe('still');
  });
});

describe('useTestServer: NOT_STARTED for each member', () => {
  const server = useTestServer({ plugin: PROBE });
  const uses: [string, () => unknown][] = [
    ['secret', () => server.secret],
    ['transport', () => server.transport],
    ['port', () => server.port],
    ['plugins', () => server.plugins],
    ['neko', () => server.neko],
    ['logs()', () => server.logs()],
    ['sessions()', () => server.sessions()],
  ];
  const messages = uses.map(([, use]) => {
    try {
      use();
      return 'no error';
    } catch (err) {
      return (err as Error).message;
    }
  });
  const connecting = server.connect().then(
    () => 'connected',
    (err: unknown) => (err as Error).message,
  );

  it('names the member used', async () => {
    expect(messages).toEqual(
      uses.map(
        ([use]) =>
          `useTestServer(): server.${use} was used before the server started (it starts in the beforeAll hook of its describe block)`,
      ),
    );
    expect(await connecting).toMatch(/^useTestServer\(\): server\.connect\(\) was used before/);
    // Started now.
    expect(server.transport).toBe('memory');
  });
});
