/**
 * Adding an op to a plugin made from these templates: its code in the `Op`
 * object of logic.ts, a `case` in `recv`'s switch, a handler method on the
 * `Logic` class, a test in logic.test.ts and a row in README.md's op table.
 *
 * Everything is computed in memory first ({@link planAddOp}); nothing is
 * written unless every file has the expected shape.
 */
import { NekoTemplatesError } from './errors.js';

/** One entry of the `Op` object: `Hello: 1`. */
export interface OpEntry {
  name: string;
  code: number;
}

/** The largest op a frame can carry (protocol §2). */
export const MAX_OP = 4294967295;

const OP_OBJECT = /^(?:export\s+)?const\s+Op\s*=\s*\{[^\n]*\n([\s\S]*?)^\}\s*as\s+const\s*;?/m;
const OP_ENTRY = /^([ \t]*)([A-Za-z_$][\w$]*)\s*:\s*(\d+)\s*,?[^\n]*$/gm;

/**
 * `get score` → `GetScore`: the op's name as a key of `Op`.
 * @returns the name, or undefined when nothing usable is left.
 */
export function toOpName(input: string): string | undefined {
  const name = input
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  return /^[A-Z][A-Za-z0-9]{0,39}$/.test(name) ? name : undefined;
}

/** Inquirer-style check of an op name as typed: `true`, or what is wrong. */
export function validateOpName(input: string): true | string {
  return toOpName(input) !== undefined
    ? true
    : `bad op name "${input}": use 1 to 40 letters and digits, starting with a letter (e.g. Score or get-score)`;
}

/** Inquirer-style check of an op code as typed: empty (the next free one) or 0 to 4294967295. */
export function validateOpCode(input: string): true | string {
  if (input.trim() === '') return true;
  const code = /^\d{1,10}$/.test(input.trim()) ? Number(input.trim()) : NaN;
  return Number.isInteger(code) && code <= MAX_OP
    ? true
    : `bad op code "${input}": a whole number from 0 to ${MAX_OP}`;
}

/** The `Op` entries of a logic file, in source order; undefined when it has no `Op` object. */
export function readOps(logic: string): OpEntry[] | undefined {
  const object = OP_OBJECT.exec(logic);
  if (!object) return undefined;
  return [...object[1]!.matchAll(OP_ENTRY)].map((m) => ({ name: m[2]!, code: Number(m[3]) }));
}

/** The smallest op code from 1 up that no entry uses. */
export function nextFreeOp(ops: readonly OpEntry[]): number {
  const used = new Set(ops.map((o) => o.code));
  let code = 1;
  while (used.has(code)) code++;
  return code;
}

/** What {@link planAddOp} needs. */
export interface AddOpInput {
  /** The op's name as typed (`get score` becomes `GetScore`). */
  op: string;
  /** The op code; undefined for the next free one. */
  code?: number | undefined;
  /** The plugin's greeter, for the test. */
  greeter: string;
  /** logic.ts as it is. */
  logic: string;
  /** logic.test.ts as it is; undefined when there is none yet. */
  test?: string | undefined;
  /** README.md as it is; undefined when there is none. */
  readme?: string | undefined;
  /** Renders one template of `templates/op/` (`entry`, `case`, `handler`, `test`, `test-file`, `readme-row`). */
  render: (template: OpTemplate, data: Record<string, unknown>) => string;
}

export type OpTemplate = 'entry' | 'case' | 'handler' | 'test' | 'test-file' | 'readme-row';

/** The new contents, to be written only when all were computed. */
export interface AddOpPlan {
  opName: string;
  code: number;
  logic: string;
  test: string;
  /** True when logic.test.ts did not exist. */
  testCreated: boolean;
  /** The new README.md; undefined when there is none or it has no op table. */
  readme: string | undefined;
}

/**
 * Computes the new logic.ts, logic.test.ts and README.md with one more op.
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_BAD_OP` for a bad or taken
 *   name or code, `NEKO_ERR_TEMPLATES_LOGIC_SHAPE` when logic.ts or
 *   logic.test.ts lacks the part to add to.
 */
export function planAddOp(input: AddOpInput): AddOpPlan {
  const opName = toOpName(input.op);
  if (opName === undefined) throw badOp(validateOpName(input.op) as string);
  const ops = readOps(input.logic);
  if (ops === undefined) {
    throw shape('logic.ts has no `export const Op = { … } as const;` object to add the op to');
  }
  const taken = ops.find((o) => o.name === opName);
  if (taken) throw badOp(`the op ${opName} already exists (code ${taken.code})`);
  const code = input.code ?? nextFreeOp(ops);
  if (!Number.isInteger(code) || code < 0 || code > MAX_OP)
    throw badOp(validateOpCode(String(code)) as string);
  const clash = ops.find((o) => o.code === code);
  if (clash) throw badOp(`the op code ${code} is taken by ${clash.name}`);
  const method = opName.charAt(0).toLowerCase() + opName.slice(1);
  if (new RegExp(`^\\s*(?:async\\s+)?#?${method}\\s*\\(`, 'm').test(input.logic)) {
    throw badOp(`logic.ts already has a method named ${method}`);
  }

  const data = { opName, code, method, greeter: input.greeter, upperName: opName.toUpperCase() };
  const logic = addHandler(
    addCase(addEntry(input.logic, code, input.render, data), input.render, data),
    input.render,
    data,
  );
  const test =
    input.test === undefined ? input.render('test-file', data) : addTest(input.test, input.render, data);
  const readme =
    input.readme === undefined ? undefined : addReadmeRow(input.readme, code, input.render, data);
  return { opName, code, logic, test, testCreated: input.test === undefined, readme };
}

