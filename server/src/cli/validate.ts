import path from 'node:path';
import { NekoError } from '../errors.js';
import { defineCommand, type CliIo } from './command.js';

/** What the validate command needs from its process. */
export type ValidateIo = Pick<CliIo, 'out' | 'err' | 'cwd'>;

/**
 * `nekoconnect validate [dir] [--json | --reporter github]`: validates, prints the report, and
 * resolves with the exit code: 0 without errors, 1 with. A bad flag, or a
 * folder that is missing or holds no plugin, is thrown: a usage error (2).
 */
export const VALIDATE_COMMAND = defineCommand({
  name: 'validate',
  args: ['[dir]'],
  summary: 'check plugins against the Context contract (see `nekoconnect validate --help`)',
  description: `Checks plugins without running them: spec.conf, the logic file, the Logic
class against the Context contract, and TypeScript's own errors. dir is one
plugin folder (with a spec.conf), a .ncp package, or a plugins directory of
folders and packages; it defaults to the config's plugins, else the current
directory. A package is checked as one: manifest, hashes, spec.conf,
NekoConnect range and ops.json (type checks need the sources). See
docs/validate.md.`,
  flags: {
    json: {
      type: 'boolean',
      help: 'print the report as JSON (its shape is in docs/validate.md)',
      key: 'json',
    },
    reporter: {
      type: 'string',
      value: '<name>',
      help: 'default (terminal text) or github (GitHub Actions annotations: ::error file=…,line=…,col=…::…)',
      default: 'default',
      key: 'reporter',
    },
    config: {
      type: 'string',
      value: '<file>',
      help: 'take the plugins directory from this config file',
      key: 'config',
    },
    'no-config': { type: 'boolean', help: 'ignore the config file', key: 'noConfig' },
  },
  footer: `Exit codes: 0 no errors (warnings allowed), 1 problems found, 2 usage error.
Environment: NO_COLOR (plain output).`,
  run: async (flags, args, io: ValidateIo) => {
    const cwd = io.cwd ?? process.cwd();
    const reporter = flags.reporter ?? 'default';
    if (reporter !== 'default' && reporter !== 'github') {
      throw new NekoError(
        'NEKO_ERR_CLI_USAGE',
        `--reporter ${reporter} is not a reporter: give default or github`,
        {
          hint: 'Run `nekoconnect validate --help` for the options.',
        },
      );
    }
    if (reporter === 'github' && flags.json === true) {
      throw new NekoError('NEKO_ERR_CLI_USAGE', '--json and --reporter github cannot be used together', {
        hint: 'give one of them: --json for programs, --reporter github in a GitHub Actions workflow',
      });
    }
    const dir = await pluginsDir(cwd, args[0], flags);

    // ts-morph takes most of a second to load: only this command pays for it.
    const { validateTarget, formatReport, formatGithubReport, toJsonReport } =
      await import('../validate/index.js');
    // Folders, and .ncp packages: their manifest, hashes, spec.conf, NekoConnect range and ops.json (docs/packages.md).
    const report = await validateTarget(dir);
    io.out(
      flags.json === true
        ? JSON.stringify(toJsonReport(report), null, 2)
        : reporter === 'github'
          ? formatGithubReport(report, { cwd })
          : formatReport(report, { cwd }),
    );
    // The CLI exits as soon as this resolves: let stdout take the whole report first.
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    return report.errorCount > 0 ? 1 : 0;
  },
});

/** The `[dir]` argument, else the config's `plugins`, else the working directory. */
async function pluginsDir(
  cwd: string,
  dir: string | undefined,
  flags: { config?: string; noConfig?: true },
): Promise<string> {
  if (dir !== undefined) return path.resolve(cwd, dir);
  // The config loader brings the bundler with it: only when there is a config to read.
  const { loadConfig } = await import('../config/load-config.js');
  const loaded = await loadConfig(cwd, { configFile: flags.config, noConfig: flags.noConfig });
  return loaded?.config.plugins === undefined ? cwd : path.resolve(loaded.dir, loaded.config.plugins);
}
