import kleur from 'kleur';
import { SECRET_ENV } from '../config/secret.js';
import { listenForKeys } from '../dev/keys.js';
import { LazyValidator } from '../dev/validation.js';
import { formatDevEvent } from '../dev/report.js';
import { clientSnippet, developmentSecret, type DevSecret } from '../dev/secret.js';
import { indent, shownDir } from '../format.js';
import { defineCommand, type CliIo } from './command.js';
import { serve } from './serve.js';
import { SERVE_FOOTER, START_FLAGS, startFlags } from './start.js';

/** What the dev command needs from its process. */
export type DevIo = CliIo;

/** `nekoconnect dev`: resolves with the exit code once the server has shut down. */
export const DEV_COMMAND = defineCommand({
  name: 'dev',
  args: ['[dir]'],
  summary: 'serve them and hot-reload each plugin as you edit it (see `nekoconnect dev --help`)',
  description: `Serves the plugins in dir as \`nekoconnect start\` does, and reloads a plugin
in place whenever its files change: the change is validated, transpiled,
loaded and swapped in; connections stay open, ctx.state and the database
carry over. A change that fails keeps the last good version serving and
shows the error. dir is a plugins directory or one plugin folder; it
defaults to the config's plugins, else the current directory.

The shared secret comes from NEKOCONNECT_SECRET or --secret-file. Without
either, a development secret is made once, kept in .nekoconnect/dev-secret
and printed with a client snippet. See docs/dev.md.`,
  flags: {
    ...START_FLAGS,
    'no-playground': {
      type: 'boolean',
      help: ["do not serve the dashboard's Playground (on", 'by default; it needs the dashboard token)'],
      key: 'noPlayground',
    },
  },
  notes: 'Keys (in an interactive terminal): r reload every plugin, c clear the screen, q quit.',
  footer: SERVE_FOOTER,
  serves: true,
  run: async (parsed, args, io) => {
    const cwd = io.cwd ?? process.cwd();
    const flags = startFlags(parsed, args);
    // The secret: the one given, else the development secret.
    const given = flags.secretFile !== undefined || (io.env[SECRET_ENV] ?? '') !== '';
    const devSecret = given ? undefined : await developmentSecret(cwd);
    const commandIo = io;
    // One warm validator for the watcher (each change) and the Playground (the ops of each plugin).
    const validator = new LazyValidator();
    return serve(flags, io, {
      mode: 'dev',
      playground:
        parsed.noPlayground === true
          ? { on: false, reason: 'the Playground is off: nekoconnect dev was started with --no-playground' }
          : { on: 'default', ops: (dir) => validator.ops(dir) },
      env: devSecret === undefined ? io.env : { ...io.env, [SECRET_ENV]: devSecret.secret },
      failed: {
        withSpec: 'answers 503 until a save fixes it',
        withoutSpec: 'not served until a save fixes it',
      },
      whileServing: async ({ server, options, report, port, dashboard, shutdown, output }) => {
        // Printed through the command's output, so that --log-format json holds here too.
        const io = { ...commandIo, out: output.out, err: output.err };
        const { serverOptions, plugins: dir, dataDir, cacheDir } = options;
        const greeter = report.loaded[0]?.spec.greeter ?? 'my-plugin';
        const tls = serverOptions.tls !== undefined;
        printConnect(
          io,
          devSecret,
          cwd,
          clientSnippet({ host: serverOptions.host, port, tls, secret: devSecret?.secret, greeter }),
        );
        // Watch.
        // chokidar is loaded only by the command that watches.
        const { watchPlugins } = await import('../dev/watch.js');
        const watcher = await watchPlugins(server, dir, {
          dataDir,
          cacheDir,
          validate: validator,
          onEvent: (event) => {
            const { text, toStderr } = formatDevEvent(event, cwd);
            if (toStderr) io.err(text);
            else io.out(text);
            dashboard?.devEvent(event, text);
          },
        });
        const close = (): Promise<void> => watcher.close();
        if (shutdown.stopping) return { close, dispose: () => validator.dispose() };
        const input = io.stdin ?? process.stdin;
        const clear = io.clear ?? (() => process.stdout.write('\u001b[2J\u001b[3J\u001b[H'));
        const stopKeys = listenForKeys(input, {
          reload: () => {
            io.out(kleur.dim('reloading every plugin...'));
            void watcher.reloadAll();
          },
          clear,
          quit: () => shutdown.request('quit'),
          interrupt: () => shutdown.request('SIGINT'),
        });
        const keys = input.isTTY === true ? kleur.dim('  (r reload · c clear · q quit)') : '';
        io.out(`${kleur.cyan('watching')} ${shownDir(dir, cwd)} for changes${keys}`);
        return {
          close,
          dispose: () => {
            stopKeys();
            validator.dispose();
          },
        };
      },
    });
  },
});

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
