/**
 * A checked query (see `../documents.ts`) and a sort as SQL over the `doc`
 * column of `neko_documents`. The SQL text is fixed text only: every field
 * path goes in as a `text[]` parameter and every value as a `jsonb`
 * parameter, collected in {@link Params}; the meaning of a condition is the
 * one of nedb, given by the functions of `functions.ts`.
 *
 * - `{ field: value }` → `neko_part(neko_get(doc, $p), $v, false)`;
 *   `{ field: { $op: … } }` → `neko_part(neko_get(doc, $p), $ops, true)`.
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
      const path = params.add(key.split('.'));
      const operators = isOperators(value);
      const condition = params.add(json(encodeQueryValue(value)));
      parts.push(
        `neko_part(neko_get(doc, ${path}::text[]), ${condition}::jsonb, ${operators ? 'true' : 'false'})`,
      );
    }
  }
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
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
    values.push(`neko_get(doc, ${params.add(field.split('.'))}::text[]) AS s${i}`);
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
  return { join: `CROSS JOIN LATERAL (SELECT ${values.join(', ')}) AS sort_keys`, orderBy: keys.join(', ') };
}
