import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server, Socket } from 'node:net';
import { NekoError, type NekoErrorCode } from '../errors.js';

/**
 * Starts a listener (TCP, TLS or HTTP) on `host:port`. Resolves once it
 * listens; rejects with the error it failed with (`EADDRINUSE`, ...), as a
 * `listen()` callback never would, or with {@link ClosedBeforeListening}
 * when it is closed first (in a worker of `node:cluster` the listen asks
 * the primary, and a `close()` meanwhile means it never listens).
 */
export async function listenOn(listener: Server, port: number, host: string): Promise<void> {
  const settled = new AbortController();
  const { signal } = settled;
  listener.listen(port, host);
  try {
    await Promise.race([
      once(listener, 'listening', { signal }),
      once(listener, 'error', { signal }).then(([err]) => Promise.reject(err as Error)),
      once(listener, 'close', { signal }).then(() => Promise.reject(new ClosedBeforeListening())),
    ]);
  } finally {
    settled.abort();
  }
}

/** A listener closed before it listened: a shutdown came while it started. */
class ClosedBeforeListening extends Error {
  constructor() {
    super('closed before it listened');
  }
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
    if (err instanceof ClosedBeforeListening) throw closedWhileStarting(err);
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

/** `NEKO_ERR_SERVER_CLOSED`: what was starting was shut down first; nothing listens. */
export function closedWhileStarting(cause?: unknown): NekoError {
  return new NekoError('NEKO_ERR_SERVER_CLOSED', 'the server was shut down before it listened', {
    ...(cause === undefined ? {} : { cause }),
  });
}
