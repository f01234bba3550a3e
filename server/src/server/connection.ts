import type { RemoteResume } from '../cluster/bus.js';
import { NekoError } from '../errors.js';
import { errorMessage } from '../format.js';
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
import { watchRecv } from './dispatcher.js';
import { decodeHandover, type SessionHandover } from './handover.js';
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
  /** In a cluster: what a resume whose token is unknown here asks of the other processes. */
  readonly cluster: ClusterResume | undefined;
}

/** How a resume reaches a session held by another process of the cluster. */
export interface ClusterResume {
  /** Asks the process holding the token's session to hand it over. */
  resumeRemote(token: string): Promise<RemoteResume>;
  /** The plugins of this process take in a session that moved here from process `from` (members at once); resolves once the cluster routes to it. */
  moveIn(link: SessionLink, handover: SessionHandover, from: string): Promise<void>;
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
  /** While another process hands a session over: the packets that came meanwhile, dispatched after. */
  #held: Frame[] | undefined;

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
    // The Playground's transports watch the ctx.recv() waits of their sessions; others have no watcher.
    if (transport.watchRecv !== undefined) watchRecv(this.#link.dispatcher, transport.watchRecv);
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
    if (this.#held !== undefined) this.#held.push(frame);
    else if (isExtensionRequest(frame.greeter, frame.op)) this.#extension(frame);
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
    if (link === undefined && this.#context.cluster) {
      void this.#resumeFromCluster(this.#context.cluster, token);
      return;
    }
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

  /**
   * A token unknown here, in a cluster: the process holding its session is
   * asked to hand it over, and the session carries on over this connection
   * (same id, state and groups; what was kept for it during the gap sent
   * right after the answer). Packets the client sends meanwhile wait.
   */
  async #resumeFromCluster(cluster: ClusterResume, token: string): Promise<void> {
    const { logger } = this.#context;
    const held: Frame[] = (this.#held = []);
    let result: RemoteResume | undefined;
    try {
      result = await cluster.resumeRemote(token);
    } catch (err) {
      logger.warn(`session ${this.#link.id}: resume refused: ${errorMessage(err)}`, {
        session: this.#link.id,
        code: (err as NekoError).code,
      });
    }
    let handover: SessionHandover | undefined;
    if (result?.outcome === 'moved') {
      try {
        handover = decodeHandover(result.handover);
      } catch (err) {
        logger.error(`session ${this.#link.id}: ${errorMessage(err)}`, {
          session: this.#link.id,
          code: (err as NekoError).code,
          error: err,
        });
      }
    }
    if (handover !== undefined && result?.outcome === 'moved') {
      const moved = this.#adopt(cluster, handover, result.processId);
      // As on one process, onReconnect starts before the client's next packet is handled.
      if (moved !== undefined) {
        const link = this.#link;
        let hooks: Promise<void> = Promise.resolve();
        const started = moved.then(() => {
          hooks = link.dispatcher.sessionResumed();
        });
        this.#context.track(started.then(() => hooks));
        await started;
      }
    } else {
      if (result !== undefined) this.#logRefusal(result);
      if (this.session.isOpen) {
        this.session.send(SERVER_GREETER, RESUME_OP, resumeAnswerData(ResumeOutcome.Gone));
      }
    }
    this.#held = undefined;
    for (const frame of held) this.#onPacket(frame);
  }

  /** Why no process handed the session over, in the log. */
  #logRefusal(result: RemoteResume): void {
    const id = this.#link.id;
    const { logger } = this.#context;
    if (result.outcome === 'holder-gone') {
      const host = result.hostname === undefined ? '' : ` on ${result.hostname}`;
      logger.warn(
        `session ${id}: resume refused: the process that held the session (${result.processId}${host}) is gone; the client starts a new session`,
        { session: id, code: 'NEKO_ERR_SESSION_RESUME_HOLDER_GONE' },
      );
    } else {
      const why =
        result.outcome === 'kept'
          ? `process ${result.processId}, which held it, did not hand it over`
          : 'no session of the cluster waits for that token';
      logger.info(`session ${id}: resume refused: ${why}`, {
        session: id,
        code: 'NEKO_ERR_SESSION_RESUME_GONE',
      });
    }
  }

  /**
   * A session handed over by another process carries on over this
   * connection. @returns what resolves once this process's plugins took it
   * in and the cluster routes to it, or undefined when the connection closed
   * meanwhile (the session then waits here for the rest of its grace)
   */
  #adopt(cluster: ClusterResume, handover: SessionHandover, from: string): Promise<void> | undefined {
    const { resumption, logger } = this.#context;
    const fresh = this.#link;
    fresh.end();
    const link = new SessionLink(handover.sessionId, this.session, this, this.#context.link);
    this.#link = link;
    // Members of their plugins here at once, so that nothing sent to the session from now on is lost.
    const moved = cluster.moveIn(link, handover, from);
    if (!this.session.isOpen) {
      // The client went away while the session moved: it waits here for what was left of its grace
      // (its plugins saw it disconnect on the process that held it), then ends as it would have there.
      link.detach();
      for (const packet of handover.kept) link.send(packet.greeter, packet.op, packet.data);
      logger.info(`session ${link.id} moved here from process ${from} as its connection closed`, {
        session: link.id,
      });
      this.#context.track(moved);
      resumption.hold(link, handover.graceLeftMs, (held) => this.#context.link.endDetached(held));
      return undefined;
    }
    // The answer first, then what was kept during the gap, in order, then anything new.
    this.session.send(
      SERVER_GREETER,
      RESUME_OP,
      resumeAnswerData(ResumeOutcome.Resumed, resumption.issue(link)),
    );
    for (const packet of handover.kept) link.send(packet.greeter, packet.op, packet.data);
    logger.info(
      `session ${link.id} resumed from ${this.session.remoteAddress}, moved from process ${from}; ${handover.kept.length} packet(s) kept during the gap sent first`,
      { session: link.id },
    );
    return moved;
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
