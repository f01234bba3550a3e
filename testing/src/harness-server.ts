import { NekoServer, type Transport } from 'nekoconnect';
import { NekoTestingError } from './errors.js';
import { startTimer, stopTimer } from './timers.js';

/** One client connection as the server holds it. */
export type Connection = ReturnType<NekoServer['accept']>;

/**
 * The real {@link NekoServer}, which also remembers the connections it
 * accepts: the in-memory ones the harness hands it, and those its own TCP
 * listener accepts. That is how the harness lists sessions and learns a
 * TCP client's session id.
 */
export class HarnessServer extends NekoServer {
  readonly #connections: Connection[] = [];
  readonly #acceptWaiters: ((connection: Connection) => void)[] = [];

  override accept(transport: Transport): Connection {
    const connection = super.accept(transport);
    this.#connections.push(connection);
    this.#acceptWaiters.shift()?.(connection);
    return connection;
  }

  /** Connections not yet closed, oldest first. */
  openConnections(): Connection[] {
    for (let i = this.#connections.length - 1; i >= 0; i--) {
      if (this.#connections[i]!.session.isClosed) this.#connections.splice(i, 1);
    }
    return [...this.#connections];
  }

  /** Resolves with the next connection accepted after this call (within `timeoutMs`). */
  nextAccepted(timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const waiter = (connection: Connection): void => {
        stopTimer(timer);
        resolve(connection);
      };
      const timer = startTimer(timeoutMs, () => {
        const index = this.#acceptWaiters.indexOf(waiter);
        if (index >= 0) this.#acceptWaiters.splice(index, 1);
        reject(
          new NekoTestingError(
            'NEKO_ERR_TESTING_HANDSHAKE',
            `the TCP listener accepted no connection within ${timeoutMs} ms`,
          ),
        );
      });
      this.#acceptWaiters.push(waiter);
    });
  }
}
