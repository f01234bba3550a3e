/**
 * The commands of the CLI, declared as data: a name, a summary, the
 * arguments, the flags (type, default, help line, where the value goes) and
 * `run`. The parsing, the usage errors, `--help` and the typed flag object
 * are all made from that one declaration. A command may hold subcommands
 * (`nekoconnect data export`): the first argument naming one picks it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { KeyInput } from '../dev/keys.js';
import { NekoError } from '../errors.js';
import { inRange, type IntRange } from '../server/limits.js';

/** What a command needs from its process, so tests can drive it. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** The working directory: where the config file is looked for. Default `process.cwd()`. */
  cwd?: string;
  /** Registers the shutdown signal handlers; returns a function that removes them. */
  onSignal: (handler: (signal: string) => void) => () => void;
  /**
   * Registers the handlers of the control signals of a serving command:
   * `SIGHUP` (reload) and `SIGUSR2` (drain). Returns a function that
   * removes them. Absent: the command gets no control signals.
   */
  onControl?: (handler: (signal: ControlSignal) => void) => () => void;
  /** Where keys come from (dev); default `process.stdin`. Keys work only when it is a TTY. */
  stdin?: KeyInput;
  /** Clears the screen (key `c` in dev). Default: the ANSI sequence, on stdout. */
  clear?: () => void;
}

/** The signals that steer a running server without stopping it: reload, and drain. */
export type ControlSignal = 'SIGHUP' | 'SIGUSR2';

/** One flag of a command. */
export interface FlagSpec {
  /** `int` is a whole number in `range`; `boolean` is true when given. */
  readonly type: 'string' | 'int' | 'boolean';
  readonly short?: string;
  /** The value's name in the help, e.g. `<port>`. */
  readonly value?: string;
  /** The help: one text (wrapped to the terminal) or its lines as they are shown. */
  readonly help: string | readonly string[];
  /** The default as the help shows it, e.g. `10390; 0 picks a free one`. */
  readonly default?: string | number;
  readonly range?: IntRange;
  /** Where the value goes in the flag object: `port`, or `group.key` (e.g. `limits.maxPacketBytes`). */
  readonly key: string;
}

export type Flags = Readonly<Record<string, FlagSpec>>;

type ValueOf<S extends FlagSpec> = S['type'] extends 'boolean'
  ? true
  : S['type'] extends 'int'
    ? number
    : string;
type Head<K extends string> = K extends `${infer H}.${string}` ? H : K;

/** The flag object of a command: each flag given under its key, grouped by `group.key`; absent ones left out. */
export type FlagValues<F extends Flags> = {
  -readonly [N in keyof F as Head<F[N]['key']>]?: F[N]['key'] extends `${infer H}.${string}`
    ? { [M in keyof F as F[M]['key'] extends `${H}.${infer L}` ? L : never]?: ValueOf<F[M]> }
    : ValueOf<F[N]>;
};

/** A command, as `main` dispatches it and `--help` shows it. */
export interface Command<F extends Flags = Flags> {
  /** The name, and the other names that pick it (`-v`, `--version`). */
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Listed among the commands, or among the options (`--help`, `--version`) of the main help. */
  readonly listAs?: 'command' | 'option';
  /**
   * The positional arguments as the usage line shows them, e.g. `[dir]`; each
   * optional. A last one ending in `...` (`[greeter...]`) takes any number.
   */
  readonly args?: readonly string[];
  /** One line for the main help. */
  readonly summary: string;
  /** The help's paragraphs before the options. */
  readonly description?: string;
  readonly flags: F;
  /** Paragraphs after the options (e.g. the keys of dev). */
  readonly notes?: string;
  /** The help's last paragraph: exit codes and environment. */
  readonly footer?: string;
  /** Commands under this one (`data export`). */
  readonly subcommands?: readonly AnyCommand[];
  /** Whether the process guards against stray plugin errors while it runs (commands that serve). */
  readonly serves?: boolean;
  /** Runs it with the flags parsed; resolves with the exit code. */
  readonly run: (flags: FlagValues<F>, args: readonly string[], io: CliIo) => Promise<number>;
}

/** A command of any flags, as lists of commands hold them. */
export type AnyCommand = Omit<Command<Flags>, 'run'> & {
  readonly run: (flags: never, args: readonly string[], io: CliIo) => Promise<number>;
};

/** Declares a command; the identity, for the types. */
export function defineCommand<const F extends Flags>(command: Command<F>): Command<F> {
  return command;
}

/** The flag every command has. */
const HELP_FLAG = { type: 'boolean', short: 'h', help: 'show this help', key: 'help' } as const;

/** Where the help column of the options starts. */
const HELP_COLUMN = 32;
const WIDTH = 80;

/** The command's name as the user types it after `nekoconnect`, e.g. `data export`. */
function commandPath(path: readonly string[]): string {
  return path.join(' ');
}

function usageError(message: string, path: readonly string[], what = 'options'): NekoError {
  const command = ['nekoconnect', ...path].join(' ');
  return new NekoError('NEKO_ERR_CLI_USAGE', message, { hint: `Run \`${command} --help\` for the ${what}.` });
}

/**
 * Parses a command's arguments strictly: an unknown flag, a missing value, a
 * bad number or an extra argument is a usage error (exit code 2) that names
 * the culprit.
 *
 * @param path the command's names, e.g. `['start']`
 * @returns the flag object, the positional arguments, and whether `--help` was given
 */
