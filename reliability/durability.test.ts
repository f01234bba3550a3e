/**
 * Durability under kill -9: several clients stream acknowledged writes to the
 * todo example plugin (it replies only after its write resolved), the server
 * process is killed with SIGKILL at a random moment, and a new server starts
 * on the same data directory. Over many cycles, no acknowledged write may be
 * lost (an added item is there with its id, a DONE stays done, a REMOVE stays
 * removed), nothing may appear that no client sent, and the data file must
 * always load: no NEKO_ERR_STORAGE_CORRUPT, a torn last line only as the
 * documented repair.
 *
 * The kill moments come from a seeded PRNG; the seed is printed and
 * `NEKO_DURABILITY_SEED` replays it (the interleaving of the writers still
 * depends on timing).
 */
import { randomInt } from 'node:crypto';
import { appendFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, type ClientPacket, type NekoClient } from 'nekoconnect/client';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import {
  describeError,
  example,
  isClosedError,
  mulberry32,
  readDataFile,
  sleep,
  tempDir,
} from './support/workloads.js';

const SECRET = 'reliability-durability';
const CYCLES = 20;
const WRITERS = 4;
/** The kill comes this long after the writers started: from MIN to MIN + SPAN ms. */
const KILL_MIN_MS = 20;
const KILL_SPAN_MS = 400;
/** Every TEAR_EVERY-th cycle whose kill left no torn line gets one by hand. */
const TEAR_EVERY = 5;
/** The todo plugin's ops (plugins/todo/spec.conf). */
const Op = { Add: 1, List: 2, Done: 3, Remove: 4, Stats: 5, Error: 9 } as const;

interface Item {
  _id: string;
  title: string;
  done: boolean;
  createdAt: number;
}

/** What the clients know about one item: `maybe` while a write to it was cut short by the kill. */
interface Expected {
  writer: number;
  id: string | undefined;
  present: 'yes' | 'no' | 'maybe';
  done: 'yes' | 'no' | 'maybe';
}

interface Totals {
  attemptedAdds: number;
  ackedAdds: number;
  /** Acknowledged writes of every kind (ADD, DONE, REMOVE). */
  acked: number;
  /** Acknowledged writes checked after a restart. */
  verified: number;
}

function seedFromEnv(): number {
  const given = process.env.NEKO_DURABILITY_SEED;
  if (given === undefined || given === '') return randomInt(2 ** 31);
  const seed = Number(given);
  if (!Number.isInteger(seed)) throw new Error(`NEKO_DURABILITY_SEED must be an integer, got ${given}`);
  return seed;
}

function reply<T>(packet: ClientPacket, op: number, what: string): T {
  if (packet.status !== undefined || packet.op !== op) {
    throw new Error(
      `${what}: expected op ${op}, got status ${packet.status} op ${packet.op} "${packet.text()}"`,
    );
  }
  return packet.json<T>();
}

/**
 * One writer: ADDs (70 %), DONEs and REMOVEs of its own items, one at a time,
 * until its connection is cut. Updates `model` as replies come, and returns
 * how it ended (the kill should end it with NEKO_ERR_CLIENT_CLOSED).
 */
async function writer(
  c: NekoClient,
  w: number,
  cycle: number,
  rand: () => number,
  model: Map<string, Expected>,
  totals: Totals,
): Promise<{ acked: number; ended: unknown }> {
  let acked = 0;
  const own = (): [string, Expected][] =>
    [...model].filter(([, e]) => e.writer === w && e.present === 'yes' && e.done !== 'maybe');
  try {
    for (let i = 0; ; i++) {
      const r = rand();
      const candidates = own();
      if (r < 0.7 || candidates.length === 0) {
        const title = `c${cycle}-w${w}-${i}`;
        const expected: Expected = { writer: w, id: undefined, present: 'maybe', done: 'no' };
        model.set(title, expected);
        totals.attemptedAdds++;
        const item = reply<Item>(
          await c.request('todo', JSON.stringify({ title }), { op: Op.Add }),
          Op.Add,
          title,
        );
        if (item.title !== title || item.done !== false || typeof item._id !== 'string') {
          throw new Error(`ADD ${title}: wrong item ${JSON.stringify(item)}`);
        }
        expected.id = item._id;
        expected.present = 'yes';
        totals.ackedAdds++;
      } else {
        const [title, expected] = candidates[Math.floor(rand() * candidates.length)]!;
        const data = JSON.stringify({ id: expected.id });
        if (r < 0.85 && expected.done === 'no') {
          expected.done = 'maybe';
          const { updated } = reply<{ updated: number }>(
            await c.request('todo', data, { op: Op.Done }),
            Op.Done,
            `DONE ${title}`,
          );
          if (updated !== 1) throw new Error(`DONE ${title}: updated ${updated}`);
          expected.done = 'yes';
        } else {
          expected.present = 'maybe';
          const { removed } = reply<{ removed: number }>(
            await c.request('todo', data, { op: Op.Remove }),
            Op.Remove,
            `REMOVE ${title}`,
          );
          if (removed !== 1) throw new Error(`REMOVE ${title}: removed ${removed}`);
          expected.present = 'no';
        }
      }
      acked++;
      totals.acked++;
    }
  } catch (err) {
    return { acked, ended: err };
  }
}

