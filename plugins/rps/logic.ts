import { randomUUID } from 'node:crypto';
import type { Context, PluginContext, SessionContext, SessionGone } from 'nekoconnect';

/**
 * The game's op codes (see spec.conf). A client sends Play, Move and Board;
 * the others are what the game pushes or answers. Data is JSON.
 */
export const Op = {
  /** data: `{"name"}` (1 to 32 printable ASCII characters; optional once named); answers `{"waiting"}`: true while queued for an opponent */
  Play: 1,
  /** data: `{"move"}`: "rock", "paper" or "scissors"; answers `{"round"}` and tells the opponent `Moved` */
  Move: 2,
  /** pushed to both players when a match starts: `{"match","opponent","round","moveMs"}` */
  Match: 3,
  /** pushed to a player whose opponent has moved: `{"round"}` */
  Moved: 4,
  /** data: nothing; answers `{"top"}`: the leaderboard, best first, as `{"name","wins","losses"}` entries */
  Board: 5,
  /** pushed to both players when a round is settled: `{"match","round","moves","winner","by"}`, with `next` when a round follows */
  Result: 6,
  /** pushed to a player whose opponent dropped and may resume: `{"opponent"}` */
  Away: 7,
  /** pushed to both players when the opponent who dropped is back: `{"match","round","moveMs"}` */
  Back: 8,
  /** the answer to a bad packet (unknown op, bad data, not in a match): `{"error"}` */
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
 * Presence (shared by every process of a cluster, in memory on one):
 * - `names`: each name in use → its session's id, claimed with `hsetnx`, owned by the session;
 * - `players`: each player's session id → its name, owned by the session, so that the player
 *   who pairs with it reads its name on any process;
 * - `seat:<session id>`: the match the session plays (the truth; `ctx.state` mirrors it);
 * - `match:<id>`: a hash holding the match (see {@link MatchRecord});
 * - the channel `match` carries the id of a match that changed, so that each process brings
 *   the `ctx.state` of **its own** players in line with the match and arms or stops its clock.
 */
const NAMES = 'names';
const PLAYERS = 'players';
const CHANGED = 'match';
/** How long a match and its seats outlive their last change, past the time to move: a match whose processes all died goes by itself. */
const MATCH_TTL_MARGIN_MS = 120_000;
/** How long a finished match stays readable, for the processes still catching up with its end. */
const ENDED_TTL_MS = 60_000;
/** How many times PLAY looks at the queue again after meeting a player who queued at the same moment on another process. */
const PAIRING_ATTEMPTS = 3;

/**
 * This plugin's state of a session. The match itself lives in presence; the
 * state mirrors it for this session (each process keeps its own players' in
 * line), so that the server keeps it across reloads and `onLoad` re-arms the
 * round clocks from it. It stays JSON-serialisable.
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

/** What never changes in a match. */
interface MatchInfo {
  /** The two players' session ids: the one who waited, then the one who paired with it. */
  players: [string, string];
  /** Their names, by session id. */
  names: Record<string, string>;
  moveMs: number;
}

/**
 * The presence hash `match:<id>`. Each field has one writer at a time: `info`
 * is written once; `round` and `deadline` by whoever won the round's claim
 * (`settled:<round>`) and by a player's pause and return; `away:<session>` by
 * that player's own hooks; `move:<round>:<session>` is claimed with `hsetnx`
 * by the player, or closed with `null` by whoever settles the round; `over`
 * is claimed with `hsetnx` by the one who ends the match.
 */
interface MatchRecord {
  info?: MatchInfo;
  round?: number;
  /** null while the clock is stopped. */
  deadline?: number | null;
  over?: SettledBy;
  [field: string]: unknown;
}

/** A match as read from presence, while it is being played. */
interface LiveMatch {
  id: string;
  info: MatchInfo;
  round: number;
  record: MatchRecord;
}

/**
 * Rock-paper-scissors for two, the same code on one process and on every
 * process of a cluster. PLAY puts a player in a queue (a group, so it spans
 * the cluster) or pairs it with the player waiting longest; the match lives
 * in presence, and its group `match:<id>` hears the results. Each round is
 * settled exactly once, by whoever wins an atomic claim: the second move, or
 * a round clock that ran out (every process holding a player of the match
 * arms one). The deadline is mirrored in each player's `ctx.state`, so
 * `onLoad` re-arms the clocks after a reload. Finished matches count on a
 * leaderboard in the database. A player whose connection drops mid-match
 * keeps its seat for the plugin's `$grace`; leaving forfeits, and so does a
 * player whose process died.
 */
export class Logic {
  /** The plugin context of this version, for the round clocks and the match changes. */
  #plugin: PluginContext<Player> | undefined;
  /** The running round clocks of this process, by match id. */
  readonly #clocks = new Map<string, ReturnType<typeof setTimeout>>();
  /** The deadline each running clock was armed for. */
  readonly #armedFor = new Map<string, number>();
  /** Set by onUnload: a change heard late arms no clock in a version that is gone. */
  #unloaded = false;
  /** Matchmaking runs one PLAY of this process at a time, so two players arriving together pair with each other. */
  #matchmaking: Promise<unknown> = Promise.resolve();
  /** Changes of matches heard from presence, brought into the players' states one at a time, in order. */
  #syncing: Promise<unknown> = Promise.resolve();
  /** Counts the changes this process made to its players' states: a read of presence older than one is read again. */
  #applied = 0;

  async onLoad(plugin: PluginContext<Player>): Promise<void> {
    this.#plugin = plugin;
    let armed = 0;
    for (const { state } of plugin.sessions()) {
      if (state.match === undefined || state.deadline === undefined || this.#clocks.has(state.match))
        continue;
      this.#arm(state.match, state.deadline);
      armed++;
    }
    if (armed > 0) plugin.log(`re-armed ${armed} round clock${armed === 1 ? '' : 's'}`);
    // Ends by itself when this version unloads.
    await plugin.presence.subscribe(CHANGED, (match) => {
      if (typeof match !== 'string') return;
      this.#syncing = this.#syncing
        .then(() => this.#refresh(plugin, match))
        .catch((err: unknown) => plugin.error(`match ${match}: could not read it: ${String(err)}`));
    });
  }

  onUnload(): void {
    this.#unloaded = true;
    for (const timer of this.#clocks.values()) clearTimeout(timer);
    this.#clocks.clear();
    this.#armedFor.clear();
  }

  async onLeave(ctx: SessionContext<Player>): Promise<void> {
    // Out of the queue already: leaving the plugin leaves its groups.
    const live = await this.#seatOf(ctx);
    if (live === undefined) return;
    await this.#finish(ctx, live, opponentOf(live, ctx.session.id), 'forfeit');
  }

  /** A player's process died (in a cluster): its opponent wins the match, as when a player leaves. */
  async onSessionGone(plugin: PluginContext<Player>, gone: SessionGone): Promise<void> {
    const match = await plugin.presence.get<string>(seatKey(gone.sessionId));
    const live = match === undefined ? undefined : await readMatch(plugin, match);
    if (live === undefined) return;
    await this.#finish(plugin, live, opponentOf(live, gone.sessionId), 'forfeit');
  }

  async onDisconnect(ctx: SessionContext<Player>): Promise<void> {
    const { state } = ctx;
    const me = ctx.session.id;
    state.away = true;
    const live = await this.#seatOf(ctx);
    if (live !== undefined) {
      // The round clock stops until the player is back: nobody loses on time while the network is down.
      const key = matchKey(live.id);
      await ctx.presence.hset(key, `away:${me}`, true);
      await ctx.presence.hset(key, 'deadline', null);
      await touch(ctx, live);
      Object.assign(live.record, { [`away:${me}`]: true, deadline: null });
      await this.#changed(ctx, live.id, live.record);
      await ctx.sendTo(opponentOf(live, me), JSON.stringify({ opponent: state.name }), { op: Op.Away });
    } else if (state.queued === true) {
      // Nobody is paired with a player who is not there; it goes back in the queue when it returns.
      await ctx.group(QUEUE).remove(me);
    }
  }

  async onReconnect(ctx: SessionContext<Player>): Promise<void> {
    const { state } = ctx;
    const me = ctx.session.id;
    delete state.away;
    const live = await this.#seatOf(ctx);
    if (live !== undefined) {
      const key = matchKey(live.id);
      await ctx.presence.hdel(key, `away:${me}`);
      delete live.record[`away:${me}`];
      if (live.info.players.some((id) => live.record[`away:${id}`] === true)) {
        // The clock starts when both are back.
        this.#apply(ctx, live.id, live.record);
        return;
      }
      const { moveMs } = live.info;
      const deadline = Date.now() + moveMs;
      await ctx.presence.hset(key, 'deadline', deadline);
      await touch(ctx, live);
      live.record.deadline = deadline;
      await this.#changed(ctx, live.id, live.record);
      ctx
        .group(matchGroup(live.id))
        .broadcast(JSON.stringify({ match: live.id, round: live.round, moveMs }), { op: Op.Back });
    } else if (state.queued === true) {
      delete state.queued;
      const paired = await this.#pair(ctx);
      if (paired) await this.#announce(ctx, paired);
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
    const live = await this.#seatOf(ctx);
    if (live !== undefined) return fail(ctx, `you are already in match ${live.id}`);
    if (state.queued === true) return fail(ctx, 'you are already waiting for an opponent');
    const name = body.name ?? state.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      return fail(ctx, 'PLAY needs {"name"}: 1 to 32 printable ASCII characters, no spaces');
    }
    if (!(await claimName(ctx, name))) return fail(ctx, `the name ${name} is taken`);
    state.name = name;
    const paired = await this.#pair(ctx);
    ctx.send(JSON.stringify({ waiting: paired === undefined }), { op: Op.Play });
    if (paired) await this.#announce(ctx, paired);
  }

  async #move(ctx: Context<Player>): Promise<void> {
    const move = bodyOf(ctx)?.move;
    if (!isMove(move)) return fail(ctx, 'MOVE needs {"move"}: "rock", "paper" or "scissors"');
    const me = ctx.session.id;
    const live = await this.#seatOf(ctx);
    if (live === undefined) return fail(ctx, 'you are not in a match: send PLAY first');
    const { id: match, round } = live;
    const key = matchKey(match);
    if (!(await ctx.presence.hsetnx(key, moveField(round, me), move))) {
      // Taken: by this player's move, or closed (null) by whoever settled the round.
      const made = await ctx.presence.hget<Move | null>(key, moveField(round, me));
      return fail(ctx, made === null ? `round ${round} is over` : `you already moved in round ${round}`);
    }
    this.#apply(ctx, match, { ...live.record, [moveField(round, me)]: move });
    ctx.send(JSON.stringify({ round }), { op: Op.Move });
    const opponent = opponentOf(live, me);
    const theirs = await ctx.presence.hget<Move | null>(key, moveField(round, opponent));
    if (isMove(theirs)) return this.#settle(ctx, match, round);
    // The opponent learns that it is its turn to hurry, not what was played.
    await ctx.sendTo(opponent, JSON.stringify({ round }), { op: Op.Moved });
  }

  /**
   * Takes the player waiting longest out of the queue and seats both in a new
   * match, or puts this player in the queue. Resolves with the match when paired.
   */
  #pair(ctx: SessionContext<Player>): Promise<LiveMatch | undefined> {
    const paired = this.#matchmaking.then(async () => {
      const me = ctx.session.id;
      const queue = ctx.group(QUEUE);
      for (let attempt = 1; ; attempt++) {
        for (const id of await queue.members()) {
          if (id === me || !(await queue.remove(id))) continue; // `true`: this PLAY got that player
          const seated = await this.#seat(ctx, id);
          if (seated !== undefined) return seated ?? undefined; // null: this player left meanwhile
        }
        await queue.add(me);
        ctx.state.queued = true;
        // A player queued on another process at the same moment may have found the queue empty too:
        // of two such players, the one who came later pairs with the other.
        if (attempt === PAIRING_ATTEMPTS) return undefined;
        const members = await queue.members();
        if (members.indexOf(me) <= 0) return undefined; // first in line, or taken by someone meanwhile
        if (!(await queue.remove(me))) return undefined; // taken by someone meanwhile: its match is on its way
        delete ctx.state.queued;
      }
    });
    this.#matchmaking = paired.catch(() => {});
    return paired;
  }

  /**
   * Seats `other` (just taken out of the queue) and this player in a new
   * match. @returns the match; undefined when `other` has gone (look further
   * in the queue); null when this player has gone (`other` waits again).
   */
  async #seat(ctx: SessionContext<Player>, other: string): Promise<LiveMatch | null | undefined> {
    const me = ctx.session.id;
    const otherName = await ctx.presence.hget<string>(PLAYERS, other);
    if (otherName === undefined || ctx.state.name === undefined) return undefined; // it left meanwhile
    const match = randomUUID().slice(0, 8);
    const group = ctx.group(matchGroup(match));
    if (!(await group.add(other))) return undefined; // it left meanwhile
    if (!(await group.add(me))) {
      // This player left meanwhile: the other one keeps waiting.
      await group.remove(other);
      await ctx.group(QUEUE).add(other);
      return null;
    }
    const info: MatchInfo = {
      players: [other, me],
      names: { [other]: otherName, [me]: ctx.state.name },
      moveMs: await moveMsOf(ctx),
    };
    const live: LiveMatch = { id: match, info, round: 1, record: { info, round: 1 } };
    const key = matchKey(match);
    await ctx.presence.hset(key, 'info', info);
    await ctx.presence.hset(key, 'round', 1);
    // The clock starts now; it waits for a player whose connection dropped meanwhile (onReconnect starts it).
    live.record.deadline = Date.now() + info.moveMs;
    await ctx.presence.hset(key, 'deadline', live.record.deadline);
    await Promise.all(info.players.map((id) => ctx.presence.set(seatKey(id), match)));
    await touch(ctx, live);
    await this.#changed(ctx, match, live.record);
    return live;
  }

  /** Tells both players of a new match who they play. */
  async #announce(ctx: SessionContext<Player>, live: LiveMatch): Promise<void> {
    const me = ctx.session.id;
    const other = opponentOf(live, me);
    const { names, moveMs } = live.info;
    const { id: match, round } = live;
    ctx.send(JSON.stringify({ match, opponent: names[other], round, moveMs }), { op: Op.Match });
    await ctx.sendTo(other, JSON.stringify({ match, opponent: names[me], round, moveMs }), {
      op: Op.Match,
    });
  }

  /**
   * Settles a round, once: the first to claim it (the second move, or a
   * clock that ran out) closes the round to late moves, then a draw starts
   * the next round and anything else ends the match.
   */
  async #settle(ctx: PluginContext<Player>, match: string, round: number): Promise<void> {
    const key = matchKey(match);
    if (!(await ctx.presence.hsetnx(key, `settled:${round}`, true))) return;
    const live = await readMatch(ctx, match);
    if (live === undefined || live.round !== round) return;
    const [a, b] = live.info.players;
    await Promise.all([a, b].map((id) => ctx.presence.hsetnx(key, moveField(round, id), null)));
    const record = await ctx.presence.hgetall<unknown>(key);
    Object.assign(live.record, record);
    const moveA = record[moveField(round, a)];
    const moveB = record[moveField(round, b)];
    if (isMove(moveA) && isMove(moveB)) {
      if (moveA !== moveB) return this.#finish(ctx, live, BEATS[moveA] === moveB ? a : b, 'moves');
      return this.#draw(ctx, live);
    }
    // The clock ran out: whoever moved wins; nobody wins when neither did.
    const winner = isMove(moveA) ? a : isMove(moveB) ? b : undefined;
    return this.#finish(ctx, live, winner, 'timeout');
  }

  /** Both players made the same move: the next round starts, with a new clock. */
  async #draw(ctx: PluginContext<Player>, live: LiveMatch): Promise<void> {
    const { id: match, info, round, record } = live;
    const result = { match, round, moves: movesOf(live), winner: null, by: 'draw' };
    const next = round + 1;
    const away = info.players.some((id) => record[`away:${id}`] === true);
    const deadline = away ? null : Date.now() + info.moveMs;
    const key = matchKey(match);
    // The deadline first: a clock that reads the new round must not find the old deadline with it.
    await ctx.presence.hset(key, 'deadline', deadline);
    await ctx.presence.hset(key, 'round', next);
    await touch(ctx, live);
    Object.assign(record, { round: next, deadline });
    await this.#changed(ctx, match, record);
    ctx
      .group(matchGroup(match))
      .broadcast(JSON.stringify({ ...result, next: { round: next, moveMs: info.moveMs } }), {
        op: Op.Result,
      });
  }

  /**
   * Ends a match, once (the first to claim `over`): the leaderboard counts a
   * win and a loss (when there is a winner), both players are free again,
   * then the match's group hears the result and is emptied.
   */
  async #finish(
    ctx: PluginContext<Player>,
    live: LiveMatch,
    winnerId: string | undefined,
    by: SettledBy,
  ): Promise<void> {
    const { id: match, info } = live;
    const key = matchKey(match);
    if (!(await ctx.presence.hsetnx(key, 'over', by))) return;
    await ctx.presence.expire(key, ENDED_TTL_MS);
    const winner = winnerId === undefined ? undefined : info.names[winnerId];
    const loserId = winnerId === undefined ? undefined : opponentOf(live, winnerId);
    const loser = loserId === undefined ? undefined : info.names[loserId];
    const result = { match, round: live.round, moves: movesOf(live), winner: winner ?? null, by };
    if (winner !== undefined && loser !== undefined) {
      try {
        await Promise.all([
          ctx.db.update({ name: winner }, { $inc: { wins: 1, losses: 0 } }, { upsert: true }),
          ctx.db.update({ name: loser }, { $inc: { wins: 0, losses: 1 } }, { upsert: true }),
        ]);
      } catch (err) {
        ctx.error(`match ${match}: the leaderboard was not updated: ${String(err)}`);
      }
    }
    await Promise.all(info.players.map((id) => ctx.presence.del(seatKey(id))));
    live.record.over = by;
    await this.#changed(ctx, match, live.record);
    const group = ctx.group(matchGroup(match));
    group.broadcast(JSON.stringify(result), { op: Op.Result });
    await Promise.all(info.players.map((id) => group.remove(id)));
  }

  /** A round clock ran out on this process: settle the round, unless it was settled, stopped or moved meanwhile. */
  async #expire(match: string): Promise<void> {
    const plugin = this.#plugin;
    if (plugin === undefined) return;
    const live = await readMatch(plugin, match);
    if (live === undefined) return this.#apply(plugin, match, {}); // over
    const { deadline } = live.record;
    if (typeof deadline !== 'number') return; // stopped: a player is away
    if (live.info.players.some((id) => live.record[`away:${id}`] === true)) return;
    if (deadline > Date.now()) return this.#arm(match, deadline); // moved, or a timer fired a little early
    await this.#settle(plugin, match, live.round);
  }

  /** Brings this process's players of `match` in line with the match as read from presence, and its clock. */
  async #refresh(plugin: PluginContext<Player>, match: string): Promise<void> {
    for (;;) {
      const applied = this.#applied;
      const record = await plugin.presence.hgetall<unknown>(matchKey(match));
      // Changed here while reading: read again, so that an older read never undoes a newer change.
      if (applied === this.#applied) return this.#apply(plugin, match, record);
    }
  }

  /** A change of a match: this process's players follow it at once, the other processes when they hear of it. */
  async #changed(ctx: PluginContext<Player>, match: string, record: MatchRecord): Promise<void> {
    this.#apply(ctx, match, record);
    await ctx.presence.publish(CHANGED, match);
  }

  /**
   * Mirrors a match into the `ctx.state` of this process's players of it,
   * and arms the round clock when it runs, or stops it. A record without
   * `info`, or `over`, ends the match for them.
   */
  #apply(ctx: PluginContext<Player>, match: string, record: MatchRecord): void {
    this.#applied++;
    const info = record.info;
    const ended = info === undefined || record.over !== undefined;
    let deadline: number | undefined;
    for (const { id, state } of ctx.sessions()) {
      if (ended) {
        if (state.match === match) endMatch(state);
        // Taken out of the queue for a match that ended before this process heard it start.
        else if (state.match === undefined && info?.players.includes(id) === true) delete state.queued;
        continue;
      }
      if (!info.players.includes(id)) continue;
      const round = typeof record.round === 'number' ? record.round : 1;
      delete state.queued;
      Object.assign(state, {
        match,
        opponent: info.players[0] === id ? info.players[1] : info.players[0],
        round,
        moveMs: info.moveMs,
      });
      if (typeof record.deadline === 'number') deadline = state.deadline = record.deadline;
      else delete state.deadline;
      const move = record[moveField(round, id)];
      if (isMove(move)) state.move = move;
      else delete state.move;
    }
    if (deadline === undefined) this.#disarm(match);
    else if (this.#armedFor.get(match) !== deadline) this.#arm(match, deadline);
  }

  #arm(match: string, deadline: number): void {
    this.#disarm(match);
    if (this.#unloaded) return;
    const timer = setTimeout(
      () => {
        this.#clocks.delete(match);
        this.#armedFor.delete(match);
        this.#expire(match).catch((err: unknown) =>
          this.#plugin?.error(`match ${match}: the round clock failed: ${String(err)}`),
        );
      },
      Math.max(0, deadline - Date.now()),
    );
    this.#clocks.set(match, timer);
    this.#armedFor.set(match, deadline);
  }

  #disarm(match: string): void {
    clearTimeout(this.#clocks.get(match));
    this.#clocks.delete(match);
    this.#armedFor.delete(match);
  }

  /**
   * The match this session plays, read from presence (the truth: its
   * `ctx.state` may not have heard of a change yet), or undefined; a state
   * still showing a match that is over is cleared.
   */
  async #seatOf(ctx: SessionContext<Player>): Promise<LiveMatch | undefined> {
    const match = await ctx.presence.get<string>(seatKey(ctx.session.id));
    const live = match === undefined ? undefined : await readMatch(ctx, match);
    if (live === undefined && ctx.state.match !== undefined) endMatch(ctx.state);
    return live;
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

