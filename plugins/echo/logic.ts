import type { Context } from 'nekoconnect';

/**
 * The echo's op code. Every op is echoed the same way: Echo is the one to
 * try it with, and any other (0 to 4294967295) works alike.
 */
export const Op = {
  /** data: anything (text, JSON or bytes); answers the same data, with the op it was sent with */
  Echo: 1,
} as const;

/** Sends every packet back to its sender, with the same op and data. */
export class Logic {
  recv(ctx: Context): void {
    ctx.send(ctx.data, { op: ctx.op });
  }
}
