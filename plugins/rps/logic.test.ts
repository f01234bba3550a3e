import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestServer, type TestClient, type TestServer } from '@nekoconnect/testing';
import { DEFAULT_MOVE_MS, MOVE_MS_CELL, Op } from './logic.js';

interface MatchFound {
  match: string;
  opponent: string;
  round: number;
  moveMs: number;
}

/** Only the clock the plugin's round timers and deadlines use; the harness keeps its own real timers. */
const PLUGIN_CLOCK: Parameters<typeof vi.useFakeTimers>[0] = {
  toFake: ['setTimeout', 'clearTimeout', 'Date'],
};

afterEach(() => {
  vi.useRealTimers();
});

function player(server: TestServer, name: string): Promise<TestClient> {
  return server.connect({ name });
}

async function play(client: TestClient, name?: string): Promise<unknown> {
  const answer = await client.request('rps', name === undefined ? '' : { name }, {
    op: Op.Play,
    replyOp: [Op.Play, Op.Error],
  });
  return answer.json();
}

async function move(client: TestClient, what: string): Promise<unknown> {
  return (await client.request('rps', { move: what }, { op: Op.Move, replyOp: [Op.Move, Op.Error] })).json();
}

/** The next packet from the game, which must have that op. */
async function push<T>(client: TestClient, op: number): Promise<T> {
  const packet = await client.next({ greeter: 'rps' });
  expect([client.name, packet.op]).toEqual([client.name, op]);
  return packet.json<T>();
}

/** mimi waits, tama arrives: both are told of the match. */
async function match(
  server: TestServer,
  options: { resume?: boolean } = {},
): Promise<{ mimi: TestClient; tama: TestClient; id: string }> {
  const mimi = await server.connect({ name: 'mimi', ...options });
  const tama = await server.connect({ name: 'tama', ...options });
  expect(await play(mimi, 'mimi')).toEqual({ waiting: true });
  expect(await play(tama, 'tama')).toEqual({ waiting: false });
  const toMimi = await push<MatchFound>(mimi, Op.Match);
  const toTama = await push<MatchFound>(tama, Op.Match);
  expect(toMimi).toMatchObject({ opponent: 'tama', round: 1 });
  expect(toTama).toEqual({ ...toMimi, opponent: 'mimi' });
  return { mimi, tama, id: toMimi.match };
}

function groupsOf(server: TestServer): { name: string; members: readonly string[] }[] {
  const rps = server.neko.plugins().find((p) => p.greeter === 'rps');
  return (rps?.groups() ?? []).map((g) => ({ name: g.name, members: g.members }));
}

async function board(client: TestClient): Promise<unknown> {
  return (await client.request('rps', '', { op: Op.Board, replyOp: Op.Board })).json();
}