function matchKey(match: string): string {
  return `match:${match}`;
}

function seatKey(sessionId: string): string {
  return `seat:${sessionId}`;
}

function moveField(round: number, sessionId: string): string {
  return `move:${round}:${sessionId}`;
}

/** A match being played, from presence; undefined when it is over or gone. */
async function readMatch(ctx: PluginContext<Player>, match: string): Promise<LiveMatch | undefined> {
  const record = await ctx.presence.hgetall<unknown>(matchKey(match));
  const info = record.info as MatchInfo | undefined;
  if (info === undefined || record.over !== undefined) return undefined;
  const round = typeof record.round === 'number' ? record.round : 1;
  return { id: match, info, round, record };
}

function opponentOf(live: LiveMatch, sessionId: string): string {
  const [a, b] = live.info.players;
  return sessionId === a ? b : a;
}

/** Keeps a match and its seats for the time to move and a margin from now. */
async function touch(ctx: PluginContext<Player>, live: LiveMatch): Promise<void> {
  const ttlMs = live.info.moveMs + MATCH_TTL_MARGIN_MS;
  await Promise.all([
    ctx.presence.expire(matchKey(live.id), ttlMs),
    ...live.info.players.map((id) => ctx.presence.expire(seatKey(id), ttlMs)),
  ]);
}

/**
 * Claims `name` for this session in the whole cluster (or keeps it, when it
 * holds it already), giving up the name it had. @returns false when another
 * session holds it.
 */
async function claimName(ctx: SessionContext<Player>, name: string): Promise<boolean> {
  const me = ctx.session.id;
  if (!(await ctx.presence.hsetnx(NAMES, name, me, { owner: 'session' }))) {
    if ((await ctx.presence.hget(NAMES, name)) !== me) return false;
  }
  const before = ctx.state.name;
  if (before !== undefined && before !== name && (await ctx.presence.hget(NAMES, before)) === me) {
    await ctx.presence.hdel(NAMES, before);
  }
  await ctx.presence.hset(PLAYERS, me, name, { owner: 'session' });
  return true;
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

/** Each player's move of the round by name (null: no move). */
function movesOf(live: LiveMatch): Record<string, Move | null> {
  const { info, round, record } = live;
  return Object.fromEntries(
    info.players.map((id) => {
      const move = record[moveField(round, id)];
      return [info.names[id] ?? id, isMove(move) ? move : null];
    }),
  );
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
