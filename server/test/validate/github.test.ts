import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  escapeData,
  escapeProperty,
  formatGithubReport,
  githubAnnotation,
  githubPath,
  type Problem,
  type ValidationReport,
} from '../../src/validate/index.js';
import { assertBuilt, runCli } from '../cli/run-cli.js';

const CWD = path.resolve('/repo');

function problem(overrides: Partial<Problem> = {}): Problem {
  return {
    plugin: path.join(CWD, 'plugins', 'chat'),
    code: 'NEKO_ERR_VALIDATE_RECV_PARAM',
    severity: 'error',
    check: 'checkRecv',
    message: 'recv(ctx: string) cannot take the Context',
    location: { file: path.join(CWD, 'plugins', 'chat', 'logic.ts'), line: 3, column: 13 },
    ...overrides,
  };
}

function report(problems: Problem[]): ValidationReport {
  const errors = problems.filter((p) => p.severity === 'error').length;
  return {
    root: CWD,
    plugins: [{ dir: path.join(CWD, 'plugins', 'chat'), problems }],
    problems,
    errorCount: errors,
    warningCount: problems.length - errors,
    durationMs: 12,
  };
}

describe('the github reporter', () => {
  it('escapes %, CR and LF in a message, and also : and , in a property', () => {
    expect(escapeData('50% done\r\nnext: a, b')).toBe('50%25 done%0D%0Anext: a, b');
    expect(escapeProperty('C:\\a,b%\n')).toBe('C%3A\\a%2Cb%25%0A');
    // % first: an already escaped-looking text stays what it was.
    expect(escapeData('%0A')).toBe('%250A');
  });

  it('writes an error with file relative to the cwd, line, col and the code as title', () => {
    expect(githubAnnotation(problem(), CWD)).toBe(
      '::error file=plugins/chat/logic.ts,line=3,col=13,title=NEKO_ERR_VALIDATE_RECV_PARAM::recv(ctx: string) cannot take the Context',
    );
  });

  it('writes a warning as ::warning, with the details and the fix as escaped lines', () => {
    const line = githubAnnotation(
      problem({ severity: 'warning', details: ['first, second'], hint: 'rename it to 100% sure' }),
      CWD,
    );
    expect(line).toBe(
      '::warning file=plugins/chat/logic.ts,line=3,col=13,title=NEKO_ERR_VALIDATE_RECV_PARAM::recv(ctx: string) cannot take the Context%0A  first, second%0Afix: rename it to 100%25 sure',
    );
    expect(line).not.toContain('\n');
  });

  it('adds endLine/endColumn when known, TypeScript codes in the title, and escapes a file name', () => {
    const line = githubAnnotation(
      problem({
        code: 'NEKO_ERR_VALIDATE_TYPESCRIPT',
        tsCode: 2322,
        location: { file: path.join(CWD, 'a,b:c.ts'), line: 4, column: 2 },
        end: { line: 4, column: 9 },
      }),
      CWD,
    );
    expect(line).toMatch(
      /^::error file=a%2Cb%3Ac\.ts,line=4,col=2,endLine=4,endColumn=9,title=NEKO_ERR_VALIDATE_TYPESCRIPT \(TS2322\)::/,
    );
    const multi = githubAnnotation(problem({ end: { line: 5, column: 1 } }), CWD);
    expect(multi).toContain(',endLine=5,title=');
    expect(multi).not.toContain('endColumn');
  });

  it('names the plugin folder when a problem has no place, and keeps a path outside the cwd absolute', () => {
    const { location: _location, ...placeless } = problem();
    expect(githubAnnotation(placeless, CWD)).toBe(
      '::error file=plugins/chat,title=NEKO_ERR_VALIDATE_RECV_PARAM::recv(ctx: string) cannot take the Context',
    );
    const outside = path.resolve('/elsewhere/logic.ts');
    expect(githubPath(outside, CWD)).toBe(outside);
    expect(githubPath(CWD, CWD)).toBe('.');
  });

  it('ends with a plain summary line', () => {
    expect(formatGithubReport(report([problem()]), { cwd: CWD }).split('\n')).toEqual([
      '::error file=plugins/chat/logic.ts,line=3,col=13,title=NEKO_ERR_VALIDATE_RECV_PARAM::recv(ctx: string) cannot take the Context',
      'nekoconnect validate: 1 error, 0 warnings in 1 plugin',
    ]);
    expect(formatGithubReport(report([]), { cwd: CWD })).toBe(
      'nekoconnect validate: 1 plugin valid, 0 warnings',
    );
  });
});

describe('nekoconnect validate --reporter github', () => {
  beforeAll(assertBuilt);
  const SHOWN = 'server/test/fixtures/validate';

  it('prints a type error as an ::error annotation and exits 1', async () => {
    const { code, stdout, stderr } = await runCli([
      'validate',
      `${SHOWN}/type-error`,
      '--reporter',
      'github',
    ]);
    expect([code, stderr]).toEqual([1, '']);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^::error file=${SHOWN}/type-error/logic\\.ts,line=3,col=7,(endLine=3,endColumn=\\d+,)?title=NEKO_ERR_VALIDATE_TYPESCRIPT \\(TS2322\\)::.*'string'.*'number'`,
      ),
    );
    expect(lines.at(-1)).toBe('nekoconnect validate: 1 error, 0 warnings in 1 plugin');
    expect(stdout).not.toContain('\u001b[');
  });

  it('prints a warning as ::warning and exits 0', async () => {
    const { code, stdout } = await runCli(['validate', `${SHOWN}/hook-name-typo`, '--reporter', 'github']);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      new RegExp(
        `^::warning file=${SHOWN}/hook-name-typo/logic\\.ts,line=5,col=3,.*title=NEKO_ERR_VALIDATE_HOOK_NAME::`,
        'm',
      ),
    );
  });

  it('refuses an unknown reporter, and --json with it, as usage errors (2)', async () => {
    const bad = await runCli(['validate', `${SHOWN}/type-error`, '--reporter', 'junit']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--reporter junit is not a reporter: give default or github');
    const both = await runCli(['validate', `${SHOWN}/type-error`, '--reporter', 'github', '--json']);
    expect(both.code).toBe(2);
  });

  it('shows the flag in --help', async () => {
    const { stdout } = await runCli(['validate', '--help']);
    expect(stdout).toContain('--reporter <name>');
  });
});
