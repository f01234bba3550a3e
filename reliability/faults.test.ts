/**
 * Plugin faults against a real server process over loopback TCP: handlers
 * that throw, reject, time out in `ctx.recv()` or never settle, and hooks
 * that throw. Each fault must be isolated (the client at fault gets the
 * documented status, its session goes on; other sessions and plugins are
 * served, every reply checked), logged with its code and the plugin's
 * greeter, and counted (the dashboard's per-plugin counters and log API).
 *
 * The server runs with its dashboard (startDashboardServer in support/workloads.ts), so the
 * counters are read where an operator reads them: `/api/plugins`.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NekoStatusError, type NekoClient } from 'nekoconnect/client';
import {
  client,
  coded,
  echoLoop,
  fixture,
  loop,
  pluginsDir,
  readDataFile,
  settlesWithin,
  sleep,
  startDashboardServer,
  tempDir,
  waitFor,
  type Loop,
  type SessionRow,
} from './support/workloads.js';

const SECRET = 'reliability-faults';
const RECV_TIMEOUT_MS = 300;
const SHUTDOWN_TIMEOUT_MS = 1_000;

/** The neighbours of the faults: echo clients on another plugin, all checked. */
async function steadyClients(port: number, count = 2): Promise<Loop[]> {
  const loops: Loop[] = [];
  for (let i = 0; i < count; i++) loops.push(echoLoop(await client(port, SECRET), `steady-${i}`, 'steady'));
  return loops;
}

async function stopAll(loops: Loop[]): Promise<{ ok: number; failures: string[] }> {
  const reports = await Promise.all(loops.map((l) => l.stop()));
  return {
    ok: reports.reduce((n, r) => n + r.ok, 0),
    failures: reports.flatMap((r) => r.failures),
  };
}

/** Expects `request` to be rejected with status 500 for `greeter`. */
async function expect500(request: Promise<unknown>, greeter: string): Promise<void> {
  const err = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NekoStatusError);
  expect(err).toMatchObject({ status: 500, greeter });
}

