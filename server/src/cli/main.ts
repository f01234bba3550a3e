#!/usr/bin/env node
import kleur from 'kleur';
import { NekoError, isNekoError, type NekoErrorCode } from '../errors.js';
import { formatError } from '../format.js';
import {
  commandList,
  defineCommand,
  findCommand,
  listWidth,
  runCommand,
  type AnyCommand,
  type CliIo,
  type ControlSignal,
} from './command.js';
import { DRAIN_COMMAND, RELOAD_COMMAND } from './control.js';
import { DATA_COMMAND } from './data.js';
import { DEV_COMMAND } from './dev.js';
import { START_COMMAND } from './start.js';
import { PACK_COMMAND } from './pack.js';
import { VALIDATE_COMMAND } from './validate.js';
import { configureColor } from './terminal.js';
import { failureLine, warningLine } from './output.js';
import { packageVersion } from './version.js';

/**
 * The exit codes, for every command: 0 a clean run, 1 a runtime failure, 2 a
 * usage or configuration error. The codes below (and every `NEKO_ERR_CLI_*`
 * and `NEKO_ERR_CONFIG_*`) are usage or configuration errors.
 */
const USAGE_ERRORS: readonly NekoErrorCode[] = ['NEKO_ERR_PLUGINS_DIR', 'NEKO_ERR_VALIDATE_NO_PLUGINS'];

/** The exit code of an error that ended a command. */
function exitCodeFor(err: unknown): 1 | 2 {
  if (!isNekoError(err)) return 1;
  return err.code.startsWith('NEKO_ERR_CLI_') ||
    err.code.startsWith('NEKO_ERR_CONFIG_') ||
    USAGE_ERRORS.includes(err.code)
    ? 2
    : 1;
}

const HELP_COMMAND = defineCommand({
  name: 'help',
  aliases: ['-h', '--help'],
  listAs: 'option',
  summary: 'show this help',
  flags: {},
  run: async (_flags, _args, io) => {
    io.out(mainHelp());
    return 0;
  },
});

const VERSION_COMMAND = defineCommand({
  name: 'version',
  aliases: ['-v', '--version'],
  listAs: 'option',
  summary: 'print the version',
  flags: {},
  run: async (_flags, _args, io) => {
    io.out(packageVersion());
    return 0;
  },
});

/** The commands, as the main help lists them. */
const COMMANDS: readonly AnyCommand[] = [
  START_COMMAND,
  DEV_COMMAND,
  RELOAD_COMMAND,
  DRAIN_COMMAND,
  VALIDATE_COMMAND,
  PACK_COMMAND,
  DATA_COMMAND,
  HELP_COMMAND,
  VERSION_COMMAND,
];

function mainHelp(): string {
  const commands = COMMANDS.filter((c) => c.listAs !== 'option');
  const options = COMMANDS.filter((c) => c.listAs === 'option');
  const width = listWidth(COMMANDS);
  return `Usage: nekoconnect <command> [options]

${commandList(commands, 'Commands:', width)}

${commandList(options, 'Options:', width)}

Config: nekoconnect.config.ts (or .js, .mjs, .json) in the current directory;
flags beat it. See docs/config.md.

Docs: docs/ in the NekoConnect repository (protocol, plugins, config, client, errors).`;
}

async function main(argv: readonly string[]): Promise<number> {
  configureColor(process.stdout);
  const io: CliIo = {
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
    // SIGHUP reloads and SIGUSR2 drains: neither stops the process (SIGHUP's default would).
    onControl: (handler) => {
      const listener = (signal: NodeJS.Signals): void => handler(signal as ControlSignal);
      process.on('SIGHUP', listener);
      process.on('SIGUSR2', listener);
      return () => {
        process.off('SIGHUP', listener);
        process.off('SIGUSR2', listener);
      };
    },
  };
  try {
    if (argv.length === 0) {
      io.out(mainHelp());
      return 2;
    }
    const found = findCommand(COMMANDS, argv);
    if (found === undefined) {
      const [first = ''] = argv;
      throw new NekoError(
        'NEKO_ERR_CLI_USAGE',
        first.startsWith('-') ? `Unknown option '${first}'` : `unknown command "${first}"`,
        { hint: 'Run `nekoconnect --help` for the commands.' },
      );
    }
    if (found.command.serves === true) guardProcess(io);
    return await runCommand(found.command, found.path, found.rest, io);
  } catch (err) {
    // In JSON mode (--log-format json), a JSON record like every other line.
    if (isNekoError(err)) io.err(failureLine(formatError(err), err));
    else io.err(failureLine(`${kleur.red('error')} ${describe(err)}`, err));
    return exitCodeFor(err);
  }
}

/**
 * A plugin's stray timer or promise must not take every other client down:
 * such errors are logged and the server keeps serving.
 */
function guardProcess(io: CliIo): void {
  process.on('unhandledRejection', (reason) => {
    const what = "unhandled rejection (a plugin's promise?): ";
    io.err(failureLine(`${kleur.red('error')} ${what}${describe(reason)}`, reason, what));
  });
  process.on('uncaughtException', (err) => {
    const what = "uncaught exception (a plugin's callback?): ";
    io.err(failureLine(`${kleur.red('error')} ${what}${describe(err)}`, err, what));
  });
  // Node's own warnings (a deprecation in a plugin's dependency…) in the format of every other line.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => io.err(warningLine(warning)));
}

function describe(value: unknown): string {
  return value instanceof Error ? (value.stack ?? value.message) : String(value);
}

// Exit explicitly: a plugin's leftover timer must not keep a stopped server's process alive,
// and a second Ctrl+C must not wait for running handlers.
process.exit(await main(process.argv.slice(2)));
