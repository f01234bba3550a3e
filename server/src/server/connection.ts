import type { Logger } from '../logging/logger.js';
import type { Router } from '../plugins/router.js';
import type { Hasher } from '../protocol/hash.js';
import { STATUS_TEXT } from '../protocol/status.js';
import { Session, type CloseReason, type SessionState } from '../session/session.js';
import type { Transport } from '../session/transport.js';
import { Dispatcher } from './dispatcher.js';
import type { Limits } from './options.js';

/** What every connection of one server shares. */
export interface ConnectionContext {
  readonly hasher: Hasher;
  readonly limits: Limits;
  readonly router: Router;
  readonly logger: Logger;
}

/**
 * One client connection that `server.accept()` serves over a
 * transport: the caller feeds it the bytes the transport receives, and says
 * when the transport closed.
 */
export interface ServerConnection {
  /** The session id (`ctx.session.id`, `server.sessions()`). */
  readonly id: string;
  /** `handshake` until the client authenticated, then `open`; `closed` once closed by either side. */
  readonly state: SessionState;
  /** Bytes received from the client. */
  receive(chunk: Uint8Array): void;
  /** The transport is gone (the client closed, or the network failed): the session ends. */
  transportClosed(): void;
}

/**
 * One client: its {@link Session} (protocol) wired to its {@link Dispatcher}
 * (plugins). Any transport can carry it: the TCP listener feeds socket bytes
 * to {@link receive}; an in-memory transport works the same way.
 */
export class Connection {
  readonly session: Session;
  readonly dispatcher: Dispatcher;
  /** The connection's public side, which `server.accept()` and `server.onConnection()` hand out. */
  readonly handle: ServerConnection;
  readonly #onClose: (connection: Connection, leaving: Promise<void>, reason: CloseReason) => void;

  constructor(
    id: string,
    transport: Transport,
    context: ConnectionContext,
    onClose: (connection: Connection, leaving: Promise<void>, reason: CloseReason) => void,
    connectedAt = Date.now(),
  ) {
    const { hasher, limits, router, logger } = context;
    this.#onClose = onClose;
    this.session = new Session(
      id,
      transport,
      hasher,
      limits,
      {
        onPacket: (frame) => this.dispatcher.enqueue(frame),
        onClose: (reason) => this.#closed(reason, logger),
      },
      connectedAt,
    );
    this.dispatcher = new Dispatcher(this.session, router, logger, { recvTimeoutMs: limits.recvTimeoutMs });
    const session = this.session;
    this.handle = Object.freeze({
      get id(): string {
        return session.id;
      },
      get state(): SessionState {
        return session.state;
      },
      receive: (chunk: Uint8Array): void => this.receive(chunk),
      transportClosed: (): void => this.transportClosed(),
    });
  }

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    this.session.receive(chunk);
  }

  /** The transport is gone (the client closed, or the network failed). */
  transportClosed(): void {
    this.session.transportClosed();
  }

  #closed(reason: CloseReason, logger: Logger): void {
    const leaving = this.dispatcher.sessionClosed();
    if (reason.error) {
      const how =
        reason.status === undefined
          ? 'without a status'
          : `with ${reason.status} ${STATUS_TEXT[reason.status] ?? ''}`;
      logger.warn(
        `session ${this.session.id} (${this.session.remoteAddress}) closed ${how}: ${reason.error.message}`,
        { session: this.session.id, code: reason.error.code },
      );
    }
    this.#onClose(this, leaving, reason);
  }
}
