import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestServer, isNekoTestingError } from '../src/index.js';
import { Op } from './fixtures/plugins/probe/logic.js';
import { PROBE } from './helpers/fixtures.js';

/** The real clock, taken before any test fakes `performance`. */
const realNow = performance.now.bind(performance);

afterEach(() => {
  vi.useRealTimers();
});

describe('with vitest fake timers', () => {
  it("drives a plugin's timers: the reply comes when the test advances the clock", async () => {
    vi.useFakeTimers();
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    const reply = client.request('probe', '60000', { op: Op.Delay });
    await vi.advanceTimersByTimeAsync(59_999);
    expect(client.unread()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect((await reply).text()).toBe('waited 60000');

    client.send('probe', '5000', { op: Op.Later });
    await client.expectStatus(200);
    await vi.advanceTimersByTimeAsync(5_000);
    expect((await client.next()).text()).toBe('later');
  });

  it('the harness waits in real time: advancing fake time never fires them, and they still fire', async () => {
    vi.useFakeTimers();
    const server = await createTestServer({ plugin: PROBE });
    const client = await server.connect();
    const waiting = client.next({ timeout: 2_000 });
    vi.advanceTimersByTime(3_600_000);
    client.send('probe', 'still waiting', { op: Op.Broadcast });
    const other = await server.connect();
    await other.request('probe', 'joined', { op: Op.Note });
    other.send('probe', 'hello', { op: Op.Broadcast });
    expect((await waiting).text()).toBe('hello');

    // Nobody advances the fake clock, yet the wait ends after 40 real ms.
    const started = realNow();
    const err = await client.next({ timeout: 40 }).catch((e: unknown) => e as Error);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_TIMEOUT')).toBe(true);
    expect(realNow() - started).toBeGreaterThanOrEqual(35);
  });

  it("drives the server's own timers: the handshake timeout closes with 408", async () => {
    const server = await createTestServer({ plugin: PROBE });
    vi.useFakeTimers();
    const client = await server.connect({ auth: false });
    vi.advanceTimersByTime(9_999);
    expect(client.connected).toBe(true);
    vi.advanceTimersByTime(1);
    await client.expectStatus(408);
    expect(await client.expectClosed()).toEqual({ by: 'server', status: 408 });
  });

  it('a handler stuck on a fake timer makes close() fail with NEKO_ERR_TESTING_CLOSE_TIMEOUT; advancing lets it finish', async () => {
    vi.useFakeTimers();
    const server = await createTestServer({ plugin: PROBE, closeTimeout: 100 });
    const client = await server.connect();
    // The handler waits 300 ms of fake time: less than the server's shutdown wait (500 ms).
    const reply = client.request('probe', '300', { op: Op.Delay });
    await vi.advanceTimersByTimeAsync(0);
    const err = await server.close().catch((e: unknown) => e as Error);
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_CLOSE_TIMEOUT')).toBe(true);
    expect(err?.message).toBe(
      'server.close() did not finish within 100 ms: a plugin handler or hook is still running',
    );
    // The handler finishes once the clock moves; closing again completes.
    await vi.advanceTimersByTimeAsync(300);
    expect((await reply).text()).toBe('waited 300');
    await server.close();
    expect(client.connected).toBe(false);
  });
});
