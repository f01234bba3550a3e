import { NekoError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Router } from '../plugins/router.js';
import { SERVER_GREETER } from '../protocol/constants.js';
import type { Frame } from '../protocol/frame.js';
import type { Hasher } from '../protocol/hash.js';
import {
  RESUME_OP,
  RESUME_TOKEN_OP,
  ResumeOutcome,
  isExtensionRequest,
  resumeAnswerData,
} from '../protocol/resume.js';
import { STATUS_TEXT, Status } from '../protocol/status.js';
import { Session, type CloseReason, type SessionState } from '../session/session.js';
import type { Transport } from '../session/transport.js';
import type { Dispatcher } from './dispatcher.js';
import { SessionLink, type LinkContext, type LinkOwner } from './link.js';
import type { Limits } from './options.js';
import type { Resumption } from './resumption.js';

/** What every connection of one server shares. */
export interface ConnectionContext {
  readonly hasher: Hasher;
  readonly limits: Limits;
  readonly router: Router;
  readonly logger: Logger;
  /** Resume tokens, and the sessions waiting for their client. */
  readonly resumption: Resumption;
  /** What every session link shares (its `endDetached` ends a session that waits for its client). */
  readonly link: LinkContext;
  /** Hooks that run after a connection is gone (onLeave, onDisconnect, onReconnect): shutdown waits for them. */
  track(hooks: Promise<void>): void;
  /** A handshake ended: `failure` is the error code when it failed (undefined when the client authenticated). */
  handshakeEnded(failure: string | undefined): void;
}

/**
 * One client connection that `server.accept()` serves over a
 * transport: the caller feeds it the bytes the transport receives, and says
 * when the transport closed.
 */
export interface ServerConnection {
  /** The session id (`ctx.session.id`, `server.sessions()`); a resumed session's id from then on. */
  readonly id: string;
  /** `handshake` until the client authenticated, then `open`; `closed` once closed by either side. */
  readonly state: SessionState;
  /** Bytes received from the client. */
  receive(chunk: Uint8Array): void;
  /** The transport is gone (the client closed, or the network failed): the session ends. */
  transportClosed(): void;
  /**
   * The transport received something that cannot be this protocol's frames
   * (over WebSocket: a text message, or a message that is not exactly one
   * frame): the session answers 422 and closes, as for a malformed frame.
   */
  reject(reason: string): void;
}

/**
 * One client connection: its {@link Session} (protocol) and the
 * {@link SessionLink} it carries (the session as plugins know it, with its
 * dispatcher). Any transport can carry it: the TCP listener feeds socket
 * bytes to {@link receive}; an in-memory transport works the same way.
 *
 * It answers the `auth` packets of the resume extension itself (protocol
 * §14): a token request, and a resume, which swaps in the link of the
 * session that waited. When its connection drops without a closing status,
 * a session whose client asked for a token and whose plugins keep sessions
 * for a grace period is held for its client instead of ending.
 */
export class Connection implements LinkOwner {
  readonly session: Session;
  /** The connection's public side, which `server.accept()` and `server.onConnection()` hand out. */
  readonly handle: ServerConnection;
  readonly #context: ConnectionContext;
  readonly #onClose: (connection: Connection, leaving: Promise<void>, reason: CloseReason) => void;
  #link: SessionLink;
  /** Another connection resumed this one's session: closing this one does not end it. */
  #superseded = false;
  /** The client authenticated (a session closed before that ends a failed handshake). */
  #authenticated = false;

  constructor(
    id: string,
    transport: Transport,
    context: ConnectionContext,
    onClose: (connection: Connection, leaving: Promise<void>, reason: CloseReason) => void,
    connectedAt = Date.now(),
  ) {
    const { hasher, limits } = context;
    this.#context = context;
    this.#onClose = onClose;
    this.session = new Session(
      id,
      transport,
      hasher,
      limits,
      {
        onPacket: (frame) => this.#onPacket(frame),
        onAuthenticated: () => {
          this.#authenticated = true;
          context.handshakeEnded(undefined);
          if (context.logger.enabled('debug')) this.#logAuthenticated();
        },
        onClose: (reason) => this.#closed(reason),
      },
      connectedAt,
    );
    this.#link = new SessionLink(id, this.session, this, context.link);
    const session = this.session;
    const link = (): SessionLink => this.#link;
    this.handle = Object.freeze({
      get id(): string {
        return link().id;
      },
      get state(): SessionState {
        return session.state;
      },
      receive: (chunk: Uint8Array): void => this.receive(chunk),
      transportClosed: (): void => this.transportClosed(),
      reject: (reason: string): void => this.reject(reason),
    });
  }

  /** The session this connection carries (a resumed one's, after a resume). */
  get link(): SessionLink {
    return this.#link;
  }

