/**
 * A checked query (see `language.ts`) in the form nedb takes: nedb matches
 * `$regex` against a RegExp and knows no `$options`, so
 * `{ $regex: '^mi', $options: 'i' }` becomes `{ $regex: /^mi/i }`. Nothing
 * else changes; the plugin's query object is not modified.
 */
import type { Query } from '../database.js';
import { isPlainObject } from '../language.js';

/** The nedb form of a query that passed `checkQuery`. */
export function nedbQuery(query: Query): Query {
  const out: Query = {};
  for (const [key, value] of Object.entries(query)) {
    if (key === '$and' || key === '$or') out[key] = (value as Query[]).map(nedbQuery);
    else if (key === '$not') out[key] = nedbQuery(value as Query);
    else out[key] = nedbCondition(value);
  }
  return out;
}

function nedbCondition(condition: unknown): unknown {
  if (!isPlainObject(condition) || typeof condition['$regex'] !== 'string') return condition;
  const { $regex: pattern, $options: options, ...rest } = condition;
  return { ...rest, $regex: new RegExp(pattern as string, typeof options === 'string' ? options : '') };
}
