/**
 * Soak: one server process under mixed load for NEKO_SOAK_SECONDS (default
 * 60): echo round trips, a chat room broadcasting between several members,
 * todo writes and reads, clients connecting and disconnecting (some in the
 * middle of a request), and an occasional failing handler. Every reply is
 * checked; afterwards the server must be alive, nothing may have failed
 * unexpectedly, its connections must be released, and its heap after a full
 * GC must not grow (see the criterion below).
 */
import { describe, expect, it } from 'vitest';
import { connect, NekoStatusError, type ClientPacket, type NekoClient } from 'nekoconnect/client';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import {
  client,
  describeError,
  echoLoop,
  example,
  fixture,
  loop,
  median,
  pluginsDir,
  sleep,
  tempDir,
  waitFor,
  type Loop,
} from './support/workloads.js';

const SECRET = 'reliability-soak';
const SECONDS = Number(process.env.NEKO_SOAK_SECONDS ?? 60);
/** Heap samples are taken every SAMPLE_MS: every 5 s for a 60 s soak, at least 12 samples in all. */
const SAMPLE_MS = Math.min(5_000, Math.max(500, Math.floor((SECONDS * 1_000) / 12)));
const MB = 1024 * 1024;

/*
 * The heap criterion. heapUsed after a full GC (three gc() calls in the server)
 * is steady to within a few hundred KB for a server that keeps nothing per
 * request or per session; the first samples still see warm-up (JIT code, the
 * sockets' and nedb's buffers growing to their working size), so the reference
 * is the median of samples 2-4 (10-20 s), and the end is the median of the
 * last 3 (50-60 s); medians, so that one sample taken in a burst does not decide.
 *
 * Pass: end <= reference * (1 + GROWTH) + ALLOWANCE, i.e. for the ~8 MB heap of
 * this server, at most ~1.8 MB more at the end than at the start.
 *
 * Why so tight: between the reference and the end, the load below does ~55,000
 * echo round trips of up to 2 KB, ~5,000 todo iterations and ~1,800 connections
 * opened and closed. Both leaks were tried, by patching the server in its
 * process (`--import`): keeping every received chunk grew heapUsed by ~4 MB and
 * arrayBuffers by ~60 MB in 30 s; keeping every closed connection (~4 KB each)
 * grew heapUsed by ~5.7 MB between the reference and the end. 1.5x the reference
 * would have let the second one pass; this bound catches both. A correct server
 * grew by 0.2-0.3 MB in the same time (JIT and V8 internals settling; a probe of
 * 12,000 sessions in a row shows it level off), so the bound leaves ~1.5 MB for
 * noise.
 */
const GROWTH = 0.1;
const ALLOWANCE = 1 * MB;
/**
 * Packet bytes live in Buffers, outside the JS heap (heapUsed sees only the
 * small Buffer objects), so `arrayBuffers` gets the same test. It stays near
 * 0.1 MB under this load; kept packets would add tens of MB.
 */
const BUFFER_ALLOWANCE = 2 * MB;

interface Sample {
  atS: number;
  heapUsed: number;
  /** Memory of ArrayBuffers and Buffers (outside the JS heap): where kept packet bytes would show. */
  arrayBuffers: number;
  connections: number;
}

/** The chat room: members that only `send()` (the room pushes at any time) and read every push. */
async function chatRoom(port: number, size: number) {
  const members: { c: NekoClient; heard: Set<string>; failures: string[] }[] = [];
  for (let i = 0; i < size; i++) {
    const c = await client(port, SECRET);
    const member = { c, heard: new Set<string>(), failures: [] as string[] };
    c.on('packet', (p: ClientPacket) => {
      if (p.greeter === 'chat' && p.op === 2) member.heard.add(p.json<{ text: string }>().text);
      else if (p.greeter === 'chat' && p.op === 9) member.failures.push(`chat error ${p.text()}`);
    });
    c.on('status', (err) => member.failures.push(`chat member ${i}: status ${err.status}`));
    await c.send('chat', '', { op: 3 }); // WHO: joins the room
    members.push(member);
  }
  await sleep(200);
  // Each round one member says something; every other member must hear it.
  return loop(
    'chat',
    async (i) => {
      const speaker = members[i % size]!;
      const text = `round-${i}`;
      await speaker.c.send('chat', text, { op: 2 });
      const others = members.filter((m) => m !== speaker);
      await waitFor(() => others.every((m) => m.heard.has(text)), `every member to hear ${text}`, 15_000);
      for (const m of others) m.heard.delete(text);
      const failures = members.flatMap((m) => m.failures.splice(0));
      if (failures.length > 0) throw new Error(failures.join('; '));
    },
    { pauseMs: 10 },
  );
}

