import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { JsonReport } from '../../src/validate/index.js';
import { REPO_ROOT, assertBuilt, runCli } from '../cli/run-cli.js';
import { FIXTURES } from './helpers.js';

beforeAll(assertBuilt);

const ESC = '\u001b[';
/** Fixtures as the CLI shows them: relative to its working directory, the repository. */
const SHOWN = 'server/test/fixtures/validate';

describe('nekoconnect validate', () => {
  it('exits 0 for the example plugins and lists them', async () => {
    const { code, stdout, stderr } = await runCli(['validate', 'plugins']);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(/^✓ chat {2}plugins\/chat$/m);
    expect(stdout).toMatch(/^✓ echo {2}plugins\/echo$/m);
    expect(stdout).toMatch(/^✓ 4 plugins valid \(\d+ ms\)$/m);
    expect(stdout).not.toContain(ESC);
  });

  it('exits 1 and shows file:line:col, the code, the explanation, a code frame and a fix', async () => {
    const { code, stdout } = await runCli(['validate', `${SHOWN}/recv-param-string`]);
    expect(code).toBe(1);
    expect(stdout).toContain(
      [
        `${SHOWN}/recv-param-string/logic.ts:3:13 error NEKO_ERR_VALIDATE_RECV_PARAM`,
        '  recv(ctx: string) cannot take the Context the server passes: a Context is an object, not a string',
        '      1 | /** recv takes a string, but the server passes a Context. */',
        '      2 | export class Logic {',
        '    > 3 |   recv(ctx: string): void {',
        '        |             ^',
        '      4 |     void ctx;',
        '      5 |   }',
        "  fix: declare it as recv(ctx: Context), with `import type { Context } from 'nekoconnect'`",
      ].join('\n'),
    );
    expect(stdout).toMatch(/^✗ 1 error in 1 plugin$/m);
  });

  it('shows a spec.conf problem with its frame', async () => {
    const { code, stdout } = await runCli(['validate', `${SHOWN}/spec-syntax`]);
    expect(code).toBe(1);
    expect(stdout).toContain(`${SHOWN}/spec-syntax/spec.conf:3:8 error NEKO_ERR_SPEC_SYNTAX`);
    expect(stdout).toContain(`    > 3 | $greet "spec-syntax";\n        |        ^`);
  });

  it('exits 0 with warnings only, and shows them', async () => {
    const { code, stdout } = await runCli(['validate', `${SHOWN}/hook-name-typo`]);
    expect(code).toBe(0);
    expect(stdout).toContain(`${SHOWN}/hook-name-typo/logic.ts:5:3 warning NEKO_ERR_VALIDATE_HOOK_NAME`);
    expect(stdout).toMatch(/^✓ 1 plugin valid, 1 warning/m);
  });

  it('colours the output when asked to (FORCE_COLOR), and not with NO_COLOR', async () => {
    const colored = await runCli(['validate', `${SHOWN}/type-error`], { NO_COLOR: '', FORCE_COLOR: '1' });
    expect(colored.stdout).toContain(`${ESC}31merror`);
    const plain = await runCli(['validate', `${SHOWN}/type-error`], { NO_COLOR: '1', FORCE_COLOR: '1' });
    expect(plain.stdout).not.toContain(ESC);
  });

  it('--json prints the documented shape', async () => {
    const { code, stdout } = await runCli(['validate', `${SHOWN}/duplicates`, '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as JsonReport;
    expect(Object.keys(report)).toEqual([
      'version',
      'root',
      'ok',
      'errorCount',
      'warningCount',
      'durationMs',
      'plugins',
      'problems',
    ]);
    expect(report).toMatchObject({
      version: 1,
      root: join(FIXTURES, 'duplicates'),
      ok: false,
      errorCount: 2,
    });
    expect(report.plugins[2]).toEqual({
      dir: join(FIXTURES, 'duplicates', 'unique'),
      name: 'Unique',
      greeter: 'unique',
      version: '1.0.0',
      logicFile: join(FIXTURES, 'duplicates', 'unique', 'logic.ts'),
      ok: true,
      errorCount: 0,
      warningCount: 0,
      notes: [],
    });
    expect(report.problems[1]).toEqual({
      plugin: join(FIXTURES, 'duplicates', 'dup-b'),
      code: 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER',
      severity: 'error',
      check: 'checkGreetersUnique',
      message: `greeter "dup" is declared by ${SHOWN}/duplicates/dup-a and ${SHOWN}/duplicates/dup-b`,
      details: [],
      hint: 'give each plugin its own $greet, or remove all but one of these folders',
      file: join(FIXTURES, 'duplicates', 'dup-b', 'spec.conf'),
      line: 2,
      column: 10,
      endLine: null,
      endColumn: null,
      tsCode: null,
    });
  });

  it('--json gives TypeScript’s number and the span', async () => {
    const { stdout } = await runCli(['validate', `${SHOWN}/type-error`, '--json']);
    const [problem] = (JSON.parse(stdout) as JsonReport).problems;
    expect(problem).toMatchObject({ tsCode: 2322, line: 3, column: 7, endLine: 3, endColumn: 12 });
  });

  it('exits 2 for a folder that does not exist, a folder without plugins, a bad flag, an extra argument', async () => {
    const missing = await runCli(['validate', 'no-such-folder']);
    expect([missing.code, missing.stdout]).toEqual([2, '']);
    expect(missing.stderr).toContain('NEKO_ERR_PLUGINS_DIR');

    const empty = await mkdtemp(join(tmpdir(), 'neko-empty-'));
    onTestFinished(() => rm(empty, { recursive: true, force: true }));
    const none = await runCli(['validate', empty]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('NEKO_ERR_VALIDATE_NO_PLUGINS');

    const flag = await runCli(['validate', '--strict']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--strict'");

    const extra = await runCli(['validate', 'plugins', 'more']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected argument "more"');
  });

  it('has --help, and the main help lists the command', async () => {
    const help = await runCli(['validate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: nekoconnect validate [dir] [options]');
    expect(help.stdout).toContain(
      'Exit codes: 0 no errors (warnings allowed), 1 problems found, 2 usage error.',
    );
    const main = await runCli(['--help']);
    expect(main.stdout).toMatch(/^ {2}validate \[dir\] /m);
  });

  it('defaults to the config file’s plugins directory', async () => {
    const { code, stdout } = await runCli([
      'validate',
      '--config',
      join(REPO_ROOT, 'server', 'test', 'validate', 'plugins.config.json'),
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^✓ 4 plugins valid/m);
  });
});
