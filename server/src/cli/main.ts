#!/usr/bin/env node
import kleur from 'kleur';
import { NekoError, isNekoError } from '../errors.js';
import { parseCommandArgs } from './args.js';
import { exitCodeFor, runStart, type StartIo } from './start.js';
import { formatError } from '../format.js';
import { configureColor } from './terminal.js';
import { packageVersion } from './version.js';

const HELP = `Usage: nekoconnect <command> [options]

Commands:
  start [dir]     serve the plugins in dir (see \`nekoconnect start --help\`)
  dev [dir]       serve them and hot-reload each plugin as you edit it (see \`nekoconnect dev --help\`)
  validate [dir]  check plugins against the Context contract (see \`nekoconnect validate --help\`)

Options:
  -h, --help      show this help
  -v, --version   print the version

Config: nekoconnect.config.ts (or .js, .mjs, .json) in the current directory;
flags beat it. See docs/config.md.

Docs: docs/ in the NekoConnect repository (protocol, plugins, config, client, errors).`;

async function main(argv: readonly string[]): Promise<number> {
  configureColor(process.stdout);
  const [command, ...rest] = argv;
  const io: StartIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    cwd: process.cwd(),
    onSignal: (handler) => {
      const listener = (signal: NodeJS.Signals): void => handler(signal);
      process.on('SIGINT', listener);
      process.on('SIGTERM', listener);
      return () => {
        process.off('SIGINT', listener);
        process.off('SIGTERM', listener);
      };
    },
  };
  try {
    switch (command) {
      case 'start':
        guardProcess(io);
        return await runStart(rest, io);
      case 'dev':
        guardProcess(io);
        return await (await import('./dev.js')).runDev(rest, io);
      case 'validate':
        return await (await import('./validate.js')).runValidate(rest, io);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(HELP);
        return command === undefined ? 2 : 0;
      case '-v':
      case '--version':
        io.out(packageVersion());
        return 0;
      default: {
        if (command.startsWith('-')) parseCommandArgs('', [command], {}, 0);
        throw new NekoError('NEKO_ERR_CLI_USAGE', `unknown command "${command}"`, {
          hint: 'Run `nekoconnect --help` for the commands.',
        });
      }
    }
  } catch (err) {
    if (isNekoError(err)) io.err(formatError(err));
    else io.err(`${kleur.red('error')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return exitCodeFor(err);
  }
}

/**
 * A plugin's stray timer or promise must not take every other client down:
 * such errors are logged and the server keeps serving.
 */
function guardProcess(io: StartIo): void {
  process.on('unhandledRejection', (reason) => {
    io.err(`${kleur.red('error')} unhandled rejection (a plugin's promise?): ${describe(reason)}`);
  });
  process.on('uncaughtException', (err) => {
    io.err(`${kleur.red('error')} uncaught exception (a plugin's callback?): ${describe(err)}`);
  });
}

function describe(value: unknown): string {
  return value instanceof Error ? (value.stack ?? value.message) : String(value);
}

// Exit explicitly: a plugin's leftover timer must not keep a stopped server's process alive,
// and a second Ctrl+C must not wait for running handlers.
process.exit(await main(process.argv.slice(2)));
