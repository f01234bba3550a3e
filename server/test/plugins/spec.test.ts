import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, onTestFinished } from 'vitest';
import { NekoError } from '../../src/errors.js';
import type { NekoErrorCode } from '../../src/errors.js';
import { RESERVED_GREETERS, isValidGreeter, parseSpecText, readSpec } from '../../src/plugins/spec.js';

const FILE = 'plugins/echo/spec.conf';
const REST = '$name {"Echo"};\n$logic {"logic"};\n$version {"1.0.0"};\n';

/** Runs `fn`, expects a NekoError, returns it. */
function catchNeko(fn: () => unknown): NekoError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NekoError);
    return err as NekoError;
  }
  throw new Error('expected a NekoError, nothing was thrown');
}

/** Expects parsing `text` to fail with `code` and `message` at `line`:`column`. */
function expectSpecError(
  text: string,
  code: NekoErrorCode,
  message: string,
  line: number,
  column: number,
): NekoError {
  const err = catchNeko(() => parseSpecText(text, FILE));
  expect(err.code).toBe(code);
  expect(err.message).toBe(message);
  expect(err.location).toEqual({ file: FILE, line, column });
  expect(err.hint).toEqual(expect.any(String));
  return err;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'neko-spec-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('parseSpecText: valid files', () => {
  it('reads the four required entries, with the locations of the $ and of the value', () => {
    const spec = parseSpecText(
      '# Echo plugin\n$name {"Echo"};\n  $greet {"echo"};  comment after the entry\n$logic {"logic"};\n$version {"1.0.0"};\n',
      FILE,
    );
    expect(spec).toMatchObject({
      file: FILE,
      name: 'Echo',
      greeter: 'echo',
      logic: 'logic',
      version: '1.0.0',
    });
    expect([...spec.entries.keys()]).toEqual(['name', 'greet', 'logic', 'version']);
    expect(spec.entries.get('name')).toEqual({
      key: 'name',
      value: 'Echo',
      location: { file: FILE, line: 2, column: 1 },
      valueLocation: { file: FILE, line: 2, column: 9 },
    });
    expect(spec.entries.get('greet')).toEqual({
      key: 'greet',
      value: 'echo',
      location: { file: FILE, line: 3, column: 3 },
      valueLocation: { file: FILE, line: 3, column: 12 },
    });
  });

  it('reads several entries on one line: after ";" a "$" opens the next entry', () => {
    const spec = parseSpecText(
      '$name {"Echo"}; $greet {"echo"};\t$logic {"logic"}; $version {"1.0.0"};',
      FILE,
    );
    expect(spec).toMatchObject({ name: 'Echo', greeter: 'echo', logic: 'logic', version: '1.0.0' });
    expect(spec.entries.get('greet')?.location).toEqual({ file: FILE, line: 1, column: 17 });
    expect(spec.entries.get('logic')?.location).toEqual({ file: FILE, line: 1, column: 34 });
    expect(spec.entries.get('version')?.valueLocation).toEqual({ file: FILE, line: 1, column: 63 });
  });

  it('treats the rest of the line after ";" as comment when it does not start with "$"', () => {
    const err = expectSpecError(
      '$name {"Echo"}; # $greet {"echo"};\n$logic {"logic"};\n$version {"1.0.0"};',
      'NEKO_ERR_SPEC_MISSING_KEY',
      'missing required entry $greet',
      3,
      20,
    );
    expect(err.hint).toBe('add it, e.g. $greet {"my-plugin"};');
  });

  it('ignores lines whose first non-blank character is not "$"', () => {
    const spec = parseSpecText(
      `name {"Ignored"};\n  greet: $greet {"nope"};\n\n   \n$greet {"echo"};\n${REST}`,
      FILE,
    );
    expect(spec.greeter).toBe('echo');
    expect(spec.entries.size).toBe(4);
  });

  it('allows blanks and line breaks between the tokens of an entry', () => {
    const spec = parseSpecText(`$ greet\n\t{\n   "echo"\n  }\n ;\n${REST}`, FILE);
    expect(parseSpecText(`$greet{"echo"};\n${REST}`, FILE).greeter).toBe('echo');
    expect(spec.entries.get('greet')).toEqual({
      key: 'greet',
      value: 'echo',
      location: { file: FILE, line: 1, column: 1 },
      valueLocation: { file: FILE, line: 3, column: 5 },
    });
  });

  it('keeps a value verbatim, spaces and line breaks included, and has no escapes', () => {
    const spec = parseSpecText(
      `$name {" My\n echo \\n plugin "};\n$greet {"echo"};\n$logic {"logic"};\n$version {"1"};`,
      FILE,
    );
    expect(spec.name).toBe(' My\n echo \\n plugin ');
    expect(
      parseSpecText(`$name {"a};b{"};\n$greet {"echo"};\n$logic {"logic"};\n$version {"1"};`, FILE).name,
    ).toBe('a};b{');
  });

  it('keeps unknown keys in entries and does not check the version', () => {
    const spec = parseSpecText(
      `$greet {"echo"};\n$author {"Neko"}; $x-y_2 {""};\n${REST}`.replace('1.0.0', 'soon'),
      FILE,
    );
    expect(spec.version).toBe('soon');
    expect(spec.entries.get('author')?.value).toBe('Neko');
    expect(spec.entries.get('x-y_2')?.value).toBe('');
  });

  it('treats keys as case-sensitive: $Greet is a misspelling of $greet', () => {
    const err = catchNeko(() => parseSpecText(`$Greet {"echo"};\n${REST}`, FILE));
    expect(err.code).toBe('NEKO_ERR_SPEC_UNKNOWN_KEY');
    expect(err.message).toBe(
      'unknown entry $Greet: did you mean `$greet`? (the required entry $greet is missing)',
    );
  });

  it('counts columns correctly with CRLF line ends and a byte-order mark', () => {
    const spec = parseSpecText(
      '\uFEFF$name {"Echo"};\r\n $greet {"echo"};\r\n$logic {"logic"};\r\n$version {"1"};\r\n',
      FILE,
    );
    expect(spec.name).toBe('Echo');
    expect(spec.entries.get('name')?.location).toEqual({ file: FILE, line: 1, column: 1 });
    expect(spec.entries.get('greet')?.valueLocation).toEqual({ file: FILE, line: 2, column: 11 });
  });
});

