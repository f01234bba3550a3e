import { describe, expect, it } from 'vitest';
import { isNekoError } from 'nekoconnect';
import { encodeFrame, randomString } from 'nekoconnect/protocol';
import { Op } from './fixtures/plugins/probe/logic.js';
import { createTestServer, isNekoTestingError } from '../src/index.js';
import { FIXTURES, PLUGINS_DIR, PROBE, WITH_BROKEN } from './helpers/fixtures.js';

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as Error,
  );
}

describe('createTestServer', () => {
  it('loads one plugin folder and serves authenticated fake clients in memory', async () => {
    const server = await createTestServer({ plugin: PROBE });
    expect([server.transport, server.port]).toEqual(['memory', undefined]);
    expect(server.plugins.loaded.map((p) => p.spec.greeter)).toEqual(['probe']);
    const client = await server.connect();
    expect(client.authenticated).toBe(true);
    const reply = await client.request('probe', 'hello', { op: Op.Echo });
    expect([reply.greeter, reply.op, reply.text()]).toEqual(['probe', Op.Echo, 'hello']);
  });

  it('loads a plugins directory', async () => {
    const server = await createTestServer({ plugins: PLUGINS_DIR });
    expect(server.plugins.loaded.map((p) => p.spec.greeter).sort()).toEqual(['probe', 'upper']);
    const client = await server.connect();
    expect((await client.request('upper', 'neko')).text()).toBe('NEKO');
    expect((await client.request('probe', 'x', { op: Op.Echo })).text()).toBe('x');
  });

  it('refuses options that cannot work with NEKO_ERR_TESTING_OPTIONS', async () => {
    const cases: [Parameters<typeof createTestServer>[0], string][] = [
      [{}, 'createTestServer() needs { plugin: <plugin folder> } or { plugins: <plugins directory> }'],
      [
        { plugin: PROBE, plugins: PLUGINS_DIR },
        'createTestServer() takes { plugin } or { plugins }, not both',
      ],
      [
        { plugin: PLUGINS_DIR },
        `createTestServer(): ${PLUGINS_DIR} holds no spec.conf, so it is not a plugin folder`,
      ],
      [
        { plugin: PROBE, transport: 'udp' as 'tcp' },
        "createTestServer(): transport must be 'memory' or 'tcp', got udp",
      ],
      [{ plugin: PROBE, timeout: 0 }, 'createTestServer(): timeout must be a whole number of ms ≥ 1, got 0'],
      [
        { plugin: PROBE, closeTimeout: 1.5 },
        'createTestServer(): closeTimeout must be a whole number of ms ≥ 1, got 1.5',
      ],
      [{ plugin: PROBE, secret: '' }, 'createTestServer(): secret must be a non-empty string'],
    ];
    for (const [options, message] of cases) {
      const err = await rejection(createTestServer(options));
      expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_OPTIONS'), message).toBe(true);
      expect(err.message).toBe(message);
    }
  });

  it('fails with NEKO_ERR_TESTING_PLUGIN_LOAD naming the plugin and its error', async () => {
    const err = await rejection(createTestServer({ plugins: WITH_BROKEN }));
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_PLUGIN_LOAD')).toBe(true);
    expect(err.message).toMatch(
      new RegExp(
        `^createTestServer\\(\\): a plugin failed to load:\\n${WITH_BROKEN}/broken: NEKO_ERR_PLUGIN_IMPORT .*broken on purpose`,
      ),
    );
    expect(isNekoError(err.cause, 'NEKO_ERR_PLUGIN_IMPORT')).toBe(true);
  });

  it('with allowLoadFailures, serves the others and answers 503 for the plugin that failed', async () => {
    const server = await createTestServer({ plugins: WITH_BROKEN, allowLoadFailures: true });
    expect(server.plugins.failed.map((f) => f.spec?.greeter)).toEqual(['broken']);
    const client = await server.connect();
    expect((await client.request('broken', 'x')).status).toBe(503);
    expect((await client.request('upper', 'x')).text()).toBe('X');
    expect(server.logs({ level: 'error', plugin: 'broken' })[0]?.code).toBe('NEKO_ERR_PLUGIN_IMPORT');
  });

  it('lets the server refuse a plugins directory that does not exist', async () => {
    const err = await rejection(createTestServer({ plugins: `${FIXTURES}/nowhere` }));
    expect(isNekoError(err, 'NEKO_ERR_PLUGINS_DIR')).toBe(true);
  });
});

