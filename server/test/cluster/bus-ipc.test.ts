/**
 * The IPC bus of --workers without Redis, across real processes: this test
 * process runs the primary's hub, two (or three) forked workers run the
 * worker's side of the bus and report what it hands to their server.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { GoneSession } from '../../src/cluster/bus.js';
import { ipcEndpoint } from '../../src/cluster/ipc-channel.js';
import { IpcHub } from '../../src/cluster/ipc-hub.js';
import { bundleFixtures, forkFixture, killFixture } from './ipc-support.js';
import { eventually } from './presence-conformance.js';

let remove: (() => Promise<void>) | undefined;
let workerFile: string;

beforeAll(async () => {
  const bundled = await bundleFixtures(['ipc-worker-process']);
  remove = bundled.remove;
  workerFile = bundled.paths['ipc-worker-process']!;
}, 60_000);

afterAll(async () => {
  await remove?.();
});

interface Event {
  kind: string;
  args: unknown[];
}

/** A forked worker: its bus calls, run there, and the events its bus handed to its "server". */
interface Worker {
  child: ChildProcess;
  processId: string;
  events: Event[];
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
}

/**
 * A hub in this process, and workers forked and attached to it as the
 * primary attaches them (detached when they exit), all ended when the test ends.
 */
async function primary(
  n: number,
  options: { sendToTimeoutMs?: number } = {},
): Promise<{ hub: IpcHub; workers: Worker[]; detached: Map<ChildProcess, Promise<void>> }> {
  const hub = new IpcHub({ name: 'test', ...options });
  onTestFinished(() => hub.close());
  const workers: Worker[] = [];
  const detached = new Map<ChildProcess, Promise<void>>();
  for (let i = 1; i <= n; i++) {
    const { child, ready } = await forkFixture(workerFile, (forked) => {
      // Attached at once: the worker's first message (its bus.join) may come before anything else.
      const pipe = hub.attach(ipcEndpoint(forked), `worker ${i}`);
      forked.once('exit', () => detached.set(forked, hub.detach(pipe)));
    });
    workers.push(wrap(child, String(ready.processId)));
    onTestFinished(() => killFixture(child));
  }
  return { hub, workers, detached };
}

function wrap(child: ChildProcess, processId: string): Worker {
  const events: Event[] = [];
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 1;
  child.on('message', (message: unknown) => {
    const m = message as {
      test?: string;
      id?: number;
      value?: unknown;
      error?: { message: string; code?: string };
      kind?: string;
      args?: unknown[];
    };
    if (m.test === 'event') events.push({ kind: m.kind!, args: m.args! });
    if (m.test !== 'result') return;
    const w = waiting.get(m.id!);
    waiting.delete(m.id!);
    if (m.error) w?.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    else w?.resolve(m.value);
  });
  return {
    child,
    processId,
    events,
    call: <T>(method: string, ...args: unknown[]) =>
      new Promise<T>((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ test: 'call', id, method, args });
      }),
  };
}

