import { NekoError } from '../errors.js';
import type { Packet } from './context.js';

/** A packet as a plugin sees it: op, data, and the data decoded on request. */
export class ReceivedPacket implements Packet {
  readonly op: number;
  readonly data: Buffer;

  constructor(op: number, data: Buffer) {
    this.op = op;
    this.data = data;
  }

  get len(): number {
    return this.data.length;
  }

  text(): string {
    return this.data.toString('utf8');
  }

  json<T = unknown>(): T {
    try {
      return JSON.parse(this.text()) as T;
    } catch (err) {
      throw new NekoError(
        'NEKO_ERR_CONTEXT_JSON',
        `packet data is not valid JSON: ${(err as Error).message}`,
        { cause: err, hint: 'Check what the client sends, or read the data with ctx.text() or ctx.data.' },
      );
    }
  }
}
