import { parseArgs, type ParseArgsConfig } from 'node:util';
import { NekoError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses a command's arguments strictly: an unknown flag, a missing value or
 * an extra positional is a usage error (exit code 2) that names the culprit.
 */
export function parseCommandArgs(
  command: string,
  args: readonly string[],
  options: Options,
  maxPositionals: number,
): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new NekoError('NEKO_ERR_CLI_USAGE', (err as Error).message.replace(/\. To specify.*$/s, ''), {
      hint: `Run \`nekoconnect ${command} --help\` for the options.`,
    });
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new NekoError('NEKO_ERR_CLI_USAGE', `unexpected argument "${parsed.positionals[maxPositionals]}"`, {
      hint: `Run \`nekoconnect ${command} --help\` for the usage.`,
    });
  }
  return {
    values: parsed.values as Record<string, string | boolean | undefined>,
    positionals: parsed.positionals,
  };
}

/** Reads a whole-number flag; undefined when absent. */
export function intFlag(
  values: ParsedArgs['values'],
  name: string,
  range: { min: number; max: number },
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new NekoError(
      'NEKO_ERR_CLI_USAGE',
      `--${name} must be a whole number from ${range.min} to ${range.max}, got "${String(raw)}"`,
    );
  }
  return n;
}
