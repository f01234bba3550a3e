import kleur from 'kleur';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatDevEvent } from '../../src/dev/report.js';
import { NekoError } from '../../src/errors.js';

const CWD = path.resolve('/work');
const TIME = new Date(2026, 0, 1, 12, 0, 1).getTime();

describe('the dev watcher in the terminal', () => {
  let colors: boolean;
  beforeEach(() => {
    colors = kleur.enabled;
    kleur.enabled = false;
  });
  afterEach(() => {
    kleur.enabled = colors;
  });

  it('one line per reload, with the version number', () => {
    const base = { dir: path.join(CWD, 'plugins', 'todo'), greeter: 'todo', name: 'Todo', warnings: [] };
    expect(
      formatDevEvent({ type: 'reloaded', ...base, version: 3, added: false, durationMs: 37.6 }, CWD, TIME),
    ).toEqual({ text: '12:00:01 ✓ todo reloaded in 38 ms (v3)', toStderr: false });
    expect(
      formatDevEvent(
        { type: 'reloaded', ...base, version: 1, added: true, renamedFrom: 'old', durationMs: 0.2 },
        CWD,
        TIME,
      ).text,
    ).toBe('12:00:01 ✓ todo loaded in 1 ms (v1) (was "old", which answers 404 now)');
    expect(formatDevEvent({ type: 'validated', plugins: 3, durationMs: 1890 }, CWD, TIME).text).toBe(
      '12:00:01 validated 3 plugins in 1.9 s: saves are checked warm from now on',
    );
    expect(
      formatDevEvent({ type: 'removed', dir: base.dir, greeter: 'todo', durationMs: 3 }, CWD, TIME).text,
    ).toBe('12:00:01 − todo removed (answers 404 now)');
  });

  it('a rejected change says what still serves, then each error with its code and hint', () => {
    const error = new NekoError('NEKO_ERR_PLUGIN_IMPORT', 'importing logic.js threw: boom', {
      hint: 'fix it',
    });
    const dir = path.join(CWD, 'plugins', 'todo');
    const serving = formatDevEvent(
      { type: 'rejected', dir, greeter: 'todo', stage: 'load', errors: [error], serving: 2, durationMs: 5 },
      CWD,
      TIME,
    );
    expect(serving.toStderr).toBe(true);
    expect(serving.text.split('\n')).toEqual([
      '12:00:01 ✗ todo failed to load (still serving v2)',
      '    error NEKO_ERR_PLUGIN_IMPORT',
      '      importing logic.js threw: boom',
      '      fix: fix it',
    ]);
    expect(
      formatDevEvent(
        {
          type: 'rejected',
          dir,
          greeter: 'todo',
          stage: 'validate',
          errors: [],
          answers: 503,
          durationMs: 5,
        },
        CWD,
        TIME,
      ).text,
    ).toBe('12:00:01 ✗ todo failed validation (answers 503 until a save fixes it)');
    expect(
      formatDevEvent({ type: 'rejected', dir, stage: 'load', errors: [], durationMs: 5 }, CWD, TIME).text,
    ).toBe('12:00:01 ✗ plugins/todo failed to load (not served until a save fixes it)');
  });

  it('start-up problems, and warnings on one line each', () => {
    const warning = new NekoError('NEKO_ERR_VALIDATE_HOOK_NAME', 'onload looks like onLoad\nmore', {
      location: { file: path.join(CWD, 'plugins', 'todo', 'logic.ts'), line: 3, column: 5 },
    });
    const text = formatDevEvent(
      {
        type: 'checked',
        dir: path.join(CWD, 'plugins', 'todo'),
        greeter: 'todo',
        errors: [],
        warnings: [warning],
      },
      CWD,
      TIME,
    ).text;
    expect(text.split('\n')).toEqual([
      '12:00:01 ! todo validation: 1 warning (warnings do not stop a reload)',
      `    warning ${path.join('plugins', 'todo', 'logic.ts')}:3:5 NEKO_ERR_VALIDATE_HOOK_NAME onload looks like onLoad`,
    ]);
  });

  it('a folder refused for a greeter another folder serves names both, and which one keeps serving', () => {
    const error = new NekoError('NEKO_ERR_PLUGIN_DUPLICATE_GREETER', 'greeter "todo" is declared by …', {
      hint: 'give this plugin its own $greet',
    });
    const text = formatDevEvent(
      {
        type: 'rejected',
        dir: path.join(CWD, 'plugins', 'todo-copy'),
        greeter: 'todo',
        stage: 'load',
        errors: [error],
        servedBy: path.join(CWD, 'plugins', 'todo'),
        durationMs: 2,
      },
      CWD,
      TIME,
    ).text;
    expect(text.split('\n')[0]).toBe(
      `12:00:01 ✗ todo failed to load (${path.join('plugins', 'todo')} keeps serving "todo", ${path.join('plugins', 'todo-copy')} is refused)`,
    );
  });

  it('start-up problems say how many errors the load report showed already', () => {
    const warning = new NekoError('NEKO_ERR_VALIDATE_HOOK_NAME', 'onlaod looks like onLoad');
    const error = new NekoError('NEKO_ERR_VALIDATE_TYPESCRIPT', "TS2322: Type 'string' is not assignable");
    const checked = (errors: NekoError[], warnings: NekoError[]): string =>
      formatDevEvent(
        {
          type: 'checked',
          dir: path.join(CWD, 'plugins', 'todo'),
          greeter: 'todo',
          errors,
          warnings,
          shown: 1,
        },
        CWD,
        TIME,
      ).text.split('\n')[0]!;
    expect(checked([], [warning])).toBe(
      '12:00:01 ! todo validation: 1 error shown above, 1 warning (a save that keeps an error will not reload)',
    );
    expect(checked([error, error], [])).toBe(
      '12:00:01 ! todo validation: 1 error shown above, 2 more errors (a save that keeps an error will not reload)',
    );
  });
});
