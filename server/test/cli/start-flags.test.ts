import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/args.js';
import { START_HELP, START_OPTIONS, startFlags } from '../../src/cli/start.js';

function flags(args: string[]): ReturnType<typeof startFlags> {
  return startFlags(parseCommandArgs('start', args, START_OPTIONS, 1));
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
