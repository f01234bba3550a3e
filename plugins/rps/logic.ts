import { randomUUID } from 'node:crypto';
import type { Context, PluginContext, PluginSession, SessionContext } from 'nekoconnect';

/** The game's op codes (see spec.conf). */
export const Op = {
  Play: 1,
  Move: 2,
  Match: 3,
  Moved: 4,
  Board: 5,
  Result: 6,
  Away: 7,
  Back: 8,
  Error: 9,
} as const;

export const MOVES = ['rock', 'paper', 'scissors'] as const;
export type Move = (typeof MOVES)[number];

/** What each move beats. */
const BEATS: Readonly<Record<Move, Move>> = { rock: 'scissors', paper: 'rock', scissors: 'paper' };

/** The key-value cell that sets the time to move, in ms. */
export const MOVE_MS_CELL = 'moveMs';
export const DEFAULT_MOVE_MS = 10_000;
const MAX_MOVE_MS = 3_600_000;

const NAME = /^[\x21-\x7e]{1,32}$/;
const QUEUE = 'queue';
const BOARD_SIZE = 10;

/**
 * This plugin's state of a session. The server keeps it across reloads, so
 * it holds everything a new version needs to carry a match on, the round's
 * deadline included, and stays JSON-serialisable.
 */
export type Player = {
  /** The name on the leaderboard, set by the first PLAY. */
  name?: string;
  /** Waiting in the queue (or was when its connection dropped: it goes back in when it returns). */
  queued?: boolean;
  /** The match it plays, while it plays one. */
  match?: string;
  /** The opponent's session id. */
  opponent?: string;
  round?: number;
  /** The time to move of this match, in ms. */
  moveMs?: number;
  /** When the round's clock runs out, in ms since the epoch; absent while the clock is stopped. */
  deadline?: number;
  /** Its move in this round, once made. */
  move?: Move;
  /** Its connection dropped; the session waits for it to come back. */
  away?: boolean;
};

/** How a round or a match was settled, as op 6 says it. */
type SettledBy = 'moves' | 'draw' | 'timeout' | 'forfeit';

/** A session of a match, as the settling code needs it: its id and its live state. */
type Seat = { readonly id: string; readonly state: Player };

/**
 * Rock-paper-scissors for two. PLAY puts a player in a queue (a group) or
 * pairs it with the player waiting longest; each match has its own group,
 * `match:<id>`, which hears the results. A round has a clock: its deadline is
 * in each player's `ctx.state`, and the timers that watch it are re-armed by
 * `onLoad`, so a reload does not lose them. Finished matches count on a
 * leaderboard in the database. A player whose connection drops mid-match
 * keeps its seat for the plugin's `$grace`; leaving forfeits.
 */
export class Logic {
  /** The plugin context of this version, for the round clocks. */
  #plugin: PluginContext<Player> | undefined;
  /** The running round clocks, by match id. */
  readonly #clocks = new Map<string, ReturnType<typeof setTimeout>>();
  /** Matchmaking runs one PLAY at a time, so two players arriving together pair with each other. */
  #matchmaking: Promise<unknown> = Promise.resolve();

