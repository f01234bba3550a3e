import type { Context, PluginContext, SessionContext } from 'nekoconnect';

/**
 * The chat's op codes (see spec.conf). A client sends Nick, Say and Who; the
 * others are what the chat pushes or answers.
 */
export const Op = {
  /** data: a nickname (1 to 32 printable ASCII characters, no spaces); answers `{"nick"}` and tells the others `Renamed` */
  Nick: 1,
  /** data: a message (1 to 2000 characters); no answer, the others receive `{"nick","text"}` with this op */
  Say: 2,
  /** data: nothing; answers `{"nicks"}`: every nickname in the room */
  Who: 3,
  /** pushed to the others when someone joins: `{"nick"}`, the guest name given */
  Joined: 4,
  /** pushed to everyone when someone leaves: `{"nick"}` */
  Left: 5,
  /** pushed to the others when someone takes a nickname: `{"from","nick"}` */
  Renamed: 6,
  /** the answer to a bad packet (unknown op, bad or taken nickname, empty message): `{"error"}` */
  Error: 9,
} as const;

const NICK = /^[\x21-\x7e]{1,32}$/;
const MAX_TEXT = 2000;

/**
 * Presence keys (shared by every process of a cluster, in memory on one):
 * `nicks` maps each nickname in use to its session's id, `names` each
 * session's id to its nickname. Both entries belong to the session, so they
 * go when it leaves or its process dies; `guests` counts the guests named.
 */
const NICKS = 'nicks';
const NAMES = 'names';
const GUESTS = 'guests';

interface Chatter {
  nick?: string;
}

function nickOf(ctx: SessionContext<Chatter>): string {
  return String(ctx.state.nick);
}

/**
 * A chat room: everyone who sends this plugin a packet is in the room until
 * they disconnect. Each nickname is claimed in presence (`hsetnx`), so it is
 * unique across every process of a cluster, and `who` lists them all; the
 * session's own copy lives in `ctx.state`, so it survives a reload.
 */
export class Logic {
  async onJoin(ctx: SessionContext<Chatter>): Promise<void> {
    // A guest name no one holds: the counter is shared, but someone may have picked guest-<n> as a nickname.
    let nick: string;
    do nick = `guest-${await ctx.presence.incr(GUESTS)}`;
    while (!(await claim(ctx, nick)));
    ctx.state.nick = nick;
    ctx.broadcast(JSON.stringify({ nick }), { op: Op.Joined, except: ctx.session.id });
  }

  async onLeave(ctx: SessionContext<Chatter>): Promise<void> {
    // Released here rather than when presence drops the session's entries, so `who` never lists someone who left.
    await release(ctx, nickOf(ctx));
    await ctx.presence.hdel(NAMES, ctx.session.id);
    ctx.broadcast(JSON.stringify({ nick: nickOf(ctx) }), { op: Op.Left });
  }

  /** A session of a process that died (in a cluster): its entries are still there to read, and go right after. */
  async onSessionGone(plugin: PluginContext<Chatter>, gone: { sessionId: string }): Promise<void> {
    const nick = await plugin.presence.hget<string>(NAMES, gone.sessionId);
    if (nick !== undefined) plugin.broadcast(JSON.stringify({ nick }), { op: Op.Left });
  }

  async recv(ctx: Context<Chatter>): Promise<void> {
    switch (ctx.op) {
      case Op.Nick:
        return this.#nick(ctx);
      case Op.Say:
        return this.#say(ctx);
      case Op.Who:
        ctx.send(JSON.stringify({ nicks: await ctx.presence.hkeys(NICKS) }), { op: Op.Who });
        return;
      default:
        fail(ctx, `unknown op ${ctx.op}: use 1 (nick), 2 (say) or 3 (who)`);
    }
  }

  async #nick(ctx: Context<Chatter>): Promise<void> {
    const nick = ctx.text();
    if (!NICK.test(nick)) return fail(ctx, 'a nickname is 1 to 32 printable ASCII characters, no spaces');
    const from = nickOf(ctx);
    if (nick !== from) {
      if (!(await claim(ctx, nick))) return fail(ctx, `the nickname ${nick} is taken`);
      await release(ctx, from);
      ctx.state.nick = nick;
    }
    ctx.send(JSON.stringify({ nick }), { op: Op.Nick });
    ctx.broadcast(JSON.stringify({ from, nick }), { op: Op.Renamed, except: ctx.session.id });
  }

  #say(ctx: Context<Chatter>): void {
    const text = ctx.text();
    if (text.length === 0 || text.length > MAX_TEXT)
      return fail(ctx, `a message is 1 to ${MAX_TEXT} characters`);
    ctx.broadcast(JSON.stringify({ nick: nickOf(ctx), text }), { op: Op.Say, except: ctx.session.id });
  }
}

/** Claims `nick` for the session, atomically across the cluster. @returns false when someone else holds it. */
async function claim(ctx: SessionContext<Chatter>, nick: string): Promise<boolean> {
  if (!(await ctx.presence.hsetnx(NICKS, nick, ctx.session.id, { owner: 'session' }))) return false;
  await ctx.presence.hset(NAMES, ctx.session.id, nick, { owner: 'session' });
  return true;
}

/** Gives `nick` up, if the session holds it. */
async function release(ctx: SessionContext<Chatter>, nick: string): Promise<void> {
  if ((await ctx.presence.hget(NICKS, nick)) === ctx.session.id) await ctx.presence.hdel(NICKS, nick);
}

function fail(ctx: Context<Chatter>, error: string): void {
  ctx.send(JSON.stringify({ error }), { op: Op.Error });
}
