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
  /**
   * The plugin's name (`$name` of spec.conf): the test goes into the
   * top-level `describe` of that title (or of the greeter), and a new test
   * file describes it.
   */
  name?: string | undefined;
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

  const data = {
    opName,
    code,
    method,
    greeter: input.greeter,
    name: input.name ?? input.greeter,
    upperName: opName.toUpperCase(),
  };
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

/**
 * The test goes at the end of the plugin's top-level `describe(…, () => { … })`:
 * the one titled with the plugin's name or greeter, else the only one there is.
 */
function addTest(test: string, render: AddOpInput['render'], data: Record<string, unknown>): string {
  if (!test.includes('createTestServer')) {
    throw shape('logic.test.ts does not use createTestServer: add-op adds a test to a file that does');
  }
  const blocks = topLevelDescribes(test);
  const titles = [String(data.name), String(data.greeter)];
  const block =
    blocks.find((b) => b.title !== undefined && titles.includes(b.title)) ??
    (blocks.length === 1 ? blocks[0] : undefined);
  if (block === undefined) {
    throw shape(
      blocks.length === 0
        ? 'logic.test.ts has no top-level `describe(…, () => { … })` block to add the test to'
        : `logic.test.ts has ${blocks.length} top-level describe blocks and none is titled ${titles
            .map((t) => JSON.stringify(t))
            .join(' or ')} (the plugin's $name or $greet): add-op does not know which one to add the test to`,
    );
  }
  const lineStart = test.lastIndexOf('\n', block.close - 1) + 1;
  if (test.slice(lineStart, block.close).trim() !== '') {
    throw shape(
      `the describe block at line ${lineOf(test, block.start)} of logic.test.ts does not end with its \`}\` on a line of its own`,
    );
  }
  const usesOp = /^import\s*\{[^}]*\bOp\b[^}]*\}\s*from\s*'\.\/logic(?:\.js)?';/m.test(test);
  const testData = {
    ...data,
    hasConnect: /^async function connect\(\)/m.test(test),
    hasGreeter: /^const GREETER = /m.test(test),
    opRef: usesOp ? `Op.${String(data.opName)}` : String(data.code),
  };
  return test.slice(0, lineStart) + render('test', testData) + test.slice(lineStart);
}

/** A top-level `describe(…)` call of a test file. */
interface DescribeBlock {
  /** Where `describe` starts. */
  start: number;
  /** Its title, when it is a plain string literal. */
  title: string | undefined;
  /** Where the `}` that closes its callback is. */
  close: number;
}

/**
 * The `describe(…)` calls at the top level of a test file, found by reading
 * it as JavaScript: brackets are counted outside strings, template literals,
 * comments and regular expressions, so a `});` inside a string or a hook
 * after the block is not taken for its end.
 */
