/**
 * The game example (plugins/rps) on two `nekoconnect start` processes of one
 * cluster, on a real Redis and a real PostgreSQL, with each player connected
 * to a different process: matchmaking pairs them, a match plays a draw then
 * a win, each round is settled once and seen by both, a round clock runs
 * out once (both processes watch it), leaving forfeits (and so does a
 * killed process's player), a player who drops from one process and resumes
 * on the other keeps its seat with the clock stopped meanwhile, and the
 * leaderboard counts every match.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { assertBuilt, REPO_ROOT } from '../cli/run-cli.js';
import { directStorage, freshDatabase } from '../storage/postgres-processes.js';
import { connect, type ClientPacket } from '../../src/client/client.js';
import { Op as Rps } from '../../../plugins/rps/logic.js';
import { startRelay } from '../helpers/proxy.js';
import { clusterName, peer, SECRET, startNode, type Node, type Peer } from './cluster-processes.js';

interface MatchFound {
  match: string;
  opponent: string;
  round: number;
  moveMs: number;
}

let redis: RunningRedis;
let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

/** A plugins directory holding a copy of the rps example only. */
async function rpsPlugins(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-rps-plugins-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  for (const file of ['spec.conf', 'logic.ts']) {
    await cp(path.join(REPO_ROOT, 'plugins', 'rps', file), path.join(dir, 'rps', file));
  }
  return dir;
}

/**
 * Two processes of a fresh cluster on a fresh database; `moveMs` sets the
 * time to move first, `heartbeatTtlMs` the cluster's heartbeat.
 */
async function twoNodes(moveMs?: number, heartbeatTtlMs?: number): Promise<[Node, Node]> {
  const database = await freshDatabase(postgres, 'rps');
  if (moveMs !== undefined) await (await (await directStorage(database)).open('rps')).set('moveMs', moveMs);
  const options = {
    redis: redis.url,
    database,
    plugins: await rpsPlugins(),
    name: clusterName(),
    ...(heartbeatTtlMs === undefined ? {} : { heartbeatTtlMs }),
  };
  const [a, b] = await Promise.all([startNode(options), startNode(options)]);
  expect(a.processId).not.toBe(b.processId);
  return [a, b];
}

async function play(p: Peer, name?: string): Promise<unknown> {
  const data = name === undefined ? '' : JSON.stringify({ name });
  return (await p.client.request('rps', data, { op: Rps.Play, replyOp: [Rps.Play, Rps.Error] })).json();
}

async function move(p: Peer, what: string): Promise<unknown> {
  const data = JSON.stringify({ move: what });
  return (await p.client.request('rps', data, { op: Rps.Move, replyOp: [Rps.Move, Rps.Error] })).json();
}

async function board(p: Peer): Promise<unknown> {
  return (await p.client.request('rps', '', { op: Rps.Board, replyOp: Rps.Board })).json();
}

/** `waiter` queues on its process, `joiner` pairs with it from the other: both are told who they play. */
async function match(waiter: [Peer, string], joiner: [Peer, string]): Promise<MatchFound> {
  expect(await play(waiter[0], waiter[1])).toEqual({ waiting: true });
  expect(await play(joiner[0], joiner[1])).toEqual({ waiting: false });
  const toWaiter = await waiter[0].push<MatchFound>(Rps.Match);
  expect(toWaiter).toMatchObject({ opponent: joiner[1], round: 1 });
  expect(await joiner[0].push<MatchFound>(Rps.Match)).toEqual({ ...toWaiter, opponent: waiter[1] });
  return toWaiter;
}

/** Waits `ms`, then expects no push of op 6 (a result) on any of the peers. */
async function noResultWithin(ms: number, ...peers: Peer[]): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  expect(peers.map((p) => p.pushes.filter((q) => q.op === Rps.Result).map((q) => q.text()))).toEqual(
    peers.map(() => []),
  );
}

