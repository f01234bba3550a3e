import type { Context } from 'nekoconnect';

/**
 * The todo list's op codes (see spec.conf). Data is JSON; each answer carries
 * the op of the packet it answers.
 */
export const Op = {
  /** data: `{"title"}` (1 to 500 characters); answers the new item `{"_id","title","done","createdAt"}` */
  Add: 1,
  /** data: nothing; answers every item, oldest first, as a JSON array */
  List: 2,
  /** data: `{"id"}`; marks the item done and answers `{"updated"}`: how many items changed */
  Done: 3,
  /** data: `{"id"}`; removes the item and answers `{"removed"}`: how many items went */
  Remove: 4,
  /** data: nothing; answers `{"open","done","added"}`: items open, items done, items ever added */
  Stats: 5,
  /** the answer to a bad packet (unknown op, data not JSON, a field missing): `{"error"}` */
  Error: 9,
} as const;

interface Item {
  title: string;
  done: boolean;
  createdAt: number;
}

const MAX_TITLE = 500;

/**
 * A shared todo list in the plugin's database. Every reply is sent after the
 * write it reports has resolved, so an acknowledged change survives a crash.
 */
export class Logic {
  async recv(ctx: Context): Promise<void> {
    let body: Record<string, unknown> = {};
    if (ctx.len > 0) {
      try {
        body = ctx.json<Record<string, unknown>>();
      } catch {
        return fail(ctx, 'the data must be JSON');
      }
    }
    switch (ctx.op) {
      case Op.Add:
        return this.#add(ctx, body);
      case Op.List: {
        const items = await ctx.db.find<Item>({}, { sort: { createdAt: 1 } });
        ctx.send(JSON.stringify(items), { op: Op.List });
        return;
      }
      case Op.Done: {
        const id = idOf(body);
        if (!id) return fail(ctx, 'DONE needs {"id"}');
        const updated = await ctx.db.update({ _id: id }, { $set: { done: true } });
        ctx.send(JSON.stringify({ updated }), { op: Op.Done });
        return;
      }
      case Op.Remove: {
        const id = idOf(body);
        if (!id) return fail(ctx, 'REMOVE needs {"id"}');
        const removed = await ctx.db.remove({ _id: id });
        ctx.send(JSON.stringify({ removed }), { op: Op.Remove });
        return;
      }
      case Op.Stats: {
        const [open, done, added] = await Promise.all([
          ctx.db.count({ done: false }),
          ctx.db.count({ done: true }),
          ctx.dbGet<number>('added'),
        ]);
        ctx.send(JSON.stringify({ open, done, added: added ?? 0 }), { op: Op.Stats });
        return;
      }
      default:
        return fail(ctx, `unknown op ${ctx.op}: use 1 (add), 2 (list), 3 (done), 4 (remove) or 5 (stats)`);
    }
  }

  async #add(ctx: Context, body: Record<string, unknown>): Promise<void> {
    const title = body.title;
    if (typeof title !== 'string' || title.trim() === '' || title.length > MAX_TITLE) {
      return fail(ctx, `ADD needs {"title"}: 1 to ${MAX_TITLE} characters`);
    }
    const item = await ctx.db.insert<Item>({ title: title.trim(), done: false, createdAt: Date.now() });
    // An atomic increment: clients adding at once, even on several servers sharing one database, lose no count.
    await ctx.dbIncr('added');
    ctx.send(JSON.stringify(item), { op: Op.Add });
  }
}

function idOf(body: Record<string, unknown>): string | undefined {
  return typeof body.id === 'string' && body.id !== '' ? body.id : undefined;
}

function fail(ctx: Context, error: string): void {
  ctx.send(JSON.stringify({ error }), { op: Op.Error });
}
