import type { NekoServer, ServerConnection } from 'nekoconnect';
import { NekoTestingError } from './errors.js';
import { startTimer, stopTimer } from './timers.js';

/**
 * Resolves with the next connection `server` accepts after this call
 * (within `timeoutMs`): how the harness learns the session of a client that
 * connects over TCP, which the server's own listener accepts.
 */
export function nextAccepted(server: NekoServer, timeoutMs: number): Promise<ServerConnection> {
  return new Promise((resolve, reject) => {
    const stop = server.onConnection((connection) => {
      stop();
      stopTimer(timer);
      resolve(connection);
    });
    const timer = startTimer(timeoutMs, () => {
      stop();
      reject(
        new NekoTestingError(
          'NEKO_ERR_TESTING_HANDSHAKE',
          `the TCP listener accepted no connection within ${timeoutMs} ms`,
        ),
      );
    });
  });
}
