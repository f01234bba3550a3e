import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { THROW_LINE } from './fixtures/reports/thrower/logic.js';
import { createTestServer, isNekoTestingError, type TestServer } from '../src/index.js';
import { handlerFailureReport } from '../src/handler-failures.js';
import { FIXTURES } from './helpers/fixtures.js';

const THROWER = join(FIXTURES, 'reports', 'thrower');
/** Where the thrower's handler throws, as its source-mapped stack names it. */
const AT_THROW_LINE = `${join(THROWER, 'logic.ts')}:${THROW_LINE}:`;
const Op = { Echo: 1, Score: 2 } as const;

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as Error,
  );
}

describe('a status 500 carries the error of the handler that failed', () => {
  it('request() still resolves with the status 500, now with the error and its logic.ts line', async () => {
    const server = await createTestServer({ plugin: THROWER });
    const client = await server.connect();
    const reply = await client.request('thrower', 'mimi', { op: Op.Score });
    expect(reply.status).toBe(500);
    expect(reply.error).toBeInstanceOf(TypeError);
    expect((reply.error as Error).message).toBe('no score for mimi');
    expect((reply.error as Error).stack).toContain(AT_THROW_LINE);
    expect(String(reply)).toBe(
      `status 500 (plugin handler failed): TypeError: no score for mimi (at ${AT_THROW_LINE}11)`,
    );
    // The other packets carry none.
    const echoed = await client.request('thrower', 'ok', { op: Op.Echo });
    expect([echoed.text(), echoed.error]).toEqual(['ok', undefined]);
  });

  it('expectStatus() names the error and its stack when it expected another status', async () => {
    const server = await createTestServer({ plugin: THROWER });
    const client = await server.connect();
    client.send('thrower', 'tama', { op: Op.Score });
    const err = await rejection(client.expectStatus(200));
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_UNEXPECTED_STATUS')).toBe(true);
    expect(err.message).toMatch(
      /^client 1: expected status 200 \(ok\), got status 500 \(plugin handler failed\): the plugin's handler failed with TypeError: no score for tama\n\s+at /,
    );
    expect(err.message).toContain(AT_THROW_LINE);
    expect((err.cause as Error).message).toBe('no score for tama');
  });

  it("json() of a failed answer throws the handler's error, pointing at its line", async () => {
    const server = await createTestServer({ plugin: THROWER });
    const client = await server.connect();
    const reply = await client.request('thrower', 'neko', { op: Op.Score });
    const err = (() => {
      try {
        reply.json();
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected json() to throw');
    })();
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_HANDLER_FAILED')).toBe(true);
    expect(err.message).toBe(
      `json() of status 500 (plugin handler failed): TypeError: no score for neko (at ${AT_THROW_LINE}11): the plugin sent no data, its handler failed`,
    );
    expect(err.stack?.split('\n')[1]).toContain(AT_THROW_LINE);
    expect((err.cause as Error).message).toBe('no score for neko');
  });

  it('a timeout lists the failed answers that arrived instead, with their error', async () => {
    const server = await createTestServer({ plugin: THROWER });
    const client = await server.connect();
    client.send('thrower', 'mike', { op: Op.Score });
    const err = await rejection(client.next({ greeter: 'thrower', timeout: 50 }));
    expect(err.message).toContain(
      `arrived instead: status 500 (plugin handler failed): TypeError: no score for mike (at ${AT_THROW_LINE}`,
    );
  });

  async function eachFailureBelongsToItsRequest(server: TestServer): Promise<void> {
    const mimi = await server.connect({ name: 'mimi' });
    const tama = await server.connect({ name: 'tama' });
    // Two sessions fail at once, and one of them twice in a row, around a packet that succeeds.
    const answers = await Promise.all([
      mimi.request('thrower', 'mimi-1', { op: Op.Score }),
      tama.request('thrower', 'tama-1', { op: Op.Score }),
      mimi.request('thrower', 'fine', { op: Op.Echo }),
      mimi.request('thrower', 'mimi-2', { op: Op.Score }),
      tama.request('thrower', 'tama-2', { op: Op.Score }),
    ]);
    expect(answers.map((a) => (a.error === undefined ? a.text() : (a.error as Error).message))).toEqual([
      'no score for mimi-1',
      'no score for tama-1',
      'fine',
      'no score for mimi-2',
      'no score for tama-2',
    ]);
  }

  it('each error goes to the status 500 of the packet that caused it, session by session', async () => {
    await eachFailureBelongsToItsRequest(await createTestServer({ plugin: THROWER }));
  });

  it('over TCP too', async () => {
    await eachFailureBelongsToItsRequest(await createTestServer({ plugin: THROWER, transport: 'tcp' }));
  });

  it("the report a failed test gets names what the plugin's handler threw, with its stack", async () => {
    const server = await createTestServer({ plugin: THROWER });
    const client = await server.connect();
    const failed = [
      await client.request('thrower', 'mimi', { op: Op.Score }),
      await client.request('thrower', 'tama', { op: Op.Score }),
    ].map((p) => ({ answered: `"thrower" op ${Op.Score}`, error: p.error }));
    expect(handlerFailureReport('client 1', [])).toBeUndefined();
    const report = handlerFailureReport('client 1', failed);
    expect(isNekoTestingError(report, 'NEKO_ERR_TESTING_HANDLER_FAILED')).toBe(true);
    expect(report?.message).toBe(
      [
        "client 1: the plugin's handler failed during this test:",
        `"thrower" op 2 was answered status 500 (plugin handler failed): TypeError: no score for mimi (at ${AT_THROW_LINE}11)`,
        `"thrower" op 2 was answered status 500 (plugin handler failed): TypeError: no score for tama (at ${AT_THROW_LINE}11)`,
      ].join('\n'),
    );
    // Its stack is the first handler's, so the test report points at the plugin's line.
    expect(report?.stack?.split('\n').find((line) => line.trim().startsWith('at '))).toContain(AT_THROW_LINE);
  });
});
