import { connect as netConnect, type Socket } from 'node:net';
import {
  NekoServer,
  type LogLevel,
  type LogRecord,
  type NekoError,
  type PluginDatabase,
  type PluginsReport,
  type ServerConnection,
  type SessionState,
} from 'nekoconnect';
import { DEFAULT_HOST } from 'nekoconnect/protocol';
import { TestClient, type Dialed } from './client.js';
import { NekoTestingError } from './errors.js';
import { nextAccepted } from './harness-server.js';
import { cleanupAfterTest, currentTestFile, reportIfTestFails } from './lifecycle.js';
import { HandlerFailures, handlerFailureReport, type HandlerFailure } from './handler-failures.js';
import { MemoryPipe, tcpLink } from './links.js';
import { summarizeError } from './packet.js';
import {
  CLOSE_MARGIN_MS,
  checkTimeout,
  optionsError,
  resolveTestServerOptions,
  type ResolvedTestServerOptions,
  type TestServerOptions,
} from './options.js';
import { startTimer, stopTimer } from './timers.js';

/** Options of {@link TestServer.connect}. */
export interface ConnectOptions {
  /** Complete the handshake before resolving. Default true; false to test what an unauthenticated client gets. */
  auth?: boolean;
  /** The secret the client hashes with. Default: the server's. */
  secret?: string;
  /** Default wait of this client's `request`, `next`, `expectStatus` and `expectClosed`, in ms. Default: the server's. */
  timeout?: number;
  /** How failure messages name the client. Default `client 1`, `client 2`, … */
  name?: string;
  /** The address the session reports (`ctx.session.remoteAddress`). In-memory transport only. Default `127.0.0.1`. */
  remoteAddress?: string;
  /**
   * Ask the server for a resume token after the handshake (protocol §14), so
   * that `client.drop()` then `client.reconnect()` resumes the session when
   * its plugins keep it (`$grace`). Default false.
   */
  resume?: boolean;
}

/** Which log records {@link TestServer.logs} returns. Every field given must match. */
export interface LogFilter {
  /** A plugin's greeter. */
  plugin?: string;
  level?: LogLevel;
  /** A session id, e.g. `client.sessionId`. */
  session?: string;
  /** A `NEKO_ERR_*` code. */
  code?: string;
}

/** A connected session as the server holds it. */
export interface TestSession {
  /** The session id (`ctx.session.id`). */
  readonly id: string;
  readonly remoteAddress: string;
  readonly connectedAt: number;
  /** `handshake` until the client authenticated, then `open`; `detached` while it waits to be resumed. */
  readonly state: 'handshake' | 'open' | 'detached';
  /** By greeter, each plugin's `ctx.state` for this session: the plugins it has talked to. */
  readonly plugins: Readonly<Record<string, SessionState>>;
}

/**
 * A NekoConnect server for tests: the real loader, sessions and router,
 * with fake clients. Create it with {@link createTestServer} (or
 * {@link useTestServer} for one server per `describe`).
 */
export interface TestServer {
  /** The shared secret. */
  readonly secret: string;
  readonly transport: 'memory' | 'tcp';
  /** The TCP port with `transport: 'tcp'`; undefined in memory. */
  readonly port: number | undefined;
  /** What loading the plugins did: `loaded` and `failed`. */
  readonly plugins: PluginsReport;
  /** The server itself, for anything the harness does not wrap. */
  readonly neko: NekoServer;
  /** Connects a fake client; it is authenticated unless `{ auth: false }`. */
  connect(options?: ConnectOptions): Promise<TestClient>;
  /** The database of the plugin with this greeter, as the plugin sees it (`ctx.db`). */
  db(greeter: string): PluginDatabase;
  /** The log records so far (from plugins' `ctx.log/warn/error` and the server), filtered. */
  logs(filter?: LogFilter): LogRecord[];
  /** The sessions connected now, oldest first. */
  sessions(): TestSession[];
  /** Closes every client and the server (the plugins' `onLeave` and `onUnload` run). Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Creates a test server with one plugin folder (`plugin`) or a plugins
 * directory (`plugins`) loaded by the server's own loader, and in-memory
 * databases.
 *
 * Inside a vitest test it closes itself (and its clients) when the test
 * finishes. Created anywhere else (a `beforeAll` hook), close it yourself
 * in `afterAll`, or use {@link useTestServer}.
 *
 * @throws NekoTestingError `NEKO_ERR_TESTING_OPTIONS` for options that cannot
 *   work, `NEKO_ERR_TESTING_PLUGIN_LOAD` when a plugin fails to load (unless
 *   `allowLoadFailures`).
 */
export async function createTestServer(options: TestServerOptions): Promise<TestServer> {
  return InProcessTestServer.create(await resolveTestServerOptions(options));
}

class InProcessTestServer implements TestServer {
  readonly secret: string;
  readonly transport: 'memory' | 'tcp';
  readonly neko: NekoServer;
  readonly #timeout: number;
  readonly #closeTimeout: number;
  readonly #logs: LogRecord[];
  readonly #clients = new Set<TestClient>();
  readonly #handlerFailures = new HandlerFailures();
  #report: PluginsReport = { loaded: [], failed: [] };
  #port: number | undefined;
  #clientCount = 0;
  /** TCP connects run one at a time, so that each learns its own session from the listener. */
  #tcpTurn: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #closeCalled = false;

