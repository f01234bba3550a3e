import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NekoError } from '../../src/errors.js';
import { resolveLogicFile } from '../../src/plugins/loader.js';
import { parseSpecText } from '../../src/plugins/spec.js';
import { checkLogicFile } from '../../src/validate/checks/logic-file.js';
import { createValidator, type Problem } from '../../src/validate/index.js';
import { REPO_ROOT, assertBuilt } from '../cli/run-cli.js';
import { FIXTURES, summary, where } from './helpers.js';

// The fixtures import `nekoconnect`, which resolves to the built server/dist.
beforeAll(assertBuilt);

const validator = createValidator();
afterAll(() => validator.dispose());

async function problemsOf(fixture: string): Promise<Problem[]> {
  return (await validator.validate(join(FIXTURES, fixture))).problems;
}

async function onlyProblem(fixture: string): Promise<Problem> {
  const problems = await problemsOf(fixture);
  expect(summary(problems)).toHaveLength(1);
  return problems[0]!;
}

describe('validate: the example plugins', () => {
  it('the example plugins (echo, chat, todo, rps) validate clean, together and one by one', async () => {
    const report = await validator.validate(join(REPO_ROOT, 'plugins'));
    expect(report.problems).toEqual([]);
    expect(report.plugins.map((p) => p.spec?.greeter)).toEqual(['chat', 'echo', 'rps', 'todo']);
    for (const name of ['echo', 'chat', 'todo', 'rps']) {
      const one = await validator.validate(join(REPO_ROOT, 'plugins', name));
      expect(one.problems, name).toEqual([]);
      expect(one.plugins[0]?.logicFile).toBe(join(REPO_ROOT, 'plugins', name, 'logic.ts'));
    }
  });

  it('a plugin with every hook, an async recv, a base class and an optional constructor argument is clean', async () => {
    expect(await problemsOf('good-full')).toEqual([]);
  });

  it('a plugin typing its state with Context<State>, SessionContext<State> and PluginContext<State> is clean', async () => {
    expect(await problemsOf('good-typed-state')).toEqual([]);
  });

  it('a JavaScript plugin is checked for its shape only', async () => {
    expect(await problemsOf('good-js')).toEqual([]);
  });
});

describe('validate: recv against the Context contract', () => {
  it('recv(ctx: string): NEKO_ERR_VALIDATE_RECV_PARAM at the type, saying why', async () => {
    const p = await onlyProblem('recv-param-string');
    expect([p.code, p.severity, p.check, where(p)]).toEqual([
      'NEKO_ERR_VALIDATE_RECV_PARAM',
      'error',
      'checkRecv',
      'recv-param-string/logic.ts:3:13',
    ]);
    expect(p.end).toEqual({ line: 3, column: 19 });
    expect(p.message).toBe(
      'recv(ctx: string) cannot take the Context the server passes: a Context is an object, not a string',
    );
    expect(p.hint).toBe(
      "declare it as recv(ctx: Context), with `import type { Context } from 'nekoconnect'`",
    );
  });

  it('a parameter type the Context does not fit names the member that differs', async () => {
    const p = await onlyProblem('recv-param-shape');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_VALIDATE_RECV_PARAM', 'recv-param-shape/logic.ts:3:13']);
    expect(p.message).toMatch(/cannot take the Context the server passes: its op is number, not string$/);
  });

  it('a second required parameter: NEKO_ERR_VALIDATE_RECV_PARAM at that parameter', async () => {
    const p = await onlyProblem('recv-two-params');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_VALIDATE_RECV_PARAM', 'recv-two-params/logic.ts:5:22']);
    expect(p.message).toBe('recv requires 2 arguments, but the server passes one (the Context)');
  });

  it('no parameter at all is a warning, not an error', async () => {
    const p = await onlyProblem('recv-no-param');
    expect([p.code, p.severity, where(p)]).toEqual([
      'NEKO_ERR_VALIDATE_RECV_PARAM',
      'warning',
      'recv-no-param/logic.ts:5:3',
    ]);
  });

  it('recv returning a number: NEKO_ERR_VALIDATE_RECV_RETURN at the return type', async () => {
    const p = await onlyProblem('recv-return');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_VALIDATE_RECV_RETURN', 'recv-return/logic.ts:5:23']);
    expect(p.message).toBe('recv returns number; the server expects void or a promise');
  });

  it('no recv: NEKO_ERR_PLUGIN_NO_RECV at the class name, naming the lookalike', async () => {
    const p = await onlyProblem('no-recv');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_PLUGIN_NO_RECV', 'no-recv/logic.ts:4:14']);
    expect(p.message).toBe('the Logic class has no recv method (it has receive; the server only calls recv)');
  });

  it('recv as a class field: NEKO_ERR_PLUGIN_NO_RECV at the field, as the loader would refuse it', async () => {
    const p = await onlyProblem('recv-field');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_PLUGIN_NO_RECV', 'recv-field/logic.ts:5:3']);
    expect(p.message).toBe(
      "recv is a class field, not a method: the server looks for recv on the class's prototype",
    );
  });

  it('a JavaScript Logic without recv: NEKO_ERR_PLUGIN_NO_RECV', async () => {
    const p = await onlyProblem('js-no-recv');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_PLUGIN_NO_RECV', 'js-no-recv/main.mjs:2:14']);
  });
});

