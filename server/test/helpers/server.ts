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
}

/**
 * Creates a server on 127.0.0.1, port 0, with the test secret, listens, and
 * closes it when the test finishes. Shutdown waits at most 500 ms for
 * handlers unless the test says otherwise.
 */
export async function startServer(options: Partial<ServerOptions> = {}): Promise<StartedServer> {
  const server = createServer({
    secret: SECRET,
    ...options,
    port: options.port ?? 0,
    limits: { shutdownTimeoutMs: 500, ...options.limits },
  });
  const logs: LogRecord[] = [];
  server.logger.subscribe((record) => logs.push(record));
  onTestFinished(() => server.close());
  const address = await server.listen();
  return { server, port: address.port, logs };
}

/** Connects a client to `port` with the test secret; closes it when the test finishes. */
export async function connectClient(port: number, options: Partial<ConnectOptions> = {}): Promise<NekoClient> {
  const client = await connect({ secret: SECRET, port, ...options });
  onTestFinished(() => client.close());
  return client;
}
