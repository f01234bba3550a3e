import { onTestFinished } from 'vitest';
import { connect, type ConnectOptions, type NekoClient } from '../../src/client/client.js';
import type { LogRecord } from '../../src/logging/logger.js';
import type { ServerOptions } from '../../src/server/options.js';
import { createServer, type NekoServer } from '../../src/server/server.js';

export const SECRET = 'test-secret';

export interface StartedServer {
  server: NekoServer;
  port: number;
  /** Every log record since the server was created. */
  logs: LogRecord[];
  /** Resolves with the first record (logged before or after the call) that matches; fails after a timeout. */
  waitForLog(match: (record: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
}

/**
 * Creates a server on 127.0.0.1, port 0, with the test secret and in-memory
 * plugin databases, listens, and
 * closes it when the test finishes. Shutdown waits at most 500 ms for
 * handlers unless the test says otherwise.
 */
export async function startServer(options: Partial<ServerOptions> = {}): Promise<StartedServer> {
  const server = createServer({
    secret: SECRET,
    storage: { backend: 'memory' },
    ...options,
    port: options.port ?? 0,
    limits: { shutdownTimeoutMs: 500, ...options.limits },
  });
  const logs: LogRecord[] = [];
  server.logger.subscribe((record) => logs.push(record));
  onTestFinished(() => server.close());
  const address = await server.listen();
  const waitForLog = (match: (record: LogRecord) => boolean, timeoutMs = 3_000): Promise<LogRecord> => {
    const found = logs.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`no matching log record within ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = server.logger.subscribe((record) => {
        if (!match(record)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(record);
      });
    });
  };
  return { server, port: address.port, logs, waitForLog };
}

/** Connects a client to `port` with the test secret; closes it when the test finishes. */
export async function connectClient(
  port: number,
  options: Partial<ConnectOptions> = {},
): Promise<NekoClient> {
  const client = await connect({ secret: SECRET, port, ...options });
  onTestFinished(() => client.close());
  return client;
}