describe('plugin faults', () => {
  it('answers 500 to a throwing, a rejecting and a timed-out handler, logs and counts each per plugin, and serves everyone else', async () => {
    const THROWS = 20;
    const REJECTS = 20;
    const TIMEOUTS = 5;
    const server = await startDashboardServer({
      secret: SECRET,
      plugins: await pluginsDir(
        ['steady', 'notes', 'fault-throw', 'fault-reject', 'fault-recv'].map((name) => fixture(name)),
      ),
      limits: { recvTimeoutMs: RECV_TIMEOUT_MS },
    });
    const steady = await steadyClients(server.port);
    // Another plugin, with a database, keeps being served as well.
    const notesClient = await client(server.port, SECRET);
    const notes = loop(
      'notes',
      async (i) => {
        const text = `note-${i}`;
        const doc = (await notesClient.request('notes', JSON.stringify({ text }), { op: 1 })).json<{
          text: string;
          _id: string;
        }>();
        if (doc.text !== text || typeof doc._id !== 'string')
          throw new Error(`wrong note ${JSON.stringify(doc)}`);
      },
      { pauseMs: 5 },
    );

    // Each fault on a client of its own; after each failure the same session and plugin answer normally.
    const throwing = (async () => {
      const c = await client(server.port, SECRET);
      for (let i = 0; i < THROWS; i++) {
        await expect500(c.request('fault-throw', `t${i}`, { op: 1 }), 'fault-throw');
        expect((await c.request('fault-throw', `t${i}`, { op: 2 })).text()).toBe(`ok:t${i}`);
      }
    })();
    const rejecting = (async () => {
      const c = await client(server.port, SECRET);
      for (let i = 0; i < REJECTS; i++) {
        await expect500(c.request('fault-reject', `r${i}`, { op: 1 }), 'fault-reject');
        expect((await c.request('fault-reject', `r${i}`, { op: 2 })).text()).toBe(`ok:r${i}`);
      }
    })();
    const timingOut = (async () => {
      const c: NekoClient = await client(server.port, SECRET);
      // The 500 comes after the 100 that answered the packet: it answers no request, so it is a status event.
      const late: { err: NekoStatusError; at: number }[] = [];
      c.on('status', (err) => late.push({ err, at: performance.now() }));
      const waits: number[] = [];
      for (let i = 0; i < TIMEOUTS; i++) {
        const sentAt = performance.now();
        const first = await c.request('fault-recv', `w${i}`, { op: 1 });
        expect(first.status).toBe(100);
        await waitFor(() => late.length > i, `the 500 after recv timeout #${i}`, 10_000);
        expect(late[i]!.err.status).toBe(500);
        waits.push(late[i]!.at - sentAt);
        expect((await c.request('fault-recv', `w${i}`, { op: 2 })).text()).toBe(`ok:w${i}`);
      }
      // The 500 came from the recv timeout, not sooner (the server's timer starts after the packet was sent).
      for (const ms of waits) expect(ms).toBeGreaterThanOrEqual(RECV_TIMEOUT_MS - 5); // timers may round down by 1 ms
      return waits;
    })();
    let waits: number[];
    let neighbours: { ok: number; failures: string[] };
    try {
      [, , waits] = await Promise.all([throwing, rejecting, timingOut]);
    } finally {
      await notes.stop();
      neighbours = await stopAll(steady);
    }
    expect(neighbours.failures).toEqual([]);
    expect(notes.report.failures).toEqual([]);
    expect(neighbours.ok).toBeGreaterThan(50);
    expect(notes.report.ok).toBeGreaterThan(10);

    // Logged: one coded error per fault, tagged with the plugin's greeter and the session.
    const handlerErrors = (greeter: string) => coded(server.logs, 'NEKO_ERR_PLUGIN_HANDLER', greeter);
    await waitFor(() => handlerErrors('fault-recv').length === TIMEOUTS, 'the recv timeout log lines');
    expect(handlerErrors('fault-throw')).toHaveLength(THROWS);
    expect(handlerErrors('fault-reject')).toHaveLength(REJECTS);
    for (const r of handlerErrors('fault-throw')) {
      expect(r).toMatchObject({ level: 'error', session: expect.stringMatching(/^s-\d+$/) });
      expect(r.message).toMatch(/^FaultThrow: recv failed: Error: fault-throw: deliberate failure \(t\d+\)/);
    }
    for (const r of handlerErrors('fault-reject')) {
      expect(r.message).toMatch(/^FaultReject: recv failed: Error: fault-reject: deliberate rejection/);
    }
    for (const r of handlerErrors('fault-recv')) {
      expect(r.errorCode).toBe('NEKO_ERR_CONTEXT_RECV_TIMEOUT');
      expect(r.message).toContain(`ctx.recv() got no packet within ${RECV_TIMEOUT_MS} ms`);
    }
    // Nothing else went wrong: the only error lines are the faults.
    expect(server.logs.filter((r) => r.level === 'error')).toHaveLength(THROWS + REJECTS + TIMEOUTS);

    // Counted, per plugin, as the dashboard shows them.
    const plugins = await server.plugins();
    expect(plugins.get('fault-throw')).toMatchObject({
      status: 'loaded',
      errors: THROWS,
      packets: 2 * THROWS,
    });
    expect(plugins.get('fault-reject')).toMatchObject({ errors: REJECTS, packets: 2 * REJECTS });
    // A timed-out run counts its packet when it parks, and its failure when the timeout ends it.
    expect(plugins.get('fault-recv')).toMatchObject({ errors: TIMEOUTS, packets: 2 * TIMEOUTS });
    expect(plugins.get('steady')).toMatchObject({ errors: 0, packets: neighbours.ok });
    expect(plugins.get('notes')).toMatchObject({ errors: 0, packets: notes.report.ok });
    const overview = await server.api<{ counters: { error: number } }>('/api/overview');
    expect(overview.counters.error).toBe(THROWS + REJECTS + TIMEOUTS);

    console.log(
      `faults: ${THROWS} throws, ${REJECTS} rejections, ${TIMEOUTS} recv timeouts ` +
        `(500 after ${waits!.map((ms) => Math.round(ms)).join(', ')} ms); ` +
        `neighbours served ${neighbours.ok} echoes and ${notes.report.ok} notes meanwhile`,
    );
    const closed = await server.close();
    expect(closed.code).toBe(0);
  });

  it('logs onJoin and onLeave hooks that throw with the greeter and session, and the sessions go on', async () => {
    const CLIENTS = 12;
    const server = await startDashboardServer({
      secret: SECRET,
      plugins: await pluginsDir([fixture('steady'), fixture('fault-hooks')]),
    });
    const steady = await steadyClients(server.port);
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        await sleep(i * 60); // spread over the steady clients' run
        const c = await client(server.port, SECRET);
        // onJoin threw, but the session joined (its state is set) and recv answers: no 500.
        expect((await c.request('fault-hooks', `hello-${i}`)).text()).toBe('joined:true');
        expect((await c.request('fault-hooks', `again-${i}`)).text()).toBe('joined:true');
        expect((await c.request('steady', `echo-${i}`)).text()).toBe(`echo-${i}`);
        await c.close(); // onLeave rejects
      }),
    );
    const hookErrors = () => coded(server.logs, 'NEKO_ERR_PLUGIN_HOOK', 'fault-hooks');
    await waitFor(() => hookErrors().length === 2 * CLIENTS, 'the onLeave log lines');
    const neighbours = await stopAll(steady);
    expect(neighbours.failures).toEqual([]);
    expect(neighbours.ok).toBeGreaterThan(20);

    const joins = hookErrors().filter((r) =>
      r.message.startsWith('FaultHooks: onJoin failed: Error: fault-hooks'),
    );
    const leaves = hookErrors().filter((r) =>
      r.message.startsWith('FaultHooks: onLeave failed: Error: fault-hooks'),
    );
    expect(joins).toHaveLength(CLIENTS);
    expect(leaves).toHaveLength(CLIENTS);
    // Each names its session, and each session failed once in each hook.
    const ids = (records: typeof joins) => new Set(records.map((r) => r.session));
    expect(ids(joins).size).toBe(CLIENTS);
    expect(ids(leaves)).toEqual(ids(joins));
    for (const r of [...joins, ...leaves]) expect(r.message).toContain(`failure for ${r.session}`);
    expect(server.logs.filter((r) => r.level === 'error')).toHaveLength(2 * CLIENTS);

    // Counted: hook failures are error lines of the plugin (not handler failures), and every member left.
    const { entries } = await server.api<{ entries: unknown[] }>('/api/logs?plugin=fault-hooks&levels=error');
    expect(entries).toHaveLength(2 * CLIENTS);
    const plugins = await server.plugins();
    expect(plugins.get('fault-hooks')).toMatchObject({ errors: 0, packets: 2 * CLIENTS, sessions: 0 });
    expect(plugins.get('steady')).toMatchObject({ errors: 0, packets: neighbours.ok + CLIENTS });
    expect((await server.close()).code).toBe(0);
  });

  it('completes a clean shutdown when an onUnload throws, and still compacts and closes every database', async () => {
    const dataDir = await tempDir();
    const plugins = await pluginsDir([fixture('fault-unload'), fixture('notes')]);
    const server = await startDashboardServer({ secret: SECRET, plugins, dataDir });
    const c = await client(server.port, SECRET);
    for (let i = 0; i < 10; i++) {
      expect(JSON.parse((await c.request('fault-unload', `entry-${i}`)).text())).toMatchObject({
        text: `entry-${i}`,
      });
    }
    // Notes: 12 added, each touched twice, 4 removed: 40 lines appended for 8 live documents.
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push(
        (await c.request('notes', JSON.stringify({ text: `n${i}` }), { op: 1 })).json<{ _id: string }>()._id,
      );
    }
    for (let round = 0; round < 2; round++) {
      for (const id of ids) {
        expect((await c.request('notes', JSON.stringify({ id }), { op: 3 })).json()).toEqual({ updated: 1 });
      }
    }
    const removed = ids.splice(0, 4);
    for (const id of removed) {
      expect((await c.request('notes', JSON.stringify({ id }), { op: 4 })).json()).toEqual({ removed: 1 });
    }
    const notesFile = path.join(dataDir, 'notes.db');
    const unloadFile = path.join(dataDir, 'fault-unload.db');
    expect((await readDataFile(notesFile)).documents).toHaveLength(40);

    const closed = await server.close();
    expect(closed).toMatchObject({ code: 0, signal: null });
    expect(closed.closeMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 4_000);
    const unloadErrors = coded(server.logs, 'NEKO_ERR_PLUGIN_HOOK', 'fault-unload');
    expect(unloadErrors).toHaveLength(1);
    expect(unloadErrors[0]!.message).toMatch(
      /^FaultUnload: onUnload failed: Error: fault-unload: onUnload failure/,
    );
    expect(server.logs.filter((r) => r.level !== 'info')).toEqual(unloadErrors);

    // Compacted on close: one line per live document, for the plugin whose onUnload threw (its last write
    // included) and for the one unloaded after it.
    const notesData = await readDataFile(notesFile);
    expect(notesData.bad).toEqual([]);
    expect(notesData.tornTail).toBeUndefined();
    expect(notesData.documents.map((r) => r._id).sort()).toEqual([...ids].sort());
    for (const r of notesData.documents) expect(r.n).toBe(2);
    const unloadData = await readDataFile(unloadFile);
    expect(unloadData.documents).toHaveLength(11);
    expect(unloadData.documents.filter((r) => r.kind === 'farewell')).toHaveLength(1);

    // And they load again, untouched.
    const again = await startDashboardServer({ secret: SECRET, plugins, dataDir });
    const c2 = await client(again.port, SECRET);
    const listed = (await c2.request('notes', '', { op: 2 })).json<{ _id: string; n: number }[]>();
    expect(listed.map((d) => d._id).sort()).toEqual([...ids].sort());
    expect(again.logs.filter((r) => r.level !== 'info')).toEqual([]);
    await c2.close();
    expect((await again.close()).code).toBe(0);
  });

  it('holds only its own session with a handler that never settles, and still shuts down within shutdownTimeoutMs', async () => {
    const server = await startDashboardServer({
      secret: SECRET,
      plugins: await pluginsDir([fixture('steady'), fixture('fault-hang')]),
      limits: { shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS },
    });
    // The holder connects first: it is session s-1.
    const holder = await client(server.port, SECRET);
    const steady = await steadyClients(server.port);
    const samePluginClient = await client(server.port, SECRET);
    const samePlugin = loop(
      'fault-hang op 2',
      async (i) => {
        const text = (await samePluginClient.request('fault-hang', `s${i}`, { op: 2 })).text();
        if (text !== `ok:s${i}`) throw new Error(`wrong reply ${text}`);
      },
      { pauseMs: 2 },
    );

    expect((await holder.request('fault-hang', 'hold', { op: 1 })).text()).toBe('holding');
    // The holder may send again (it got a packet), but its next packet waits behind the run that never ends.
    const queued = holder.request('steady', 'after the hang', { timeoutMs: 60_000 });
    const answered = settlesWithin(queued, 2_000);
    const before = { steady: steady.map((l) => l.report.ok), same: samePlugin.report.ok };
    expect(await answered).toBe(false);
    // Meanwhile everyone else was served, the hanging plugin included.
    expect(steady.every((l, i) => l.report.ok > before.steady[i]! + 10)).toBe(true);
    expect(samePlugin.report.ok).toBeGreaterThan(before.same + 10);
    // The held packet did reach the server: it waits there, in arrival order.
    const { sessions } = await server.api<{ sessions: SessionRow[] }>('/api/sessions');
    expect(sessions.find((s) => s.id === 's-1')).toMatchObject({ packetsIn: 2, plugins: ['fault-hang'] });

    const neighbours = await stopAll([...steady, samePlugin]);
    expect(neighbours.failures).toEqual([]);
    const plugins = await server.plugins();
    expect(plugins.get('fault-hang')!.errors).toBe(0);
    expect(plugins.get('fault-hang')!.packets).toBeGreaterThanOrEqual(samePlugin.report.ok);

    // A shutdown waits shutdownTimeoutMs for the run, then cuts it (logged) and completes.
    const closed = await server.close();
    expect(closed).toMatchObject({ code: 0, signal: null });
    expect(closed.closeMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS - 50);
    expect(closed.closeMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 3_000);
    // The packet waiting behind the cut run is answered by the shutdown notice.
    await expect(queued).rejects.toMatchObject({ code: 'NEKO_ERR_CLIENT_STATUS', status: 503 });
    expect(server.logs.filter((r) => r.code === 'NEKO_ERR_SERVER_HANDLER_CUT')).toMatchObject([
      { level: 'warn', plugin: 'fault-hang', session: 's-1' },
    ]);
    expect(server.logs.filter((r) => r.level === 'error')).toEqual([]);
    console.log(
      `hang: neighbours served ${neighbours.ok} requests while s-1 was held; clean shutdown took ${Math.round(closed.closeMs)} ms ` +
        `(shutdownTimeoutMs ${SHUTDOWN_TIMEOUT_MS})`,
    );
  });
});