describe('statuses', () => {
  it('surface as the answer of request(): 200, 100, 404 and 500', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    expect((await client.request('probe', '', { op: Op.Silent })).status).toBe(200);
    expect((await client.request('probe', '', { op: Op.Wait })).status).toBe(100);
    const second = await client.request('probe', 'second', { op: Op.Echo });
    expect([second.op, second.text(), second.status]).toEqual([Op.Wait, 'second', undefined]);
    expect((await client.request('nobody', 'x')).status).toBe(404);
    expect((await client.request('probe', 'bad', { op: Op.Throw })).status).toBe(500);
    expect(server.logs({ plugin: 'probe', level: 'error' })[0]?.message).toMatch(
      /recv failed: Error: boom: bad/,
    );
    // The session goes on.
    expect((await client.request('probe', 'still here', { op: Op.Echo })).text()).toBe('still here');
  });

  it('and as unread statuses after send(), for expectStatus()', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    client.send('nobody', 'x');
    client.send('probe', '', { op: Op.Silent });
    client.send('probe', 'x', { op: Op.Throw });
    await client.expectStatus(404);
    await client.expectStatus(200);
    await client.expectStatus(500);
  });

  it('keeps the order of pushes and replies; next() gets them one by one', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    // A request is answered by the first packet from its greeter; the second one is unread.
    expect((await client.request('probe', '', { op: Op.Twice })).text()).toBe('one');
    expect((await client.next()).text()).toBe('two');
    client.send('probe', '30', { op: Op.Later });
    await client.expectStatus(200);
    expect((await client.next({ greeter: 'probe' })).text()).toBe('later');
  });
});

describe('two clients', () => {
  it('see each other through the plugin, and each has its own session', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const mimi = await server.connect({ name: 'mimi' });
    const tama = await server.connect({ name: 'tama' });
    expect(mimi.sessionId).not.toBe(tama.sessionId);
    // Both join the plugin.
    await mimi.request('probe', 'mimi', { op: Op.Note });
    await tama.request('probe', 'tama', { op: Op.Note });
    expect((await mimi.request('probe', 'hi tama', { op: Op.Broadcast })).status).toBe(200);
    expect((await tama.next()).text()).toBe('hi tama');
    expect(mimi.unread()).toEqual([]);
    const waiting = await rejection(mimi.next({ timeout: 20 }));
    expect(waiting.message).toBe('mimi: no packet from a plugin within 20 ms; nothing arrived');
  });
});

describe('inspecting the server', () => {
  it('db(greeter) is the plugin database the plugin writes to', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    const id = (await client.request('probe', 'remember me', { op: Op.Insert })).text();
    expect(await server.db('probe').findOne({ _id: id })).toMatchObject({ text: 'remember me' });
    await server.db('probe').insert({ text: 'seeded' });
    expect(await server.db('probe').count({})).toBe(2);
  });

  it('db() of a greeter no plugin has fails with NEKO_ERR_TESTING_UNKNOWN_PLUGIN', async () => {
    const server = await createTestServer({ plugins: PLUGINS_DIR });
    let err: unknown;
    try {
      server.db('Probe');
    } catch (e) {
      err = e;
    }
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_UNKNOWN_PLUGIN')).toBe(true);
    expect((err as Error).message).toMatch(
      /^server\.db\("Probe"\): no loaded plugin answers to "Probe" \(loaded: "(probe|upper)", "(probe|upper)"\)$/,
    );
  });

  it('logs() returns the captured records, by plugin, level, session and code', async () => {
    const server = await createTestServer({ plugins: PLUGINS_DIR });
    const client = await server.connect();
    await client.request('probe', 'careful', { op: Op.Log });
    expect(server.logs({ plugin: 'probe' }).map((r) => `${r.level} ${r.message}`)).toEqual([
      'info loaded Probe v1.0.0 (greeter "probe")',
      'info info: careful',
      'warn warn: careful',
      'error error: careful',
    ]);
    expect(server.logs({ plugin: 'probe', level: 'warn' }).map((r) => r.message)).toEqual(['warn: careful']);
    expect(server.logs({ session: client.sessionId }).map((r) => r.level)).toEqual(['info', 'warn', 'error']);
    expect(server.logs({ plugin: 'upper', level: 'error' })).toEqual([]);
    await client.request('probe', 'x', { op: Op.Throw });
    expect(server.logs({ code: 'NEKO_ERR_PLUGIN_HANDLER' })).toHaveLength(1);
  });

  it("sessions() lists the connected sessions with each plugin's state for them", async () => {
    const server = await createTestServer({ plugin: PROBE });
    const a = await server.connect({ remoteAddress: '203.0.113.9' });
    const b = await server.connect({ auth: false });
    await a.request('probe', 'hello', { op: Op.Note });
    expect(server.sessions()).toEqual([
      {
        id: a.sessionId,
        remoteAddress: '203.0.113.9',
        connectedAt: expect.any(Number),
        state: 'open',
        plugins: { probe: { joined: true, note: 'hello' } },
      },
      {
        id: b.sessionId,
        remoteAddress: '127.0.0.1',
        connectedAt: expect.any(Number),
        state: 'handshake',
        plugins: {},
      },
    ]);
    await a.close();
    expect(server.sessions().map((s) => s.id)).toEqual([b.sessionId]);
  });

  it('close() closes every client and unloads the plugins; connect() after it fails', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    // Caught from the start: it rejects while close() runs.
    const pending = rejection(client.next());
    await server.close();
    expect(client.connected).toBe(false);
    // The shutdown notice: status 503 just before the close.
    expect(await client.expectClosed()).toEqual({ by: 'server', status: 503 });
    expect((await pending).message).toBe(
      'client 1: the connection closed while waiting for a packet from a plugin; arrived instead: status 503 (unavailable: plugin not loaded, or the server shuts down)',
    );
    expect(server.logs({ plugin: 'probe' }).map((r) => r.message)).toContain('probe unloaded');
    await server.close();
    const err = await rejection(server.connect());
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_CLOSED')).toBe(true);
    expect(err.message).toBe('server.connect() after server.close()');
  });
});

