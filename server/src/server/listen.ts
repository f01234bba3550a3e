import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server, Socket } from 'node:net';
import { NekoError, type NekoErrorCode } from '../errors.js';

/**
 * Starts a listener (TCP, TLS or HTTP) on `host:port`. Resolves once it
 * listens; rejects with the error it failed with (`EADDRINUSE`, ...), as a
 * `listen()` callback never would.
 */
export async function listenOn(listener: Server, port: number, host: string): Promise<void> {
  listener.listen(port, host);
  await Promise.race([
    once(listener, 'listening'),
    once(listener, 'error').then(([err]) => Promise.reject(err as Error)),
  ]);
}

/** What a listen error says: its errno code (`EADDRINUSE`) when it has one. */
export function listenFailure(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** How {@link listenOrThrow} reports a failure. */
export interface ListenFailure {
  /** The code of the error thrown. */
  readonly code: NekoErrorCode;
  /** What comes before `host:port` in the message, e.g. `the dashboard cannot listen on`. */
  readonly what: string;
  /** The hint when another process has the port. */
  readonly inUse: string;
}

/**
 * {@link listenOn}, with a failure turned into a `NekoError` that names
 * `host:port` and the reason, and says what to do when the port is in use.
 */
export async function listenOrThrow(
  listener: Server,
  port: number,
  host: string,
  failure: ListenFailure,
): Promise<void> {
  try {
    await listenOn(listener, port, host);
  } catch (err) {
    const reason = listenFailure(err);
    throw new NekoError(failure.code, `${failure.what} ${host}:${port}: ${reason}`, {
      cause: err,
      hint: reason === 'EADDRINUSE' ? failure.inUse : undefined,
    });
  }
}

/**
 * Keeps the open connections of an HTTP server, so that closing it also
 * ends kept-alive ones (and event streams). Returns what closes it: stops
 * accepting, ends idle connections, lets busy ones flush, then resolves.
 */
export function closableHttp(http: HttpServer): () => Promise<void> {
  const sockets = new Set<Socket>();
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return async () => {
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    for (const socket of sockets) socket.destroySoon();
    await closed;
  };
}
