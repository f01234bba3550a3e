import { describe, it, expect } from 'vitest';
import { codeFrame, formatLocation } from '../../src/code-frame.js';
import { parseSpecText } from '../../src/plugins/spec.js';
import { NekoError } from '../../src/errors.js';

const SOURCE = ['one', 'two', 'three', 'four', 'five', 'six', 'seven'].join('\n');

describe('codeFrame', () => {
  it('shows two lines each side, marks the line and points at the column', () => {
    expect(codeFrame(SOURCE, 4, 3)).toBe(
      ['  2 | two', '  3 | three', '> 4 | four', '    |   ^', '  5 | five', '  6 | six'].join('\n'),
    );
  });

  it('stops at the start and the end of the file', () => {
    expect(codeFrame(SOURCE, 1, 1)).toBe(['> 1 | one', '    | ^', '  2 | two', '  3 | three'].join('\n'));
    expect(codeFrame(SOURCE, 7, 6)).toBe(
      ['  5 | five', '  6 | six', '> 7 | seven', '    |      ^'].join('\n'),
    );
  });

  it('takes the number of context lines as an option', () => {
    expect(codeFrame(SOURCE, 4, 1, { contextLines: 0 })).toBe(['> 4 | four', '    | ^'].join('\n'));
    expect(codeFrame(SOURCE, 4, 1, { contextLines: 1 })).toBe(
      ['  3 | three', '> 4 | four', '    | ^', '  5 | five'].join('\n'),
    );
  });

  it('right-aligns the gutter to the widest line number shown', () => {
    const source = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n');
    expect(codeFrame(source, 10, 6)).toBe(
      [
        '   8 | line 8',
        '   9 | line 9',
        '> 10 | line 10',
        '     |      ^',
        '  11 | line 11',
        '  12 | line 12',
      ].join('\n'),
    );
  });

  it('keeps tabs before the column so the caret lines up', () => {
    expect(codeFrame('\tx\t= 1', 1, 4)).toBe(['> 1 | \tx\t= 1', '    | \t \t^'].join('\n'));
  });

  it('leaves no trailing blank after the gutter of an empty line', () => {
    expect(codeFrame('a\n\nb', 3, 1)).toBe(['  1 | a', '  2 |', '> 3 | b', '    | ^'].join('\n'));
  });

  it('drops the \\r of CRLF line ends', () => {
    expect(codeFrame('a\r\nbc\r\n', 2, 2)).toBe(['  1 | a', '> 2 | bc', '    |  ^', '  3 |'].join('\n'));
  });

  it('clamps positions outside the source', () => {
    expect(codeFrame('ab', 5, 9)).toBe(['> 1 | ab', '    |   ^'].join('\n'));
    expect(codeFrame('ab', 0, 0)).toBe(['> 1 | ab', '    | ^'].join('\n'));
    expect(codeFrame('', 1, 1)).toBe(['> 1 |', '    | ^'].join('\n'));
  });

  it('frames a spec.conf error at its location', () => {
    const text = '$name {"Echo"};\n$greet "echo";\n$logic {"logic"};\n';
    let err: unknown;
    try {
      parseSpecText(text, 'spec.conf');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NekoError);
    const location = (err as NekoError).location;
    expect(location).toBeDefined();
    if (location === undefined) return;
    expect(formatLocation(location)).toBe('spec.conf:2:8');
    expect(codeFrame(text, location.line, location.column)).toBe(
      [
        '  1 | $name {"Echo"};',
        '> 2 | $greet "echo";',
        '    |        ^',
        '  3 | $logic {"logic"};',
        '  4 |',
      ].join('\n'),
    );
  });
});

describe('formatLocation', () => {
  it('formats file:line:column', () => {
    expect(formatLocation({ file: 'plugins/echo/spec.conf', line: 3, column: 14 })).toBe(
      'plugins/echo/spec.conf:3:14',
    );
  });
});