  onLoad(plugin: PluginContext<Player>): void {
    this.#plugin = plugin;
    let armed = 0;
    for (const { state } of plugin.sessions()) {
      if (state.match === undefined || state.deadline === undefined || this.#clocks.has(state.match))
        continue;
      this.#arm(state.match, state.deadline);
      armed++;
    }
    if (armed > 0) plugin.log(`re-armed ${armed} round clock${armed === 1 ? '' : 's'}`);
  }

  onUnload(): void {
    for (const timer of this.#clocks.values()) clearTimeout(timer);
    this.#clocks.clear();
  }

  async onLeave(ctx: SessionContext<Player>): Promise<void> {
    const { match, opponent } = ctx.state;
    if (match === undefined) return; // out of the queue already: leaving the plugin leaves its groups
    const seats: Seat[] = [{ id: ctx.session.id, state: ctx.state }];
    const other = ctx.sessions().find((s) => s.id === opponent && s.state.match === match);
    if (other) seats.push(other);
    await this.#finish(ctx, match, seats, other?.id, 'forfeit');
  }

  async onDisconnect(ctx: SessionContext<Player>): Promise<void> {
    const { state } = ctx;
    state.away = true;
    if (state.match !== undefined) {
      // The round clock stops until the player is back: nobody loses on time while the network is down.
      this.#disarm(state.match);
      for (const seat of this.#seats(ctx, state.match)) delete seat.state.deadline;
      if (state.opponent !== undefined) {
        await ctx.sendTo(state.opponent, JSON.stringify({ opponent: state.name }), { op: Op.Away });
      }
    } else if (state.queued === true) {
      // Nobody is paired with a player who is not there; it goes back in the queue when it returns.
      await ctx.group(QUEUE).remove(ctx.session.id);
    }
  }

  async onReconnect(ctx: SessionContext<Player>): Promise<void> {
    const { state } = ctx;
    delete state.away;
    if (state.match !== undefined) {
      const seats = this.#seats(ctx, state.match);
      if (seats.some((s) => s.state.away === true)) return; // the clock starts when both are back
      const moveMs = state.moveMs ?? DEFAULT_MOVE_MS;
      this.#startClock(state.match, seats, moveMs);
      ctx
        .group(matchGroup(state.match))
        .broadcast(JSON.stringify({ match: state.match, round: state.round, moveMs }), { op: Op.Back });
    } else if (state.queued === true) {
      delete state.queued;
      const other = await this.#pair(ctx);
      if (other) await this.#announce(ctx, other);
    }
  }

  async recv(ctx: Context<Player>): Promise<void> {
    switch (ctx.op) {
      case Op.Play:
        return this.#play(ctx);
      case Op.Move:
        return this.#move(ctx);
      case Op.Board: {
        const top = await ctx.db.find<Standing>(
          {},
          { sort: { wins: -1, losses: 1, name: 1 }, limit: BOARD_SIZE, projection: { _id: 0 } },
        );
        ctx.send(JSON.stringify({ top }), { op: Op.Board });
        return;
      }
      default:
        return fail(ctx, `unknown op ${ctx.op}: use 1 (play), 2 (move) or 5 (board)`);
    }
  }

  async #play(ctx: Context<Player>): Promise<void> {
    const body = bodyOf(ctx);
    if (body === undefined) return fail(ctx, 'the data must be a JSON object');
    const { state } = ctx;
    if (state.match !== undefined) return fail(ctx, `you are already in match ${state.match}`);
    if (state.queued === true) return fail(ctx, 'you are already waiting for an opponent');
    const name = body.name ?? state.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      return fail(ctx, 'PLAY needs {"name"}: 1 to 32 printable ASCII characters, no spaces');
    }
    if (ctx.sessions().some((s) => s.id !== ctx.session.id && s.state.name === name)) {
      return fail(ctx, `the name ${name} is taken`);
    }
    state.name = name;
    const other = await this.#pair(ctx);
    ctx.send(JSON.stringify({ waiting: other === undefined }), { op: Op.Play });
    if (other) await this.#announce(ctx, other);
  }

  async #move(ctx: Context<Player>): Promise<void> {
    const move = bodyOf(ctx)?.move;
    if (!isMove(move)) return fail(ctx, 'MOVE needs {"move"}: "rock", "paper" or "scissors"');
    const { state } = ctx;
    const { match, round } = state;
    if (match === undefined) return fail(ctx, 'you are not in a match: send PLAY first');
    if (state.move !== undefined) return fail(ctx, `you already moved in round ${round}`);
    state.move = move;
    ctx.send(JSON.stringify({ round }), { op: Op.Move });
    const seats = this.#seats(ctx, match);
    if (seats.length === 2 && seats.every((s) => s.state.move !== undefined)) {
      return this.#settle(ctx, match, seats);
    }
    // The opponent learns that it is its turn to hurry, not what was played.
    if (state.opponent !== undefined) {
      await ctx.sendTo(state.opponent, JSON.stringify({ round }), { op: Op.Moved });
    }
  }