/** The entry goes before the first entry with a larger code (and the comment above it), else at the end. */
function addEntry(
  logic: string,
  code: number,
  render: AddOpInput['render'],
  data: Record<string, unknown>,
): string {
  const object = OP_OBJECT.exec(logic)!;
  const bodyStart = object.index + object[0].indexOf('\n') + 1;
  const body = object[1]!;
  const entries = [...body.matchAll(OP_ENTRY)];
  const indent = entries[0]?.[1] ?? '  ';
  const next = entries.find((m) => Number(m[3]) > code);
  let at = body.length;
  if (next !== undefined) {
    at = next.index;
    const before = body.slice(0, at).split('\n');
    before.pop(); // what follows the last line break: nothing
    while (before.length > 0 && /^\s*(\/\*\*|\*|\*\/|\/\/)/.test(before[before.length - 1]!)) {
      at -= before.pop()!.length + 1;
    }
  }
  return logic.slice(0, bodyStart + at) + render('entry', { ...data, indent }) + logic.slice(bodyStart + at);
}

/** The case goes before the `default:` of the switch in `recv`. */
function addCase(logic: string, render: AddOpInput['render'], data: Record<string, unknown>): string {
  const recv = /^\s*(?:async\s+)?recv\s*\(/m.exec(logic);
  const from = recv?.index ?? -1;
  const switchAt = from < 0 ? -1 : logic.indexOf('switch (', from);
  const defaultMatch = switchAt < 0 ? null : /^([ \t]*)default\s*:/m.exec(logic.slice(switchAt));
  if (defaultMatch === null) {
    throw shape(
      'the recv method in logic.ts has no `switch (ctx.op)` with a `default:` case to add the op to',
    );
  }
  const at = switchAt + defaultMatch.index;
  return logic.slice(0, at) + render('case', { ...data, indent: defaultMatch[1] }) + logic.slice(at);
}

/** The handler goes at the end of the `Logic` class (its closing `}` is the first line starting with `}`). */
function addHandler(logic: string, render: AddOpInput['render'], data: Record<string, unknown>): string {
  const cls = /^export\s+class\s+Logic\b[^\n]*\n/m.exec(logic);
  const end = cls === null ? null : /^\}/m.exec(logic.slice(cls.index + cls[0].length));
  if (cls === null || end === null) {
    throw shape('logic.ts has no `export class Logic {` whose closing `}` starts a line');
  }
  const at = cls.index + cls[0].length + end.index;
  return logic.slice(0, at) + render('handler', data) + logic.slice(at);
}

/** The test goes at the end of the last top-level `describe(…, () => { … });`. */
function addTest(test: string, render: AddOpInput['render'], data: Record<string, unknown>): string {
  const closes = [...test.matchAll(/^\}\);[ \t]*$/gm)];
  const last = closes[closes.length - 1];
  if (last === undefined || !test.includes('createTestServer')) {
    throw shape(
      'logic.test.ts has no top-level `describe(…)` block using createTestServer to add the test to',
    );
  }
  const usesOp = /^import\s*\{[^}]*\bOp\b[^}]*\}\s*from\s*'\.\/logic(?:\.js)?';/m.test(test);
  const testData = {
    ...data,
    hasConnect: /^async function connect\(\)/m.test(test),
    hasGreeter: /^const GREETER = /m.test(test),
    opRef: usesOp ? `Op.${String(data.opName)}` : String(data.code),
  };
  return test.slice(0, last.index) + render('test', testData) + test.slice(last.index);
}

/** The row goes into README.md's op table, in code order; no table, no change. */
function addReadmeRow(
  readme: string,
  code: number,
  render: AddOpInput['render'],
  data: Record<string, unknown>,
): string | undefined {
  const rows = [...readme.matchAll(/^\|\s*(\d+)\s*\|[^\n]*\n/gm)];
  if (rows.length === 0) return undefined;
  const next = rows.find((m) => Number(m[1]) > code);
  const last = rows[rows.length - 1]!;
  const at = next !== undefined ? next.index : last.index + last[0].length;
  return readme.slice(0, at) + render('readme-row', data) + readme.slice(at);
}

function badOp(message: string): NekoTemplatesError {
  return new NekoTemplatesError('NEKO_ERR_TEMPLATES_BAD_OP', message, {
    hint: 'pick another name or code; the ones in use are in the Op object of logic.ts',
  });
}

function shape(message: string): NekoTemplatesError {
  return new NekoTemplatesError('NEKO_ERR_TEMPLATES_LOGIC_SHAPE', message, {
    hint: 'add-op edits plugins made by create-nekoplugin or add-plugin; add the op by hand to other shapes',
  });
}
