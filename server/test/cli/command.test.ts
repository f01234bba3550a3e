import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  commandHelp,
  defineCommand,
  findCommand,
  runCommand,
  type AnyCommand,
  type CliIo,
} from '../../src/cli/command.js';
import { START_COMMAND, type StartCommandFlags } from '../../src/cli/start.js';
import { DEV_COMMAND } from '../../src/cli/dev.js';
import type { StartFlags } from '../../src/config/start-options.js';

function io(lines: string[]): CliIo {
  return { out: (l) => lines.push(l), err: (l) => lines.push(l), env: {}, onSignal: () => () => {} };
}

/** A command with subcommands, as `nekoconnect data export|import` will be declared. */
function dataCommand(runs: unknown[]): AnyCommand {
  const exporter = defineCommand({
    name: 'export',
    args: ['<plugin>'],
    summary: 'write a plugin database as JSON lines',
    flags: {
      out: { type: 'string', value: '<file>', help: 'write here instead of stdout', key: 'out' },
      limit: { type: 'int', value: '<n>', help: 'at most n documents', default: 0, key: 'limit' },
    },
    run: async (flags, args) => {
      expectTypeOf(flags).toEqualTypeOf<{ out?: string; limit?: number }>();
      runs.push({ flags, args });
      return 0;
    },
  });
  const importer = defineCommand({
    name: 'import',
    summary: 'read JSON lines into a plugin database',
    flags: { replace: { type: 'boolean', help: 'empty it first', key: 'replace' } },
    run: async (flags) => {
      runs.push({ flags });
      return 0;
    },
  });
  return defineCommand({
    name: 'data',
    summary: "a plugin database's data",
    flags: {},
    subcommands: [exporter, importer],
    run: async () => 2,
  });
}

describe('commands declared as data', () => {
  it('finds a subcommand by its names and runs it with its typed flags', async () => {
    const runs: unknown[] = [];
    const commands = [dataCommand(runs)];
    const found = findCommand(commands, ['data', 'export', 'todo', '--limit', '5']);
    expect(found?.path).toEqual(['data', 'export']);
    expect(await runCommand(found!.command, found!.path, found!.rest, io([]))).toBe(0);
    expect(runs).toEqual([{ flags: { limit: 5 }, args: ['todo'] }]);
    expect(findCommand(commands, ['data'])?.path).toEqual(['data']);
    expect(findCommand(commands, ['nope'])).toBeUndefined();
  });

  it('makes the help and the usage errors of a subcommand, naming it', async () => {
    const commands = [dataCommand([])];
    const lines: string[] = [];
    const found = findCommand(commands, ['data', 'export', '--help'])!;
    expect(await runCommand(found.command, found.path, found.rest, io(lines))).toBe(0);
    expect(lines[0]).toContain('Usage: nekoconnect data export <plugin> [options]');
    expect(lines[0]).toMatch(/--limit <n> {15}at most n documents \(default 0\)/);
    expect(commandHelp(commands[0]!, ['data'])).toMatch(/Commands:\n {2}export <plugin> {2}write a plugin/);
    const bad = findCommand(commands, ['data', 'export', '--limit', 'x'])!;
    await expect(runCommand(bad.command, bad.path, bad.rest, io([]))).rejects.toMatchObject({
      code: 'NEKO_ERR_CLI_USAGE',
      hint: 'Run `nekoconnect data export --help` for the options.',
    });
  });

  it('gives start and dev a flag object with the keys of the start options, and [dir]; --workers is start’s alone', () => {
    expectTypeOf<keyof StartCommandFlags | 'dir' | 'workers'>().toEqualTypeOf<keyof StartFlags>();
    expect(Object.keys(START_COMMAND.flags)).toContain('workers');
    expect(Object.keys(DEV_COMMAND.flags)).not.toContain('workers');
  });
});
