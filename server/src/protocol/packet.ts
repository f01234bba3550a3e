import { NekoError } from '../errors.js';
import { SERVER_GREETER } from './constants.js';

/** A packet's status code when it is a status packet (greeter `nekoconnect-server`: the op), else undefined. */
export function statusOf(greeter: string, op: number): number | undefined {
  return greeter === SERVER_GREETER ? op : undefined;
}

/** One packet as a plugin sees it: the op code and the data bytes. */
export interface Packet {
  /** The packet's op code, an integer from 0 to 4294967295. Its meaning is the plugin's to define. */
  readonly op: number;
  /** The packet's data bytes (may be empty). */
  readonly data: Buffer;
  /** `data.length`, kept from the original `ctx.len`. */
  readonly len: number;
  /** The data decoded as UTF-8. */
  text(): string;
  /**
   * The data parsed as JSON.
   * @throws NekoError `NEKO_ERR_CONTEXT_JSON` when the data is not valid JSON.
   */
  json<T = unknown>(): T;
}

/** The data of a packet decoded as UTF-8. */
export function packetText(data: Buffer): string {
  return data.toString('utf8');
}

/** The data of a packet parsed as JSON, or a `NEKO_ERR_CONTEXT_JSON` error. */
export function packetJson<T>(data: Buffer): T {
  try {
    return JSON.parse(packetText(data)) as T;
  } catch (err) {
    throw new NekoError('NEKO_ERR_CONTEXT_JSON', `packet data is not valid JSON: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check what the client sends, or read the data with ctx.text() or ctx.data.',
    });
  }
}

/**
 * A received packet's op and data, with the data decoded on request: the
 * `Packet` a plugin's `ctx.recv()` resolves with, and the base of the client
 * SDK's packets.
 */
export class ReceivedPacket {
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
    return packetText(this.data);
  }

  json<T = unknown>(): T {
    return packetJson<T>(this.data);
  }
}