  /** The session's dispatcher. */
  get dispatcher(): Dispatcher {
    return this.#link.dispatcher;
  }

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    this.session.receive(chunk);
  }

  /** The transport is gone (the client closed, or the network failed). */
  transportClosed(): void {
    this.session.transportClosed();
  }

  /** Bytes that cannot be frames of this protocol: 422, then close. */
  reject(reason: string): void {
    this.session.fail(Status.Malformed, new NekoError('NEKO_ERR_FRAME_MESSAGE', reason));
  }

  /** Another connection resumed this session before this one's drop was seen: it closes as a drop. */
  supersede(): void {
    this.#superseded = true;
    this.session.close();
  }

  #onPacket(frame: Frame): void {
    if (isExtensionRequest(frame.greeter, frame.op)) this.#extension(frame);
    else this.#link.dispatcher.enqueue(frame);
  }

  /** An `auth` packet after the handshake: a request of the resume extension (protocol §14). */
  #extension(frame: Frame): void {
    if (frame.op === RESUME_TOKEN_OP) {
      const token = this.#context.resumption.issue(this.#link);
      this.session.send(SERVER_GREETER, RESUME_TOKEN_OP, token);
    } else if (frame.op === RESUME_OP) {
      this.#resume(frame.data.toString('latin1'));
    } else {
      this.session.sendStatus(Status.NotFound);
    }
  }

  /** A client presents a resume token: the session it names carries on over this connection. */
  #resume(token: string): void {
    const { resumption, logger } = this.#context;
    // Anything already sent on this connection belongs to a new session: too late to become another.
    if (this.session.receivedCount !== 1) {
      this.session.send(SERVER_GREETER, RESUME_OP, resumeAnswerData(ResumeOutcome.NotFirst));
      return;
    }
    const link = resumption.take(token);
    // Its old connection may still look alive (a drop not noticed yet): it closes now, as a drop.
    link?.owner?.supersede();
    if (link === undefined || link.connected) {
      logger.info(`session ${this.#link.id}: resume refused: no session waits for that token`, {
        session: this.#link.id,
        code: 'NEKO_ERR_SESSION_RESUME_GONE',
      });
      this.session.send(SERVER_GREETER, RESUME_OP, resumeAnswerData(ResumeOutcome.Gone));
      return;
    }
    resumption.release(link);
    const fresh = this.#link;
    fresh.end();
    this.#link = link;
    const kept = link.kept;
    // The answer first, then what was kept during the gap, in order, then anything new.
    this.session.send(
      SERVER_GREETER,
      RESUME_OP,
      resumeAnswerData(ResumeOutcome.Resumed, resumption.issue(link)),
    );
    link.attach(this.session, this);
    logger.info(
      `session ${link.id} resumed from ${this.session.remoteAddress}; ${kept.packets} packet(s) kept during the gap sent first`,
      { session: link.id },
    );
    this.#context.track(link.dispatcher.sessionResumed());
  }

  #closed(reason: CloseReason): void {
    const link = this.#link;
    if (!this.#authenticated) {
      this.#context.handshakeEnded(reason.error?.code ?? 'closed');
    }
    if (reason.error) {
      const how =
        reason.status === undefined
          ? 'without a status'
          : `with ${reason.status} ${STATUS_TEXT[reason.status] ?? ''}`;
      this.#context.logger.warn(
        `session ${link.id} (${this.session.remoteAddress}) closed ${how}: ${reason.error.message}`,
        { session: link.id, remote: this.session.remoteAddress, code: reason.error.code },
      );
    } else if (this.#context.logger.enabled('debug')) {
      this.#logClosed(link.id, reason);
    }
    this.#onClose(this, this.#release(link, this.#superseded || isDrop(reason)), reason);
  }

  #logAuthenticated(): void {
    const { id, remoteAddress, user } = this.session;
    const as = user === undefined ? 'with the shared secret' : `as ${user} (per-user token)`;
    this.#context.logger.debug(`session ${id} (${remoteAddress}) authenticated ${as}`, {
      session: id,
      remote: remoteAddress,
    });
  }

  /** A close that is no fault (those are warnings): who closed it, and with which status. */
  #logClosed(id: string, reason: CloseReason): void {
    const remote = this.session.remoteAddress;
    const by =
      reason.initiator === 'client'
        ? 'by the client (or the network)'
        : reason.status === undefined
          ? 'by the server'
          : `by the server with ${reason.status} ${STATUS_TEXT[reason.status] ?? ''}`.trimEnd();
    const when = this.#authenticated ? '' : ' during the handshake';
    this.#context.logger.debug(`session ${id} (${remote}) closed ${by}${when}`, { session: id, remote });
  }

  /**
   * The connection is gone: the session waits for its client when the
   * connection dropped, the client asked for a resume token and a plugin it
   * joined keeps sessions for a grace period; else it ends. Resolves when
   * the plugins' hooks are done.
   */
  #release(link: SessionLink, dropped: boolean): Promise<void> {
    const { resumption, logger } = this.#context;
    const graceMs = dropped && link.resumable ? link.dispatcher.graceMs() : 0;
    if (graceMs > 0) {
      link.detach();
      resumption.hold(link, graceMs, (held) => this.#context.link.endDetached(held));
      logger.info(`session ${link.id} dropped; kept ${graceMs} ms for its client to resume it`, {
        session: link.id,
      });
      return link.dispatcher.sessionDropped();
    }
    resumption.forget(link);
    link.end();
    return link.dispatcher.sessionClosed();
  }
}

/** A connection that ended without a closing status and not by the server: it may be resumed. */
function isDrop(reason: CloseReason): boolean {
  return reason.initiator === 'client';
}
