/**
 * A checked query (see `../documents.ts`) and a sort as SQL over the `doc`
 * column of `neko_documents`. The SQL text is fixed text only: every field
 * path goes in as a `text[]` parameter and every value as a `jsonb`
 * parameter, collected in {@link Params}; the meaning of a condition is the
 * one of nedb, given by the functions of `functions.ts`.
 *
 * - `{ field: value }` → `neko_part(neko_get(doc, $p), $v, false)`, or, for
 *   a value that is no array or object, `=` (and `neko_part` only when the
 *   field holds an array); `{ field: { $op: … } }` → `neko_part(…, $ops, true)`.
 *   A field of the top level is `doc -> $k`.
 *   Equality on `_id` with a string or number is `id = $v`, which the
 *   primary key (greeter, id) answers.
 * - `$and`, `$or`, `$not` → `AND`, `OR`, `NOT`.
 * - A sort field → its class (missing, null, number, string, boolean, Date,
 *   …), then its number or Date, string (`COLLATE "C"`), boolean, JSON.
 */
import type { Query } from '../database.js';
import { isPlainObject } from '../language.js';
import { encodeQueryValue, json } from './values.js';

/** The parameters of one statement, numbered in the order they are added. */
export class Params {
  readonly values: unknown[] = [];

  /** Adds a parameter and gives its placeholder (`$3`). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** True for a condition made of field operators (`{ $gt: 1 }`) rather than a value to equal. */
function isOperators(condition: unknown): condition is Record<string, unknown> {
  return isPlainObject(condition) && Object.keys(condition).some((key) => key.startsWith('$'));
}

/** True for an `_id` the `id` column holds as it is: a string or a number. */
export function isScalarId(value: unknown): value is string | number {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** The SQL boolean expression of a checked query (`TRUE` for `{}`). */
export function whereOf(query: Query, params: Params): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (key === '$and' || key === '$or') {
      const subs = (value as Query[]).map((sub) => `(${whereOf(sub, params)})`);
      parts.push(`(${subs.join(key === '$and' ? ' AND ' : ' OR ')})`);
    } else if (key === '$not') {
      parts.push(`NOT (${whereOf(value as Query, params)})`);
    } else if (key === '_id' && isScalarId(value)) {
      parts.push(`id = ${params.add(json(value))}::jsonb`);
    } else {
      const field = valueAt(key, params);
      const condition = params.add(json(encodeQueryValue(value)));
      const inline = isOperators(value) ? inlineOperators(field, value, params) : undefined;
      if (inline !== undefined) {
        // On an array, the operators must hold for one element: neko_part.
        parts.push(
          `(CASE WHEN jsonb_typeof(${field}) = 'array' THEN neko_part(${field}, ${condition}::jsonb, true) ELSE ${inline} END)`,
        );
      } else if (isOperators(value)) {
        parts.push(`neko_part(${field}, ${condition}::jsonb, true)`);
      } else if (Array.isArray(value) || isPlainObject(value)) {
        parts.push(`neko_part(${field}, ${condition}::jsonb, false)`);
      } else {
        // A plain value equals the field, or an element of it when it is an array.
        parts.push(
          `(coalesce(${field} = ${condition}::jsonb, false) OR coalesce(jsonb_typeof(${field}) = 'array' AND neko_part(${field}, ${condition}::jsonb, false), false))`,
        );
      }
    }
  }
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

/**
 * The value at a field path of `doc`: `doc -> $k` for a field of the top
 * level (a document is an object), `neko_get(doc, $p)` for a dot path.
 */
function valueAt(field: string, params: Params): string {
  const parts = field.split('.');
  if (parts.length === 1) return `(doc -> ${params.add(field)}::text)`;
  const path = params.add(parts);
  // Through objects only, the path is PostgreSQL's #>; neko_get handles arrays and strings on the way.
  const objects = parts
    .slice(0, -1)
    .map((_, i) => `jsonb_typeof(doc #> (${path}::text[])[1:${i + 1}]) = 'object'`)
    .join(' AND ');
  return `(CASE WHEN ${objects} THEN doc #> ${path}::text[] ELSE neko_get(doc, ${path}::text[]) END)`;
}

const COMPARISONS: Record<string, string> = { $lt: '<', $lte: '<=', $gt: '>', $gte: '>=' };

/**
 * The SQL of field operators on a value that is not an array, for the
 * common ones whose meaning SQL states directly (`$lt…$gte` with a number
 * or a string, `$exists`); undefined for the others (left to `neko_ops`).
 */
function inlineOperators(
  value: string,
  operators: Record<string, unknown>,
  params: Params,
): string | undefined {
  const simple = Object.entries(operators).every(
    ([operator, operand]) =>
      operator === '$exists' ||
      (COMPARISONS[operator] !== undefined && (typeof operand === 'number' || typeof operand === 'string')),
  );
  if (!simple) return undefined; // Before adding a parameter: every parameter must be used.
  const tests: string[] = [];
  for (const [operator, operand] of Object.entries(operators)) {
    const sign = COMPARISONS[operator];
    if (sign !== undefined && typeof operand === 'number') {
      // CASE, not AND: the cast runs only on a number.
      tests.push(
        `(CASE WHEN jsonb_typeof(${value}) = 'number' THEN (${value} #>> '{}')::double precision ${sign} ${params.add(operand)}::double precision ELSE false END)`,
      );
    } else if (sign !== undefined && typeof operand === 'string') {
      tests.push(
        `(CASE WHEN jsonb_typeof(${value}) = 'string' THEN (${value} #>> '{}') COLLATE "C" ${sign} ${params.add(operand)}::text COLLATE "C" ELSE false END)`,
      );
    } else {
      tests.push(operand === true ? `(${value} IS NOT NULL)` : `(${value} IS NULL)`);
    }
  }
  return tests.length === 0 ? 'TRUE' : tests.join(' AND ');
}

/**
 * The sort of a find: a `CROSS JOIN LATERAL` computing each sort field's
 * value once per document, and the `ORDER BY` list over them. Without a
 * sort, documents come in the order they were inserted.
 */
export function sortOf(
  sort: Record<string, 1 | -1> | undefined,
  params: Params,
): { join: string; orderBy: string } {
  const fields = Object.entries(sort ?? {});
  if (fields.length === 0) return { join: '', orderBy: 'seq' };
  const values: string[] = [];
  const keys: string[] = [];
  fields.forEach(([field, direction], i) => {
    values.push(`${valueAt(field, params)} AS s${i}`);
    const dir = direction === -1 ? 'DESC' : 'ASC';
    keys.push(
      `neko_rank(s${i}) ${dir}`,
      `neko_num(s${i}) ${dir}`,
      `neko_str(s${i}) COLLATE "C" ${dir}`,
      `neko_bool(s${i}) ${dir}`,
      `s${i} ${dir}`,
    );
  });
  keys.push('seq');
  // OFFSET 0 keeps the subquery from being merged into the ORDER BY, which would compute a value
  // once for every use of it in the sort keys.
  return {
    join: `CROSS JOIN LATERAL (SELECT ${values.join(', ')} OFFSET 0) AS sort_keys`,
    orderBy: keys.join(', '),
  };
}