  /**
   * Takes the player waiting longest out of the queue and seats both in a new
   * match, or puts this player in the queue. Resolves with the opponent when paired.
   */
  #pair(ctx: SessionContext<Player>): Promise<PluginSession<Player> | undefined> {
    const paired = this.#matchmaking.then(async () => {
      const moveMs = await moveMsOf(ctx);
      const queue = ctx.group(QUEUE);
      for (const id of await queue.members()) {
        if (id === ctx.session.id || !(await queue.remove(id))) continue;
        const other = ctx.sessions().find((s) => s.id === id);
        if (other === undefined || other.state.away === true) continue; // it comes back to the queue itself
        const match = randomUUID().slice(0, 8);
        const group = ctx.group(matchGroup(match));
        if (!(await group.add(other.id))) continue; // it left meanwhile
        if (!(await group.add(ctx.session.id))) {
          // This player left meanwhile: the other one keeps waiting.
          await group.remove(other.id);
          await queue.add(other.id);
          return undefined;
        }
        for (const [seat, opponent] of [
          [other, { id: ctx.session.id, state: ctx.state }],
          [{ id: ctx.session.id, state: ctx.state }, other],
        ] as const) {
          delete seat.state.queued;
          Object.assign(seat.state, { match, opponent: opponent.id, round: 1, moveMs });
        }
        this.#startClock(match, [other, { id: ctx.session.id, state: ctx.state }], moveMs);
        return other;
      }
      await queue.add(ctx.session.id);
      ctx.state.queued = true;
      return undefined;
    });
    this.#matchmaking = paired.catch(() => {});
    return paired;
  }

  /** Tells both players of a new match who they play. */
  async #announce(ctx: SessionContext<Player>, other: PluginSession<Player>): Promise<void> {
    const { match, round, moveMs } = ctx.state;
    ctx.send(JSON.stringify({ match, opponent: other.state.name, round, moveMs }), { op: Op.Match });
    await ctx.sendTo(other.id, JSON.stringify({ match, opponent: ctx.state.name, round, moveMs }), {
      op: Op.Match,
    });
  }

  /** Both players moved: a draw starts the next round, anything else ends the match. */
  async #settle(ctx: PluginContext<Player>, match: string, seats: Seat[]): Promise<void> {
    const [a, b] = seats as [Seat, Seat];
    const moveA = a.state.move!;
    const moveB = b.state.move!;
    if (moveA !== moveB) {
      return this.#finish(ctx, match, seats, BEATS[moveA] === moveB ? a.id : b.id, 'moves');
    }
    const result = { match, round: a.state.round, moves: movesOf(seats), winner: null, by: 'draw' };
    const moveMs = a.state.moveMs ?? DEFAULT_MOVE_MS;
    for (const seat of seats) {
      delete seat.state.move;
      seat.state.round = (seat.state.round ?? 1) + 1;
    }
    this.#startClock(match, seats, moveMs);
    ctx
      .group(matchGroup(match))
      .broadcast(JSON.stringify({ ...result, next: { round: a.state.round, moveMs } }), { op: Op.Result });
  }

  /**
   * Ends a match: its players are free again, the leaderboard counts a win
   * and a loss (when there is a winner), then the match's group hears the
   * result and is emptied.
   */
  async #finish(
    ctx: PluginContext<Player>,
    match: string,
    seats: Seat[],
    winnerId: string | undefined,
    by: SettledBy,
  ): Promise<void> {
    this.#disarm(match);
    const winner = seats.find((s) => s.id === winnerId)?.state;
    const loser = winner === undefined ? undefined : seats.find((s) => s.id !== winnerId)?.state;
    const result = {
      match,
      round: seats[0]?.state.round,
      moves: movesOf(seats),
      winner: winner?.name ?? null,
      by,
    };
    for (const seat of seats) endMatch(seat.state);
    if (winner?.name !== undefined && loser?.name !== undefined) {
      try {
        await Promise.all([
          ctx.db.update({ name: winner.name }, { $inc: { wins: 1, losses: 0 } }, { upsert: true }),
          ctx.db.update({ name: loser.name }, { $inc: { wins: 0, losses: 1 } }, { upsert: true }),
        ]);
      } catch (err) {
        ctx.error(`match ${match}: the leaderboard was not updated: ${String(err)}`);
      }
    }
    const group = ctx.group(matchGroup(match));
    group.broadcast(JSON.stringify(result), { op: Op.Result });
    await Promise.all(seats.map((s) => group.remove(s.id)));
  }

  /** The round clock ran out: whoever moved wins; nobody wins when neither did. */
  async #expire(match: string): Promise<void> {
    const plugin = this.#plugin;
    if (plugin === undefined) return;
    const seats = this.#seats(plugin, match);
    const deadline = seats[0]?.state.deadline;
    if (deadline === undefined) return; // settled, or stopped, meanwhile
    if (deadline > Date.now()) return this.#arm(match, deadline); // a timer may fire a little early
    const moved = seats.filter((s) => s.state.move !== undefined);
    if (moved.length === 2) return this.#settle(plugin, match, seats);
    await this.#finish(plugin, match, seats, moved[0]?.id, 'timeout');
  }

  /**
   * Starts a round's clock: the deadline goes in each player's state, then
   * the timer is armed. While a player is away the clock waits (onReconnect starts it).
   */
  #startClock(match: string, seats: readonly Seat[], moveMs: number): void {
    if (seats.some((s) => s.state.away === true)) {
      for (const seat of seats) delete seat.state.deadline;
      return;
    }
    const deadline = Date.now() + moveMs;
    for (const seat of seats) seat.state.deadline = deadline;
    this.#arm(match, deadline);
  }

  #arm(match: string, deadline: number): void {
    this.#disarm(match);
    const timer = setTimeout(
      () => {
        this.#clocks.delete(match);
        this.#expire(match).catch((err: unknown) =>
          this.#plugin?.error(`match ${match}: the round clock failed: ${String(err)}`),
        );
      },
      Math.max(0, deadline - Date.now()),
    );
    this.#clocks.set(match, timer);
  }

  #disarm(match: string): void {
    clearTimeout(this.#clocks.get(match));
    this.#clocks.delete(match);
  }

  /** The players of a match, in the order they joined the plugin. */
  #seats(ctx: PluginContext<Player>, match: string): PluginSession<Player>[] {
    return ctx.sessions().filter((s) => s.state.match === match);
  }
}

