import type { NekoError } from '../errors.js';
import { UNAUTHENTICATED_HASH } from './constants.js';
import { encodeFrame } from './encoder.js';
import type { Frame } from './frame.js';
import type { Hasher } from './hash.js';
import { NonceWindow } from './nonce-window.js';
import { statusOf } from './packet.js';
import { randomString } from './random.js';
import { isExtensionAnswer, isExtensionRequest } from './resume.js';
import { isClosingStatus } from './status.js';

/** A packet a client sends: what the chain needs of it. */
export interface ChainPacket {
  readonly greeter: string;
  readonly op: number;
  readonly data: string | Uint8Array;
  /**
   * What answers it, for a request that said so (`{ replyOp }`, `match`):
   * only a plugin packet from its greeter that this rule accepts. Without
   * it, any packet from its greeter answers it.
   */
  readonly reply?: ReplyRule;
}

/** Which plugin packets answer a request: see {@link replyRule}. */
export interface ReplyRule {
  /** The ops that answer it; undefined: any op. */
  readonly ops: readonly number[] | undefined;
  /** Called with a plugin packet from the request's greeter whose op fits; true: it is the answer. */
  readonly match: ((frame: Frame) => boolean) | undefined;
}

/**
 * The reply rule of a request's `{ replyOp, match }` options, or undefined
 * when neither is given (then the next packet from its greeter answers it).
 * `replyOp` is an op or a list of ops. A `match` that throws rejects the packet.
 * @throws TypeError when `replyOp` holds something that is not an op.
 */
export function replyRule(
  replyOp: number | readonly number[] | undefined,
  match: ((frame: Frame) => boolean) | undefined,
): ReplyRule | undefined {
  if (replyOp === undefined && match === undefined) return undefined;
  const ops = replyOp === undefined ? undefined : typeof replyOp === 'number' ? [replyOp] : [...replyOp];
  for (const op of ops ?? []) {
    if (!Number.isInteger(op) || op < 0 || op > 0xffffffff) {
      throw new TypeError(
        `replyOp must be an op (an integer from 0 to 4294967295) or a list of them; got ${String(op)}`,
      );
    }
  }
  return { ops, match };
}

/** True when a plugin packet answers `packet` by the chain's rule (see {@link ClientChain}). */
export function fitsReply(packet: ChainPacket, frame: Frame): boolean {
  if (packet.greeter !== frame.greeter) return false;
  const rule = packet.reply;
  if (rule === undefined) return true;
  if (rule.ops !== undefined && !rule.ops.includes(frame.op)) return false;
  if (rule.match === undefined) return true;
  try {
    return rule.match(frame);
  } catch {
    return false;
  }
}

/** What {@link ClientChain.nextWrite} hands out: the frame to write, or why the packet cannot travel. */
export type ChainWrite<T extends ChainPacket> =
  | { readonly packet: T; readonly frame: Buffer; readonly error?: undefined }
  | { readonly packet: T; readonly frame?: undefined; readonly error: NekoError };

/** What a server frame is, as {@link ClientChain.receive} tells it. */
export type ChainArrival<T extends ChainPacket> =
  | {
      /**
       * It carries `H` of no random this client sent (and it is no closing
       * status with the hash `server`): not from the server that knows the
       * secret. Nothing of it was kept, and its random was not hashed; the
       * client should close the connection.
       */
      readonly kind: 'forged';
    }
  | {
      readonly kind: 'packet';
      /** For a status packet, its code; undefined for a plugin's packet. */
      readonly status: number | undefined;
      /** A closing status (400, 408, 413, 422): the server closes the connection; its random is not kept. */
      readonly closing: boolean;
      /**
       * The packet in flight it answers, taken out of the in-flight list: for
       * a status, the oldest one; for a plugin's packet, the oldest one to its
       * greeter whose reply rule (if any) accepts it. Undefined when it answers none (a push).
       */
      readonly answers: T | undefined;
    };

const UNAUTHENTICATED_HASH_BYTES = Buffer.from(UNAUTHENTICATED_HASH, 'latin1');