describe('rps with its players on two processes', () => {
  it('pairs them, plays a draw then a win seen by both, counts it on the leaderboard, and pairs them again', async () => {
    const [a, b] = await twoNodes();
    const mimi = await peer(a.port);
    const tama = await peer(b.port);
    // A name is unique in the whole cluster.
    const kuro = await peer(b.port);
    expect(await play(mimi, 'mimi')).toEqual({ waiting: true });
    expect(await play(kuro, 'mimi')).toEqual({ error: 'the name mimi is taken' });
    expect(await play(tama, 'tama')).toEqual({ waiting: false });
    const found = await mimi.push<MatchFound>(Rps.Match);
    expect(found).toEqual({ match: expect.any(String), opponent: 'tama', round: 1, moveMs: 10_000 });
    expect(await tama.push<MatchFound>(Rps.Match)).toEqual({ ...found, opponent: 'mimi' });
    const id = found.match;

    // Round 1: a draw. The opponent, on the other process, learns that mimi moved, not what.
    expect(await move(mimi, 'rock')).toEqual({ round: 1 });
    expect(await tama.push(Rps.Moved)).toEqual({ round: 1 });
    expect(await move(mimi, 'paper')).toEqual({ error: 'you already moved in round 1' });
    expect(await move(tama, 'rock')).toEqual({ round: 1 });
    const draw = { match: id, round: 1, moves: { mimi: 'rock', tama: 'rock' }, winner: null, by: 'draw' };
    const next = { round: 2, moveMs: 10_000 };
    expect(await mimi.push(Rps.Result)).toEqual({ ...draw, next });
    expect(await tama.push(Rps.Result)).toEqual({ ...draw, next });

    // Round 2: paper wraps rock.
    expect(await move(tama, 'rock')).toEqual({ round: 2 });
    expect(await mimi.push(Rps.Moved)).toEqual({ round: 2 });
    expect(await move(mimi, 'paper')).toEqual({ round: 2 });
    const won = { match: id, round: 2, moves: { mimi: 'paper', tama: 'rock' }, winner: 'mimi', by: 'moves' };
    expect(await mimi.push(Rps.Result)).toEqual(won);
    expect(await tama.push(Rps.Result)).toEqual(won);
    // Settled once: no second result, and no stray push, on either side.
    await noResultWithin(300, mimi, tama);
    expect([mimi.pushes, tama.pushes]).toEqual([[], []]);

    // Each process answers the board from the shared database.
    const top = {
      top: [
        { name: 'mimi', wins: 1, losses: 0 },
        { name: 'tama', wins: 0, losses: 1 },
      ],
    };
    expect(await board(tama)).toEqual(top);
    expect(await board(mimi)).toEqual(top);

    // Both are free at once, whichever process heard of the end first: a rematch, the other way round.
    expect(await move(mimi, 'rock')).toEqual({ error: 'you are not in a match: send PLAY first' });
    const rematch = await match([tama, 'tama'], [mimi, 'mimi']);
    expect(rematch.match).not.toBe(id);
  }, 60_000);

  it('pairs two players who queue at the same moment on the two processes', async () => {
    const [a, b] = await twoNodes();
    const [x, y] = await Promise.all([peer(a.port), peer(b.port)]);
    const answers = await Promise.all([play(x, 'x'), play(y, 'y')]);
    expect(answers).toContainEqual({ waiting: true });
    expect(answers).toContainEqual({ waiting: false });
    const [toX, toY] = await Promise.all([x.push<MatchFound>(Rps.Match), y.push<MatchFound>(Rps.Match)]);
    expect(toX).toMatchObject({ opponent: 'y', round: 1 });
    expect(toY).toEqual({ ...toX, opponent: 'x' });
  }, 60_000);

  it('settles a round on time once, though both processes run its clock; leaving forfeits to the other process', async () => {
    const moveMs = 1_500;
    const [a, b] = await twoNodes(moveMs);
    const mimi = await peer(a.port);
    const tama = await peer(b.port);
    const first = await match([mimi, 'mimi'], [tama, 'tama']);
    expect(first.moveMs).toBe(moveMs);
    expect(await move(tama, 'paper')).toEqual({ round: 1 });
    expect(await mimi.push(Rps.Moved)).toEqual({ round: 1 });
    const started = Date.now();
    const late = {
      match: first.match,
      round: 1,
      moves: { mimi: null, tama: 'paper' },
      winner: 'tama',
      by: 'timeout',
    };
    expect(await mimi.push(Rps.Result)).toEqual(late);
    expect(await tama.push(Rps.Result)).toEqual(late);
    expect(Date.now() - started).toBeLessThan(moveMs + 1_000);
    // The other process's clock ran out too, and found the round settled.
    await noResultWithin(moveMs, mimi, tama);

    // Neither moves: nobody wins.
    const second = await match([tama, 'tama'], [mimi, 'mimi']);
    const idle = {
      match: second.match,
      round: 1,
      moves: { tama: null, mimi: null },
      winner: null,
      by: 'timeout',
    };
    expect(await mimi.push(Rps.Result, undefined, moveMs + 5_000)).toEqual(idle);
    expect(await tama.push(Rps.Result)).toEqual(idle);

    // tama leaves mid-match: mimi, on the other process, wins by forfeit, before any clock runs out.
    const third = await match([mimi, 'mimi'], [tama, 'tama']);
    expect(await move(tama, 'scissors')).toEqual({ round: 1 });
    await mimi.push(Rps.Moved);
    await tama.client.close();
    expect(await mimi.push(Rps.Result, undefined, moveMs - 200)).toEqual({
      match: third.match,
      round: 1,
      moves: { mimi: null, tama: 'scissors' },
      winner: 'mimi',
      by: 'forfeit',
    });
    await noResultWithin(moveMs, mimi);
    expect(await board(mimi)).toEqual({
      top: [
        { name: 'mimi', wins: 1, losses: 1 },
        { name: 'tama', wins: 1, losses: 1 },
      ],
    });
  }, 60_000);

  it('gives the match to the player whose opponent lost its process (onSessionGone on the survivor)', async () => {
    const heartbeatTtlMs = 1_000;
    const [a, b] = await twoNodes(undefined, heartbeatTtlMs);
    const mimi = await peer(a.port);
    const tama = await peer(b.port);
    const { match: id } = await match([mimi, 'mimi'], [tama, 'tama']);
    expect(await move(mimi, 'rock')).toEqual({ round: 1 });
    await tama.push(Rps.Moved);
    a.cli.child.kill('SIGKILL');
    await a.cli.exited;
    const killed = Date.now();
    // Within two heartbeat TTLs (and well before the 10 s round clock), the survivor ends the match.
    expect(await tama.push(Rps.Result, undefined, 5_000)).toEqual({
      match: id,
      round: 1,
      moves: { mimi: 'rock', tama: null },
      winner: 'tama',
      by: 'forfeit',
    });
    expect(Date.now() - killed).toBeLessThan(4 * heartbeatTtlMs);
    expect(await board(tama)).toEqual({
      top: [
        { name: 'tama', wins: 1, losses: 0 },
        { name: 'mimi', wins: 0, losses: 1 },
      ],
    });
    // tama is free, and the dead process's player is no longer in the way: its name is free again.
    const kuro = await peer(b.port);
    expect(await play(tama)).toEqual({ waiting: true });
    // (Its entries in presence go right after the hook.)
    await expect.poll(() => play(kuro, 'mimi'), { timeout: 5_000 }).toEqual({ waiting: false });
    expect(await tama.push<MatchFound>(Rps.Match)).toMatchObject({ opponent: 'mimi', round: 1 });
  }, 60_000);

  it('keeps the seat of a player who drops from one process and resumes on the other: the clock waits, the match goes on', async () => {
    const moveMs = 1_500;
    const [a, b] = await twoNodes(moveMs);
    // mimi reaches process a through a relay that the test can cut and point at process b.
    const relay = await startRelay(a.port);
    const mimi = await connect({
      secret: SECRET,
      port: relay.port,
      reconnect: { retries: 100, backoff: { initialMs: 50, maxMs: 100 } },
    });
    onTestFinished(() => mimi.close());
    const toMimi: string[] = [];
    mimi.on('packet', (p: ClientPacket) => toMimi.push(`${p.op} ${p.text()}`));
    const resumed: boolean[] = [];
    mimi.on('reconnected', (r: { resumed: boolean }) => resumed.push(r.resumed));
    const tama = await peer(b.port);

    const asMimi = async (op: number, body: object): Promise<unknown> =>
      (await mimi.request('rps', JSON.stringify(body), { op, replyOp: [op, Rps.Error] })).json();
    expect(await play(tama, 'tama')).toEqual({ waiting: true });
    expect(await asMimi(Rps.Play, { name: 'mimi' })).toEqual({ waiting: false });
    const found = await tama.push<MatchFound>(Rps.Match);
    expect(found).toMatchObject({ opponent: 'mimi', round: 1, moveMs });
    await expect
      .poll(() => toMimi)
      .toEqual([`${Rps.Match} ${JSON.stringify({ ...found, opponent: 'tama' })}`]);
    toMimi.length = 0;

    // The connection drops: tama, on the other process, is told, and the clock stops.
    relay.refuse(true);
    relay.cut();
    expect(await tama.push(Rps.Away)).toEqual({ opponent: 'mimi' });
    // Long past the deadline, nothing is settled; tama moves meanwhile, and the news is kept for mimi.
    await noResultWithin(moveMs + 500, tama);
    expect(await move(tama, 'rock')).toEqual({ round: 1 });

    // mimi comes back through process b: its session moves there, the match goes on with a full clock.
    relay.target = b.port;
    relay.refuse(false);
    await expect.poll(() => resumed, { timeout: 10_000 }).toEqual([true]);
    await b.cli.waitFor(new RegExp(`resumed from .*moved from process ${a.processId}`), 5_000);
    const back = { match: found.match, round: 1, moveMs };
    expect(await tama.push(Rps.Back)).toEqual(back);
    await expect
      .poll(() => toMimi)
      .toEqual([`${Rps.Moved} ${JSON.stringify({ round: 1 })}`, `${Rps.Back} ${JSON.stringify(back)}`]);
    expect(await asMimi(Rps.Move, { move: 'paper' })).toEqual({ round: 1 });
    const won = {
      match: found.match,
      round: 1,
      moves: { tama: 'rock', mimi: 'paper' },
      winner: 'mimi',
      by: 'moves',
    };
    expect(await tama.push(Rps.Result)).toEqual(won);
    await expect.poll(() => toMimi.slice(2)).toEqual([`${Rps.Result} ${JSON.stringify(won)}`]);
    // Settled once: neither the old process's clock nor the new one's settles it again.
    await noResultWithin(moveMs + 500, tama);
    expect(toMimi).toHaveLength(3);
  }, 60_000);
});
