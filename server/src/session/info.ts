/** Who is on the other end of the connection. */
export interface SessionInfo {
  /** A server-unique id for the connection, e.g. `s-42`. */
  readonly id: string;
  /** The client's IP address as the socket reports it. */
  readonly remoteAddress: string;
  /** When the connection was accepted, in ms since the epoch. */
  readonly connectedAt: number;
}
