/** The status codes of the server's status packets (protocol §5). */
export const Status = {
  /** The plugin waits for the client's next packet. */
  Continue: 100,
  /** Auth accepted, or the handler finished without replying. */
  Ok: 200,
  /** Authentication error; the connection is closed. */
  AuthError: 400,
  /** No plugin answers to that greeter. */
  NotFound: 404,
  /** Handshake or idle timeout; the connection is closed. */
  Timeout: 408,
  /** Packet larger than the limit; the connection is closed. */
  TooLarge: 413,
  /** Malformed packet; the connection is closed. */
  Malformed: 422,
  /** The plugin's handler threw or rejected. */
  HandlerError: 500,
  /**
   * The plugin exists but is not loaded; or, as the last packet before the
   * server closes the connection, the server shuts down or drains.
   */
  Unavailable: 503,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

const CLOSING: ReadonlySet<number> = new Set([
  Status.AuthError,
  Status.Timeout,
  Status.TooLarge,
  Status.Malformed,
]);

/** True for the status codes after which the server closes the connection. */
export function isClosingStatus(code: number): boolean {
  return CLOSING.has(code);
}

/** The meaning of each status code, for logs and the client's errors. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'continue',
  200: 'ok',
  400: 'authentication error',
  404: 'no plugin answers to that greeter',
  408: 'timed out',
  413: 'packet too large',
  422: 'malformed packet',
  500: 'plugin handler failed',
  503: 'unavailable: plugin not loaded, or the server shuts down',
};
