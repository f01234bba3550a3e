import kleur from 'kleur';
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { NekoError, isNekoError } from '../errors.js';
import { DEFAULT_PORT } from '../protocol/constants.js';
import type { Limits, TlsOptions } from '../server/options.js';
import { createServer, type PluginsReport } from '../server/server.js';
import { intFlag, parseCommandArgs } from './args.js';
import { readSecret } from './secret.js';
import { formatError, formatLogRecord } from './terminal.js';
import { packageVersion } from './version.js';

export const START_HELP = `Usage: nekoconnect start [dir] [options]

Serves the plugins in dir (a plugins directory, or one plugin folder with a
spec.conf). dir defaults to the current directory.

The shared secret comes from the NEKOCONNECT_SECRET environment variable,
or from --secret-file. The server does not start without one.

Options:
  -p, --port <port>             TCP port (default ${DEFAULT_PORT}; 0 picks a free one)
      --host <host>             interface to listen on (default 127.0.0.1)
      --secret-file <file>      read the shared secret from a file
      --tls-key <file>          serve TLS with this PEM private key
      --tls-cert <file>         ... and this PEM certificate (both or neither)
      --max-packet-bytes <n>    largest packet accepted (default 1048576)
      --handshake-timeout-ms <n>  time to authenticate (default 10000)
      --idle-timeout-ms <n>     close sessions idle this long (default 0: off)
      --max-connections <n>     connections at once (default 10000)
      --recv-timeout-ms <n>     default wait of ctx.recv() (default 30000)
  -h, --help                    show this help

Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or configuration error.
Environment: NEKOCONNECT_SECRET, NO_COLOR (plain output).`;

const OPTIONS = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  'secret-file': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  'max-packet-bytes': { type: 'string' },
  'handshake-timeout-ms': { type: 'string' },
  'idle-timeout-ms': { type: 'string' },
  'max-connections': { type: 'string' },
  'recv-timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const DAY_MS = 86_400_000;

/** What the start command needs from its process, so tests can drive it. */
export interface StartIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** Registers the shutdown signal handlers; returns a function that removes them. */
  onSignal: (handler: (signal: string) => void) => () => void;
}

/** `nekoconnect start`: resolves with the exit code once the server has shut down. */
export async function runStart(args: readonly string[], io: StartIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('start', args, OPTIONS, 1);
  if (values.help) {
    io.out(START_HELP);
    return 0;
  }
  const dir = resolve(positionals[0] ?? '.');
  const limits: Partial<Limits> = {};
  const set = (key: keyof Limits, flag: string, min: number, max: number): void => {
    const n = intFlag(values, flag, { min, max });
    if (n !== undefined) limits[key] = n;
  };
  set('maxPacketBytes', 'max-packet-bytes', 16, 0xffff_ffff);
  set('handshakeTimeoutMs', 'handshake-timeout-ms', 1, DAY_MS);
  set('idleTimeoutMs', 'idle-timeout-ms', 0, DAY_MS);
  set('maxConnections', 'max-connections', 1, 1_000_000);
  set('recvTimeoutMs', 'recv-timeout-ms', 1, DAY_MS);
  const port = intFlag(values, 'port', { min: 0, max: 65535 }) ?? DEFAULT_PORT;
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  const tls = await readTls(values['tls-key'], values['tls-cert']);
  const secret = await readSecret(values['secret-file'] as string | undefined, io.env);

  const server = createServer({ secret, port, host, tls, limits });
  server.logger.subscribe((record) => {
    const line = formatLogRecord(record);
    if (record.level === 'info') io.out(line);
    else io.err(line);
  });

  // Clean shutdown: stop accepting, let handlers finish, close. A second signal cuts it short.
  // The handlers are in place before anything is served, so an early Ctrl+C is clean too.
  let resolveExit!: (code: number) => void;
  const exit = new Promise<number>((resolve) => (resolveExit = resolve));
  let stopping = false;
  const removeHandlers = io.onSignal((signal) => {
    if (stopping) {
      io.err(`${signal} again: exiting without waiting`);
      resolveExit(1);
      return;
    }
    stopping = true;
    io.out(`${signal}: shutting down (${server.connectionCount} connection(s) open)...`);
    server.close().then(
      () => {
        io.out('stopped');
        resolveExit(0);
      },
      (err: unknown) => {
        io.err(`shutdown failed: ${String(err)}`);
        resolveExit(1);
      },
    );
  });

  try {
    io.out(kleur.bold(`NekoConnect ${packageVersion()}`));
    const report = await server.loadPlugins(dir);
    printPlugins(dir, report, io);
    if (!stopping) {
      const address = await server.listen();
      io.out(
        `${kleur.green('listening')} on ${tls ? 'tls' : 'tcp'}://${address.address}:${address.port}  ${kleur.dim('(Ctrl+C to stop)')}`,
      );
    }
    return await exit;
  } finally {
    removeHandlers();
  }
}

function printPlugins(dir: string, report: PluginsReport, io: StartIo): void {
  const shown = relative(process.cwd(), dir) || '.';
  io.out(
    `plugins from ${shown}: ${kleur.green(`${report.loaded.length} loaded`)}, ${
      report.failed.length > 0 ? kleur.red(`${report.failed.length} failed`) : '0 failed'
    }`,
  );
  for (const plugin of report.loaded) {
    io.out(
      `  ${kleur.green('✓')} ${plugin.spec.greeter}  ${kleur.dim(`${plugin.spec.name} v${plugin.spec.version}`)}`,
    );
  }
  for (const failure of report.failed) {
    const label = failure.spec?.greeter ?? relative(process.cwd(), failure.dir);
    // Without a readable spec.conf the greeter is unknown, so nothing routes to it (404).
    const effect = failure.spec ? 'answers 503 until fixed' : 'not served until its spec.conf is fixed';
    io.err(`  ${kleur.red('✗')} ${label}  ${kleur.dim(effect)}`);
    io.err(indent(formatError(failure.error)));
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

async function readTls(
  keyFile: string | boolean | undefined,
  certFile: string | boolean | undefined,
): Promise<TlsOptions | undefined> {
  if (keyFile === undefined && certFile === undefined) return undefined;
  if (typeof keyFile !== 'string' || typeof certFile !== 'string') {
    throw new NekoError('NEKO_ERR_CLI_USAGE', '--tls-key and --tls-cert go together: give both or neither');
  }
  const read = async (file: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new NekoError(
        'NEKO_ERR_CONFIG_TLS',
        `cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { cause: err },
      );
    }
  };
  return { key: await read(keyFile, 'key'), cert: await read(certFile, 'certificate') };
}

/** Exit code for an error that ended a command: 2 for usage and configuration, 1 otherwise. */
export function exitCodeFor(err: unknown): number {
  if (!isNekoError(err)) return 1;
  return err.code.startsWith('NEKO_ERR_CLI_') ||
    err.code.startsWith('NEKO_ERR_CONFIG_') ||
    err.code === 'NEKO_ERR_PLUGINS_DIR'
    ? 2
    : 1;
}
