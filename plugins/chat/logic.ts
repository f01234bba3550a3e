import type { Context, SessionContext } from 'nekoconnect';

/** The chat's op codes (see spec.conf). */
export const Op = {
  Nick: 1,
  Say: 2,
  Who: 3,
  Joined: 4,
  Left: 5,
  Renamed: 6,
  Error: 9,
} as const;

const NICK = /^[\x21-\x7e]{1,32}$/;
const MAX_TEXT = 2000;

function nickOf(ctx: SessionContext): string {
  return String(ctx.state.nick);
}

/**
 * A chat room: everyone who sends this plugin a packet is in the room until
 * they disconnect. Nicknames live in `ctx.state`, so they survive a reload.
 */
export class Logic {
  #guests = 0;

  onJoin(ctx: SessionContext): void {
    ctx.state.nick = `guest-${++this.#guests}`;
    ctx.broadcast(JSON.stringify({ nick: nickOf(ctx) }), { op: Op.Joined, except: ctx.session.id });
  }

  onLeave(ctx: SessionContext): void {
    ctx.broadcast(JSON.stringify({ nick: nickOf(ctx) }), { op: Op.Left });
  }

  recv(ctx: Context): void {
    switch (ctx.op) {
      case Op.Nick:
        return this.#nick(ctx);
      case Op.Say:
        return this.#say(ctx);
      case Op.Who:
        ctx.send(JSON.stringify({ nicks: ctx.sessions().map((s) => String(s.state.nick)) }), { op: Op.Who });
        return;
      default:
        fail(ctx, `unknown op ${ctx.op}: use 1 (nick), 2 (say) or 3 (who)`);
    }
  }

  #nick(ctx: Context): void {
    const nick = ctx.text();
    if (!NICK.test(nick)) return fail(ctx, 'a nickname is 1 to 32 printable ASCII characters, no spaces');
    if (ctx.sessions().some((s) => s.id !== ctx.session.id && s.state.nick === nick)) {
      return fail(ctx, `the nickname ${nick} is taken`);
    }
    const from = nickOf(ctx);
    ctx.state.nick = nick;
    ctx.send(JSON.stringify({ nick }), { op: Op.Nick });
    ctx.broadcast(JSON.stringify({ from, nick }), { op: Op.Renamed, except: ctx.session.id });
  }

  #say(ctx: Context): void {
    const text = ctx.text();
    if (text.length === 0 || text.length > MAX_TEXT)
      return fail(ctx, `a message is 1 to ${MAX_TEXT} characters`);
    ctx.broadcast(JSON.stringify({ nick: nickOf(ctx), text }), { op: Op.Say, except: ctx.session.id });
  }
}

function fail(ctx: Context, error: string): void {
  ctx.send(JSON.stringify({ error }), { op: Op.Error });
}