export function parseFlags<F extends Flags>(
  command: Pick<Command<F>, 'flags' | 'args'>,
  path: readonly string[],
  argv: readonly string[],
): { flags: FlagValues<F>; args: string[]; help: boolean } {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(command.flags)) {
    options[name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.short === undefined ? {} : { short: spec.short }),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError((err as Error).message.replace(/\. To specify.*$/s, ''), path);
  }
  const max = /\.\.\.\]?$/.test(command.args?.at(-1) ?? '') ? Infinity : (command.args?.length ?? 0);
  if (parsed.positionals.length > max) {
    throw usageError(`unexpected argument "${parsed.positionals[max]}"`, path, 'usage');
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const flags: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(command.flags)) {
    const raw = values[name];
    if (raw === undefined) continue;
    const value = spec.type === 'int' ? intValue(name, raw, spec.range, path) : raw;
    const [group, key] = spec.key.split('.', 2) as [string, string | undefined];
    if (key === undefined) flags[group] = value;
    else flags[group] = { ...(flags[group] as object | undefined), [key]: value };
  }
  return { flags: flags as FlagValues<F>, args: parsed.positionals, help: values.help === true };
}

function intValue(
  name: string,
  raw: string | boolean,
  range: IntRange = { min: 0, max: Number.MAX_SAFE_INTEGER },
  path: readonly string[],
): number {
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!inRange(n, range)) {
    throw new NekoError(
      'NEKO_ERR_CLI_USAGE',
      `--${name} must be a whole number from ${range.min} to ${range.max}, got "${String(raw)}"`,
      { hint: `Run \`${['nekoconnect', ...path].join(' ')} --help\` for the options.` },
    );
  }
  return n;
}

/** The `--help` of a command. */
export function commandHelp(command: AnyCommand, path: readonly string[]): string {
  const usage = [
    'nekoconnect',
    commandPath(path),
    ...(command.subcommands !== undefined ? ['<command>'] : []),
    ...(command.args ?? []),
    '[options]',
  ].join(' ');
  const parts = [`Usage: ${usage}`];
  if (command.description !== undefined) parts.push(command.description);
  if (command.subcommands !== undefined) parts.push(commandList(command.subcommands, 'Commands:'));
  const lines = ['Options:'];
  for (const [name, spec] of [...Object.entries(command.flags), ['help', HELP_FLAG] as const]) {
    lines.push(...flagLines(name, spec));
  }
  parts.push(lines.join('\n'));
  if (command.notes !== undefined) parts.push(command.notes);
  if (command.footer !== undefined) parts.push(command.footer);
  return parts.join('\n\n');
}

/** The lines of one flag: its names, then its help (and default) from the help column on. */
function flagLines(name: string, spec: FlagSpec): string[] {
  const label = `  ${spec.short === undefined ? '    ' : `-${spec.short}, `}--${name}${spec.value === undefined ? '' : ` ${spec.value}`}`;
  const help = typeof spec.help === 'string' ? wrap(spec.help, WIDTH - HELP_COLUMN) : [...spec.help];
  if (spec.default !== undefined) {
    // The default is never split: after the help's last line when it fits, else on a line of its own.
    const text = `(default ${spec.default})`;
    const last = help.length - 1;
    if (help[last]!.length + 1 + text.length <= WIDTH - HELP_COLUMN) {
      help[last] = `${help[last]} ${text}`;
    } else {
      help.push(text);
    }
  }
  const first = label.length + 2 <= HELP_COLUMN ? label.padEnd(HELP_COLUMN) : `${label}  `;
  return help.map((line, i) => `${i === 0 ? first : ' '.repeat(HELP_COLUMN)}${line}`);
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

/** How a help lists a command: `start [dir]`, or `-v, --version` for one listed as an option. */
function listedNames(command: AnyCommand): string {
  return command.listAs === 'option'
    ? (command.aliases ?? []).join(', ')
    : [command.name, ...(command.args ?? [])].join(' ');
}

/** Where the summaries of {@link commandList} start, for lists shown one under the other. */
export function listWidth(commands: readonly AnyCommand[]): number {
  return Math.max(...commands.map((c) => listedNames(c).length + 2));
}

/** The list of commands of a help: `  start [dir]     serve the plugins in dir`. */
export function commandList(
  commands: readonly AnyCommand[],
  title: string,
  width = listWidth(commands),
): string {
  return [title, ...commands.map((c) => `  ${listedNames(c).padEnd(width)}${c.summary}`)].join('\n');
}

/**
 * Finds the command `argv` names, following subcommands.
 *
 * @returns the command, its path of names, and the arguments left for it; undefined for none
 */
export function findCommand(
  commands: readonly AnyCommand[],
  argv: readonly string[],
  path: readonly string[] = [],
): { command: AnyCommand; path: string[]; rest: string[] } | undefined {
  const [first, ...rest] = argv;
  if (first === undefined) return undefined;
  const command = commands.find((c) => c.name === first || (c.aliases ?? []).includes(first));
  if (command === undefined) return undefined;
  const here = [...path, command.name];
  if (command.subcommands !== undefined) {
    const sub = findCommand(command.subcommands, rest, here);
    if (sub !== undefined) return sub;
  }
  return { command, path: here, rest };
}

/**
 * Runs a command: parses its flags and prints its help for `--help`, or runs it.
 *
 * @throws NekoError `NEKO_ERR_CLI_USAGE` for a bad argument, and whatever `run` throws
 */
export async function runCommand(
  command: AnyCommand,
  path: readonly string[],
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  const { flags, args, help } = parseFlags(command, path, argv);
  if (help) {
    io.out(commandHelp(command, path));
    return 0;
  }
  return command.run(flags as never, args, io);
}
