/**
 * The output of a serving command: its own lines as given in pretty mode,
 * and as one JSON record each in JSON mode, with the level, code and plugin
 * they carry; errors that end the process in the same format.
 */
import { describe, expect, it } from 'vitest';
import { NekoError } from '../../src/errors.js';
import { formatError } from '../../src/format.js';
import { Output, failureLine, setProcessLogFormat } from '../../src/cli/output.js';

function capture(format: 'pretty' | 'json'): { output: Output; lines: string[] } {
  const lines: string[] = [];
  const output = new Output(
    { out: (l) => lines.push(`out ${l}`), err: (l) => lines.push(`err ${l}`) },
    format,
  );
  return { output, lines };
}

const parsed = (line: string): Record<string, unknown> =>
  JSON.parse(line.slice(4)) as Record<string, unknown>;

describe('Output', () => {
  it('prints lines as given in pretty mode, with their detail under them', () => {
    const { output, lines } = capture('pretty');
    output.out('listening on tcp://127.0.0.1:1');
    output.err('  ✗ bad  answers 503 until fixed', {
      plugin: 'bad',
      detail: '    error NEKO_ERR_X\n      boom',
    });
    expect(lines).toEqual([
      'out listening on tcp://127.0.0.1:1',
      'err   ✗ bad  answers 503 until fixed\n    error NEKO_ERR_X\n      boom',
    ]);
  });

  it('prints each line as one JSON record in JSON mode: level, plugin, code, the error in the message and its stack', () => {
    const { output, lines } = capture('json');
    output.out('\u001b[1mNekoConnect 0.1.0\u001b[22m');
    output.out('  ✓ echo  Echo v1.0.0', { plugin: 'echo' });
    const error = new NekoError('NEKO_ERR_PLUGIN_IMPORT', 'cannot import logic.js', { hint: 'fix it' });
    output.err('  ✗ bad  answers 503 until fixed', {
      plugin: 'bad',
      code: error.code,
      error,
      detail: formatError(error),
    });
    output.err('warning dashboard is open: any local user can read logs');
    output.err(formatError(new NekoError('NEKO_ERR_SERVER_LISTEN', 'cannot listen on 127.0.0.1:1: EACCES')));
    expect(lines.map((l) => l.slice(0, 4))).toEqual(['out ', 'out ', 'err ', 'err ', 'err ']);
    const [banner, plugin, failure, warning, listen] = lines.map(parsed);
    expect(banner).toEqual({ time: expect.any(String), level: 'info', message: 'NekoConnect 0.1.0' });
    expect(plugin).toMatchObject({ level: 'info', message: '✓ echo  Echo v1.0.0', plugin: 'echo' });
    expect(failure).toMatchObject({
      level: 'error',
      plugin: 'bad',
      code: 'NEKO_ERR_PLUGIN_IMPORT',
      message: '✗ bad  answers 503 until fixed: cannot import logic.js (fix: fix it)',
      stack: expect.stringMatching(/^NekoError: cannot import logic\.js\n\s+at /),
    });
    expect(warning).toMatchObject({
      level: 'warn',
      message: 'dashboard is open: any local user can read logs',
    });
    expect(listen).toMatchObject({
      level: 'error',
      code: 'NEKO_ERR_SERVER_LISTEN',
      message: 'NEKO_ERR_SERVER_LISTEN cannot listen on 127.0.0.1:1: EACCES',
    });
  });

  it("prints the process's own failure lines in the format set", () => {
    const error = new NekoError('NEKO_ERR_CONFIG_NO_SECRET', 'no secret', { hint: 'set NEKOCONNECT_SECRET' });
    try {
      setProcessLogFormat('pretty');
      expect(failureLine('error NEKO_ERR_CONFIG_NO_SECRET\n  no secret', error)).toBe(
        'error NEKO_ERR_CONFIG_NO_SECRET\n  no secret',
      );
      setProcessLogFormat('json');
      expect(JSON.parse(failureLine('ignored', error))).toMatchObject({
        level: 'error',
        code: 'NEKO_ERR_CONFIG_NO_SECRET',
        message: 'no secret (fix: set NEKOCONNECT_SECRET)',
      });
      const stray = JSON.parse(
        failureLine('ignored', new TypeError('x is undefined'), 'uncaught exception: '),
      );
      expect(stray).toMatchObject({ level: 'error', message: 'uncaught exception: x is undefined' });
      expect(stray.stack).toMatch(/^TypeError: x is undefined\n/);
    } finally {
      setProcessLogFormat('pretty');
    }
  });
});
