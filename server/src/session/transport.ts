/**
 * A byte pipe to one client. The TCP listener wraps a `net.Socket`; the
 * testing package wraps an in-memory pair. The session writes to it and is
 * fed by it; it knows nothing else of the connection.
 */
export interface Transport {
  /** The client's address, for logs and `ctx.session.remoteAddress`. */
  readonly remoteAddress: string;
  /**
   * What carries the connection, as `ctx.session.transport` and the
   * dashboard show it: `tcp`, `tls`, `ws`, `wss`, `memory`… Default `custom`.
   */
  readonly kind?: string;
  /**
   * Bytes written but not yet handed to the network: what piles up while
   * the client does not read. The session checks it on every write against
   * `limits.maxPendingBytes`.
   */
  readonly pendingBytes: number;
  /** Queues bytes for the client. */
  write(bytes: Buffer): void;
  /** Flushes queued bytes, then closes the connection. */
  end(): void;
  /** Drops queued bytes and closes the connection at once. */
  destroy(): void;
  /**
   * Told whenever a plugin's `ctx.recv()` starts (`true`) or stops
   * (`false`) waiting for this connection's next packet: how the dashboard's
   * Playground shows the waits of its simulated clients. Other transports
   * leave it out (their sessions then carry nothing for it).
   */
  readonly watchRecv?: (greeter: string, waiting: boolean) => void;
}