/** Todo writes and reads on one client; the list stays short (old items are removed), so the data does not grow. */
async function todoWorker(port: number): Promise<Loop> {
  const c = await client(port, SECRET);
  const open: string[] = [];
  return loop(
    'todo',
    async (i) => {
      const item = (await c.request('todo', JSON.stringify({ title: `soak-${i}` }), { op: 1 })).json<{
        _id: string;
        title: string;
      }>();
      if (item.title !== `soak-${i}`) throw new Error(`ADD soak-${i}: ${JSON.stringify(item)}`);
      open.push(item._id);
      if (i % 3 === 0) {
        const { updated } = (await c.request('todo', JSON.stringify({ id: item._id }), { op: 3 })).json<{
          updated: number;
        }>();
        if (updated !== 1) throw new Error(`DONE ${item._id}: ${updated}`);
      }
      if (open.length > 20) {
        const id = open.shift()!;
        const { removed } = (await c.request('todo', JSON.stringify({ id }), { op: 4 })).json<{
          removed: number;
        }>();
        if (removed !== 1) throw new Error(`REMOVE ${id}: ${removed}`);
      }
      if (i % 10 === 0) {
        const items = (await c.request('todo', '', { op: 2 })).json<{ _id: string }[]>();
        const stored = new Set(items.map((x) => x._id));
        if (items.length !== open.length || open.some((id) => !stored.has(id))) {
          throw new Error(`LIST: ${items.length} items, expected ${open.length}`);
        }
      }
    },
    { pauseMs: 5 },
  );
}

/**
 * Clients that connect, talk to every plugin, and leave: most close cleanly,
 * every fourth one closes with a request still unanswered.
 */
function churn(port: number): Loop {
  return loop(
    'churn',
    async (i) => {
      const c = await connect({ secret: SECRET, port, requestTimeoutMs: 15_000 });
      const failures: string[] = [];
      c.on('status', (err) => failures.push(`status ${err.status} from ${err.greeter}`));
      try {
        const echo = await c.request('echo', `churn-${i}`);
        if (echo.text() !== `churn-${i}`) throw new Error(`echo: ${echo.text()}`);
        await c.send('chat', '', { op: 3 }); // joins the room (onJoin/onLeave broadcasts); the reply is a push
        const flaky = await c.request('flaky', `c${i}`, { op: 2 });
        if (flaky.text() !== `ok:c${i}`) throw new Error(`flaky: ${flaky.text()}`);
        const list = await c.request('todo', '', { op: 2 });
        if (list.op !== 2) throw new Error(`todo LIST: op ${list.op}`);
        if (i % 4 === 3) {
          // Leave in the middle of a request: the server drops what it had queued.
          c.request('echo', 'x'.repeat(4096)).catch(() => {});
        }
      } finally {
        await c.close();
      }
      if (failures.length > 0) throw new Error(failures.join('; '));
    },
    { pauseMs: 20 },
  );
}

