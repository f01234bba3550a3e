import { describe, it, expect } from 'vitest';
import { NekoError } from '../../src/errors.js';
import type { NekoErrorCode } from '../../src/errors.js';
import type { LogicClass } from '../../src/context/context.js';
import {
  checkGreetersUnique,
  checkLogicExport,
  checkRecv,
  constructLogic,
} from '../../src/plugins/checks.js';
import { parseSpecText } from '../../src/plugins/spec.js';

const FILE = 'plugins/echo/logic.ts';

function catchNeko(fn: () => unknown, code: NekoErrorCode): NekoError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NekoError);
    expect((err as NekoError).code).toBe(code);
    return err as NekoError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

class Good {
  recv(): void {}
}

describe('checkLogicExport', () => {
  it('returns the named export Logic', () => {
    expect(checkLogicExport({ Logic: Good, other: 1 }, FILE)).toBe(Good);
  });

  it('says when the module exports nothing', () => {
    const err = catchNeko(() => checkLogicExport({}, FILE), 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT');
    expect(err.message).toBe(`${FILE} does not export a class named Logic (it exports nothing)`);
    expect(err.hint).toBe('write `export class Logic { async recv(ctx: Context) { … } }` (a named export)');
  });

  it('lists the exports it found, sorted', () => {
    const err = catchNeko(
      () => checkLogicExport({ logic: Good, Other: Good }, FILE),
      'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
    );
    expect(err.message).toBe(`${FILE} does not export a class named Logic (it exports Other, logic)`);
  });

  it('points out a default export', () => {
    const err = catchNeko(() => checkLogicExport({ default: Good }, FILE), 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT');
    expect(err.message).toBe(`${FILE} has only a default export; the server needs a named export Logic`);
    expect(err.hint).toBe('write `export class Logic { … }` instead of `export default class …`');
  });

  it('names what Logic is when it is not a class', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'null'],
      [{}, 'an object'],
      ['Logic', 'a string'],
      [42, 'a number'],
    ];
    for (const [value, described] of cases) {
      const err = catchNeko(
        () => checkLogicExport({ Logic: value }, FILE),
        'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
      );
      expect(err.message).toBe(`${FILE} exports Logic as ${described}, not a class`);
    }
  });
});

describe('checkRecv', () => {
  it('accepts a recv method, own or inherited', () => {
    class Child extends Good {}
    expect(() => checkRecv(Good, FILE)).not.toThrow();
    expect(() => checkRecv(Child, FILE)).not.toThrow();
  });

  it('rejects a class without recv, naming the file', () => {
    class NoRecv {
      receive(): void {}
    }
    const err = catchNeko(() => checkRecv(NoRecv as unknown as LogicClass, FILE), 'NEKO_ERR_PLUGIN_NO_RECV');
    expect(err.message).toBe(`the Logic class of ${FILE} has no recv method`);
    expect(err.hint).toBe(
      'add a method `async recv(ctx: Context) { … }` to the Logic class (a method, not a class field)',
    );
  });

  it('rejects a recv that is not a function, and does not run getters', () => {
    let getterRan = false;
    class Getter {
      get recv(): () => void {
        getterRan = true;
        return () => {};
      }
    }
    catchNeko(() => checkRecv(Getter, FILE), 'NEKO_ERR_PLUGIN_NO_RECV');
    expect(getterRan).toBe(false);

    const NotFunction = function () {} as unknown as LogicClass;
    (NotFunction.prototype as { recv: unknown }).recv = 'recv';
    catchNeko(() => checkRecv(NotFunction, FILE), 'NEKO_ERR_PLUGIN_NO_RECV');
  });

  it('rejects an arrow function, which has no prototype', () => {
    const arrow = (() => {}) as unknown as LogicClass;
    catchNeko(() => checkRecv(arrow, FILE), 'NEKO_ERR_PLUGIN_NO_RECV');
  });
});

describe('constructLogic', () => {
  it('constructs with no arguments', () => {
    let args = -1;
    class Counting {
      constructor(...rest: unknown[]) {
        args = rest.length;
      }
      recv(): void {}
    }
    expect(constructLogic(Counting, FILE)).toBeInstanceOf(Counting);
    expect(args).toBe(0);
  });

  it('wraps what the constructor throws, Error or not', () => {
    const boom = new Error('boom');
    class Throws {
      constructor() {
        throw boom;
      }
      recv(): void {}
    }
    const err = catchNeko(() => constructLogic(Throws, FILE), 'NEKO_ERR_PLUGIN_CONSTRUCT');
    expect(err.message).toBe(`new Logic() in ${FILE} threw: boom`);
    expect(err.cause).toBe(boom);
    expect(err.hint).toBe(
      'the server constructs Logic once per load with no arguments; make the constructor take none and not throw',
    );

    class ThrowsString {
      constructor() {
        throw 'nope';
      }
      recv(): void {}
    }
    const err2 = catchNeko(() => constructLogic(ThrowsString, FILE), 'NEKO_ERR_PLUGIN_CONSTRUCT');
    expect(err2.message).toBe(`new Logic() in ${FILE} threw: nope`);
    expect(err2.cause).toBe('nope');
  });

  it('reports a Logic that cannot be constructed', () => {
    const arrow = (() => {}) as unknown as LogicClass;
    const err = catchNeko(() => constructLogic(arrow, FILE), 'NEKO_ERR_PLUGIN_CONSTRUCT');
    expect(err.cause).toBeInstanceOf(TypeError);
  });
});

describe('checkGreetersUnique', () => {
  const claim = (dir: string, greeter: string) => ({
    dir,
    spec: parseSpecText(
      `$name {"${dir}"};\n$logic {"logic"};\n  $greet {"${greeter}"};\n$version {"1"};`,
      `${dir}/spec.conf`,
    ),
  });

  it('returns no errors when every greeter is unique', () => {
    expect(checkGreetersUnique([claim('p/a', 'a'), claim('p/b', 'b')]).size).toBe(0);
    expect(checkGreetersUnique([]).size).toBe(0);
  });

  it('gives every folder of a shared greeter an error naming all of them', () => {
    const errors = checkGreetersUnique([
      claim('p/a', 'echo'),
      claim('p/b', 'other'),
      claim('p/c', 'echo'),
      claim('p/d', 'x'),
      claim('p/e', 'x'),
    ]);
    expect([...errors.keys()]).toEqual(['p/a', 'p/c', 'p/d', 'p/e']);
    const a = errors.get('p/a');
    expect(a?.code).toBe('NEKO_ERR_PLUGIN_DUPLICATE_GREETER');
    expect(a?.message).toBe('greeter "echo" is declared by p/a and p/c');
    expect(a?.location).toEqual({ file: 'p/a/spec.conf', line: 3, column: 12 });
    expect(errors.get('p/c')?.location).toEqual({ file: 'p/c/spec.conf', line: 3, column: 12 });
    expect(errors.get('p/e')?.message).toBe('greeter "x" is declared by p/d and p/e');
  });
});
