/**
 * A checked update (see `../documents.ts`) in the form the SQL functions of
 * `functions.ts` take, and the document an upsert inserts.
 */
import type { Query, Update } from '../database.js';
import { isPlainObject } from '../language.js';
import type { Params } from './query.js';
import { encodeValue, json } from './values.js';

/** True for a replacement document (no `$` key), false for operators. */
export function isReplacement(update: Update): boolean {
  return !Object.keys(update).some((key) => key.startsWith('$'));
}

/**
 * The SQL expression of the new `doc` for an update of the column (or
 * expression) `doc`: `neko_replace(doc, $r)` for a replacement,
 * `neko_modify(doc, $steps)` for operators, where the steps are
 * `[operator, path parts, value]` in the order the update lists them (nedb
 * applies them in that order; a JSONB object would sort its keys).
 */
export function newDocOf(doc: string, update: Update, params: Params): string {
  if (isReplacement(update)) return `neko_replace(${doc}, ${params.add(json(encodeValue(update)))}::jsonb)`;
  return `neko_modify(${doc}, ${params.add(json(stepsOf(update)))}::jsonb)`;
}

/** The steps of an update made of operators. */
export function stepsOf(update: Update): unknown[] {
  const steps: unknown[] = [];
  for (const [operator, fields] of Object.entries(update)) {
    for (const [field, value] of Object.entries(fields as Record<string, unknown>)) {
      steps.push([operator, field.split('.'), value === undefined ? null : encodeValue(value)]);
    }
  }
  return steps;
}

/**
 * The document an upsert by a query starts from, before the update's
 * operators apply: nedb's `deepCopy(query, true)`, which keeps the fields
 * (at every depth) whose names neither start with `$` nor hold a `.`. So
 * `{ player: 'neko', n: { $gt: 1 }, 'a.b': 1, $or: [...] }` gives
 * `{ player: 'neko', n: {} }`, as on nedb.
 */
export function upsertBase(query: Query): Record<string, unknown> {
  return strictCopy(query) as Record<string, unknown>;
}

function strictCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strictCopy);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (!key.startsWith('$') && !key.includes('.')) out[key] = strictCopy(item);
    }
    return out;
  }
  return value;
}
