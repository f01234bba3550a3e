import { randomString } from '../protocol/random.js';
import type { SessionLink } from './link.js';

/** Where a cluster records which process holds the session of each token (the cluster bus). */
export interface TokenRecord {
  tokenIssued(token: string, sessionId: string): Promise<void>;
  tokenDropped(token: string): Promise<void>;
}

/**
 * The server's resume tokens and the sessions that wait for their client
 * (protocol §14). A token is 132 random bits, bound to one session, and
 * single-use: presenting it takes it out, whatever the outcome, and asking
 * for a new one voids the previous. It lives as long as its session, so it
 * expires with it: when the session ends, or when its grace period runs out.
 * It is only ever presented inside an authenticated connection, so it is of
 * no use to anyone without the secret.
 */
export class Resumption {
  readonly #tokens = new Map<string, SessionLink>();
  /** Detached sessions in their grace period, with the timer that ends it and when it does (ms since the epoch). */
  readonly #waiting = new Map<SessionLink, { timer: NodeJS.Timeout; until: number }>();
  /** In a cluster: the record of tokens the other processes look in. */
  readonly #record: TokenRecord | undefined;

  constructor(record?: TokenRecord) {
    this.#record = record;
  }

  /** A fresh token for a session; the one it had before stops working. */
  issue(link: SessionLink): string {
    if (link.token !== undefined) this.#drop(link.token);
    const token = randomString().toString('latin1');
    link.token = token;
    link.resumable = true;
    this.#tokens.set(token, link);
    void this.#record?.tokenIssued(token, link.id);
    return token;
  }

  /** The session a token was issued to, if it is still alive; the token is used up either way. */
  take(token: string): SessionLink | undefined {
    const link = this.#tokens.get(token);
    if (link === undefined) return undefined;
    this.#drop(token);
    link.token = undefined;
    return link.ended ? undefined : link;
  }

  /** A session dropped: it waits `graceMs` for its client, then `expire` ends it. */
  hold(link: SessionLink, graceMs: number, expire: (link: SessionLink) => void): void {
    this.release(link);
    const timer = setTimeout(() => {
      this.#waiting.delete(link);
      expire(link);
    }, graceMs);
    timer.unref();
    this.#waiting.set(link, { timer, until: Date.now() + graceMs });
  }

  /** What is left of a waiting session's grace period, in ms; 0 when it does not wait. */
  graceLeft(link: SessionLink): number {
    const waiting = this.#waiting.get(link);
    return waiting === undefined ? 0 : Math.max(0, waiting.until - Date.now());
  }

  /** The session no longer waits (resumed, or ended): its grace timer stops. */
  release(link: SessionLink): void {
    const waiting = this.#waiting.get(link);
    if (waiting === undefined) return;
    clearTimeout(waiting.timer);
    this.#waiting.delete(link);
  }

  /** The session is over: its token stops working and its grace timer stops. */
  forget(link: SessionLink): void {
    if (link.token !== undefined) this.#drop(link.token);
    link.token = undefined;
    this.release(link);
  }

  #drop(token: string): void {
    this.#tokens.delete(token);
    void this.#record?.tokenDropped(token);
  }

  /** The sessions waiting for their client now. */
  waiting(): SessionLink[] {
    return [...this.#waiting.keys()];
  }
}
