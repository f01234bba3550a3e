import kleur from 'kleur';
import { SECRET_ENV } from '../config/secret.js';
import { resolveStartOptions } from '../config/start-options.js';
import type { Dashboard } from '../dashboard/dashboard.js';
import { listenForKeys, type KeyInput } from '../dev/keys.js';
import { formatDevEvent } from '../dev/report.js';
import { clientSnippet, developmentSecret, type DevSecret } from '../dev/secret.js';
import { watchPlugins, type PluginWatcher } from '../dev/watch.js';
import type { PluginsReport } from '../plugins/registry.js';
import { createServer } from '../server/server.js';
import { parseCommandArgs } from './args.js';
import { startDashboard } from './dashboard.js';
import { START_HELP, START_OPTIONS, startFlags, type StartIo } from './start.js';
import { Shutdown } from './shutdown.js';
import { formatError, indent, shownDir, shownPath } from '../format.js';
import { listeningLine, printLogs } from './terminal.js';
import { packageVersion } from './version.js';

/** The options of `start`, which `dev` shares, as its help lists them. */
const OPTIONS_HELP = START_HELP.slice(START_HELP.indexOf('Options:\n'), START_HELP.indexOf('\n\nExit codes'));

export const DEV_HELP = `Usage: nekoconnect dev [dir] [options]

Serves the plugins in dir as \`nekoconnect start\` does, and reloads a plugin
in place whenever its files change: the change is validated, transpiled,
loaded and swapped in; connections stay open, ctx.state and the database
carry over. A change that fails keeps the last good version serving and
shows the error. dir is a plugins directory or one plugin folder; it
defaults to the config's plugins, else the current directory.

The shared secret comes from NEKOCONNECT_SECRET or --secret-file. Without
either, a development secret is made once, kept in .nekoconnect/dev-secret
and printed with a client snippet. See docs/dev.md.

${OPTIONS_HELP}

Keys (in an interactive terminal): r reload every plugin, c clear the screen, q quit.

Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or configuration error.
Environment: NEKOCONNECT_SECRET, NO_COLOR (plain output).`;

/** What the dev command needs from its process. */
export interface DevIo extends StartIo {
  /** Where keys come from; default `process.stdin`. Keys work only when it is a TTY. */
  stdin?: KeyInput;
  /** Clears the screen (key `c`). Default: the ANSI sequence, on stdout. */
  clear?: () => void;
}

