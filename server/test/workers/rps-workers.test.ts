/**
 * The game example (plugins/rps) under `nekoconnect start --workers 2`, the
 * built CLI on PostgreSQL, without Redis: presence, groups and the bus go
 * through the primary over IPC. Two players on different workers play a
 * draw then a win, a round runs out on time once, and a player whose worker
 * is killed loses by forfeit to the player on the other worker.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { assertBuilt, REPO_ROOT, startCli } from '../cli/run-cli.js';
import { SECRET, peer, type Peer } from '../cluster/cluster-processes.js';
import { directStorage, freshDatabase } from '../storage/postgres-processes.js';

/** The game's op codes (plugins/rps/spec.conf). */
const Rps = { Play: 1, Move: 2, Match: 3, Moved: 4, Board: 5, Result: 6, Error: 9 } as const;

/** A probe: op 1 answers the pid of the worker the client is connected to. */
const PID_PROBE = `export class Logic {
  recv(ctx) {
    ctx.send(String(process.pid), { op: 1 });
  }
}
`;

interface MatchFound {
  match: string;
  opponent: string;
  round: number;
  moveMs: number;
}

let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

/** A plugins directory with a copy of the rps example and the pid probe. */
async function plugins(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-rps-workers-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  for (const file of ['spec.conf', 'logic.ts']) {
    await cp(path.join(REPO_ROOT, 'plugins', 'rps', file), path.join(dir, 'rps', file));
  }
  await mkdir(path.join(dir, 'pid'));
  await writeFile(
    path.join(dir, 'pid', 'spec.conf'),
    '$name {"Pid"};\n$greet {"pid"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
  );
  await writeFile(path.join(dir, 'pid', 'logic.js'), PID_PROBE);
  return dir;
}

async function pidOf(p: Peer): Promise<number> {
  return Number((await p.client.request('pid', '', { op: 1, replyOp: 1 })).text());
}

/** Connects peers until two are on different workers: [on one, on the other], with the workers' pids. */
async function onTwoWorkers(port: number): Promise<[[Peer, number], [Peer, number]]> {
  const first = await peer(port);
  const firstPid = await pidOf(first);
  for (let i = 0; i < 12; i++) {
    const other = await peer(port);
    const pid = await pidOf(other);
    if (pid !== firstPid)
      return [
        [first, firstPid],
        [other, pid],
      ];
  }
  throw new Error(`12 connections all landed on worker pid ${firstPid}`);
}

async function play(p: Peer, name?: string): Promise<unknown> {
  const data = name === undefined ? '' : JSON.stringify({ name });
  return (await p.client.request('rps', data, { op: Rps.Play, replyOp: [Rps.Play, Rps.Error] })).json();
}

async function move(p: Peer, what: string): Promise<unknown> {
  const data = JSON.stringify({ move: what });
  return (await p.client.request('rps', data, { op: Rps.Move, replyOp: [Rps.Move, Rps.Error] })).json();
}

/** `waiter` queues on its worker, `joiner` pairs with it from the other: both are told who they play. */
async function match(waiter: [Peer, string], joiner: [Peer, string]): Promise<MatchFound> {
  expect(await play(waiter[0], waiter[1])).toEqual({ waiting: true });
  expect(await play(joiner[0], joiner[1])).toEqual({ waiting: false });
  const toWaiter = await waiter[0].push<MatchFound>(Rps.Match);
  expect(toWaiter).toMatchObject({ opponent: joiner[1], round: 1 });
  expect(await joiner[0].push<MatchFound>(Rps.Match)).toEqual({ ...toWaiter, opponent: waiter[1] });
  return toWaiter;
}

describe('rps under start --workers 2 (IPC through the primary)', () => {
  it('plays a match between players on the two workers, settles a round on time once, and forfeits a killed worker', async () => {
    const moveMs = 1_500;
    const database = await freshDatabase(postgres, 'rps_workers');
    await (await (await directStorage(database)).open('rps')).set('moveMs', moveMs);
    const cli = startCli(
      ['start', await plugins(), '--workers', '2', '--port', '0', '--no-dashboard', '--storage', database],
      { NEKOCONNECT_SECRET: SECRET },
    );
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+) +\(2 workers/, 40_000);
    const [[mimi], [tama, tamaPid]] = await onTwoWorkers(Number(port));

    // A draw, then a win, each seen by both.
    const { match: id } = await match([mimi, 'mimi'], [tama, 'tama']);
    expect(await move(mimi, 'scissors')).toEqual({ round: 1 });
    expect(await tama.push(Rps.Moved)).toEqual({ round: 1 });
    expect(await move(tama, 'scissors')).toEqual({ round: 1 });
    const draw = { match: id, round: 1, moves: { mimi: 'scissors', tama: 'scissors' }, winner: null };
    const next = { round: 2, moveMs };
    expect(await mimi.push(Rps.Result)).toEqual({ ...draw, by: 'draw', next });
    expect(await tama.push(Rps.Result)).toEqual({ ...draw, by: 'draw', next });
    expect(await move(tama, 'rock')).toEqual({ round: 2 });
    expect(await move(mimi, 'scissors')).toEqual({ round: 2 });
    const won = {
      match: id,
      round: 2,
      moves: { mimi: 'scissors', tama: 'rock' },
      winner: 'tama',
      by: 'moves',
    };
    expect(await mimi.push(Rps.Result)).toEqual(won);
    expect(await tama.push(Rps.Result)).toEqual(won);

    // A round that runs out: both workers run its clock, one settles it.
    const late = await match([tama, 'tama'], [mimi, 'mimi']);
    expect(await move(mimi, 'paper')).toEqual({ round: 1 });
    const timeout = {
      match: late.match,
      round: 1,
      moves: { tama: null, mimi: 'paper' },
      winner: 'mimi',
      by: 'timeout',
    };
    expect(await tama.push(Rps.Result, undefined, moveMs + 5_000)).toEqual(timeout);
    expect(await mimi.push(Rps.Result)).toEqual(timeout);
    await new Promise((resolve) => setTimeout(resolve, moveMs));
    expect([...mimi.pushes, ...tama.pushes].filter((p) => p.op === Rps.Result)).toEqual([]);

    // tama's worker is killed mid-match: mimi, on the other worker, wins by forfeit.
    const last = await match([mimi, 'mimi'], [tama, 'tama']);
    process.kill(tamaPid, 'SIGKILL');
    expect(await mimi.push(Rps.Result, undefined, 15_000)).toEqual({
      match: last.match,
      round: 1,
      moves: { mimi: null, tama: null },
      winner: 'mimi',
      by: 'forfeit',
    });
    const standings = await mimi.client.request('rps', '', { op: Rps.Board, replyOp: Rps.Board });
    expect(standings.json()).toEqual({
      top: [
        { name: 'mimi', wins: 2, losses: 1 },
        { name: 'tama', wins: 1, losses: 2 },
      ],
    });
  }, 60_000);
});