describe('unauthenticated and malformed input', () => {
  it('a wrong secret fails connect() with NEKO_ERR_TESTING_HANDSHAKE', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const err = await rejection(server.connect({ secret: 'not the secret' }));
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_HANDSHAKE')).toBe(true);
    expect(err.message).toBe(
      'client 1: the server refused the handshake with status 400 (authentication error)',
    );
    expect(server.logs({ code: 'NEKO_ERR_AUTH_BAD_HASH' })).toHaveLength(1);
  });

  it('{ auth: false } leaves the handshake to the test', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect({ auth: false });
    expect(client.authenticated).toBe(false);
    await client.handshake();
    expect((await client.request('probe', 'now', { op: Op.Echo })).text()).toBe('now');

    const rude = await server.connect({ auth: false });
    rude.send('probe', 'hi', { op: Op.Echo });
    await rude.expectStatus(400);
    expect(await rude.expectClosed()).toEqual({ by: 'server', status: 400 });
    expect(server.logs({ code: 'NEKO_ERR_AUTH_FIRST_PACKET' })[0]?.message).toMatch(
      /first packet must be greeter "auth"/,
    );
  });

  it('raw() bytes reach the server unchanged: malformed is 422, too large is 413, a replay is 400', async () => {
    const server = await createTestServer({ plugin: PROBE, config: { limits: { maxPacketBytes: 1024 } } });
    const malformed = await server.connect();
    // packet_len says 20; the header's field lengths add up to 16.
    malformed.raw(
      Buffer.from([0, 0, 0, 20, 1, 1, 0, 0, 0, 0, 1, 1, 0x61, 0x31, 0x72, 0x68, 0x68, 0x68, 0x68, 0x68]),
    );
    expect(await malformed.expectClosed()).toEqual({ by: 'server', status: 422 });

    const large = await server.connect();
    large.raw(Buffer.from([0, 0, 0x10, 0, 1, 1, 0, 0, 0x0f, 0xf0, 1, 1]));
    await large.expectStatus(413);
    await large.expectClosed();

    // A well-formed packet whose hash is the auth hash again: stale, so 400.
    const replay = await server.connect();
    const random = randomString();
    replay.raw(encodeFrame({ greeter: 'probe', op: 1, random, data: 'x', hash: 'f'.repeat(64) }));
    await replay.expectStatus(400);
    expect(server.logs({ code: 'NEKO_ERR_AUTH_BAD_HASH' })).toHaveLength(1);
  });

  it('a plugin closing the connection: expectClosed() resolves without a status', async () => {
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    client.send('probe', '', { op: Op.Close });
    expect(await client.expectClosed()).toEqual({ by: 'server', status: undefined });
  });

  it('remoteAddress is for the in-memory transport only', async () => {
    const server = await createTestServer({ plugin: PROBE, transport: 'tcp' });
    const err = await rejection(server.connect({ remoteAddress: '10.0.0.1' }));
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_OPTIONS')).toBe(true);
    expect(err.message).toBe(
      "server.connect(): remoteAddress is for the in-memory transport; over TCP it is the socket's",
    );
    const bad = await rejection(server.connect({ timeout: -1 }));
    expect(bad.message).toBe('server.connect(): timeout must be a whole number of ms ≥ 1, got -1');
  });
});
