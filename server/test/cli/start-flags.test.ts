import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandHelp, parseFlags } from '../../src/cli/command.js';
import { DEV_COMMAND } from '../../src/cli/dev.js';
import { START_COMMAND, START_FLAGS, startFlags } from '../../src/cli/start.js';
import { VALIDATE_COMMAND } from '../../src/cli/validate.js';
import { DEFAULT_LIMITS, LIMITS, LIMIT_KEYS } from '../../src/server/limits.js';

const START_HELP = commandHelp(START_COMMAND, ['start']);

function flags(args: string[]): ReturnType<typeof startFlags> {
  const parsed = parseFlags(START_COMMAND, ['start'], args);
  return startFlags(parsed.flags, parsed.args);
}

describe('nekoconnect start: --max-pending-bytes', () => {
  it('sets limits.maxPendingBytes, with the other limit flags', () => {
    expect(flags(['--max-pending-bytes', '65536', '--max-connections', '7']).limits).toEqual({
      maxPendingBytes: 65536,
      maxConnections: 7,
    });
  });

  it('refuses a value below 1 KiB as a usage error naming the range', () => {
    expect(() => flags(['--max-pending-bytes', '100'])).toThrow(
      expect.objectContaining({
        code: 'NEKO_ERR_CLI_USAGE',
        message: expect.stringContaining(
          '--max-pending-bytes must be a whole number from 1024 to 4294967295',
        ),
      }),
    );
  });

  it('is in the help with its default', () => {
    expect(START_HELP).toMatch(/--max-pending-bytes <n>[^\n]*\n[^\n]*\(default 4194304\)/);
  });
});

describe('the flags of start and dev, declared once', () => {
  it('makes the flag object: each flag under its key, the limits grouped, the [dir] argument as dir', () => {
    expect(
      flags([
        'plugins',
        '-p',
        '0',
        '--host',
        '0.0.0.0',
        '--no-config',
        '--idle-timeout-ms',
        '5',
        '--dashboard-open',
        '--data-dir',
        'd',
      ]),
    ).toEqual({
      dir: 'plugins',
      port: 0,
      host: '0.0.0.0',
      noConfig: true,
      limits: { idleTimeoutMs: 5 },
      dashboardOpen: true,
      dataDir: 'd',
    });
    expect(flags([])).toEqual({});
  });

  it('lists every flag in the help of start and of dev, each with its default', () => {
    const devHelp = commandHelp(DEV_COMMAND, ['dev']);
    for (const help of [START_HELP, devHelp]) {
      for (const [name, spec] of Object.entries(START_FLAGS)) {
        expect(help).toContain(`--${name}`);
        if ('default' in spec) {
          expect(help).toMatch(
            new RegExp(`--${name}\\b[^]*?\\(default ${String(spec.default).split(';')[0]}`),
          );
        }
      }
      expect(help).toContain('-h, --help                    show this help');
    }
  });

  it('takes the limit flags, their defaults and ranges from the table of limits', () => {
    for (const key of LIMIT_KEYS) {
      const flag = LIMITS[key].flag;
      if (flag === undefined) continue;
      const spec = (START_FLAGS as Record<string, { default?: string | number; key: string }>)[flag];
      expect(spec?.key).toBe(`limits.${key}`);
      expect(String(spec?.default)).toMatch(new RegExp(`^${DEFAULT_LIMITS[key]}\\b`));
      const { max } = LIMITS[key];
      expect(() => flags([`--${flag}`, String(max + 1)])).toThrow(
        expect.objectContaining({
          code: 'NEKO_ERR_CLI_USAGE',
          message: expect.stringContaining(`to ${max},`),
        }),
      );
    }
  });

  it('lists the flags of validate with the column of start', () => {
    const help = commandHelp(VALIDATE_COMMAND, ['validate']);
    expect(help).toContain('Usage: nekoconnect validate [dir] [options]');
    expect(help).toMatch(/^ {6}--json {20}print the report as JSON/m);
    expect(help).toMatch(/^ {6}--no-config {15}ignore the config file/m);
  });

  it('names the command in the hint of a usage error', () => {
    expect(() => parseFlags(DEV_COMMAND, ['dev'], ['--prot'])).toThrow(
      expect.objectContaining({
        code: 'NEKO_ERR_CLI_USAGE',
        hint: expect.stringContaining('nekoconnect dev --help'),
      }),
    );
    expect(() => parseFlags(DEV_COMMAND, ['dev'], ['a', 'b'])).toThrow(
      expect.objectContaining({ message: 'unexpected argument "b"' }),
    );
  });
});

describe('docs/plugins.md: the options of nekoconnect start', () => {
  it('lists every flag of the declaration, with its default', async () => {
    const doc = await readFile(
      path.join(import.meta.dirname, '..', '..', '..', 'docs', 'plugins.md'),
      'utf8',
    );
    const rows = doc.split('\n').filter((line) => /^\| `(-\w, )?--/.test(line));
    for (const [name, spec] of Object.entries(START_FLAGS)) {
      const row = rows.find((line) => new RegExp(`^\\| \`(-\\w, )?--${name}[ \`]`).test(line));
      expect(row, name).toBeDefined();
      const defaultCell = row!.split('|')[2]!.trim();
      if ('default' in spec) {
        const shown = String(spec.default).split(/[;:]/)[0]!.trim();
        expect(defaultCell, name).toMatch(new RegExp(`^\`${shown.replace(/\./g, '\\.')}\``));
      } else {
        expect(defaultCell, name).toBe('');
      }
    }
  });
});