/**
 * Checks the restarted server against what the clients were told, and
 * settles the `maybe`s by what the server has (from then on, it is on disk).
 * @returns the problems found, one line each
 */
async function verify(
  server: ServerProcess,
  model: Map<string, Expected>,
  totals: Totals,
): Promise<string[]> {
  const problems: string[] = [];
  // The data file loaded: the plugin is serving, with nothing worse than the documented torn-line repair.
  if (!server.logs.some((r) => r.message === 'loaded Todo v1.0.0 (greeter "todo")')) {
    problems.push(`the todo plugin did not load: ${JSON.stringify(server.logs)}`);
  }
  for (const r of server.logs) {
    const repair = r.level === 'warn' && r.message.includes('cut a torn last line');
    if (r.level !== 'info' && !repair)
      problems.push(`server logged ${r.level} ${r.code ?? ''}: ${r.message}`);
  }
  const c = await connect({ secret: SECRET, port: server.port });
  try {
    const items = reply<Item[]>(await c.request('todo', '', { op: Op.List }), Op.List, 'LIST');
    const stats = reply<{ open: number; done: number; added: number }>(
      await c.request('todo', '', { op: Op.Stats }),
      Op.Stats,
      'STATS',
    );
    const byTitle = new Map<string, Item>();
    for (const item of items) {
      if (byTitle.has(item.title)) problems.push(`${item.title} is stored twice`);
      byTitle.set(item.title, item);
      if (!model.has(item.title)) problems.push(`${item.title} was never sent, but is stored`);
    }
    for (const [title, e] of model) {
      const item = byTitle.get(title);
      if (e.present === 'maybe') e.present = item ? 'yes' : 'no';
      else if (e.present === 'yes' && !item) problems.push(`LOST: acknowledged ADD of ${title} (${e.id})`);
      else if (e.present === 'no' && item) problems.push(`LOST: acknowledged REMOVE of ${title} (${e.id})`);
      if (!item || e.present === 'no') continue;
      if (e.id === undefined) e.id = item._id;
      else if (item._id !== e.id) problems.push(`${title} has id ${item._id}, acknowledged as ${e.id}`);
      if (e.done === 'maybe') e.done = item.done ? 'yes' : 'no';
      else if (e.done === 'yes' && !item.done) problems.push(`LOST: acknowledged DONE of ${title}`);
      else if (e.done === 'no' && item.done) problems.push(`${title} is done, but no DONE was sent`);
    }
    if (stats.open + stats.done !== items.length)
      problems.push(`STATS ${JSON.stringify(stats)} vs ${items.length} items`);
    // The `added` cell is stored before each ADD is acknowledged, and counts only ADDs that were tried.
    if (stats.added < totals.ackedAdds || stats.added > totals.attemptedAdds) {
      problems.push(`added = ${stats.added}, not within [${totals.ackedAdds}, ${totals.attemptedAdds}]`);
    }
  } finally {
    await c.close();
  }
  return problems;
}

