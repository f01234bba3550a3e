import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op as ChatOp } from '../../../plugins/chat/logic.js';
import { Op as EchoOp } from '../../../plugins/echo/logic.js';
import { Op as RpsOp } from '../../../plugins/rps/logic.js';
import { Op as TodoOp } from '../../../plugins/todo/logic.js';
import { declaredOps } from '../../src/plugins/stats.js';
import { extractOps, MAX_OP, opsOfSourceFile, type ExtractedOps } from '../../src/validate/ops.js';
import { tsMorph } from '../../src/validate/typescript.js';
import { createValidator } from '../../src/validate/validator.js';

const PLUGINS = join(import.meta.dirname, '..', '..', '..', 'plugins');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'neko-ops-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let count = 0;
/** A plugin folder holding `logic` as its logic file (named `logic.<ext>`). */
async function plugin(logic: string, ext = 'ts'): Promise<string> {
  const folder = join(dir, `p${++count}`);
  await mkdir(folder);
  await writeFile(
    join(folder, 'spec.conf'),
    `$name {"P${count}"};\n$greet {"p${count}"};\n$logic {"logic"};\n$version {"1.0.0"};\n`,
  );
  await writeFile(join(folder, `logic.${ext}`), logic);
  return folder;
}

function withOps(result: ExtractedOps): Extract<ExtractedOps, { source: unknown }> {
  if (!('source' in result)) throw new Error(`no ops: ${result.reason}`);
  return result;
}

