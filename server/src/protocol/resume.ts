import { AUTH_GREETER, SERVER_GREETER } from './constants.js';

/**
 * The resumable-sessions extension (protocol §14): after the handshake, a
 * client asks for a resume token (an `auth` packet with op 201); after a
 * drop, on a new connection, its first packet after the handshake presents
 * the token (op 202) and the session carries on there. The server answers
 * each with a `nekoconnect-server` packet of the same op. A client that
 * never sends these ops never sees them.
 */

/** Op of the `auth` packet that asks for a resume token; the answer's data is the token. */
export const RESUME_TOKEN_OP = 201;

/** Op of the `auth` packet that presents a token on a new connection; the answer says whether it resumed. */
export const RESUME_OP = 202;

/** What the answer to a resume (op 202) starts with. */
export const ResumeOutcome = {
  /** The session resumed on this connection; a fresh token follows, then the packets kept during the gap. */
  Resumed: 200,
  /** The resume packet was not the first packet after the handshake: nothing changed, this connection goes on as a new session. */
  NotFirst: 409,
  /** No session waits for this token (unknown, used, its grace period over, or too much was kept for it): this connection goes on as a new session. */
  Gone: 410,
} as const;

/** A resume answer, read. */
export type ResumeAnswer =
  { readonly resumed: true; readonly token: string } | { readonly resumed: false; readonly code: number };

/** True for an `auth` packet of the extension (ops 201 and up), which the server handles itself. */
export function isExtensionRequest(greeter: string, op: number): boolean {
  return greeter === AUTH_GREETER && op > 200;
}

/** True for the server's answer to an extension request (greeter `nekoconnect-server`, op 201 or 202). */
export function isExtensionAnswer(greeter: string, op: number): boolean {
  return greeter === SERVER_GREETER && (op === RESUME_TOKEN_OP || op === RESUME_OP);
}

/** The data of a resume answer: `200 <token>` when resumed, else the outcome's code. */
export function resumeAnswerData(outcome: number, token?: string): string {
  return outcome === ResumeOutcome.Resumed ? `${outcome} ${token}` : String(outcome);
}

/** Reads the data of a resume answer; anything unexpected reads as not resumed. */
export function parseResumeAnswer(data: string): ResumeAnswer {
  const match = /^(\d{3})(?: ([!-~]{16,255}))?$/.exec(data);
  if (!match) return { resumed: false, code: 0 };
  const code = Number(match[1]);
  if (code === ResumeOutcome.Resumed && match[2] !== undefined) return { resumed: true, token: match[2] };
  return { resumed: false, code };
}
