import type { SendData } from '../context/context.js';
import { NekoError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Router } from '../plugins/router.js';
import { HASH_LENGTH } from '../protocol/hash.js';
import { HEADER_LENGTH } from '../protocol/constants.js';
import { RANDOM_LENGTH } from '../protocol/random.js';
import type { SessionInfo } from '../session/info.js';
import type { Session } from '../session/session.js';
import { Dispatcher, type DispatchTarget } from './dispatcher.js';

/** A packet sent to a session while no connection carries it. */
export interface KeptPacket {
  readonly greeter: string;
  readonly op: number;
  readonly data: SendData;
}

/** What every link of one server shares (made once per server, not per connection). */
export interface LinkContext {
  readonly router: Router;
  readonly logger: Logger;
  /** Options of each link's dispatcher. */
  readonly dispatch: { readonly recvTimeoutMs: number };
  /** Bytes kept for a detached session before it ends (`limits.maxPendingBytes`). */
  readonly maxKeptBytes: number;
  /** Ends a detached session: its grace is cut short (too much kept, or a plugin closed it). */
  readonly endDetached: (link: SessionLink, error?: NekoError) => void;
}

/** What a link needs to be told by whoever owns the connection that carries it. */
export interface LinkOwner {
  /** Another connection resumed this session: close this one quietly, without ending the session. */
  supersede(): void;
}

/** What becomes of a packet sent to a link: sent, kept for a resume, or not sendable (the session is over). */
type LinkState = 'attached' | 'detached' | 'ended';

/**
 * A session as plugins know it, apart from the connection that carries it:
 * its id, its dispatcher (the plugins it joined, their handler runs) and,
 * while its connection is up, that connection's {@link Session}. Most links
 * live and die with one connection. A resumable one outlives a drop: while
 * it waits for its client (`detached`), what plugins send to it is kept, up
 * to `maxPendingBytes`, and {@link attach} hands it to the new connection in
 * order before anything new.
 */
export class SessionLink implements DispatchTarget {
  readonly id: string;
  readonly dispatcher: Dispatcher;
  /** The current resume token, if the client asked for one (kept by the server's resumption registry). */
  token: string | undefined;
  /** True once the client asked for a resume token: a drop then keeps the session for a grace period. */
  resumable = false;
  readonly #context: LinkContext;
  #session: Session | undefined;
  #owner: LinkOwner | undefined;
  #state: LinkState = 'attached';
  /** Made on first use, anew when another connection carries the session. */
  #info: SessionInfo | undefined;
  #sent = 0;
  /** What was sent while detached: made on first use (most sessions never detach). */
  #kept: { packets: KeptPacket[]; bytes: number } | undefined;

  constructor(id: string, session: Session, owner: LinkOwner, context: LinkContext) {
    this.id = id;
    this.#session = session;
    this.#owner = owner;
    this.#context = context;
    this.dispatcher = new Dispatcher(this, context.router, context.logger, context.dispatch);
  }

  /** Who the session is: its id, and the address and accept time of the connection that carries it (or last did). */
  get info(): SessionInfo {
    return (this.#info ??= infoOf(this.id, this.#session!));
  }

  /** The connection carrying the session now, if any. */
  get session(): Session | undefined {
    return this.#session;
  }

  /** The owner of the connection carrying the session now, if any. */
  get owner(): LinkOwner | undefined {
    return this.#owner;
  }

  /** True while a connection carries the session and it is open. */
  get isOpen(): boolean {
    return this.#session !== undefined && this.#session.isOpen;
  }

  /** False while the session waits for its client to resume it (packets sent to it are kept). */
  get connected(): boolean {
    return this.#state !== 'detached';
  }

  /** True once the session is over for good. */
  get ended(): boolean {
    return this.#state === 'ended';
  }

  /** Packets sent or kept for the client through this link (the liveness rule compares these counts). */
  get sentCount(): number {
    return this.#sent;
  }

  /** The packets kept for the client while it was away, in order (a handover to another process carries them). */
  keptPackets(): readonly KeptPacket[] {
    return this.#kept?.packets ?? [];
  }

  /** Packets kept for the client while it was away, and their size on the wire. */
  get kept(): { readonly packets: number; readonly bytes: number } {
    return { packets: this.#kept?.packets.length ?? 0, bytes: this.#kept?.bytes ?? 0 };
  }

  send(greeter: string, op: number, data: SendData): boolean {
    if (this.#state === 'attached') {
      if (!this.#session!.send(greeter, op, data)) return false;
      this.#sent++;
      return true;
    }
    if (this.#state === 'ended') return false;
    const size = wireSize(greeter, op, data);
    const kept = (this.#kept ??= { packets: [], bytes: 0 });
    const { maxKeptBytes } = this.#context;
    if (kept.bytes + size > maxKeptBytes) {
      this.#context.endDetached(
        this,
        new NekoError(
          'NEKO_ERR_SESSION_RESUME_OVERFLOW',
          `session ${this.id} was sent more than limits.maxPendingBytes (${maxKeptBytes}) while it waited to be resumed: ${kept.bytes} bytes kept, ${size} more`,
        ),
      );
      return false;
    }
    kept.packets.push({ greeter, op, data });
    kept.bytes += size;
    this.#sent++;
    return true;
  }

  /** A status concerns one connection's exchange: while detached it is not kept. */
  sendStatus(code: number): boolean {
    if (this.#state !== 'attached' || !this.#session!.sendStatus(code)) return false;
    this.#sent++;
    return true;
  }

  /** Ends the session (`ctx.close()`): closes its connection, which ends it, or ends it while detached. */
  close(): void {
    if (this.#state === 'attached') this.#session!.close();
    else if (this.#state === 'detached') this.#context.endDetached(this);
  }

  /** The connection dropped and the session waits for its client: packets are kept from now on. */
  detach(): void {
    if (this.#state !== 'attached') return;
    this.#state = 'detached';
    // Who it was stays known while no connection carries it.
    this.#info ??= infoOf(this.id, this.#session!);
    this.#session = undefined;
    this.#owner = undefined;
  }

  /**
   * A new connection carries the session: the packets kept during the gap
   * are sent on it first, in order.
   */
  attach(session: Session, owner: LinkOwner): void {
    if (this.#state !== 'detached') return;
    this.#state = 'attached';
    this.#session = session;
    this.#owner = owner;
    this.#info = undefined;
    const kept = this.#kept;
    this.#kept = undefined;
    for (const packet of kept?.packets ?? []) {
      if (!session.send(packet.greeter, packet.op, packet.data)) break;
    }
  }

  /** The session is over: nothing more is sent or kept. */
  end(): void {
    if (this.#session) this.#info ??= infoOf(this.id, this.#session);
    this.#state = 'ended';
    this.#session = undefined;
    this.#owner = undefined;
    this.#kept = undefined;
  }
}

function infoOf(id: string, session: Session): SessionInfo {
  return Object.freeze({
    id,
    remoteAddress: session.remoteAddress,
    connectedAt: session.connectedAt,
    transport: session.transport,
    ...(session.user === undefined ? {} : { user: session.user }),
  });
}

/** The size a packet will have on the wire: header, fields, a fresh random and a hash. */
function wireSize(greeter: string, op: number, data: SendData): number {
  const dataBytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  return HEADER_LENGTH + greeter.length + String(op).length + RANDOM_LENGTH + dataBytes + HASH_LENGTH;
}
