import { describe, expect, it } from 'vitest';
import { checkUpdate, documentQuery } from '../../src/storage/documents.js';

const NOT_A_CELL = { __nekoCell: { $exists: false } };

describe('documentQuery', () => {
  it("adds the not-a-cell condition under $and, keeping the query's own fields at the top", () => {
    expect(documentQuery({}, 'find')).toEqual({ $and: [NOT_A_CELL] });
    expect(documentQuery({ a: 1, b: { $gt: 2 } }, 'find')).toEqual({
      a: 1,
      b: { $gt: 2 },
      $and: [NOT_A_CELL],
    });
    expect(documentQuery({ $and: [{ a: 1 }], $or: [{ b: 1 }] }, 'find')).toEqual({
      $and: [{ a: 1 }, NOT_A_CELL],
      $or: [{ b: 1 }],
    });
  });

  it("does not change the plugin's query object", () => {
    const query = { $and: [{ a: 1 }] };
    documentQuery(query, 'find');
    expect(query).toEqual({ $and: [{ a: 1 }] });
  });
});

describe('checkUpdate', () => {
  it('passes updates that leave the reserved field alone, nested fields of that name included', () => {
    for (const update of [
      { a: 1 },
      { $set: { a: 1, 'b.__nekoCell': 2 } },
      { $push: { list: { __nekoCell: 'inside an array item' } } },
    ]) {
      expect(checkUpdate(update, 'update')).toBe(update);
    }
  });

  it('refuses $rename, which is outside the update language, naming the reserved field when it is the target', () => {
    expect(() => checkUpdate({ $rename: { a: 'b' } }, 'update')).toThrow(
      /the update operator \$rename is not supported/,
    );
    expect(() => checkUpdate({ $rename: { a: '__nekoCell' } }, 'update')).toThrow(/__nekoCell/);
  });
});
