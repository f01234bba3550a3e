import { describe, expect, it } from 'vitest';
import { jsonSpans, parseJson } from '../../src/config/json.js';

describe('jsonSpans', () => {
  it('finds where each key and value starts, nested and in arrays', () => {
    const text = '{\n  "a": 1,\n  "b": { "c": "x\\"y", "d": [true, null] },\n  "e": {}\n}';
    const spans = jsonSpans(text);
    expect(spans.get('')).toEqual({ key: undefined, value: { line: 1, column: 1 } });
    expect(spans.get('a')).toEqual({ key: { line: 2, column: 3 }, value: { line: 2, column: 8 } });
    expect(spans.get('b.c')).toEqual({ key: { line: 3, column: 10 }, value: { line: 3, column: 15 } });
    expect(spans.get('b.d.1')).toEqual({ key: undefined, value: { line: 3, column: 35 } });
    expect(spans.get('e')).toEqual({ key: { line: 4, column: 3 }, value: { line: 4, column: 8 } });
  });

  it('points a key given twice at the last, as JSON.parse keeps the last', () => {
    expect(jsonSpans('{"a":1,"a":2}').get('a')?.value).toEqual({ line: 1, column: 12 });
  });
});

describe('parseJson', () => {
  it('parses, with a byte-order mark too', async () => {
    const result = await parseJson('\uFEFF{"port": 1}');
    expect(result.ok && result.value).toEqual({ port: 1 });
  });

  it('locates syntax errors', async () => {
    expect(await parseJson('{"a": 1')).toEqual({
      ok: false,
      message: 'Expected "," in JSON but found end of file',
      location: { line: 1, column: 8 },
    });
    expect(await parseJson('// comment\n{}')).toMatchObject({
      ok: false,
      message: 'JSON does not support comments',
      location: { line: 1, column: 1 },
    });
  });
});
