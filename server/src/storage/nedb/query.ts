/**
 * A checked query (see `../documents.ts`) in the form nedb takes:
 *
 * - Cells share the datastore with documents, so the query is narrowed to
 *   documents that are not cells: `$and: [..., { __nekoCell: { $exists:
 *   false } }]`. The plugin's top-level fields stay at the top, so nedb
 *   still uses its indexes for them, and an upsert still builds the new
 *   document from them as nedb documents.
 * - nedb matches `$regex` against a RegExp and knows no `$options`, so
 *   `{ $regex: '^mi', $options: 'i' }` becomes `{ $regex: /^mi/i }`.
 *
 * The plugin's query object is not modified.
 */
import { CELL_FIELD } from '../cells.js';
import type { Query } from '../database.js';
import { isPlainObject } from '../language.js';

/** The condition that keeps cells out of a document query. */
const NOT_A_CELL = Object.freeze({ [CELL_FIELD]: Object.freeze({ $exists: false }) });

/** The nedb form of a query that passed `checkDocumentQuery`: cells left out, patterns as RegExps. */
export function nedbQuery(query: Query): Query {
  const out = translate(query);
  return { ...out, $and: [...((out['$and'] as unknown[] | undefined) ?? []), NOT_A_CELL] };
}

function translate(query: Query): Query {
  const out: Query = {};
  for (const [key, value] of Object.entries(query)) {
    if (key === '$and' || key === '$or') out[key] = (value as Query[]).map(translate);
    else if (key === '$not') out[key] = translate(value as Query);
    else out[key] = nedbCondition(value);
  }
  return out;
}

function nedbCondition(condition: unknown): unknown {
  if (!isPlainObject(condition) || typeof condition['$regex'] !== 'string') return condition;
  const { $regex: pattern, $options: options, ...rest } = condition;
  return { ...rest, $regex: new RegExp(pattern as string, typeof options === 'string' ? options : '') };
}
