/** Who is on the other end of the connection. */
export interface SessionInfo {
  /** A server-unique id for the connection, e.g. `s-42`. */
  readonly id: string;
  /** The client's IP address as the socket reports it. */
  readonly remoteAddress: string;
  /** When the connection was accepted, in ms since the epoch. */
  readonly connectedAt: number;
  /**
   * What carries it: `tcp`, `tls`, `ws` (WebSocket), `wss` (WebSocket over
   * TLS), `memory` (the test harness), or `custom`. Plugins rarely need to
   * know: the frames and the chain are the same on every transport.
   */
  readonly transport: string;
  /**
   * The user of a client that authenticated with a per-user token (protocol
   * §15), as the token names it; undefined for one that used the shared secret.
   */
  readonly user?: string;
}