describe('extractOps on fixtures', () => {
  it('reads an `as const` table with its doc comments, in declaration order', async () => {
    const folder = await plugin(
      [
        "import type { Context } from 'nekoconnect';",
        '',
        '/** The ops. */',
        'export const Op = {',
        '  /** data: a name; answers `hello, <name>!` */',
        '  Hello: 7,',
        '  /**',
        '   * data: nothing; answers the count',
        '   * of packets.',
        '   *',
        '   * A second paragraph.',
        '   * @deprecated use Hello',
        '   */',
        '  Count: 2,',
        '  // a line comment is not a doc comment',
        '  Plain: 3,',
        '} as const;',
        '',
        'export class Logic { recv(ctx: Context): void { ctx.send(ctx.data, { op: Op.Hello }); } }',
      ].join('\n'),
    );
    const result = withOps(await extractOps(folder));
    expect(result.ops).toEqual([
      { name: 'Hello', op: 7, doc: 'data: a name; answers `hello, <name>!`' },
      { name: 'Count', op: 2, doc: 'data: nothing; answers the count of packets.\n\nA second paragraph.' },
      { name: 'Plain', op: 3 },
    ]);
    expect(result.source).toEqual({ file: join(folder, 'logic.ts'), line: 4 });
    expect(result.problems).toEqual([]);
  });

  it('reads a plain object, a `satisfies` one, `export { X as Op }`, hex, separators and constants', async () => {
    const plain = await plugin(
      ['export const Op = { A: 1, B: 0x10, "C d": 1_000 };', 'export class Logic { recv() {} }'].join('\n'),
    );
    expect(withOps(await extractOps(plain)).ops).toEqual([
      { name: 'A', op: 1 },
      { name: 'B', op: 16 },
      { name: 'C d', op: 1000 },
    ]);

    const satisfying = await plugin(
      [
        'const BASE = 40;',
        'const table = {',
        '  /** the base */',
        '  Base: BASE,',
        '  Top: 4294967295,',
        '} satisfies Record<string, number>;',
        'export { table as Op };',
        'export class Logic { recv() {} }',
      ].join('\n'),
    );
    const result = withOps(await extractOps(satisfying));
    expect(result.ops).toEqual([
      { name: 'Base', op: 40, doc: 'the base' },
      { name: 'Top', op: MAX_OP },
    ]);
    expect(result.source.line).toBe(2);
  });

  it('reads a JavaScript logic file', async () => {
    const folder = await plugin(
      ['export const Op = {', '  /** says hi */', '  Hi: 1,', '};', 'export class Logic { recv() {} }'].join(
        '\n',
      ),
      'js',
    );
    expect(withOps(await extractOps(folder)).ops).toEqual([{ name: 'Hi', op: 1, doc: 'says hi' }]);
  });

  it('reports a duplicate value, a negative, a fraction, an out-of-range and a non-literal entry with their lines', async () => {
    const folder = await plugin(
      [
        'export const Op = {', //        1
        '  Say: 2,', //                    2
        '  Again: 2,', //                  3
        '  Minus: -1,', //                 4
        '  Half: 1.5,', //                 5
        '  Huge: 4294967296,', //          6
        "  Text: 'x',", //                 7
        '  Fine: 5,', //                   8
        '} as const;',
        'export class Logic { recv() {} }',
      ].join('\n'),
    );
    const result = withOps(await extractOps(folder));
    expect(result.ops).toEqual([
      { name: 'Say', op: 2 },
      { name: 'Fine', op: 5 },
    ]);
    const file = join(folder, 'logic.ts');
    expect(
      result.problems.map((p) => [
        p.code,
        p.severity ?? 'error',
        p.location?.file,
        p.location?.line,
        p.message,
      ]),
    ).toEqual([
      [
        'NEKO_ERR_VALIDATE_OP',
        'warning',
        file,
        3,
        'Op.Again is 2, the op of Op.Say (line 2): it is listed once, as Say',
      ],
      [
        'NEKO_ERR_VALIDATE_OP',
        'error',
        file,
        4,
        'Op.Minus is -1: an op code is a whole number from 0 to 4294967295',
      ],
      [
        'NEKO_ERR_VALIDATE_OP',
        'error',
        file,
        5,
        'Op.Half is 1.5: an op code is a whole number from 0 to 4294967295',
      ],
      [
        'NEKO_ERR_VALIDATE_OP',
        'error',
        file,
        6,
        'Op.Huge is 4294967296: an op code is a whole number from 0 to 4294967295',
      ],
      ['NEKO_ERR_VALIDATE_OP', 'error', file, 7, 'Op.Text is not a number literal'],
    ]);
  });

  it('gives no ops and a reason for a plugin without an Op table', async () => {
    const none = await plugin('export class Logic { recv() {} }');
    expect(await extractOps(none)).toEqual({
      ops: [],
      reason: 'logic.ts exports no Op table (export const Op = { … } as const)',
      problems: [],
    });

    // Declared but not exported: not the plugin's table.
    const hidden = await plugin('const Op = { A: 1 } as const;\nexport class Logic { recv() {} }');
    expect(await extractOps(hidden)).toMatchObject({
      ops: [],
      reason: expect.stringMatching(/exports no Op table/),
    });

    const notLiteral = await plugin('export const Op = makeOps();\nexport class Logic { recv() {} }');
    expect(await extractOps(notLiteral)).toMatchObject({
      ops: [],
      reason: 'logic.ts: Op is not an object literal ({ Name: 1, … })',
    });
  });

  it('gives a reason when the logic file is missing, and throws for a folder that is no plugin', async () => {
    const folder = await plugin('export class Logic { recv() {} }');
    await rm(join(folder, 'logic.ts'));
    expect(await extractOps(folder)).toMatchObject({
      ops: [],
      reason: expect.stringMatching(/^no logic file/),
    });
    await expect(extractOps(dir)).rejects.toMatchObject({ code: 'NEKO_ERR_SPEC_READ' });
  });

  it('takes a logic file, or a source file already parsed', async () => {
    const folder = await plugin(
      'export const Op = { /** one */ One: 1 } as const;\nexport class Logic { recv() {} }',
    );
    expect(withOps(await extractOps(join(folder, 'logic.ts'))).ops).toEqual([
      { name: 'One', op: 1, doc: 'one' },
    ]);
    const { ts } = tsMorph();
    const parsed = ts.createSourceFile(
      '/virtual/logic.ts',
      'export const Op = { Two: 2 } as const;',
      ts.ScriptTarget.Latest,
      true,
    );
    expect(withOps(await extractOps(parsed))).toEqual({
      ops: [{ name: 'Two', op: 2 }],
      source: { file: '/virtual/logic.ts', line: 1 },
      problems: [],
    });
    expect(opsOfSourceFile(ts, parsed).ops).toEqual([{ name: 'Two', op: 2 }]);

    // As a program parses it: no parent pointers, JSDoc skipped in a .ts file.
    const bare = ts.createSourceFile(
      '/virtual/bare.ts',
      'export const Op = {\n  /**\n   * three,\n   * in two lines\n   * @see docs\n   */\n  Three: 3,\n  Dup: 3,\n} as const;',
      { languageVersion: ts.ScriptTarget.Latest, jsDocParsingMode: ts.JSDocParsingMode.ParseForTypeErrors },
      false,
    );
    const result = withOps(opsOfSourceFile(ts, bare));
    expect(result.ops).toEqual([{ name: 'Three', op: 3, doc: 'three, in two lines' }]);
    expect(result.problems.map((p) => [p.location?.line, p.severity])).toEqual([[8, 'warning']]);
  });
});

