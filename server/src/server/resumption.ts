import { randomString } from '../protocol/random.js';
import type { SessionLink } from './link.js';

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
  /** Detached sessions in their grace period, with the timer that ends it. */
  readonly #waiting = new Map<SessionLink, NodeJS.Timeout>();

  /** A fresh token for a session; the one it had before stops working. */
  issue(link: SessionLink): string {
    if (link.token !== undefined) this.#tokens.delete(link.token);
    const token = randomString().toString('latin1');
    link.token = token;
    link.resumable = true;
    this.#tokens.set(token, link);
    return token;
  }

  /** The session a token was issued to, if it is still alive; the token is used up either way. */
  take(token: string): SessionLink | undefined {
    const link = this.#tokens.get(token);
    if (link === undefined) return undefined;
    this.#tokens.delete(token);
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
    this.#waiting.set(link, timer);
  }

  /** The session no longer waits (resumed, or ended): its grace timer stops. */
  release(link: SessionLink): void {
    const timer = this.#waiting.get(link);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#waiting.delete(link);
  }

  /** The session is over: its token stops working and its grace timer stops. */
  forget(link: SessionLink): void {
    if (link.token !== undefined) this.#tokens.delete(link.token);
    link.token = undefined;
    this.release(link);
  }

  /** The sessions waiting for their client now. */
  waiting(): SessionLink[] {
    return [...this.#waiting.keys()];
  }
}