/** A leaderboard entry, one document per player name. */
interface Standing {
  name: string;
  wins: number;
  losses: number;
}

function matchGroup(match: string): string {
  return `match:${match}`;
}

/** The time to move: the cell moveMs if it holds a whole number of ms from 1 to an hour, else 10 s. */
async function moveMsOf(ctx: PluginContext<Player>): Promise<number> {
  const value = await ctx.dbGet<unknown>(MOVE_MS_CELL);
  if (value === undefined) return DEFAULT_MOVE_MS;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_MOVE_MS)
    return value;
  ctx.warn(
    `the cell ${MOVE_MS_CELL} holds ${JSON.stringify(value)}, not 1 to ${MAX_MOVE_MS} ms: using ${DEFAULT_MOVE_MS}`,
  );
  return DEFAULT_MOVE_MS;
}

/** Each player's move by name (null: no move). */
function movesOf(seats: readonly Seat[]): Record<string, Move | null> {
  return Object.fromEntries(seats.map((s) => [s.state.name ?? s.id, s.state.move ?? null]));
}

function endMatch(state: Player): void {
  for (const key of ['match', 'opponent', 'round', 'moveMs', 'deadline', 'move'] as const) {
    delete state[key];
  }
}

function isMove(value: unknown): value is Move {
  return typeof value === 'string' && (MOVES as readonly string[]).includes(value);
}

/** The data as a JSON object (empty data is `{}`), or undefined when it is not one. */
function bodyOf(ctx: Context<Player>): Record<string, unknown> | undefined {
  if (ctx.len === 0) return {};
  try {
    const body = ctx.json<unknown>();
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function fail(ctx: Context<Player>, error: string): void {
  ctx.send(JSON.stringify({ error }), { op: Op.Error });
}