  constructor(neko: NekoServer, options: ResolvedTestServerOptions, logs: LogRecord[]) {
    this.neko = neko;
    this.secret = options.secret;
    this.transport = options.transport;
    this.#timeout = options.timeout;
    this.#closeTimeout = options.closeTimeout ?? neko.options.limits.shutdownTimeoutMs + CLOSE_MARGIN_MS;
    this.#logs = logs;
  }

  /** Creates the server, loads the plugins and (over TCP) listens. */
  static async create(options: ResolvedTestServerOptions): Promise<InProcessTestServer> {
    const neko = new NekoServer(options.serverOptions);
    const logs: LogRecord[] = [];
    neko.logger.subscribe((record) => logs.push(record));
    const server = new InProcessTestServer(neko, options, logs);
    neko.logger.subscribe((record) => server.#handlerFailures.note(record));
    cleanupAfterTest(() => server.close());
    try {
      const report = await neko.loadPlugins(options.load);
      if (report.failed.length > 0 && !options.allowLoadFailures) throw loadError(options.load, report);
      server.#report = report;
      if (options.transport === 'tcp') server.#port = (await neko.listen()).port;
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  get port(): number | undefined {
    return this.#port;
  }

  get plugins(): PluginsReport {
    return this.#report;
  }

  async connect(options: ConnectOptions = {}): Promise<TestClient> {
    if (this.#closeCalled) {
      throw new NekoTestingError('NEKO_ERR_TESTING_CLOSED', 'server.connect() after server.close()', {
        hint: 'Create a new server with createTestServer().',
      });
    }
    const timeout = checkTimeout(options.timeout, 'server.connect()') ?? this.#timeout;
    if (options.remoteAddress !== undefined && this.transport === 'tcp') {
      throw optionsError(
        "server.connect(): remoteAddress is for the in-memory transport; over TCP it is the socket's",
      );
    }
    const init = {
      name: options.name ?? `client ${++this.#clientCount}`,
      secret: options.secret ?? this.secret,
      timeout,
    };
    // The statuses 500 this client receives, with the handler errors they report, for a test that fails.
    const failures: HandlerFailure[] = [];
    const remoteAddress = options.remoteAddress ?? DEFAULT_HOST;
    const dial = (): Promise<Dialed> =>
      this.transport === 'memory'
        ? Promise.resolve(this.#dialInMemory(failures, remoteAddress))
        : this.#dialTcp(init, failures);
    const first = await dial();
    const client = new TestClient(
      { ...init, sessionId: first.sessionId, handlerFailure: first.handlerFailure, dial },
      (side) => first.connect(side),
    );
    this.#clients.add(client);
    cleanupAfterTest(() => client.close());
    reportIfTestFails(() => handlerFailureReport(client.name, failures));
    if (options.auth !== false) {
      try {
        await client.handshake();
        if (options.resume) await client.enableResume();
      } catch (err) {
        await client.close();
        throw err;
      }
    }
    return client;
  }

  db(greeter: string): PluginDatabase {
    const db = this.neko.pluginDatabase(greeter);
    if (!db) {
      const loaded =
        this.neko
          .plugins()
          .map((p) => `"${p.greeter}"`)
          .join(', ') || 'none';
      throw new NekoTestingError(
        'NEKO_ERR_TESTING_UNKNOWN_PLUGIN',
        `server.db("${greeter}"): no loaded plugin answers to "${greeter}" (loaded: ${loaded})`,
        { hint: 'Pass the greeter of the plugin ($greet in its spec.conf), not its name or folder.' },
      );
    }
    return db;
  }

  logs(filter: LogFilter = {}): LogRecord[] {
    return this.#logs.filter(
      (r) =>
        (filter.plugin === undefined || r.plugin === filter.plugin) &&
        (filter.level === undefined || r.level === filter.level) &&
        (filter.session === undefined || r.session === filter.session) &&
        (filter.code === undefined || r.code === filter.code),
    );
  }

  sessions(): TestSession[] {
    const plugins = new Map<string, Record<string, SessionState>>();
    for (const plugin of this.neko.plugins()) {
      for (const member of plugin.sessions()) {
        const states = plugins.get(member.id) ?? {};
        states[plugin.greeter] = member.state;
        plugins.set(member.id, states);
      }
    }
    return this.neko
      .sessions()
      .filter((session) => session.state !== 'closed')
      .map((session) => ({
        id: session.id,
        remoteAddress: session.remoteAddress,
        connectedAt: session.connectedAt,
        state: session.state === 'open' || session.state === 'detached' ? session.state : 'handshake',
        plugins: plugins.get(session.id) ?? {},
      }));
  }

  close(): Promise<void> {
    this.#closeCalled = true;
    if (!this.#closing) {
      const closing = this.#shutdown();
      this.#closing = closing;
      // A close that timed out may be retried (after advancing fake timers, say): the shutdown goes on meanwhile.
      closing.catch(() => {
        if (this.#closing === closing) this.#closing = undefined;
      });
    }
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const limit = this.#closeTimeout;
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = startTimer(limit, () =>
        reject(
          new NekoTestingError(
            'NEKO_ERR_TESTING_CLOSE_TIMEOUT',
            `server.close() did not finish within ${limit} ms: a plugin handler or hook is still running`,
            {
              hint: 'With vitest fake timers, advance them (vi.runOnlyPendingTimers()) or call vi.useRealTimers() before the server closes.',
            },
          ),
        ),
      );
    });
    try {
      // The server closes every session; each client learns it through its transport.
      await Promise.race([this.neko.close(), stuck]);
      await Promise.race([Promise.all([...this.#clients].map((c) => c.close())), stuck]);
    } finally {
      stopTimer(timer);
    }
  }

  /** What a client of `session` calls for each status 500: the error it reports, noted in `failures`. */
  #handlerFailure(session: string, failures: HandlerFailure[]): (answered: string) => unknown {
    return (answered) => {
      const error = this.#handlerFailures.take(session);
      if (error !== undefined) failures.push({ answered, error });
      return error;
    };
  }

  /** A new in-memory connection to the server. */
  #dialInMemory(failures: HandlerFailure[], remoteAddress: string): Dialed {
    const pipe = new MemoryPipe(remoteAddress);
    const connection = this.neko.accept(pipe.transport);
    pipe.attachServer(connection);
    return {
      sessionId: connection.id,
      handlerFailure: this.#handlerFailure(connection.id, failures),
      connect: (side) => {
        pipe.attachClient(side);
        return pipe.link;
      },
    };
  }

  /** A new TCP connection to the server, with the session the server made of it. */
  #dialTcp(init: { name: string; timeout: number }, failures: HandlerFailure[]): Promise<Dialed> {
    const turn = this.#tcpTurn.then(async (): Promise<Dialed> => {
      const accepted = nextAccepted(this.neko, init.timeout);
      const socket = await openSocket(this.#port!, init.timeout, init.name);
      let connection: ServerConnection;
      try {
        connection = await accepted;
      } catch (err) {
        socket.destroy();
        throw err;
      }
      return {
        sessionId: connection.id,
        handlerFailure: this.#handlerFailure(connection.id, failures),
        connect: (side) => tcpLink(socket, side),
      };
    });
    this.#tcpTurn = turn.catch(() => undefined);
    return turn;
  }
}

function openSocket(port: number, timeout: number, name: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: DEFAULT_HOST, port, noDelay: true });
    const fail = (reason: string): void => {
      stopTimer(timer);
      socket.destroy();
      reject(
        new NekoTestingError(
          'NEKO_ERR_TESTING_HANDSHAKE',
          `${name}: cannot connect to 127.0.0.1:${port}: ${reason}`,
        ),
      );
    };
    const timer = startTimer(timeout, () => fail(`no connection within ${timeout} ms`));
    const onError = (err: NodeJS.ErrnoException): void => fail(err.code ?? err.message);
    socket.once('error', onError);
    socket.once('connect', () => {
      stopTimer(timer);
      socket.off('error', onError);
      // Until the client's link listens: a reset is then reported as the close that follows.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/**
 * The load errors already thrown, by test file, folder loaded and failure.
 * Every test of a file that loads the same broken plugin fails with the
 * very same error object, so vitest reports it once, under the list of
 * those tests, instead of once per test.
 */
const reportedLoadErrors = new Map<string, NekoTestingError>();

function loadError(load: string, report: PluginsReport): NekoTestingError {
  const failures = report.failed.map(({ dir, error }) => `${dir}: ${describeError(error)}`);
  const key = [currentTestFile() ?? '', load, ...failures].join('\0');
  const reported = reportedLoadErrors.get(key);
  if (reported) return reported;
  const count = report.failed.length === 1 ? 'a plugin' : `${report.failed.length} plugins`;
  const error = new NekoTestingError(
    'NEKO_ERR_TESTING_PLUGIN_LOAD',
    `createTestServer(): ${count} failed to load:\n${failures.join('\n')}\n` +
      'Every test of this file that loads it fails with this error.',
    {
      cause: report.failed[0]?.error,
      hint: 'Fix the plugin, or pass { allowLoadFailures: true } to test how the server serves around it (its greeter answers 503).',
    },
  );
  reportedLoadErrors.set(key, error);
  return error;
}

/** A load error in a few lines: code, message, where, the fix, and what the logic module threw. */
function describeError(error: NekoError): string {
  const where = error.location
    ? ` (${error.location.file}:${error.location.line}:${error.location.column})`
    : '';
  let out = `${error.code} ${error.message}${where}`;
  // Without a position of its own (the module threw), what it threw says where.
  if (!error.location && error.cause instanceof Error) out += `\n  cause: ${summarizeError(error.cause)}`;
  if (error.hint) out += `\n  fix: ${error.hint}`;
  return out;
}