describe('durability under kill -9', () => {
  it('loses no acknowledged todo write over many SIGKILLs at random moments, and never corrupts the data file', async () => {
    const seed = seedFromEnv();
    console.log(`durability seed ${seed} (NEKO_DURABILITY_SEED=${seed} replays the kill moments)`);
    const rand = mulberry32(seed);
    const dataDir = await tempDir();
    const dataFile = path.join(dataDir, 'todo.db');
    const start = () => startServerProcess({ secret: SECRET, plugins: example('todo'), dataDir });
    const model = new Map<string, Expected>();
    const totals: Totals = { attemptedAdds: 0, ackedAdds: 0, acked: 0, verified: 0 };
    const killDelays: number[] = [];
    const tornCycles: number[] = [];
    const injectedTears: number[] = [];
    const started = performance.now();

    let server = await start();
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const clients = await Promise.all(
        Array.from({ length: WRITERS }, () => connect({ secret: SECRET, port: server.port })),
      );
      const writers = clients.map((c, w) =>
        writer(c, w, cycle, mulberry32(seed + 1_000 * (cycle + 1) + w), model, totals),
      );
      const delay = Math.round(KILL_MIN_MS + rand() * KILL_SPAN_MS);
      killDelays.push(delay);
      await sleep(delay);
      await server.kill('SIGKILL');
      expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const ended = await Promise.all(writers);
      // Every writer ran until the kill cut its connection; no request failed any other way.
      const unexpected = ended.filter((e) => !isClosedError(e.ended)).map((e) => describeError(e.ended));
      expect(unexpected, `cycle ${cycle}`).toEqual([]);
      const ackedThisCycle = ended.reduce((n, e) => n + e.acked, 0);
      await Promise.all(clients.map((c) => c.close()));

      // The file as the kill left it: complete lines are all records; at most the last one is torn.
      let file = await readDataFile(dataFile);
      expect(file.bad, `cycle ${cycle}: corrupt lines in ${dataFile}`).toEqual([]);
      if (file.tornTail !== undefined) tornCycles.push(cycle);
      else if (cycle % TEAR_EVERY === TEAR_EVERY - 1) {
        // A kill -9 rarely cuts an append in the middle (the write call completes), so some cycles tear the
        // last line by hand, as a crash mid-append would: the start of an insert that was never acknowledged.
        const torn = JSON.stringify({
          title: `torn-${cycle}`,
          done: false,
          createdAt: Date.now(),
          _id: `torn${cycle}`,
        });
        await appendFile(dataFile, torn.slice(0, Math.floor(torn.length / 2)));
        file = await readDataFile(dataFile);
        expect(file.tornTail).toBeDefined();
        injectedTears.push(cycle);
      }

      server = await start();
      const problems = await verify(server, model, totals);
      expect(problems, `cycle ${cycle} (seed ${seed}, kill after ${delay} ms)`).toEqual([]);
      // A torn last line is cut on load (with a backup and a warning), and only that line.
      const repaired = server.logs.filter(
        (r) => r.level === 'warn' && r.message.includes('cut a torn last line'),
      );
      expect(repaired).toHaveLength(file.tornTail === undefined ? 0 : 1);
      expect((await readdir(dataDir)).filter((f) => f.startsWith('todo.db.torn-'))).toHaveLength(
        tornCycles.length + injectedTears.length,
      );
      totals.verified += ackedThisCycle;
    }

    // A clean close after all that compacts the file; it loads again with the same items.
    await server.close();
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const compacted = await readDataFile(dataFile);
    expect(compacted.bad).toEqual([]);
    expect(compacted.tornTail).toBeUndefined();
    const last = await start();
    expect(await verify(last, model, totals)).toEqual([]);
    await last.close();

    const items = [...model.values()].filter((e) => e.present === 'yes').length;
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `durability: ${CYCLES} SIGKILLs (after ${killDelays.join(', ')} ms), ${WRITERS} writers; ` +
        `${totals.acked} writes acknowledged (${totals.ackedAdds} of ${totals.attemptedAdds} ADDs), ` +
        `${totals.verified} verified after a restart, 0 lost; ${items} items stored at the end; ` +
        `torn last line after ${tornCycles.length} kills (and ${injectedTears.length} torn by hand, all repaired); ` +
        `${seconds.toFixed(1)} s`,
    );
    // The kills did land among the writes.
    expect(totals.verified).toBe(totals.acked);
    expect(totals.acked).toBeGreaterThan(CYCLES * 5);
  });
});
