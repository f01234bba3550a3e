/**
 * How the server's output looks and how much of its log it prints:
 * `--log-format` and `--log-level` over the config's `log`, over the
 * defaults (pretty, info).
 */
import { NekoError } from '../errors.js';
import { LOG_FORMATS, type LogFormat } from '../logging/json.js';
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, type LogLevel } from '../logging/logger.js';
import type { NekoConfig } from './define-config.js';

/** The output of a server the CLI runs. */
export interface LogOptions {
  /** `pretty` text, or one JSON record a line. */
  format: LogFormat;
  /** The least severe level the terminal prints (the dashboard keeps `info` and above). */
  level: LogLevel;
}

export const DEFAULT_LOG_FORMAT: LogFormat = 'pretty';

export function isLogFormat(value: unknown): value is LogFormat {
  return (LOG_FORMATS as readonly unknown[]).includes(value);
}

export function isLogLevel(value: unknown): value is LogLevel {
  return (LOG_LEVELS as readonly unknown[]).includes(value);
}

/**
 * The flags over the config's `log` (checked by the schema already).
 *
 * @throws NekoError `NEKO_ERR_CLI_USAGE` for a `--log-format` or `--log-level` that is not one of the values
 */
export function resolveLogOptions(
  flags: { logFormat?: string; logLevel?: string },
  config: NekoConfig,
): LogOptions {
  const format = flags.logFormat ?? config.log?.format ?? DEFAULT_LOG_FORMAT;
  const level = flags.logLevel ?? config.log?.level ?? DEFAULT_LOG_LEVEL;
  if (!isLogFormat(format)) {
    throw new NekoError(
      'NEKO_ERR_CLI_USAGE',
      `--log-format must be one of ${LOG_FORMATS.join(', ')}, got "${format}"`,
      {
        hint: 'use --log-format json for a log shipper, pretty (the default) for a terminal',
      },
    );
  }
  if (!isLogLevel(level)) {
    throw new NekoError(
      'NEKO_ERR_CLI_USAGE',
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`,
      {
        hint: 'debug adds the connections accepted, authenticated and closed; info is the default',
      },
    );
  }
  return { format, level };
}