/** An occasional failing handler: op 1 of `flaky` throws (500), and the same session goes on. */
async function flakyWorker(port: number, counted: { faults: number }): Promise<Loop> {
  const c = await client(port, SECRET);
  return loop(
    'flaky',
    async (i) => {
      const err = await c.request('flaky', `f${i}`, { op: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(err instanceof NekoStatusError) || err.status !== 500) {
        throw new Error(`flaky op 1: expected 500, got ${describeError(err)}`);
      }
      counted.faults++;
      const ok = await c.request('flaky', `f${i}`, { op: 2 });
      if (ok.text() !== `ok:f${i}`) throw new Error(`flaky op 2: ${ok.text()}`);
    },
    { pauseMs: 1_000 },
  );
}

async function sampleHeap(server: ServerProcess, startedAt: number): Promise<Sample> {
  const { usage, connections } = await server.memory();
  return {
    atS: Math.round((performance.now() - startedAt) / 100) / 10,
    heapUsed: usage.heapUsed,
    arrayBuffers: usage.arrayBuffers,
    connections,
  };
}

describe('soak', () => {
  it(`serves ${SECONDS} s of mixed load with a stable heap, no unexpected failure, and stays up`, async () => {
    expect(SECONDS, 'NEKO_SOAK_SECONDS').toBeGreaterThanOrEqual(6);
    const plugins = await pluginsDir([example('echo'), example('chat'), example('todo'), fixture('flaky')]);
    const server = await startServerProcess({ secret: SECRET, plugins, dataDir: await tempDir() });
    const startedAt = performance.now();
    const samples: Sample[] = [await sampleHeap(server, startedAt)];

    const flakyFaults = { faults: 0 };
    const echoes = [0, 1].map(async (i) =>
      echoLoop(await client(server.port, SECRET), `echo-${i}`, 'echo', { pauseMs: 1, maxPad: 2048 }),
    );
    const workers = {
      echo: await Promise.all(echoes),
      chat: await chatRoom(server.port, 3),
      todo: await todoWorker(server.port),
      churn: churn(server.port),
      flaky: await flakyWorker(server.port, flakyFaults),
    };
    const all = (): Loop[] => [...workers.echo, workers.chat, workers.todo, workers.churn, workers.flaky];
    const longLived = 2 + 3 + 1 + 1;

    const endAt = startedAt + SECONDS * 1_000;
    try {
      for (let next = startedAt + SAMPLE_MS; next <= endAt + 1; next += SAMPLE_MS) {
        await sleep(Math.max(0, next - performance.now()));
        samples.push(await sampleHeap(server, startedAt));
        expect(server.isAlive()).toBe(true);
      }
    } finally {
      await Promise.all(all().map((l) => l.stop()));
    }

    const failures = all().flatMap((l) => l.report.failures);
    const done = {
      echo: workers.echo.reduce((n, l) => n + l.report.ok, 0),
      chat: workers.chat.report.ok,
      todo: workers.todo.report.ok,
      churn: workers.churn.report.ok,
      flaky: flakyFaults.faults,
    };
    const mb = (bytes: number) => (bytes / MB).toFixed(2);
    console.log(
      `soak ${SECONDS} s: ${done.echo} echo round trips, ${done.chat} chat broadcasts (each heard by 2), ` +
        `${done.todo} todo iterations, ${done.churn} clients connected and left, ${done.flaky} handler failures (500) ` +
        `\nheap after GC (MB) at ${samples.map((s) => `${s.atS}s ${mb(s.heapUsed)}`).join(', ')}` +
        `\narrayBuffers (MB): ${samples.map((s) => mb(s.arrayBuffers)).join(', ')}`,
    );
    expect(failures).toEqual([]);
    expect(server.isAlive()).toBe(true);

    // The heap criterion (see GROWTH and ALLOWANCE above), and the same for Buffer memory.
    expect(samples.length).toBeGreaterThanOrEqual(8);
    const load = samples.slice(1); // samples[0] is the idle server, before the load
    const growth: string[] = [];
    for (const [what, allowance] of [
      ['heapUsed', ALLOWANCE],
      ['arrayBuffers', BUFFER_ALLOWANCE],
    ] as const) {
      const reference = median(load.slice(1, 4).map((s) => s[what]));
      const end = median(load.slice(-3).map((s) => s[what]));
      const bound = reference * (1 + GROWTH) + allowance;
      console.log(`${what}: reference ${mb(reference)} MB, end ${mb(end)} MB, bound ${mb(bound)} MB`);
      if (end > bound)
        growth.push(`${what} after GC grew from ${mb(reference)} MB to ${mb(end)} MB (bound ${mb(bound)})`);
    }
    expect(growth).toEqual([]);

    // The load did happen (so the criterion measured something), and the failing handler was counted.
    expect(done.echo).toBeGreaterThan(SECONDS * 50);
    expect(done.chat).toBeGreaterThan(SECONDS * 5);
    expect(done.todo).toBeGreaterThan(SECONDS * 5);
    expect(done.churn).toBeGreaterThan(SECONDS * 2);
    expect(done.flaky).toBeGreaterThanOrEqual(Math.floor(SECONDS / 2));
    const handlerErrors = server.logs.filter((r) => r.code === 'NEKO_ERR_PLUGIN_HANDLER');
    expect(handlerErrors.filter((r) => r.plugin !== 'flaky')).toEqual([]);
    expect(handlerErrors).toHaveLength(done.flaky);
    expect(server.logs.filter((r) => r.level !== 'info' && r.code !== 'NEKO_ERR_PLUGIN_HANDLER')).toEqual([]);

    // Connections are released: once the churn stopped, only the long-lived clients are connected.
    let connections = (await server.memory()).connections;
    for (let tries = 0; connections !== longLived && tries < 100; tries++) {
      await sleep(50);
      connections = (await server.memory()).connections;
    }
    expect(connections).toBe(longLived);
    await server.close();
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});
