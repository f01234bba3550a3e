import { afterAll, beforeAll } from 'vitest';
import type { LogRecord, NekoServer, PluginDatabase, PluginsReport } from 'nekoconnect';
import type { TestClient } from './client.js';
import { NekoTestingError } from './errors.js';
import type { TestServerOptions } from './options.js';
import {
  createTestServer,
  type ConnectOptions,
  type LogFilter,
  type TestServer,
  type TestSession,
} from './server.js';

/**
 * One test server for every test of the `describe` block it is called in:
 * started in `beforeAll`, closed in `afterAll`. Clients connected inside a
 * test are still closed when that test finishes. The plugin's instance, its
 * database and its logs are shared by the tests: use {@link createTestServer}
 * in each test when they must not be.
 *
 * ```ts
 * describe('echo', () => {
 *   const server = useTestServer({ plugin: import.meta.dirname });
 *   it('echoes', async () => {
 *     const client = await server.connect();
 *     expect((await client.request('echo', 'hi')).text()).toBe('hi');
 *   });
 * });
 * ```
 */
export function useTestServer(options: TestServerOptions): TestServer {
  const shared = new SharedTestServer();
  beforeAll(async () => {
    shared.current = await createTestServer(options);
  });
  afterAll(() => shared.current?.close());
  return shared;
}

/** A {@link TestServer} that forwards to the one its `beforeAll` hook created. */
class SharedTestServer implements TestServer {
  current: TestServer | undefined;

  get secret(): string {
    return this.#server('secret').secret;
  }

  get transport(): 'memory' | 'tcp' {
    return this.#server('transport').transport;
  }

  get port(): number | undefined {
    return this.#server('port').port;
  }

  get plugins(): PluginsReport {
    return this.#server('plugins').plugins;
  }

  get neko(): NekoServer {
    return this.#server('neko').neko;
  }

  connect(options?: ConnectOptions): Promise<TestClient> {
    try {
      return this.#server('connect()').connect(options);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  db(greeter: string): PluginDatabase {
    return this.#server('db()').db(greeter);
  }

  logs(filter?: LogFilter): LogRecord[] {
    return this.#server('logs()').logs(filter);
  }

  sessions(): TestSession[] {
    return this.#server('sessions()').sessions();
  }

  close(): Promise<void> {
    return this.current?.close() ?? Promise.resolve();
  }

  #server(use: string): TestServer {
    if (this.current) return this.current;
    throw new NekoTestingError(
      'NEKO_ERR_TESTING_NOT_STARTED',
      `useTestServer(): server.${use} was used before the server started (it starts in the beforeAll hook of its describe block)`,
      {
        hint: 'Use the server inside a test (it, test) or a beforeEach/afterEach hook of that describe block.',
      },
    );
  }
}
