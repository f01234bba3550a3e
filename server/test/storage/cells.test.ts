import { describe, expect, it } from 'vitest';
import { isNekoError } from '../../src/errors.js';
import { checkCellName, decodeCellValue, encodeCellValue } from '../../src/storage/cells.js';

describe('cells', () => {
  it('stores a value as the JSON text that gives it back', () => {
    const value = { a: [1, 'two', null, { 'b.c': true, $d: -1.5 }], e: {} };
    const json = encodeCellValue('c', value);
    expect(json).toBe(JSON.stringify(value));
    expect(decodeCellValue('c', json, 'file.db')).toEqual(value);
    const bare = Object.create(null) as Record<string, unknown>;
    bare['x'] = 1;
    expect(encodeCellValue('c', bare)).toBe('{"x":1}');
  });

  it('names the part of a value that JSON would not give back', () => {
    const holey: unknown[] = [1];
    holey[2] = 3;
    const cases: [unknown, string][] = [
      [{ f: Number.POSITIVE_INFINITY }, 'cell "c": the value.f is Infinity, which JSON turns into null'],
      [holey, 'cell "c": the value[1] is an empty slot, which JSON turns into null'],
      [{ 'a b': Symbol('s') }, 'cell "c": the value["a b"] is a symbol'],
      [{ [Symbol('k')]: 1 }, 'cell "c": the value has a symbol key, which JSON drops'],
      [new (class Point {})(), 'cell "c": the value is a Point, not a plain object'],
    ];
    for (const [value, message] of cases) {
      expect(() => encodeCellValue('c', value)).toThrow(`${message}, so it cannot be stored as JSON`);
    }
    // The same object twice is not a cycle.
    const shared = { x: 1 };
    expect(encodeCellValue('c', [shared, shared])).toBe('[{"x":1},{"x":1}]');
  });

  it('refuses names that are not non-empty strings', () => {
    expect(checkCellName('score')).toBe('score');
    for (const name of ['', null, 1, {}]) {
      let error: unknown;
      try {
        checkCellName(name);
      } catch (err) {
        error = err;
      }
      expect(isNekoError(error, 'NEKO_ERR_STORAGE_CELL'), String(name)).toBe(true);
    }
  });

  it('reports stored text that is not JSON as corrupt, naming the file', () => {
    for (const stored of ['{nope', 42, undefined]) {
      expect(() => decodeCellValue('c', stored, '/data/x.db')).toThrow(
        expect.objectContaining({
          code: 'NEKO_ERR_STORAGE_CORRUPT',
          message: '/data/x.db: cell "c" holds no JSON text in its json field',
        }),
      );
    }
  });
});
