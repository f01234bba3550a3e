import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Limits, ServerOptions } from 'nekoconnect';
import { DEFAULT_HOST } from 'nekoconnect/protocol';
import { NekoTestingError } from './errors.js';

/** Options of {@link createTestServer}. Give `plugin` or `plugins`. */
export interface TestServerOptions {
  /** One plugin folder (it holds a `spec.conf`), e.g. `import.meta.dirname` in a plugin's test. */
  plugin?: string;
  /** A plugins directory: every plugin folder in it is loaded. */
  plugins?: string;
  /** The shared secret. Default: a fresh random one per server. */
  secret?: string;
  /** Server settings beyond the defaults of a test server. */
  config?: TestServerConfig;
  /**
   * `memory` (default): clients talk to the server through an in-memory
   * transport: no port, no sockets. `tcp`: the server's real listener on
   * 127.0.0.1, port 0, and clients over TCP sockets.
   */
  transport?: 'memory' | 'tcp';
  /** Default wait of every client's `request`, `next`, `expectStatus` and `expectClosed`, in ms. Default 2000. */
  timeout?: number;
  /**
   * How long `close()` may take before it fails with
   * `NEKO_ERR_TESTING_CLOSE_TIMEOUT`, in ms. Default: the shutdown wait
   * (`limits.shutdownTimeoutMs`) plus 1000.
   */
  closeTimeout?: number;
  /**
   * Serve even when a plugin fails to load (its greeter answers 503), to
   * test just that. Default false: `createTestServer()` throws
   * `NEKO_ERR_TESTING_PLUGIN_LOAD` with the plugin's error.
   */
  allowLoadFailures?: boolean;
}

/** Server settings of a test server. */
export interface TestServerConfig {
  /**
   * The server's limits (protocol §6). Each one not given keeps the
   * server's default, except `shutdownTimeoutMs`: 500 ms in a test server.
   */
  limits?: Partial<Limits>;
  /** Where plugin databases live. Default `{ backend: 'memory' }`; e.g. `{ backend: 'nedb', dir }` to test persistence. */
  storage?: ServerOptions['storage'];
}

/** What a test server is created from, every default filled in. */
export interface ResolvedTestServerOptions {
  /** A plugin folder or a plugins directory, absolute. */
  load: string;
  secret: string;
  transport: 'memory' | 'tcp';
  timeout: number;
  /** Undefined: the server's shutdown wait plus {@link CLOSE_MARGIN_MS}. */
  closeTimeout: number | undefined;
  allowLoadFailures: boolean;
  serverOptions: ServerOptions;
}

/** Default wait of a fake client, in ms. */
export const DEFAULT_TIMEOUT_MS = 2_000;

/** A test server waits this long for running handlers when it closes (the server's default is 10 s). */
export const TEST_SHUTDOWN_TIMEOUT_MS = 500;

/** By default `close()` may take the server's shutdown wait plus this, in ms. */
export const CLOSE_MARGIN_MS = 1_000;

/**
 * Checks the options and fills in the defaults.
 * @throws NekoTestingError `NEKO_ERR_TESTING_OPTIONS` naming the option at fault.
 */
export async function resolveTestServerOptions(
  options: TestServerOptions,
): Promise<ResolvedTestServerOptions> {
  const { plugin, plugins } = options;
  if ((plugin === undefined) === (plugins === undefined)) {
    throw optionsError(
      plugin === undefined
        ? 'createTestServer() needs { plugin: <plugin folder> } or { plugins: <plugins directory> }'
        : 'createTestServer() takes { plugin } or { plugins }, not both',
    );
  }
  const load = path.resolve(plugin ?? plugins!);
  if (plugin !== undefined && !(await isFile(path.join(load, 'spec.conf')))) {
    throw optionsError(
      `createTestServer(): ${load} holds no spec.conf, so it is not a plugin folder`,
      'Pass a plugin folder as { plugin }, or a plugins directory as { plugins }.',
    );
  }
  const transport = options.transport ?? 'memory';
  if (transport !== 'memory' && transport !== 'tcp') {
    throw optionsError(`createTestServer(): transport must be 'memory' or 'tcp', got ${String(transport)}`);
  }
  const timeout = checkTimeout(options.timeout, 'createTestServer()') ?? DEFAULT_TIMEOUT_MS;
  const closeTimeout = checkTimeout(options.closeTimeout, 'createTestServer()', 'closeTimeout');
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret === '')) {
    throw optionsError('createTestServer(): secret must be a non-empty string');
  }
  const secret = options.secret ?? `test-${randomBytes(12).toString('hex')}`;
  const { limits, storage } = options.config ?? {};
  return {
    load,
    secret,
    transport,
    timeout,
    closeTimeout,
    allowLoadFailures: options.allowLoadFailures ?? false,
    serverOptions: {
      secret,
      host: DEFAULT_HOST,
      port: 0,
      storage: storage ?? { backend: 'memory' },
      limits: { shutdownTimeoutMs: TEST_SHUTDOWN_TIMEOUT_MS, ...limits },
    },
  };
}

/** A timeout option: undefined, or a whole number of ms ≥ 1. */
export function checkTimeout(
  timeout: number | undefined,
  where: string,
  name = 'timeout',
): number | undefined {
  if (timeout === undefined) return undefined;
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw optionsError(`${where}: ${name} must be a whole number of ms ≥ 1, got ${String(timeout)}`);
  }
  return timeout;
}

export function optionsError(message: string, hint?: string): NekoTestingError {
  return new NekoTestingError('NEKO_ERR_TESTING_OPTIONS', message, { hint });
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