export function topLevelDescribes(source: string): DescribeBlock[] {
  const blocks: DescribeBlock[] = [];
  /** Open brackets; a template literal's `${` is a `{` whose `}` goes back into the template. */
  const stack: Array<'(' | '[' | '{' | '${'> = [];
  let open: { start: number; title: string | undefined; lastBrace: number } | undefined;
  /** The last significant character, to tell a regular expression from a division. */
  let previous = '';
  let i = 0;
  const skipString = (quote: string): number => {
    let j = i + 1;
    while (j < source.length && source[j] !== quote && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  /** From inside a template literal, up to its end or to a `${`. */
  const skipTemplate = (from: number): number => {
    let j = from;
    while (j < source.length) {
      if (source[j] === '\\') j += 2;
      else if (source[j] === '`') return j + 1;
      else if (source[j] === '$' && source[j + 1] === '{') {
        stack.push('${');
        return j + 2;
      } else j++;
    }
    return j;
  };
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      i = end < 0 ? source.length : end;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? source.length : end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      i = skipString(c);
      previous = c;
      continue;
    }
    if (c === '`') {
      i = skipTemplate(i + 1);
      previous = c;
      continue;
    }
    if (c === '/' && (previous === '' || /[(,=:[!&|?{};+\-*%<>~^]/.test(previous))) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== '\n') {
        if (source[j] === '\\') j++;
        else if (source[j] === '[') inClass = true;
        else if (source[j] === ']') inClass = false;
        else if (source[j] === '/' && !inClass) break;
        j++;
      }
      i = j + 1;
      while (i < source.length && /[a-z]/i.test(source[i]!)) i++;
      previous = '/';
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      stack.push(c);
    } else if (c === ')' || c === ']' || c === '}') {
      const top = stack.pop();
      if (top === '${') {
        i = skipTemplate(i + 1);
        previous = '`';
        continue;
      }
      if (open !== undefined && c === '}' && stack.length === 1) open.lastBrace = i;
      if (open !== undefined && c === ')' && stack.length === 0) {
        if (open.lastBrace >= 0) blocks.push({ start: open.start, title: open.title, close: open.lastBrace });
        open = undefined;
      }
    } else if (stack.length === 0 && open === undefined && /[A-Za-z_$]/.test(c)) {
      const word = /^[A-Za-z_$][\w$]*/.exec(source.slice(i))![0];
      if (word === 'describe' && previous !== '.') {
        const call = /^describe\s*\(\s*/.exec(source.slice(i));
        if (call !== null) {
          open = { start: i, title: stringLiteral(source, i + call[0].length), lastBrace: -1 };
          stack.push('(');
          i += call[0].length;
          previous = '(';
          continue;
        }
      }
      i += word.length;
      previous = 'a';
      continue;
    }
    previous = c;
    i++;
  }
  return blocks;
}

/** The value of the plain string literal at `at` ('…' or "…", no template), else undefined. */
function stringLiteral(source: string, at: number): string | undefined {
  const quote = source[at];
  if (quote !== "'" && quote !== '"') return undefined;
  let value = '';
  for (let j = at + 1; j < source.length; j++) {
    const c = source[j]!;
    if (c === quote) return value;
    if (c === '\n') return undefined;
    if (c === '\\') {
      const escaped = source[++j]!;
      value += ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[escaped] ?? escaped;
    } else value += c;
  }
  return undefined;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/**
 * The row goes into README.md's op table (the first table whose header starts
 * with `op`, else whose rows start with a number), in code order; then the
 * table's columns are padded as prettier pads them. No table, no change.
 */
function addReadmeRow(
  readme: string,
  code: number,
  render: AddOpInput['render'],
  data: Record<string, unknown>,
): string | undefined {
  const lines = readme.split('\n');
  const tables = markdownTables(lines);
  const table =
    tables.find((t) => splitRow(lines[t.start]!)[0]?.toLowerCase() === 'op') ??
    tables.find((t) => lines.slice(t.start + 2, t.end).some((l) => /^\d+$/.test(splitRow(l)[0] ?? '')));
  if (table === undefined) return undefined;
  const row = render('readme-row', data).replace(/\r?\n$/, '');
  const body = lines.slice(table.start + 2, table.end);
  const codeOf = (line: string): number | undefined => {
    const first = splitRow(line)[0] ?? '';
    return /^\d+$/.test(first) ? Number(first) : undefined;
  };
  // Before the first row of a larger code, else after the last numbered row.
  let at = body.findIndex((l) => (codeOf(l) ?? -1) > code);
  if (at < 0) {
    at = body.length;
    while (at > 0 && codeOf(body[at - 1]!) === undefined) at--;
    if (at === 0) at = body.length;
  }
  body.splice(at, 0, row);
  const aligned = alignTable([lines[table.start]!, lines[table.start + 1]!, ...body]);
  return [...lines.slice(0, table.start), ...aligned, ...lines.slice(table.end)].join('\n');
}

/** The GFM tables of a file's lines: header line, delimiter line, then rows up to `end` (exclusive). */
function markdownTables(lines: readonly string[]): Array<{ start: number; end: number }> {
  const tables: Array<{ start: number; end: number }> = [];
  for (let k = 0; k + 1 < lines.length; k++) {
    if (!lines[k]!.trimStart().startsWith('|') || !DELIMITER_ROW.test(lines[k + 1]!)) continue;
    let end = k + 2;
    while (end < lines.length && lines[end]!.trimStart().startsWith('|')) end++;
    tables.push({ start: k, end });
    k = end - 1;
  }
  return tables;
}

const DELIMITER_ROW = /^\s*\|?(\s*:?-+:?\s*\|)+\s*(:?-+:?\s*)?$/;

/** The cells of a table row, trimmed; `\|` stays inside its cell. */
function splitRow(line: string): string[] {
  let text = line.trim();
  if (text.startsWith('|')) text = text.slice(1);
  if (text.endsWith('|') && !text.endsWith('\\|')) text = text.slice(0, -1);
  return text.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

/**
 * A table with every column as wide as its widest cell (at least 3), the
 * delimiter row as long, cells padded by their alignment: what prettier
 * prints.
 */
function alignTable(rows: readonly string[]): string[] {
  const [header, delimiter, ...body] = rows.map(splitRow);
  const align = delimiter!.map((cell) =>
    cell.startsWith(':') && cell.endsWith(':')
      ? 'center'
      : cell.endsWith(':')
        ? 'right'
        : cell.startsWith(':')
          ? 'left'
          : 'none',
  );
  const cells = [header!, ...body];
  const widths = header!.map((_, c) => Math.max(3, ...cells.map((row) => textWidth(row[c] ?? ''))));
  const pad = (text: string, c: number): string => {
    const room = (widths[c] ?? textWidth(text)) - textWidth(text);
    const before = align[c] === 'right' ? room : align[c] === 'center' ? Math.floor(room / 2) : 0;
    return ' '.repeat(before) + text + ' '.repeat(room - before);
  };
  const line = (row: readonly string[]): string => `| ${row.map(pad).join(' | ')} |`;
  const rule = widths.map((w, c) => {
    const left = align[c] === 'center' || align[c] === 'left' ? ':' : '-';
    const right = align[c] === 'center' || align[c] === 'right' ? ':' : '-';
    return `${left}${'-'.repeat(w - 2)}${right}`;
  });
  return [line(header!), `| ${rule.join(' | ')} |`, ...body.map(line)];
}

/** How many columns a text takes in a terminal or editor: wide East Asian characters and emoji count 2. */
function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    if (/\p{M}/u.test(ch)) continue;
    width += WIDE.test(ch) ? 2 : 1;
  }
  return width;
}

const WIDE =
  /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|\p{Extended_Pictographic}/u;

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