describe('the IPC bus through the primary', () => {
  it('broadcasts reach the other workers (not the publisher), with except and group, in the order published', async () => {
    const { hub, workers } = await primary(3);
    const [a, b, c] = workers as [Worker, Worker, Worker];
    expect(hub.processes).toBe(3);
    await eventually(async () => expect((await a.call<{ processes: number }>('counters')).processes).toBe(3));
    for (let i = 0; i < 50; i++)
      await a.call('broadcast', 'chat', 2, `m${i}`, i === 0 ? ['s-b1'] : [], undefined);
    await b.call('broadcast', 'chat', 3, 'from b', [], 'room');
    const delivered = (w: Worker): unknown[][] =>
      w.events.filter((e) => e.kind === 'deliver').map((e) => e.args);
    await eventually(() => expect(delivered(b)).toHaveLength(50));
    await eventually(() => expect(delivered(c)).toHaveLength(51));
    // Per publisher, in order; except and group cross as they were given.
    expect(delivered(b).map((args) => args[2])).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    expect(delivered(b)[0]).toEqual(['chat', 2, 'm0', ['s-b1'], undefined]);
    expect(delivered(c).at(-1)).toEqual(['chat', 3, 'from b', [], 'room']);
    expect(delivered(a)).toEqual([['chat', 3, 'from b', [], 'room']]);
    const counters = await c.call<{
      received: number;
      delivered: number;
      latency: { count: number };
      published: number;
    }>('counters');
    expect(counters).toMatchObject({ received: 51, delivered: 51 });
    expect(counters.latency.count).toBe(51);
    expect((await a.call<{ published: number }>('counters')).published).toBe(50);
  });

  it('sendTo is routed to the worker that holds the session and acknowledged; gone when nobody holds it, refused, or no answer in time', async () => {
    const { workers } = await primary(2, { sendToTimeoutMs: 300 });
    const [a, b] = workers as [Worker, Worker];
    await b.call('joined', 'chat', 's-b1');
    await b.call('joined', 'chat', 'gone-b2');
    await b.call('joined', 'chat', 'slow-b3');
    expect(await a.call('sendTo', 'chat', 's-b1', 7, 'hello')).toBe('delivered');
    expect(b.events.filter((e) => e.kind === 'sendTo').map((e) => e.args)).toEqual([
      ['chat', 's-b1', 7, 'hello'],
    ]);
    expect(await a.call('sendTo', 'chat', 'nobody', 7, 'x')).toBe('gone');
    expect(await a.call('sendTo', 'chat', 'gone-b2', 7, 'x')).toBe('gone');
    // Its own session is not the bus's business: the server delivers those itself.
    expect(await b.call('sendTo', 'chat', 's-b1', 7, 'x')).toBe('gone');
    const started = Date.now();
    expect(await a.call('sendTo', 'chat', 'slow-b3', 7, 'x')).toBe('gone');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(5000);
    // After it left, the session is nobody's.
    await b.call('left', 'chat', 's-b1');
    expect(await a.call('sendTo', 'chat', 's-b1', 7, 'x')).toBe('gone');
  }, 30_000);

  it('groups span the workers: members in the order added, changes done by the holding worker, leaving a plugin leaves its groups', async () => {
    const { workers } = await primary(2);
    const [a, b] = workers as [Worker, Worker];
    await a.call('joined', 'game', 's-a1');
    await b.call('joined', 'game', 's-b1');
    await b.call('joined', 'chat', 's-b1');
    await a.call('groupJoined', 'game', 'lobby', 's-a1');
    await b.call('groupJoined', 'game', 'lobby', 's-b1');
    await b.call('groupJoined', 'chat', 'lobby', 's-b1');
    expect(await a.call('groupMembers', 'game', 'lobby')).toEqual(['s-a1', 's-b1']);
    // a puts b's session in a group: b does it (its server records it), and a sees it.
    expect(await a.call('groupRemote', 'game', 'add', 'table-1', 's-b1')).toBe(true);
    expect(b.events.filter((e) => e.kind === 'group').map((e) => e.args)).toEqual([
      ['game', 'add', 'table-1', 's-b1'],
    ]);
    expect(await a.call('groupMembers', 'game', 'table-1')).toEqual(['s-b1']);
    expect(await a.call('groupRemote', 'game', 'add', 'table-1', 'nobody')).toBe(false);
    expect(await a.call('groupRemote', 'game', 'remove', 'table-1', 's-b1')).toBe(true);
    expect(await a.call('groupMembers', 'game', 'table-1')).toEqual([]);
    expect(await a.call('groupLeft', 'game', 'lobby', 's-a1')).toBe(true);
    expect(await a.call('groupLeft', 'game', 'lobby', 's-a1')).toBe(false);
    await a.call('groupJoined', 'game', 'lobby', 's-a1');
    expect(await b.call('groupMembers', 'game', 'lobby')).toEqual(['s-b1', 's-a1']);
    // b's session leaves the game: out of the game's groups, still in chat's.
    await b.call('left', 'game', 's-b1');
    expect(await a.call('groupMembers', 'game', 'lobby')).toEqual(['s-a1']);
    expect(await a.call('groupMembers', 'chat', 'lobby')).toEqual(['s-b1']);
  });

  it('a worker killed: one survivor gets onSessionGone for each of its sessions, which leave the map, groups and owned presence', async () => {
    const { hub, workers, detached } = await primary(3);
    const [a, b, c] = workers as [Worker, Worker, Worker];
    await a.call('joined', 'chat', 's-a1');
    await a.call('joined', 'game', 's-a1');
    await a.call('joined', 'chat', 's-a2');
    await a.call('groupJoined', 'chat', 'room', 's-a1');
    await b.call('joined', 'chat', 's-b1');
    await b.call('groupJoined', 'chat', 'room', 's-b1');
    await a.call('presence', 'chat', 's-a1', 'hsetnx', 'nicks', 'mimi', 's-a1', { owner: 'session' });
    await b.call('presence', 'chat', 's-b1', 'hsetnx', 'nicks', 'tora', 's-b1', { owner: 'session' });
    await a.call('presence', 'chat', undefined, 'set', 'topic', 'cats');
    await a.child.kill('SIGKILL');
    await eventually(() => expect(detached.has(a.child)).toBe(true));
    await detached.get(a.child);
    expect(hub.processes).toBe(2);
    const gone = [...b.events, ...c.events]
      .filter((e) => e.kind === 'sessionGone')
      .map((e) => e.args[0] as GoneSession);
    // Once each, on one survivor.
    expect(gone.map((g) => g.sessionId).sort()).toEqual(['s-a1', 's-a2']);
    const first = gone.find((g) => g.sessionId === 's-a1')!;
    expect(first).toMatchObject({ processId: a.processId, greeters: ['chat', 'game'] });
    expect(typeof first.hostname).toBe('string');
    expect(await b.call('groupMembers', 'chat', 'room')).toEqual(['s-b1']);
    expect(await b.call('sendTo', 'chat', 's-a1', 1, 'x')).toBe('gone');
    expect(await c.call('presence', 'chat', undefined, 'hgetall', 'nicks')).toEqual({ tora: 's-b1' });
    // What no session owned stays.
    expect(await c.call('presence', 'chat', undefined, 'get', 'topic')).toBe('cats');
    await eventually(async () => expect((await b.call<{ processes: number }>('counters')).processes).toBe(2));
    // One process swept, counted by the survivor that was told.
    const swept = await Promise.all(
      [b, c].map(async (w) => (await w.call<{ swept: number }>('counters')).swept),
    );
    expect(swept.sort()).toEqual([0, 1]);
  }, 30_000);

  it('resume across workers: the holder hands the session over once; unknown, kept and holder-gone otherwise', async () => {
    const { workers, detached } = await primary(3);
    const [a, b, c] = workers as [Worker, Worker, Worker];
    await b.call('joined', 'chat', 's-b1');
    await b.call('groupJoined', 'chat', 'room', 's-b1');
    await b.call('tokenIssued', 'move-1', 's-b1');
    await b.call('tokenIssued', 'keep-1', 's-b2');
    await c.call('tokenIssued', 'move-2', 's-c1');
    const moved = await a.call<{ outcome: string; handover: Uint8Array; processId: string }>(
      'resumeRemote',
      'move-1',
    );
    expect(moved.outcome).toBe('moved');
    expect(moved.processId).toBe(b.processId);
    expect(Buffer.from(moved.handover).toString()).toBe('package of move-1');
    expect(b.events.filter((e) => e.kind === 'handOver').map((e) => e.args)).toEqual([['move-1']]);
    // A token works once; the session's groups stay for the process it moved to.
    expect(await a.call('resumeRemote', 'move-1')).toEqual({ outcome: 'unknown' });
    expect(await a.call('groupMembers', 'chat', 'room')).toEqual(['s-b1']);
    await a.call('joined', 'chat', 's-b1');
    await a.call('groupJoined', 'chat', 'room', 's-b1');
    expect(await c.call('sendTo', 'chat', 's-b1', 1, 'x')).toBe('delivered');
    expect(a.events.filter((e) => e.kind === 'sendTo').map((e) => e.args[1])).toEqual(['s-b1']);
    // The holder did not hand it over (no session waits for it there any more): kept.
    expect(await a.call('resumeRemote', 'keep-1')).toEqual({ outcome: 'kept', processId: b.processId });
    expect(await a.call('resumeRemote', 'never')).toEqual({ outcome: 'unknown' });
    // Its own token is not the bus's business.
    await a.call('tokenIssued', 'move-3', 's-a1');
    expect(await a.call('resumeRemote', 'move-3')).toEqual({ outcome: 'unknown' });
    // The holder died: refused as holder-gone.
    c.child.kill('SIGKILL');
    await eventually(() => expect(detached.has(c.child)).toBe(true));
    await detached.get(c.child);
    expect(await a.call('resumeRemote', 'move-2')).toEqual({
      outcome: 'holder-gone',
      processId: c.processId,
    });
  }, 30_000);

  it('a worker that closes leaves quietly: its records go, nobody is told it is gone', async () => {
    const { hub, workers } = await primary(2);
    const [a, b] = workers as [Worker, Worker];
    await a.call('joined', 'chat', 's-a1');
    await a.call('left', 'chat', 's-a1');
    await a.call('close');
    expect(hub.processes).toBe(1);
    await a.child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(b.events.filter((e) => e.kind === 'sessionGone')).toEqual([]);
  });
});