describe('the warm validator', () => {
  it('reads the ops from the logic file its last validation parsed, and reads it again once it changed', async () => {
    const folder = await plugin(
      [
        'export const Op = {',
        '  /** the first */',
        '  One: 1,',
        '} as const;',
        'export class Logic { recv() {} }',
      ].join('\n'),
    );
    const file = join(folder, 'logic.ts');
    // A whole-second mtime, which utimes can set back exactly.
    const when = 1_700_000_000;
    await utimes(file, when, when);
    const validator = createValidator();
    try {
      await validator.validate(folder);
      expect(withOps(await validator.ops(folder)).ops).toEqual([{ name: 'One', op: 1, doc: 'the first' }]);

      // Same size, same mtime: the validator takes its parse (the old text), a fresh read sees the new one.
      const old = await readFile(file, 'utf8');
      await writeFile(file, old.replace('One: 1', 'One: 2'));
      await utimes(file, when, when);
      expect(withOps(await validator.ops(folder)).ops).toEqual([{ name: 'One', op: 1, doc: 'the first' }]);
      expect(withOps(await extractOps(folder)).ops).toEqual([{ name: 'One', op: 2, doc: 'the first' }]);

      // A real change (another size) is read again.
      await writeFile(file, old.replace('One: 1', 'One: 12'));
      expect(withOps(await validator.ops(folder)).ops).toEqual([{ name: 'One', op: 12, doc: 'the first' }]);
    } finally {
      validator.dispose();
    }
    await expect(validator.ops(folder)).rejects.toMatchObject({ code: 'NEKO_ERR_VALIDATE_DISPOSED' });
  });
});

describe('the example plugins', () => {
  const examples = [
    ['echo', EchoOp],
    ['chat', ChatOp],
    ['todo', TodoOp],
    ['rps', RpsOp],
  ] as const;

  it.each(examples)(
    '%s declares an Op table, every op documented, read back exactly',
    async (name, table) => {
      const result = await extractOps(join(PLUGINS, name));
      const { ops, source, problems } = withOps(result);
      expect(problems).toEqual([]);
      expect(source.file).toBe(join(PLUGINS, name, 'logic.ts'));
      // The same names and values, in the same order, as the module exports at run time.
      expect(ops.map(({ name: n, op }) => [n, op])).toEqual(Object.entries(table));
      // And the same op codes the server counts apart in its metrics and dashboard.
      expect(ops.map((o) => o.op)).toEqual(declaredOps({ Op: table }));
      for (const op of ops) {
        expect(op.doc, `Op.${op.name} of ${name} has no doc comment`).toMatch(/\S{3,}/);
      }
    },
  );

  it('the tables are the ones documented', async () => {
    const ops = async (name: string) =>
      withOps(await extractOps(join(PLUGINS, name))).ops.map((o) => `${o.name}=${o.op}`);
    expect(await ops('echo')).toEqual(['Echo=1']);
    expect(await ops('chat')).toEqual([
      'Nick=1',
      'Say=2',
      'Who=3',
      'Joined=4',
      'Left=5',
      'Renamed=6',
      'Error=9',
    ]);
    expect(await ops('todo')).toEqual(['Add=1', 'List=2', 'Done=3', 'Remove=4', 'Stats=5', 'Error=9']);
    expect(await ops('rps')).toEqual([
      'Play=1',
      'Move=2',
      'Match=3',
      'Moved=4',
      'Board=5',
      'Result=6',
      'Away=7',
      'Back=8',
      'Error=9',
    ]);
  });
});
