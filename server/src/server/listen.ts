import { once } from 'node:events';
import type { Server } from 'node:net';

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