/** `nekoconnect dev`: resolves with the exit code once the server has shut down. */
export async function runDev(args: readonly string[], io: DevIo): Promise<number> {
  const parsed = parseCommandArgs('dev', args, START_OPTIONS, 1);
  if (parsed.values.help) {
    io.out(DEV_HELP);
    return 0;
  }
  const cwd = io.cwd ?? process.cwd();
  const flags = startFlags(parsed);

  // 1. The secret: the one given, else the development secret.
  const given = flags.secretFile !== undefined || (io.env[SECRET_ENV] ?? '') !== '';
  const devSecret = given ? undefined : await developmentSecret(cwd);
  const env = devSecret === undefined ? io.env : { ...io.env, [SECRET_ENV]: devSecret.secret };
  const {
    serverOptions,
    plugins: dir,
    dataDir,
    configFile,
    dashboard: dashboardOptions,
  } = await resolveStartOptions(cwd, flags, env);

  const server = createServer({ ...serverOptions, storage: { backend: 'nedb', dir: dataDir } });
  printLogs(server.logger, io);

  // 2. Shutdown, by signal or key: the watcher stops first, then the server. A second one cuts it short.
  let watcher: PluginWatcher | undefined;
  let dashboard: Dashboard | undefined;
  let stopKeys = (): void => {};
  const shutdown = new Shutdown(
    io,
    async () => {
      await watcher?.close();
      await server.close();
      await dashboard?.close();
    },
    () => server.connectionCount,
  );
  const stop = (reason: string): void => shutdown.request(reason);
  const removeHandlers = io.onSignal(stop);

  try {
    // 3. Load, listen, say how to connect.
    io.out(`${kleur.bold(`NekoConnect ${packageVersion()}`)} ${kleur.dim('dev mode')}`);
    if (configFile !== undefined) io.out(kleur.dim(`config from ${shownPath(configFile, cwd)}`));
    const facts = { mode: 'dev', version: packageVersion(), plugins: dir, dataDir, configFile } as const;
    dashboard = await startDashboard(server, dashboardOptions, facts, io);
    const report = await server.loadPlugins(dir);
    printPlugins(dir, report, io, cwd);
    if (shutdown.stopping) return await shutdown.exit;
    const address = await server.listen();
    const tls = serverOptions.tls !== undefined;
    io.out(listeningLine(address, tls));
    const greeter = report.loaded[0]?.spec.greeter ?? 'my-plugin';
    printConnect(
      io,
      devSecret,
      cwd,
      clientSnippet({
        host: serverOptions.host,
        port: address.port,
        tls,
        secret: devSecret?.secret,
        greeter,
      }),
    );

    // 4. Watch.
    const shown = dashboard;
    watcher = await watchPlugins(server, dir, {
      dataDir,
      onEvent: (event) => {
        const { text, toStderr } = formatDevEvent(event, cwd);
        if (toStderr) io.err(text);
        else io.out(text);
        shown?.devEvent(event, text);
      },
    });
    if (shutdown.stopping) {
      await watcher.close();
      return await shutdown.exit;
    }
    const input = io.stdin ?? process.stdin;
    const clear = io.clear ?? (() => process.stdout.write('\u001b[2J\u001b[3J\u001b[H'));
    const reloading = watcher;
    stopKeys = listenForKeys(input, {
      reload: () => {
        io.out(kleur.dim('reloading every plugin...'));
        void reloading.reloadAll();
      },
      clear,
      quit: () => stop('quit'),
      interrupt: () => stop('SIGINT'),
    });
    const keys = input.isTTY === true ? kleur.dim('  (r reload · c clear · q quit)') : '';
    io.out(`${kleur.cyan('watching')} ${shownDir(dir, cwd)} for changes${keys}`);
    return await shutdown.exit;
  } finally {
    stopKeys();
    removeHandlers();
    await dashboard?.close();
  }
}

function printConnect(io: DevIo, devSecret: DevSecret | undefined, cwd: string, snippet: string): void {
  if (devSecret !== undefined) {
    io.out(
      `${kleur.yellow('development secret')} ${devSecret.secret}  ${kleur.dim(
        `(${devSecret.created ? 'made now, ' : ''}kept in ${shownDir(devSecret.file, cwd)}; never use it in production)`,
      )}`,
    );
  }
  io.out(
    kleur.dim(
      devSecret === undefined ? `connect a client (secret from ${SECRET_ENV}):` : 'connect a client:',
    ),
  );
  io.out(indent(snippet, '  '));
}

function printPlugins(dir: string, report: PluginsReport, io: DevIo, cwd: string): void {
  io.out(
    `plugins from ${shownDir(dir, cwd)}: ${kleur.green(`${report.loaded.length} loaded`)}, ${
      report.failed.length > 0 ? kleur.red(`${report.failed.length} failed`) : '0 failed'
    }`,
  );
  for (const plugin of report.loaded) {
    io.out(
      `  ${kleur.green('✓')} ${plugin.spec.greeter}  ${kleur.dim(`${plugin.spec.name} v${plugin.spec.version}`)}`,
    );
  }
  for (const failure of report.failed) {
    const label = failure.spec?.greeter ?? shownDir(failure.dir, cwd);
    const effect = failure.spec ? 'answers 503 until a save fixes it' : 'not served until a save fixes it';
    io.err(`  ${kleur.red('✗')} ${label}  ${kleur.dim(effect)}`);
    io.err(indent(formatError(failure.error)));
  }
}