describe('validate: the Logic export and its constructor', () => {
  it('a Logic class that is not exported: NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT at its name', async () => {
    const p = await onlyProblem('not-exported');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT', 'not-exported/logic.ts:4:7']);
    expect(p.message).toBe('logic.ts declares Logic but does not export it');
  });

  it('a default export only: NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT at the export', async () => {
    const p = await onlyProblem('default-export-only');
    expect([p.code, where(p)]).toEqual([
      'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
      'default-export-only/logic.ts:4:1',
    ]);
    expect(p.message).toBe('logic.ts has only a default export; the server needs a named export Logic');
  });

  it('Logic that is a number, or only a type: NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT', async () => {
    const number = await onlyProblem('logic-not-class');
    expect([number.code, where(number), number.message]).toEqual([
      'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
      'logic-not-class/logic.ts:2:14',
      'logic.ts exports Logic as a number, not a class',
    ]);
    const type = await onlyProblem('logic-type-only');
    expect([type.code, where(type), type.message]).toEqual([
      'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
      'logic-type-only/logic.ts:4:18',
      'logic.ts exports Logic only as a type; the server needs a class',
    ]);
  });

  it('a constructor with a required argument: NEKO_ERR_VALIDATE_CONSTRUCTOR at that parameter', async () => {
    const p = await onlyProblem('ctor-required-args');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_VALIDATE_CONSTRUCTOR', 'ctor-required-args/logic.ts:5:15']);
    expect(p.message).toBe(
      'the constructor of Logic requires 1 argument (greeting), but the server calls `new Logic()` with none',
    );
  });

  it('an abstract Logic: NEKO_ERR_VALIDATE_CONSTRUCTOR at `abstract`', async () => {
    const p = await onlyProblem('abstract-logic');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_VALIDATE_CONSTRUCTOR', 'abstract-logic/logic.ts:4:8']);
  });

  it('Logic re-exported from another file is followed, and a type error in a file it imports is found', async () => {
    const p = await onlyProblem('multi-file');
    expect([p.code, p.tsCode, where(p)]).toEqual([
      'NEKO_ERR_VALIDATE_TYPESCRIPT',
      2554,
      'multi-file/helper.ts:3:27',
    ]);
    expect(p.message).toBe('TS2554: Expected 0 arguments, but got 1.');
  });
});

describe('validate: lifecycle hooks', () => {
  it('onJoin(ctx: Context): NEKO_ERR_VALIDATE_HOOK, a SessionContext has no packet', async () => {
    const p = await onlyProblem('hook-param');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_VALIDATE_HOOK', 'hook-param/logic.ts:5:15']);
    expect(p.message).toBe(
      'onJoin(ctx: Context) cannot take the SessionContext the server passes: a SessionContext has no recv, op, data and 3 more',
    );
  });

  it('onSessionGone(plugin: PluginContext, gone: SessionGone) is clean', async () => {
    expect(await problemsOf('hook-gone-good')).toEqual([]);
  });

  it('onSessionGone with a string for the SessionGone: NEKO_ERR_VALIDATE_HOOK at the second parameter', async () => {
    const p = await onlyProblem('hook-gone-param');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_VALIDATE_HOOK', 'hook-gone-param/logic.ts:5:51']);
    expect(p.message).toMatch(
      /^onSessionGone\(…, sessionId: string\) cannot take the SessionGone the server passes: /,
    );
  });

  it('onSessionGone requiring a third argument: NEKO_ERR_VALIDATE_HOOK, the server passes two', async () => {
    const p = await onlyProblem('hook-gone-three');
    expect([p.code, where(p)]).toEqual(['NEKO_ERR_VALIDATE_HOOK', 'hook-gone-three/logic.ts:5:59']);
    expect(p.message).toBe(
      'onSessionGone requires 3 arguments, but the server passes two (the PluginContext and the SessionGone)',
    );
  });

  it('onjoin: a warning that hook names are case-sensitive', async () => {
    const p = await onlyProblem('hook-name-typo');
    expect([p.code, p.severity, where(p)]).toEqual([
      'NEKO_ERR_VALIDATE_HOOK_NAME',
      'warning',
      'hook-name-typo/logic.ts:5:3',
    ]);
  });
});

