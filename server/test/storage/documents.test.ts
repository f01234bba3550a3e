import { describe, expect, it } from 'vitest';
import { checkDocumentQuery, checkUpdate } from '../../src/storage/documents.js';
import { nedbQuery } from '../../src/storage/nedb/query.js';

const NOT_A_CELL = { __nekoCell: { $exists: false } };

describe('nedbQuery', () => {
  it("adds the not-a-cell condition under $and, keeping the query's own fields at the top", () => {
    expect(nedbQuery(checkDocumentQuery(undefined, 'find'))).toEqual({ $and: [NOT_A_CELL] });
    expect(nedbQuery(checkDocumentQuery({}, 'find'))).toEqual({ $and: [NOT_A_CELL] });
    expect(nedbQuery({ a: 1, b: { $gt: 2 } })).toEqual({
      a: 1,
      b: { $gt: 2 },
      $and: [NOT_A_CELL],
    });
    expect(nedbQuery({ $and: [{ a: 1 }], $or: [{ b: 1 }] })).toEqual({
      $and: [{ a: 1 }, NOT_A_CELL],
      $or: [{ b: 1 }],
    });
  });

  it('turns $regex strings with $options into RegExps, at any depth', () => {
    expect(
      nedbQuery({ a: { $regex: '^x', $options: 'i' }, $or: [{ b: { $regex: 'y', $ne: 'z' } }] }),
    ).toEqual({
      a: { $regex: /^x/i },
      $or: [{ b: { $ne: 'z', $regex: /y/ } }],
      $and: [NOT_A_CELL],
    });
  });

  it("does not change the plugin's query object", () => {
    const query = { $and: [{ a: 1 }], b: { $regex: 'x', $options: 'i' } };
    expect(checkDocumentQuery(query, 'find')).toBe(query);
    nedbQuery(query);
    expect(query).toEqual({ $and: [{ a: 1 }], b: { $regex: 'x', $options: 'i' } });
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