describe('rps plugin', () => {
  it('pairs two players, plays a draw then a decisive round, and counts it on the leaderboard', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const { mimi, tama, id } = await match(server);
    expect(groupsOf(server)).toEqual([{ name: `match:${id}`, members: [mimi.sessionId, tama.sessionId] }]);
    const [mimiState] = server.sessions().map((s) => s.plugins.rps);
    expect(mimiState).toMatchObject({ name: 'mimi', match: id, opponent: tama.sessionId, round: 1 });
    expect(mimiState?.deadline).toBeTypeOf('number');

    // Round 1: a draw. The opponent learns that mimi moved, not what.
    expect(await move(mimi, 'rock')).toEqual({ round: 1 });
    expect(await push(tama, Op.Moved)).toEqual({ round: 1 });
    expect(await move(mimi, 'paper')).toEqual({ error: 'you already moved in round 1' });
    expect(await move(tama, 'rock')).toEqual({ round: 1 });
    const draw = { match: id, round: 1, moves: { mimi: 'rock', tama: 'rock' }, winner: null, by: 'draw' };
    const next = { round: 2, moveMs: DEFAULT_MOVE_MS };
    expect(await push(mimi, Op.Result)).toEqual({ ...draw, next });
    expect(await push(tama, Op.Result)).toEqual({ ...draw, next });

    // Round 2: paper wraps rock.
    expect(await move(tama, 'rock')).toEqual({ round: 2 });
    expect(await push(mimi, Op.Moved)).toEqual({ round: 2 });
    expect(await move(mimi, 'paper')).toEqual({ round: 2 });
    const won = { match: id, round: 2, moves: { mimi: 'paper', tama: 'rock' }, winner: 'mimi', by: 'moves' };
    expect(await push(mimi, Op.Result)).toEqual(won);
    expect(await push(tama, Op.Result)).toEqual(won);
    expect(mimi.unread()).toEqual([]);
    expect(tama.unread()).toEqual([]);

    // The match is over: its group is gone and both are free to play again.
    expect(groupsOf(server)).toEqual([]);
    expect(server.sessions().map((s) => s.plugins.rps)).toEqual([{ name: 'mimi' }, { name: 'tama' }]);
    expect(await board(tama)).toEqual({
      top: [
        { name: 'mimi', wins: 1, losses: 0 },
        { name: 'tama', wins: 0, losses: 1 },
      ],
    });
    // A rematch: PLAY again without a name keeps the one given before.
    expect(await play(tama)).toEqual({ waiting: true });
    expect(groupsOf(server)).toEqual([{ name: 'queue', members: [tama.sessionId] }]);
    expect(await play(mimi)).toEqual({ waiting: false });
    expect(await push<MatchFound>(tama, Op.Match)).toMatchObject({ opponent: 'mimi', round: 1 });
  });

  it('pairs players in the order they came, and refuses what makes no sense with op 9', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const [a, b, c] = [await player(server, 'a'), await player(server, 'b'), await player(server, 'c')];
    expect(await move(a, 'rock')).toEqual({ error: 'you are not in a match: send PLAY first' });
    expect(await play(a)).toEqual({
      error: 'PLAY needs {"name"}: 1 to 32 printable ASCII characters, no spaces',
    });
    expect(await play(a, 'two words')).toMatchObject({ error: expect.stringMatching(/no spaces/) });
    expect(await play(a, 'neko')).toEqual({ waiting: true });
    expect(await play(a)).toEqual({ error: 'you are already waiting for an opponent' });
    expect(await play(b, 'neko')).toEqual({ error: 'the name neko is taken' });
    expect(await play(b, 'kuro')).toEqual({ waiting: false });
    expect(await play(c, 'shiro')).toEqual({ waiting: true });
    expect(await push<MatchFound>(a, Op.Match)).toMatchObject({ opponent: 'kuro' });
    expect(await push<MatchFound>(b, Op.Match)).toMatchObject({ opponent: 'neko' });
    expect(c.unread()).toEqual([]);

    expect(await play(b)).toMatchObject({ error: expect.stringMatching(/^you are already in match /) });
    expect(await move(b, 'lizard')).toEqual({ error: 'MOVE needs {"move"}: "rock", "paper" or "scissors"' });
    const notJson = await b.request('rps', '{oops', { op: Op.Play });
    expect([notJson.op, notJson.json()]).toEqual([Op.Error, { error: 'the data must be a JSON object' }]);
    const unknown = await b.request('rps', '', { op: 42 });
    expect(unknown.json()).toEqual({ error: 'unknown op 42: use 1 (play), 2 (move) or 5 (board)' });
    expect(await board(c)).toEqual({ top: [] });
  });

  it('keeps a name for its player until it takes another or leaves', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const [a, b, c] = [await player(server, 'a'), await player(server, 'b'), await player(server, 'c')];
    expect(await play(a, 'neko')).toEqual({ waiting: true });
    expect(await play(b, 'kuro')).toEqual({ waiting: false });
    await push(a, Op.Match);
    await push(b, Op.Match);
    expect(await play(c, 'neko')).toEqual({ error: 'the name neko is taken' });
    await b.close();
    expect(await push(a, Op.Result)).toMatchObject({ winner: 'neko', by: 'forfeit' });
    // a plays on as tora: neko is free, and tora is taken.
    expect(await play(a, 'tora')).toEqual({ waiting: true });
    expect(server.sessions()[0]?.plugins.rps).toEqual({ name: 'tora', queued: true });
    expect(await play(c, 'tora')).toEqual({ error: 'the name tora is taken' });
    // The name of a player who left is free too.
    expect(await play(c, 'kuro')).toEqual({ waiting: false });
    expect(await push<MatchFound>(a, Op.Match)).toMatchObject({ opponent: 'kuro' });
    const d = await player(server, 'd');
    expect(await play(d, 'neko')).toEqual({ waiting: true });
  });

  it('gives the match to the player who stays when the other leaves, and to nobody when a waiting player leaves', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const { mimi, tama, id } = await match(server);
    expect(await move(tama, 'scissors')).toEqual({ round: 1 });
    await push(mimi, Op.Moved);
    await tama.close();
    expect(await push(mimi, Op.Result)).toEqual({
      match: id,
      round: 1,
      moves: { mimi: null, tama: 'scissors' },
      winner: 'mimi',
      by: 'forfeit',
    });
    expect(groupsOf(server)).toEqual([]);
    expect(await board(mimi)).toEqual({
      top: [
        { name: 'mimi', wins: 1, losses: 0 },
        { name: 'tama', wins: 0, losses: 1 },
      ],
    });

    // mimi waits; leaving the queue is just leaving: the next player waits in turn.
    expect(await play(mimi)).toEqual({ waiting: true });
    await mimi.close();
    const kuro = await player(server, 'kuro');
    expect(await play(kuro, 'kuro')).toEqual({ waiting: true });
    expect(await server.db('rps').count()).toBe(2);
  });

  it('settles a round on time: the player who moved wins, and nobody wins when neither moved', async () => {
    vi.useFakeTimers(PLUGIN_CLOCK);
    const server = await createTestServer({ plugin: import.meta.dirname });
    const { mimi, tama, id } = await match(server);
    expect(await move(tama, 'paper')).toEqual({ round: 1 });
    await push(mimi, Op.Moved);

    await vi.advanceTimersByTimeAsync(DEFAULT_MOVE_MS - 1);
    expect(mimi.unread()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const late = { match: id, round: 1, moves: { mimi: null, tama: 'paper' }, winner: 'tama', by: 'timeout' };
    expect(await push(mimi, Op.Result)).toEqual(late);
    expect(await push(tama, Op.Result)).toEqual(late);

    // A shorter clock from the moveMs cell, read when a match starts.
    await server.db('rps').set(MOVE_MS_CELL, 50);
    expect(await play(mimi)).toEqual({ waiting: true });
    expect(await play(tama)).toEqual({ waiting: false });
    const again = await push<MatchFound>(mimi, Op.Match);
    expect(again.moveMs).toBe(50);
    await push(tama, Op.Match);
    await vi.advanceTimersByTimeAsync(50);
    const idle = {
      match: again.match,
      round: 1,
      moves: { mimi: null, tama: null },
      winner: null,
      by: 'timeout',
    };
    expect(await push(mimi, Op.Result)).toEqual(idle);
    expect(await push(tama, Op.Result)).toEqual(idle);
    expect(await board(mimi)).toEqual({
      top: [
        { name: 'tama', wins: 1, losses: 0 },
        { name: 'mimi', wins: 0, losses: 1 },
      ],
    });
  });

  it('keeps the round clock across a reload: the new version re-arms it from the deadline in ctx.state', async () => {
    vi.useFakeTimers(PLUGIN_CLOCK);
    const server = await createTestServer({ plugin: import.meta.dirname });
    const { mimi, tama, id } = await match(server);
    const deadline = server.sessions()[0]?.plugins.rps?.deadline;
    expect(deadline).toBe(Date.now() + DEFAULT_MOVE_MS);
    expect(await move(mimi, 'scissors')).toEqual({ round: 1 });
    await push(tama, Op.Moved);

    await vi.advanceTimersByTimeAsync(4_000);
    const reload = await server.neko.reloadPlugin(import.meta.dirname);
    expect(reload).toMatchObject({ kind: 'loaded', version: 2 });
    expect(server.logs({ plugin: 'rps' }).map((r) => r.message)).toContain('re-armed 1 round clock');
    expect(server.sessions().map((s) => s.plugins.rps?.deadline)).toEqual([deadline, deadline]);

    // The clock runs out at the deadline set before the reload, once.
    await vi.advanceTimersByTimeAsync(DEFAULT_MOVE_MS - 4_000 - 1);
    expect(mimi.unread()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const result = {
      match: id,
      round: 1,
      moves: { mimi: 'scissors', tama: null },
      winner: 'mimi',
      by: 'timeout',
    };
    expect(await push(mimi, Op.Result)).toEqual(result);
    expect(await push(tama, Op.Result)).toEqual(result);
    await vi.advanceTimersByTimeAsync(DEFAULT_MOVE_MS);
    expect([mimi.unread(), tama.unread()]).toEqual([[], []]);
    expect(await board(tama)).toMatchObject({
      top: [
        { name: 'mimi', wins: 1 },
        { name: 'tama', losses: 1 },
      ],
    });
  });

  it('keeps the seat of a player whose connection drops: the opponent is told, the clock waits, the match goes on', async () => {
    vi.useFakeTimers(PLUGIN_CLOCK);
    const server = await createTestServer({ plugin: import.meta.dirname });
    const { mimi, tama, id } = await match(server, { resume: true });
    await vi.advanceTimersByTimeAsync(3_000);

    await mimi.drop();
    expect(await push(tama, Op.Away)).toEqual({ opponent: 'mimi' });
    const away = server.sessions().find((s) => s.id === mimi.sessionId);
    expect(away?.state).toBe('detached');
    expect(away?.plugins.rps).toMatchObject({ match: id, away: true });
    // The clock stopped: long past the deadline (and within the 30 s grace) nothing is settled.
    expect(server.sessions().map((s) => s.plugins.rps?.deadline)).toEqual([undefined, undefined]);
    await vi.advanceTimersByTimeAsync(DEFAULT_MOVE_MS * 2);
    expect(tama.unread()).toEqual([]);
    // tama moves meanwhile: the news is kept for mimi.
    expect(await move(tama, 'rock')).toEqual({ round: 1 });

    expect(await mimi.reconnect()).toBe('resumed');
    expect(await push(mimi, Op.Moved)).toEqual({ round: 1 });
    const back = { match: id, round: 1, moveMs: DEFAULT_MOVE_MS };
    expect(await push(mimi, Op.Back)).toEqual(back);
    expect(await push(tama, Op.Back)).toEqual(back);
    // The round starts again with a full clock.
    expect(server.sessions().map((s) => s.plugins.rps?.deadline)).toEqual([
      Date.now() + DEFAULT_MOVE_MS,
      Date.now() + DEFAULT_MOVE_MS,
    ]);
    expect(await move(mimi, 'paper')).toEqual({ round: 1 });
    const won = { match: id, round: 1, moves: { mimi: 'paper', tama: 'rock' }, winner: 'mimi', by: 'moves' };
    expect(await push(mimi, Op.Result)).toEqual(won);
    expect(await push(tama, Op.Result)).toEqual(won);
  });

  it('forfeits the match of a player who does not come back within the grace', async () => {
    vi.useFakeTimers(PLUGIN_CLOCK);
    const server = await createTestServer({ plugin: import.meta.dirname });
    const { mimi, tama, id } = await match(server, { resume: true });
    await mimi.drop();
    expect(await push(tama, Op.Away)).toEqual({ opponent: 'mimi' });

    await vi.advanceTimersByTimeAsync(30_000 - 1); // $grace {"30"}
    expect(tama.unread()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await push(tama, Op.Result)).toEqual({
      match: id,
      round: 1,
      moves: { mimi: null, tama: null },
      winner: 'tama',
      by: 'forfeit',
    });
    expect(await board(tama)).toMatchObject({
      top: [
        { name: 'tama', wins: 1 },
        { name: 'mimi', losses: 1 },
      ],
    });
    expect(await mimi.reconnect()).toBe('fresh');
    expect(server.sessions().map((s) => s.plugins.rps)).toEqual([{ name: 'tama' }, undefined]);
  });

  it('puts a waiting player whose connection dropped back in the queue when it returns', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const mimi = await server.connect({ name: 'mimi', resume: true });
    const tama = await player(server, 'tama');
    expect(await play(mimi, 'mimi')).toEqual({ waiting: true });
    await mimi.drop();
    // Nobody is paired with a player who is not there.
    expect(await play(tama, 'tama')).toEqual({ waiting: true });
    expect(groupsOf(server)).toEqual([{ name: 'queue', members: [tama.sessionId] }]);

    expect(await mimi.reconnect()).toBe('resumed');
    expect(await push<MatchFound>(mimi, Op.Match)).toMatchObject({ opponent: 'tama', round: 1 });
    expect(await push<MatchFound>(tama, Op.Match)).toMatchObject({ opponent: 'mimi', round: 1 });
  });
});
