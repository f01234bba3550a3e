/**
 * `--log-format` and `--log-level` over the config's `log`, over the
 * defaults; the config's `log` checked by the schema like every key.
 */
import { describe, expect, it } from 'vitest';
import { resolveLogOptions } from '../../src/config/log-options.js';
import { checkConfig } from '../../src/config/schema.js';

const messages = (config: unknown): string[] => checkConfig(config).map((issue) => issue.message);

describe('log options', () => {
  it('take the flags over the config over the defaults (pretty, info)', () => {
    expect(resolveLogOptions({}, {})).toEqual({ format: 'pretty', level: 'info' });
    expect(resolveLogOptions({}, { log: { format: 'json', level: 'warn' } })).toEqual({
      format: 'json',
      level: 'warn',
    });
    expect(resolveLogOptions({ logLevel: 'debug' }, { log: { format: 'json', level: 'warn' } })).toEqual({
      format: 'json',
      level: 'debug',
    });
    expect(resolveLogOptions({ logFormat: 'pretty' }, { log: { format: 'json' } })).toEqual({
      format: 'pretty',
      level: 'info',
    });
  });

  it('refuse a flag value that is not one of theirs, as a usage error', () => {
    expect(() => resolveLogOptions({ logFormat: 'text' }, {})).toThrow(
      expect.objectContaining({
        code: 'NEKO_ERR_CLI_USAGE',
        message: '--log-format must be one of pretty, json, got "text"',
      }),
    );
    expect(() => resolveLogOptions({ logLevel: 'trace' }, {})).toThrow(
      expect.objectContaining({ code: 'NEKO_ERR_CLI_USAGE' }),
    );
  });

  it('are checked in the config file: an object of format and level, each one of its values', () => {
    expect(messages({ log: { format: 'json', level: 'debug' } })).toEqual([]);
    expect(messages({ log: 'json' })).toEqual(['log must be an object { format, level }, got "json"']);
    expect(messages({ log: { format: 'yaml', level: 3 } })).toEqual([
      'log.format must be one of "pretty", "json", got "yaml"',
      'log.level must be one of "debug", "info", "warn", "error", got 3',
    ]);
    expect(messages({ log: { levle: 'warn' } })).toEqual([
      'unknown key "log.levle" (did you mean "log.level"?); log takes format and level',
    ]);
    expect(messages({ logLevel: 'warn' })[0]).toContain('"log.level"');
  });
});
