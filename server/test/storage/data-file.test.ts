import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkLine, escapeLineBreaks, scanDataFile } from '../../src/storage/nedb/data-file.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('escapeLineBreaks', () => {
  it('escapes the characters nedb splits lines on, and the line still parses to the same value', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ unit: fc.constantFrom('a', '\\', '"', '\n', '\u2028', '\u2029', '\u0085', 'é') }),
          fc.string({ unit: fc.constantFrom('b', '\\', '"', '\u2028', '\u2029', '\u0085', '\r', '😀') }),
        ),
        (value) => {
          const line = escapeLineBreaks(JSON.stringify(value));
          expect(line).not.toMatch(/[\n\r\u2028\u2029\u0085]/);
          expect(JSON.parse(line)).toEqual(value);
        },
      ),
    );
    expect(escapeLineBreaks(JSON.stringify({ s: 'a\u2028b' }))).toBe('{"s":"a\\u2028b"}');
  });
});

describe('checkLine', () => {
  it('accepts the records nedb writes, and blank lines', () => {
    for (const line of [
      '{"a":1,"_id":"x"}',
      '{"$$deleted":true,"_id":"x"}',
      '{"$$indexCreated":{"fieldName":"a","unique":true}}',
      '{"$$indexRemoved":"a"}',
      '{"_id":"x"}\r',
      '',
      '\r',
    ]) {
      expect(checkLine(line), line).toBeUndefined();
    }
  });

  it('rejects what nedb would drop or split, saying why and where', () => {
    expect(checkLine('{"a":1}')).toEqual({
      column: 1,
      reason: 'an object without an _id (nedb would drop it)',
    });
    expect(checkLine('{"_id":""}')?.reason).toMatch(/without an _id/);
    expect(checkLine('{"$$indexCreated":{}}')?.reason).toMatch(/without an _id/);
    expect(checkLine('[{"_id":"x"}]')).toEqual({ column: 1, reason: 'not a JSON object' });
    expect(checkLine('null')?.reason).toBe('not a JSON object');
    expect(checkLine('{"_id":"x",}')?.reason).toMatch(/^not JSON: /);
    expect(checkLine('{"_id":"x",}')?.column).toBe(12);
    expect(checkLine('{"_id":"a\u2028b"}')).toEqual({
      column: 10,
      reason: "holds U+2028, which nedb's loader takes for a line break",
    });
    expect(checkLine('{"_id":"a\rb"}')?.reason).toMatch(/U\+000D/);
    expect(checkLine('  ')?.reason).toMatch(/^not JSON/);
  });
});

describe('scanDataFile', () => {
  it('passes a clean file, with or without its last newline, and counts its lines', () => {
    expect(scanDataFile(bytes(''))).toEqual({ lines: 0, bad: [] });
    expect(scanDataFile(bytes('{"_id":"a"}\n\n{"_id":"b"}\n'))).toEqual({ lines: 2, bad: [] });
    expect(scanDataFile(bytes('{"_id":"a"}\r\n{"_id":"b"}'))).toEqual({ lines: 2, bad: [] });
  });

  it('reports every bad complete line by number', () => {
    const scan = scanDataFile(bytes('{"_id":"a"}\nnope\n{"_id":"b"}\n{"x":1}\n'));
    expect(scan.lines).toBe(4);
    expect(scan.bad.map((b) => b.line)).toEqual([2, 4]);
    expect(scan.tornTail).toBeUndefined();
  });

  it('reports an unterminated, unreadable last line as a torn tail, with its byte offset', () => {
    const head = '{"_id":"a","s":"é"}\n{"_id":"b"}\n';
    const torn = '{"_id":"c","s":"\u00e9';
    const scan = scanDataFile(bytes(head + torn));
    expect(scan.bad).toEqual([]);
    expect(scan.tornTail).toEqual({
      line: 3,
      offset: Buffer.byteLength(head),
      bytes: Buffer.byteLength(torn),
    });
    expect(scanDataFile(bytes('{"_i')).tornTail).toEqual({ line: 1, offset: 0, bytes: 4 });
    // A multi-byte character cut in half is torn too.
    const cut = Buffer.concat([bytes('{"_id":"a"}\n{"_id":"'), Buffer.from([0xc3])]);
    expect(scanDataFile(cut).tornTail).toEqual({ line: 2, offset: 12, bytes: 9 });
  });

  it('reports bad lines and a torn tail together', () => {
    const scan = scanDataFile(bytes('x\n{"_id":"a"}\n{"_'));
    expect(scan.bad.map((b) => b.line)).toEqual([1]);
    expect(scan.tornTail?.line).toBe(3);
  });
});
