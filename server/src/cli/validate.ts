import path from 'node:path';
import { isNekoError } from '../errors.js';
import { parseCommandArgs } from './args.js';
import { formatError } from '../format.js';

export const VALIDATE_HELP = `Usage: nekoconnect validate [dir] [options]

Checks plugins without running them: spec.conf, the logic file, the Logic
class against the Context contract, and TypeScript's own errors. dir is one
plugin folder (with a spec.conf) or a plugins directory; it defaults to the
config's plugins, else the current directory. See docs/validate.md.

Options:
      --json            print the report as JSON (its shape is in docs/validate.md)
      --config <file>   take the plugins directory from this config file
      --no-config       ignore the config file
  -h, --help            show this help

Exit codes: 0 no errors (warnings allowed), 1 problems found, 2 usage error.
Environment: NO_COLOR (plain output).`;

const VALIDATE_OPTIONS = {
  json: { type: 'boolean' },
  config: { type: 'string' },
  'no-config': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What the validate command needs from its process. */
export interface ValidateIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Where relative paths and the config file are looked up. Default `process.cwd()`. */
  cwd?: string;
}

/**
 * `nekoconnect validate [dir] [--json]`: validates, prints the report, and
 * resolves with the exit code: 0 without errors, 1 with, 2 for a usage
 * error (a bad flag, a folder that is missing or holds no plugin).
 */
export async function runValidate(args: readonly string[], io: ValidateIo): Promise<number> {
  const parsed = parseCommandArgs('validate', args, VALIDATE_OPTIONS, 1);
  if (parsed.values.help) {
    io.out(VALIDATE_HELP);
    return 0;
  }
  const cwd = io.cwd ?? process.cwd();
  const dir = await pluginsDir(cwd, parsed.positionals[0], parsed.values);

  // ts-morph takes most of a second to load: only this command pays for it.
  const { validatePlugins, formatReport, toJsonReport } = await import('../validate/index.js');
  let report;
  try {
    report = await validatePlugins(dir);
  } catch (err) {
    if (isNekoError(err, 'NEKO_ERR_PLUGINS_DIR') || isNekoError(err, 'NEKO_ERR_VALIDATE_NO_PLUGINS')) {
      io.err(formatError(err));
      return 2;
    }
    throw err;
  }
  io.out(
    parsed.values.json === true
      ? JSON.stringify(toJsonReport(report), null, 2)
      : formatReport(report, { cwd }),
  );
  // The CLI exits as soon as this resolves: let stdout take the whole report first.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  return report.errorCount > 0 ? 1 : 0;
}

/** The `[dir]` argument, else the config's `plugins`, else the working directory. */
async function pluginsDir(
  cwd: string,
  dir: string | undefined,
  values: Record<string, string | boolean | undefined>,
): Promise<string> {
  if (dir !== undefined) return path.resolve(cwd, dir);
  const configFile = typeof values['config'] === 'string' ? values['config'] : undefined;
  // The config loader brings the bundler with it: only when there is a config to read.
  const { loadConfig } = await import('../config/load-config.js');
  const loaded = await loadConfig(cwd, { configFile, noConfig: values['no-config'] === true });
  return loaded?.config.plugins === undefined ? cwd : path.resolve(loaded.dir, loaded.config.plugins);
}