/**
 * The client side of the nonce chain (protocol §4, §11), without transport
 * or timers: packets go in with {@link enqueue}, frames to write come out of
 * {@link nextWrite}, and each server frame goes through {@link receive},
 * which checks it and says which packet it answers. The SDK's `NekoClient`
 * and the fake client of `@nekoconnect/testing` are both built on it.
 *
 * - **Lockstep**: every packet carries `H` of the newest server random
 *   received, and each server random is used once, so a packet waits in the
 *   queue until the server has sent a fresh one (it sends one after every
 *   packet it accepts). Before the handshake, the first packet goes out
 *   alone, hashed with its own random: the shape of an auth packet.
 * - **Checking the server**: every server packet must carry `H` of a random
 *   this client sent (the newest 64 are kept; `H` is computed lazily and the
 *   randoms older than a match are dropped). Only a closing status may carry
 *   `server` instead. A server random is hashed only once its packet passed
 *   that check, so an injected packet cannot use the client as a hashing
 *   oracle (protocol §5, mirrored).
 * - **Answers**: the answer to an extension request (protocol §14: a
 *   `nekoconnect-server` packet of op 201 or 202) answers the oldest such
 *   request of its op; a status answers the oldest packet in flight; a plugin's
 *   packet answers the oldest packet in flight to its greeter that it fits:
 *   a packet sent with a reply rule (`{ replyOp }`, `match`) is answered only
 *   by a packet its rule accepts, so a push of another op passes it by and
 *   answers nothing.
 */
export class ClientChain<T extends ChainPacket = ChainPacket> {
  readonly #hasher: Hasher;
  /** Randoms this client sent, that the server's packets may carry `H` of. */
  readonly #sent: NonceWindow;
  /** The newest server random not yet used. */
  #serverRandom: Buffer | undefined;
  #authenticated = false;
  /** Waiting for a fresh server random. */
  readonly #queue: T[] = [];
  /** Written, not yet answered. */
  readonly #inFlight: T[] = [];

  constructor(hasher: Hasher) {
    this.#hasher = hasher;
    this.#sent = new NonceWindow(hasher);
  }

  /** True once a server packet has carried `H` of a random this client sent (the handshake's answer). */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /** Queues a packet; {@link nextWrite} hands out its frame when its turn comes. */
  enqueue(packet: T): void {
    this.#queue.push(packet);
  }

  /**
   * The next queued packet that may be written now, with its frame; the
   * packet is then in flight. Undefined when the queue is empty or the
   * client holds no unused server random (before the handshake: while the
   * first packet is in flight). A packet whose fields cannot travel comes
   * back with the encoder's `NEKO_ERR_FRAME_*` error instead, out of the
   * queue; the server random stays unused for the next one.
   */
  nextWrite(): ChainWrite<T> | undefined {
    const serverRandom = this.#serverRandom;
    if (serverRandom === undefined && (this.#authenticated || this.#inFlight.length > 0)) return undefined;
    const packet = this.#queue.shift();
    if (packet === undefined) return undefined;
    const random = randomString();
    let frame: Buffer;
    try {
      frame = encodeFrame({
        greeter: packet.greeter,
        op: packet.op,
        random,
        data: packet.data,
        hash: this.#hasher.bytes(serverRandom ?? random),
      });
    } catch (err) {
      return { packet, error: err as NekoError };
    }
    this.#serverRandom = undefined;
    this.#sent.add(random);
    this.#inFlight.push(packet);
    return { packet, frame };
  }

  /** Checks a server frame, keeps its random when it may be used, and says what it answers. */
  receive(frame: Frame): ChainArrival<T> {
    const status = statusOf(frame.greeter, frame.op);
    const closing = status !== undefined && isClosingStatus(status);
    if (closing && frame.hash.equals(UNAUTHENTICATED_HASH_BYTES)) {
      // The server is closing the connection: nothing more will be sent, so its random is not kept.
    } else if (this.#sent.recognize(frame.hash)) {
      this.#authenticated = true;
      // A closing status to an authenticated client carries H of its random; its own random is never used.
      if (!closing) this.#serverRandom = Buffer.from(frame.random);
    } else {
      return { kind: 'forged' };
    }
    const index = isExtensionAnswer(frame.greeter, frame.op)
      ? this.#inFlight.findIndex((p) => isExtensionRequest(p.greeter, p.op) && p.op === frame.op)
      : status !== undefined
        ? this.#inFlight.length > 0
          ? 0
          : -1
        : this.#inFlight.findIndex((p) => fitsReply(p, frame));
    const answers = index >= 0 ? this.#inFlight.splice(index, 1)[0] : undefined;
    return { kind: 'packet', status, closing, answers };
  }

  /** Drops a packet from the queue or the in-flight list (a request that gave up waiting). */
  forget(packet: T): void {
    for (const list of [this.#queue, this.#inFlight]) {
      const index = list.indexOf(packet);
      if (index >= 0) list.splice(index, 1);
    }
  }

  /** Empties the queue and the in-flight list (the connection closed); returns what they held. */
  drop(): { inFlight: T[]; queued: T[] } {
    const dropped = { inFlight: [...this.#inFlight], queued: [...this.#queue] };
    this.#inFlight.length = 0;
    this.#queue.length = 0;
    return dropped;
  }
}