describe('validate: TypeScript diagnostics', () => {
  it('a plain type error: NEKO_ERR_VALIDATE_TYPESCRIPT with TypeScript’s number and position', async () => {
    const p = await onlyProblem('type-error');
    expect([p.code, p.tsCode, where(p), p.end]).toEqual([
      'NEKO_ERR_VALIDATE_TYPESCRIPT',
      2322,
      'type-error/logic.ts:3:7',
      { line: 3, column: 12 },
    ]);
    expect(p.message).toBe("TS2322: Type 'string' is not assignable to type 'number'.");
  });

  it("the plugin's own tsconfig.json is used (noUnusedLocals)", async () => {
    const p = await onlyProblem('with-tsconfig');
    expect([p.code, p.tsCode, where(p)]).toEqual([
      'NEKO_ERR_VALIDATE_TYPESCRIPT',
      6133,
      'with-tsconfig/logic.ts:6:11',
    ]);
  });

  it('a tsconfig.json with an unknown option: NEKO_ERR_VALIDATE_TSCONFIG at the option', async () => {
    const p = await onlyProblem('bad-tsconfig');
    expect([p.code, p.tsCode, where(p)]).toEqual([
      'NEKO_ERR_VALIDATE_TSCONFIG',
      5025,
      'bad-tsconfig/tsconfig.json:5:5',
    ]);
  });
});

describe('validate: spec.conf', () => {
  const cases: [string, string, string][] = [
    ['spec-syntax', 'NEKO_ERR_SPEC_SYNTAX', 'spec-syntax/spec.conf:3:8'],
    ['spec-missing-key', 'NEKO_ERR_SPEC_MISSING_KEY', 'spec-missing-key/spec.conf:4:1'],
    ['spec-misspelled-key', 'NEKO_ERR_SPEC_UNKNOWN_KEY', 'spec-misspelled-key/spec.conf:2:1'],
    ['spec-bad-greeter', 'NEKO_ERR_SPEC_BAD_GREETER', 'spec-bad-greeter/spec.conf:2:12'],
    ['spec-reserved-greeter', 'NEKO_ERR_SPEC_RESERVED_GREETER', 'spec-reserved-greeter/spec.conf:2:10'],
    ['spec-bad-version', 'NEKO_ERR_VALIDATE_VERSION', 'spec-bad-version/spec.conf:4:12'],
    ['logic-escape', 'NEKO_ERR_SPEC_BAD_LOGIC_PATH', 'logic-escape/spec.conf:4:10'],
    ['logic-missing', 'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND', 'logic-missing/spec.conf:3:10'],
  ];
  it.each(cases)('%s: %s at %s', async (fixture, code, position) => {
    const p = await onlyProblem(fixture);
    expect([p.code, where(p)]).toEqual([code, position]);
    expect(p.hint).toBeTruthy();
  });

  it('a missing logic file is reported as the loader reports it', async () => {
    const dir = join(FIXTURES, 'logic-missing');
    for (const logic of ['main', 'main.ts']) {
      const spec = parseSpecText(
        `$name {"x"}; $greet {"x"}; $logic {"${logic}"}; $version {"1.0.0"};`,
        join(dir, 'spec.conf'),
      );
      const loaderError = await resolveLogicFile(relative(process.cwd(), dir), spec).then(
        () => undefined,
        (err: NekoError) => err,
      );
      const { findings } = await checkLogicFile(dir, spec);
      expect(findings).toEqual([
        {
          code: loaderError?.code,
          message: loaderError?.message,
          hint: loaderError?.hint,
          location: loaderError?.location,
        },
      ]);
    }
  });

  it('says what is wrong with a version', async () => {
    const p = await onlyProblem('spec-bad-version');
    expect(p.message).toBe('$version "1.0" is not a semantic version: it has 2 numbers; a version has three');
  });

  it('a greeter declared twice in a plugins directory: NEKO_ERR_PLUGIN_DUPLICATE_GREETER in both folders', async () => {
    const report = await validator.validate(join(FIXTURES, 'duplicates'));
    expect(summary(report.problems)).toEqual([
      'NEKO_ERR_PLUGIN_DUPLICATE_GREETER error duplicates/dup-a/spec.conf:1:27',
      'NEKO_ERR_PLUGIN_DUPLICATE_GREETER error duplicates/dup-b/spec.conf:2:10',
    ]);
    expect(report.problems[0]?.message).toMatch(/^greeter "dup" is declared by .*dup-a and .*dup-b$/);
    expect(report.plugins.map((p) => [p.spec?.greeter, p.problems.length])).toEqual([
      ['dup', 1],
      ['dup', 1],
      ['unique', 0],
    ]);
    // One folder alone has nothing to collide with.
    expect(await problemsOf('duplicates/dup-a')).toEqual([]);
  });
});

describe('validate: the folder', () => {
  it('counts errors and warnings and sorts each plugin’s problems by position', async () => {
    const report = await validator.validate(join(FIXTURES, 'recv-no-param'));
    expect([report.errorCount, report.warningCount]).toEqual([0, 1]);
    expect(report.root).toBe(join(FIXTURES, 'recv-no-param'));
    expect(report.durationMs).toBeGreaterThan(0);
  });

  it('refuses a folder that does not exist, or holds no plugin', async () => {
    await expect(validator.validate(join(FIXTURES, 'nope'))).rejects.toMatchObject({
      code: 'NEKO_ERR_PLUGINS_DIR',
    });
    await expect(validator.validate(join(REPO_ROOT, 'docs'))).rejects.toMatchObject({
      code: 'NEKO_ERR_VALIDATE_NO_PLUGINS',
    });
  });
});