describe('parseSpecText: syntax errors', () => {
  it('reports a value without braces', () => {
    expectSpecError(
      `$greet {"echo"};\n$name "Echo";\n`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected '{' after $name, found '"'`,
      2,
      7,
    );
  });

  it('reports a "$" without a key', () => {
    expectSpecError(`$ {"Echo"};`, 'NEKO_ERR_SPEC_SYNTAX', `expected a key name after '$', found '{'`, 1, 3);
    expectSpecError(`$1st {"x"};`, 'NEKO_ERR_SPEC_SYNTAX', `expected a key name after '$', found '1'`, 1, 2);
    expectSpecError(
      `# end\n$`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected a key name after '$', found end of file`,
      2,
      2,
    );
  });

  it('reports a value without quotes', () => {
    expectSpecError(
      `$name {Echo};`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected '"' after '{' in $name, found 'E'`,
      1,
      8,
    );
  });

  it('reports a value that is never closed, at its opening quote', () => {
    expectSpecError(
      `$greet {"echo"};\n$name {"Echo\n`,
      'NEKO_ERR_SPEC_SYNTAX',
      `unterminated value of $name: expected '"' to close it, found end of file`,
      2,
      8,
    );
  });

  it('reports a missing closing quote that swallows the next entry where the value ends', () => {
    expectSpecError(
      `$name {"Echo};\n$greet {"echo"};`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected '}' after the value of $name, found 'e'`,
      2,
      10,
    );
  });

  it('reports a double quote inside a value', () => {
    const err = expectSpecError(
      `$name {"Say "hi""};`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected '}' after the value of $name, found 'h'`,
      1,
      14,
    );
    expect(err.hint).toContain('cannot contain one');
  });

  it('reports a missing "}"', () => {
    expectSpecError(
      `$name {"Echo";`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected '}' after the value of $name, found ';'`,
      1,
      14,
    );
  });

  it('reports a missing ";", at the next token or at the end of the file', () => {
    expectSpecError(
      `$name {"Echo"}\n$greet {"echo"};`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected ';' after $name {"…"}, found '$'`,
      2,
      1,
    );
    expectSpecError(
      `${REST}$greet {"echo"}\n`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected ';' after $greet {"…"}, found end of file`,
      5,
      1,
    );
  });

  it('names invisible characters by code point', () => {
    expectSpecError(
      `$name {"Echo"}\u0000;`,
      'NEKO_ERR_SPEC_SYNTAX',
      `expected ';' after $name {"…"}, found U+0000`,
      1,
      15,
    );
  });

  it('reports the first error in file order', () => {
    expectSpecError(
      `$name {"Echo"};\n$name {"Again"};\n$greet "x";`,
      'NEKO_ERR_SPEC_DUPLICATE_KEY',
      'duplicate entry $name: it is already set at line 1, column 1',
      2,
      1,
    );
  });
});

describe('parseSpecText: entry errors', () => {
  it('reports a duplicate key at the second entry', () => {
    const err = expectSpecError(
      `$greet {"echo"};\n${REST}  # later\n  $logic {"other"};`,
      'NEKO_ERR_SPEC_DUPLICATE_KEY',
      'duplicate entry $logic: it is already set at line 3, column 1',
      6,
      3,
    );
    expect(err.hint).toBe('keep one $logic entry and delete the other');
  });

  it('reports a misspelled key at its own line and column, with the key it resembles', () => {
    const err = expectSpecError(
      '$name {"Echo"};\n  $gret {"echo"};   the greeter\n$logic {"logic"};\n$version {"1.0.0"};\n',
      'NEKO_ERR_SPEC_UNKNOWN_KEY',
      'unknown entry $gret: did you mean `$greet`? (the required entry $greet is missing)',
      2,
      3,
    );
    expect(err.hint).toBe('rename $gret to $greet');
    // version: up to two edits away, transposition counting as one; the first in file order is reported.
    expectSpecError(
      `$author {"Neko"};\n$versoin {"1"};\n$lgoik {"logic"};\n${REST.replace('$version {"1.0.0"};\n', '')}`,
      'NEKO_ERR_SPEC_UNKNOWN_KEY',
      'unknown entry $versoin: did you mean `$version`? (the required entry $version is missing)',
      2,
      1,
    );
  });

  it('reports a misspelled key even when the entry it resembles is present', () => {
    const err = expectSpecError(
      `$greet {"echo"};\n${REST}$greets {"hi"};\n`,
      'NEKO_ERR_SPEC_UNKNOWN_KEY',
      'unknown entry $greets: did you mean `$greet`?',
      5,
      1,
    );
    expect(err.hint).toBe(
      'other keys are free metadata, but not one this close to $greet: rename or delete $greets',
    );
  });

  it('allows unknown keys farther away: more than 1 edit from the short keys, more than 2 from version', () => {
    const spec = parseSpecText(`$greet {"echo"};\n$author {"Neko"};\n$greeting {"hi"};\n${REST}`, FILE);
    expect(spec.entries.get('greeting')?.value).toBe('hi');
    // Two edits from name or logic: ordinary metadata words.
    const words = parseSpecText(
      `$greet {"echo"};\n$date {"2026"};\n$time {"noon"};\n$logo {"cat.png"};\n$page {"1"};\n${REST}`,
      FILE,
    );
    expect(['date', 'time', 'logo', 'page'].map((k) => words.entries.get(k)?.value)).toEqual([
      '2026',
      'noon',
      'cat.png',
      '1',
    ]);
  });

  it('reads $grace as whole seconds into graceMs (default 0), and refuses anything else at its value', () => {
    expect(parseSpecText(`$greet {"echo"};\n${REST}`, FILE).graceMs).toBe(0);
    expect(parseSpecText(`$greet {"echo"};\n${REST}$grace {"30"};\n`, FILE).graceMs).toBe(30_000);
    expect(parseSpecText(`$greet {"echo"};\n${REST}$grace {" 3600 "};\n`, FILE).graceMs).toBe(3_600_000);
    for (const bad of ['3601', '-1', '1.5', '30s', '']) {
      const err = expectSpecError(
        `$greet {"echo"};\n${REST}$grace {"${bad}"};\n`,
        'NEKO_ERR_SPEC_BAD_GRACE',
        `$grace must be a whole number of seconds from 0 to 3600; got "${bad}"`,
        5,
        10,
      );
      expect(err.hint).toContain('$grace {"30"}');
    }
    // A misspelling of it is caught like the others'.
    expectSpecError(
      `$greet {"echo"};\n${REST}$grce {"30"};\n`,
      'NEKO_ERR_SPEC_UNKNOWN_KEY',
      'unknown entry $grce: did you mean `$grace`? (the required entry $grace is missing)',
      5,
      1,
    );
  });

  it('lists every missing required key, located at the end of the file', () => {
    const err = expectSpecError(
      '',
      'NEKO_ERR_SPEC_MISSING_KEY',
      'missing required entries $name, $greet, $logic and $version',
      1,
      1,
    );
    expect(err.hint).toBe(
      'add them, e.g. $name {"My plugin"}; $greet {"my-plugin"}; $logic {"logic"}; $version {"1.0.0"};',
    );
    expectSpecError(
      '$name {"Echo"};\n$logic {"logic"};\n',
      'NEKO_ERR_SPEC_MISSING_KEY',
      'missing required entries $greet and $version',
      3,
      1,
    );
  });

  it('reports an empty greeter at its value', () => {
    expectSpecError(`$greet {""};\n${REST}`, 'NEKO_ERR_SPEC_BAD_GREETER', 'bad greeter: it is empty', 1, 10);
  });

  it('reports a greeter with a space or a non-ASCII character at that character', () => {
    const err = expectSpecError(
      `${REST}$greet {"ec ho"};`,
      'NEKO_ERR_SPEC_BAD_GREETER',
      `bad greeter "ec ho": character ' ' (U+0020) at position 3 is not printable ASCII (0x21-0x7E)`,
      4,
      12,
    );
    expect(err.hint).toContain('1 to 255 printable ASCII characters');
    expectSpecError(
      `$greet {"café"};\n${REST}`,
      'NEKO_ERR_SPEC_BAD_GREETER',
      `bad greeter "café": character 'é' at position 4 is not printable ASCII (0x21-0x7E)`,
      1,
      13,
    );
    expectSpecError(
      `$greet {"ok\n  more"};\n${REST}`,
      'NEKO_ERR_SPEC_BAD_GREETER',
      `bad greeter "ok\\n  more": character U+000A at position 3 is not printable ASCII (0x21-0x7E)`,
      1,
      12,
    );
    expectSpecError(
      `$greet {"\tok"};\n${REST}`,
      'NEKO_ERR_SPEC_BAD_GREETER',
      `bad greeter "\\tok": character U+0009 at position 1 is not printable ASCII (0x21-0x7E)`,
      1,
      10,
    );
  });

  it('accepts a 255-byte greeter and rejects a 256-byte one', () => {
    expect(parseSpecText(`$greet {"${'g'.repeat(255)}"};\n${REST}`, FILE).greeter).toHaveLength(255);
    expectSpecError(
      `$greet {"${'g'.repeat(256)}"};\n${REST}`,
      'NEKO_ERR_SPEC_BAD_GREETER',
      'bad greeter: it is 256 bytes long, the limit is 255',
      1,
      10,
    );
  });

  it('rejects the reserved greeters', () => {
    for (const greeter of ['auth', 'nekoconnect-server']) {
      const err = expectSpecError(
        `${REST}$greet {"${greeter}"};`,
        'NEKO_ERR_SPEC_RESERVED_GREETER',
        `greeter "${greeter}" is reserved by the protocol`,
        4,
        10,
      );
      expect(err.hint).toBe(
        'choose another greeter; "auth" and "nekoconnect-server" are used by the server itself',
      );
    }
    expect(parseSpecText(`$greet {"Auth"};\n${REST}`, FILE).greeter).toBe('Auth');
  });

  it('rejects a $logic that is empty, a path or holds ".."', () => {
    const cases: Array<[string, string]> = [
      ['', 'it is empty'],
      ['src/logic', "it holds a path separator '/'"],
      ['/abs', "it holds a path separator '/'"],
      ['src\\logic', "it holds a path separator '\\'"],
      ['..', "it holds '..'"],
      ['logic..old', "it holds '..'"],
    ];
    for (const [logic, problem] of cases) {
      const err = expectSpecError(
        `$name {"Echo"};\n$greet {"echo"};\n$version {"1"};\n$logic {"${logic}"};`,
        'NEKO_ERR_SPEC_BAD_LOGIC_PATH',
        `bad $logic ${JSON.stringify(logic)}: expected a file name in the plugin folder, without extension; ${problem}`,
        4,
        10,
      );
      expect(err.hint).toBe(
        'put the logic file in the plugin folder and name it without extension, e.g. $logic {"logic"}; for logic.ts',
      );
    }
  });

  it('checks the greeter before the logic path', () => {
    const err = catchNeko(() =>
      parseSpecText('$name {"x"}; $greet {"auth"}; $logic {"../x"}; $version {"1"};', FILE),
    );
    expect(err.code).toBe('NEKO_ERR_SPEC_RESERVED_GREETER');
  });
});

describe('isValidGreeter and RESERVED_GREETERS', () => {
  it('follows the frame rule: 1-255 bytes of printable ASCII', () => {
    expect(isValidGreeter('echo')).toBe(true);
    expect(isValidGreeter('!~')).toBe(true);
    expect(isValidGreeter('g'.repeat(255))).toBe(true);
    expect(isValidGreeter('')).toBe(false);
    expect(isValidGreeter('g'.repeat(256))).toBe(false);
    expect(isValidGreeter('a b')).toBe(false);
    expect(isValidGreeter('a\u007f')).toBe(false);
    expect(isValidGreeter('né')).toBe(false);
  });

  it('lists the greeters of the protocol, which pass the frame rule but are refused by the parser', () => {
    expect(RESERVED_GREETERS).toEqual(['auth', 'nekoconnect-server']);
    expect(Object.isFrozen(RESERVED_GREETERS)).toBe(true);
    expect(RESERVED_GREETERS.every(isValidGreeter)).toBe(true);
  });
});

describe('readSpec', () => {
  it('reads <dir>/spec.conf and reports locations in that file', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'spec.conf'), `$greet {"echo"};\n${REST}`);
    const spec = await readSpec(dir);
    expect(spec.file).toBe(path.join(dir, 'spec.conf'));
    expect(spec.greeter).toBe('echo');
    expect(spec.entries.get('greet')?.location.file).toBe(path.join(dir, 'spec.conf'));
  });

  it('reports a missing or unreadable spec.conf as NEKO_ERR_SPEC_READ', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'spec.conf');
    const missing = await readSpec(dir).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(NekoError);
    expect((missing as NekoError).code).toBe('NEKO_ERR_SPEC_READ');
    expect((missing as NekoError).message).toBe(
      `cannot read ${file}: ENOENT: no such file or directory, open '${file}'`,
    );
    expect((missing as NekoError).cause).toMatchObject({ code: 'ENOENT' });

    await mkdir(file);
    const isDir = await readSpec(dir).catch((err: unknown) => err);
    expect((isDir as NekoError).code).toBe('NEKO_ERR_SPEC_READ');
  });

  it('passes parse errors through with the file path in the location', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'spec.conf'), '$name "Echo";');
    const err = await readSpec(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'NEKO_ERR_SPEC_SYNTAX',
      location: { file: path.join(dir, 'spec.conf'), line: 1, column: 7 },
    });
  });
});
