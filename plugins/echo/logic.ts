import type { Context } from 'nekoconnect';

/** Sends every packet back to its sender, with the same op and data. */
export class Logic {
  recv(ctx: Context): void {
    ctx.send(ctx.data, { op: ctx.op });
  }
}
