import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { format } from 'prettier';
import { describe, expect, it } from 'vitest';
import { createTestServer } from '@nekoconnect/testing';
import { validatePlugins } from 'nekoconnect/validate';
import {
  addOp,
  generatePlugin,
  isNekoTemplatesError,
  nextFreeOp,
  readOps,
  toOpName,
  validateOpCode,
  validateOpName,
} from '../src/index.js';
import { topLevelDescribes } from '../src/ops.js';
import { projectDir, readTree, tempDir } from './helpers/dirs.js';

const ANSWERS = { name: 'Dice', greeter: 'dice', description: 'Rolls dice.', packageName: 'dice' };

async function plugin(dest?: string): Promise<string> {
  const dir = dest ?? (await tempDir());
  await generatePlugin({ destBasePath: dir, dir: '.', answers: ANSWERS });
  return dir;
}

/** What vitest's JSON reporter says of one test. */
interface TestResult {
  ancestorTitles: string[];
  title: string;
  status: string;
}

/** Runs the project's tests with vitest, as `npx vitest run` in it; resolves with each test's result. */
function runVitest(dir: string): Promise<TestResult[]> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['vitest', 'run', '--reporter=json'], {
      cwd: dir,
      env: { ...env, NO_COLOR: '1', CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const start = stdout.indexOf('{');
      try {
        const report = JSON.parse(stdout.slice(start)) as {
          testResults: Array<{ assertionResults: TestResult[] }>;
        };
        resolve(report.testResults.flatMap((f) => f.assertionResults));
      } catch {
        reject(new Error(`vitest printed no JSON report:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** README.md as prettier prints it (quotes as the project's code has them). */
function prettierMarkdown(text: string): Promise<string> {
  return format(text, { parser: 'markdown', singleQuote: true });
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

describe('op names and codes', () => {
  it('makes an Op key of what is typed', () => {
    expect(['Score', 'get score', 'get-score', 'roll2', 'x'].map(toOpName)).toEqual([
      'Score',
      'GetScore',
      'GetScore',
      'Roll2',
      'X',
    ]);
    expect(['', '2fast', '!!!', 'x'.repeat(41)].map(toOpName)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(validateOpName('2fast')).toMatch(/^bad op name "2fast": use 1 to 40 letters/);
  });

  it('takes codes from 0 to 4294967295, or nothing for the next free one', () => {
    expect(['', '0', '7', '4294967295'].map(validateOpCode)).toEqual([true, true, true, true]);
    expect(validateOpCode('4294967296')).toBe(
      'bad op code "4294967296": a whole number from 0 to 4294967295',
    );
    expect(validateOpCode('-1')).not.toBe(true);
    expect(validateOpCode('1.5')).not.toBe(true);
  });

  it('reads the Op object and finds the next free code', async () => {
    const logic = await readFile(join(await plugin(), 'logic.ts'), 'utf8');
    const ops = readOps(logic)!;
    expect(ops).toEqual([
      { name: 'Hello', code: 1 },
      { name: 'Count', code: 2 },
      { name: 'Error', code: 9 },
    ]);
    expect(nextFreeOp(ops)).toBe(3);
    expect(nextFreeOp([])).toBe(1);
    expect(readOps('export class Logic {}')).toBeUndefined();
  });
});

describe('addOp', () => {
  it('adds the code, a case, a handler, a test and a README row, in code order', async () => {
    const dir = await plugin();
    const result = await addOp({ destBasePath: dir, op: 'roll dice' });
    expect(result).toEqual({
      opName: 'RollDice',
      code: 3,
      files: ['logic.ts', 'logic.test.ts', 'README.md'],
    });
    await addOp({ destBasePath: dir, op: 'Zero', code: 0 });
    await addOp({ destBasePath: dir, op: 'Big', code: 100 });

    const logic = await readFile(join(dir, 'logic.ts'), 'utf8');
    expect(readOps(logic)).toEqual([
      { name: 'Zero', code: 0 },
      { name: 'Hello', code: 1 },
      { name: 'Count', code: 2 },
      { name: 'RollDice', code: 3 },
      { name: 'Error', code: 9 },
      { name: 'Big', code: 100 },
    ]);
    // The new entry goes above the comment of the entry after it.
    expect(logic).toContain(
      '  RollDice: 3,\n  /** the answer to an op this plugin does not know: `{"error"}` */\n  Error: 9,',
    );
    expect(logic).toContain('      case Op.RollDice:\n        return this.#rollDice(ctx);\n');
    expect(logic).toContain(
      '\n\n  /** Op.RollDice: answers with the data it got. Write what it should do instead. */\n  #rollDice(ctx: Context): void {\n    ctx.send(ctx.data);\n  }\n',
    );
    expect(logic).toMatch(/ {2}#big\(ctx: Context\): void \{\n {4}ctx\.send\(ctx\.data\);\n {2}\}\n\}\n$/);
    const test = await readFile(join(dir, 'logic.test.ts'), 'utf8');
    expect(test).toContain("const reply = await client.request(GREETER, 'ping', { op: Op.RollDice });");
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => /^\| \d+/.test(l));
    expect(rows.map((r) => r.split('|')[1]!.trim())).toEqual(['0', '1', '2', '3', '9', '100']);
  });

  it('leaves a plugin whose new op answers, whose tests pass and that validates', async () => {
    const dir = join(await projectDir(), 'dice');
    await plugin(dir);
    await addOp({ destBasePath: dir, op: 'Roll' });
    const server = await createTestServer({ plugin: dir });
    const client = await server.connect();
    const reply = await client.request('dice', 'ping', { op: 3 });
    expect([reply.op, reply.text()]).toEqual([3, 'ping']);
    expect((await validatePlugins(dir)).problems).toEqual([]);
  });

  it("puts the test inside the plugin's describe block, not into a hook or another block after it", async () => {
    const dir = join(await projectDir(), 'dice');
    await plugin(dir);
    const file = join(dir, 'logic.test.ts');
    const generated = await readFile(file, 'utf8');
    // What a plugin author adds: a hook after the block, another block, and a `});` inside a string.
    await writeFile(
      file,
      generated
        .replace(
          "import { describe, expect, it } from 'vitest';",
          "import { afterEach, describe, expect, it } from 'vitest';",
        )
        .replace(
          "describe('Dice', () => {\n",
          "describe('Dice', () => {\n  const note = `a string with\n});\nin it`;\n  it('keeps its note', () => expect(note).toContain('});'));\n\n",
        ) +
        "\nafterEach(() => {\n  expect(true).toBe(true);\n});\n\ndescribe('the Op object', () => {\n  it('has Hello', () => {\n    expect(Op.Hello).toBe(1);\n  });\n});\n",
    );
    await addOp({ destBasePath: dir, op: 'Roll' });

    const test = await readFile(file, 'utf8');
    const blocks = topLevelDescribes(test);
    expect(blocks.map((b) => b.title)).toEqual(['Dice', 'the Op object']);
    const at = test.indexOf("it('answers op 3 (Roll) with the data it got'");
    expect(at).toBeGreaterThan(blocks[0]!.start);
    expect(at).toBeLessThan(blocks[0]!.close);
    expect(test.slice(blocks[0]!.close)).toMatch(/^\}\);\n\nafterEach\(/);

    // Run for real: the new test runs inside the plugin's block, and every test passes.
    const results = await runVitest(dir);
    expect(results.map((r) => [...r.ancestorTitles, r.title].join(' > ')).sort()).toEqual([
      'Dice > answers a name with a greeting',
      'Dice > answers an unknown op with an error',
      'Dice > answers op 3 (Roll) with the data it got',
      'Dice > keeps its note',
      'Dice > remembers the name and counts the packets of each client',
      'the Op object > has Hello',
    ]);
    expect(results.filter((r) => r.status !== 'passed')).toEqual([]);
  }, 60_000);

  it('refuses a test file with several describe blocks, none named for the plugin, without writing', async () => {
    const dir = await plugin();
    const file = join(dir, 'logic.test.ts');
    const test = (await readFile(file, 'utf8')).replace("describe('Dice',", "describe('first',");
    await writeFile(file, `${test}\ndescribe('second', () => {\n  it('runs', () => {});\n});\n`);
    const before = await readTree(dir);
    const err = await errorOf(addOp({ destBasePath: dir, op: 'Roll' }));
    expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_LOGIC_SHAPE'), String(err)).toBe(true);
    expect((err as Error).message).toBe(
      'logic.test.ts has 2 top-level describe blocks and none is titled "Dice" or "dice" (the plugin\'s $name or $greet): add-op does not know which one to add the test to',
    );
    expect(await readTree(dir)).toEqual(before);
  });

  it('keeps the README tables aligned as prettier prints them, with names and codes of any width', async () => {
    const dir = join(await projectDir(), 'dice');
    await plugin(dir);
    const generated = await readFile(join(dir, 'README.md'), 'utf8');
    expect(await prettierMarkdown(generated)).toBe(generated);
    await addOp({ destBasePath: dir, op: 'roll a great many dice at once', code: 4294967295 });
    await addOp({ destBasePath: dir, op: 'Zero', code: 0 });
    await addOp({ destBasePath: dir, op: 'Roll' });
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    expect(await prettierMarkdown(readme)).toBe(readme);
    const table = readme.split('\n').filter((l) => l.startsWith('| '));
    const opRows = table.slice(0, 8);
    expect(opRows.map((r) => r.split('|')[1]!.trim())).toEqual([
      'op',
      '----------',
      '0',
      '1',
      '2',
      '3',
      '9',
      '4294967295',
    ]);
    expect(opRows[7]).toMatch(
      /^\| 4294967295 \| ROLLAGREATMANYDICEATONCE \| TODO +\| op 4294967295: the data it got, for now +\|$/,
    );
    expect(new Set(opRows.map((r) => r.length)).size).toBe(1);
    // The rest of the file is as it was.
    const outside = (text: string): string =>
      text
        .split('\n')
        .filter((l) => !/^\| (\d|op |-)/.test(l))
        .join('\n');
    expect(outside(readme)).toBe(outside(generated));
  });

  it('creates logic.test.ts when there is none, and skips a README without an op table', async () => {
    const dir = await plugin();
    await rm(join(dir, 'logic.test.ts'));
    await writeFile(join(dir, 'README.md'), '# Dice\n');
    const result = await addOp({ destBasePath: dir, op: 'Roll', code: 5 });
    expect(result.files).toEqual(['logic.ts', 'logic.test.ts']);
    expect(await readFile(join(dir, 'README.md'), 'utf8')).toBe('# Dice\n');
    const test = await readFile(join(dir, 'logic.test.ts'), 'utf8');
    expect(test).toContain("import { createTestServer } from '@nekoconnect/testing';");
    expect(test).toContain("await client.request('dice', 'ping', { op: Op.Roll });");
  });

  it('uses the op code in a test file that does not import Op', async () => {
    const dir = await plugin();
    const test = (await readFile(join(dir, 'logic.test.ts'), 'utf8')).replace(
      "import { Op } from './logic.js';\n",
      '',
    );
    await writeFile(join(dir, 'logic.test.ts'), test);
    await addOp({ destBasePath: dir, op: 'Roll', code: 5 });
    expect(await readFile(join(dir, 'logic.test.ts'), 'utf8')).toContain(
      "{ op: 5 });\n    expect([reply.op, reply.text()]).toEqual([5, 'ping']);",
    );
  });

  it('finds the plugin folder from destBasePath and dir, and the logic file from spec.conf', async () => {
    const root = await tempDir();
    await generatePlugin({ destBasePath: root, dir: 'plugins/dice', answers: ANSWERS });
    const result = await addOp({ destBasePath: root, dir: 'plugins/dice', op: 'Roll' });
    expect(result.files).toEqual([
      join('plugins', 'dice', 'logic.ts'),
      join('plugins', 'dice', 'logic.test.ts'),
      join('plugins', 'dice', 'README.md'),
    ]);
  });

  it('refuses a taken name or code, and a bad one, without writing', async () => {
    const dir = await plugin();
    const before = await readTree(dir);
    for (const [options, message] of [
      [{ op: 'hello' }, 'the op Hello already exists (code 1)'],
      [{ op: 'Roll', code: 9 }, 'the op code 9 is taken by Error'],
      [
        { op: '123' },
        'bad op name "123": use 1 to 40 letters and digits, starting with a letter (e.g. Score or get-score)',
      ],
      [{ op: 'Roll', code: 2 ** 32 }, 'bad op code "4294967296": a whole number from 0 to 4294967295'],
    ] as const) {
      const err = await errorOf(addOp({ destBasePath: dir, ...options }));
      expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_BAD_OP'), String(err)).toBe(true);
      expect((err as Error).message).toBe(message);
    }
    expect(await readTree(dir)).toEqual(before);
  });

  it('refuses a logic file of another shape, naming what is missing, without writing', async () => {
    const dir = await plugin();
    const logic = await readFile(join(dir, 'logic.ts'), 'utf8');
    for (const [broken, message] of [
      [
        logic.replace('export const Op = {', 'const Ops = {'),
        /no `export const Op = \{ … \} as const;` object/,
      ],
      [logic.replace('      default:\n', ''), /no `switch \(ctx\.op\)` with a `default:` case/],
      [logic.replace('export class Logic {', 'class Logic {'), /no `export class Logic \{`/],
    ] as const) {
      await writeFile(join(dir, 'logic.ts'), broken);
      const err = await errorOf(addOp({ destBasePath: dir, op: 'Roll' }));
      expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_LOGIC_SHAPE'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(message);
      expect(await readFile(join(dir, 'logic.ts'), 'utf8')).toBe(broken);
    }
  });

  it('refuses a folder that is not a plugin', async () => {
    const err = await errorOf(addOp({ destBasePath: await tempDir(), op: 'Roll' }));
    expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_GENERATE')).toBe(true);
    expect((err as Error).message).toMatch(/is not a plugin folder: it has no spec\.conf$/);
  });
});
