/**
 * The checks of the document API's arguments, the same on every backend:
 * queries, documents, updates and find options are plain objects in the
 * language (`language.ts`), and none touches the field reserved for
 * key-value cells. (Keeping cells out of the results is the backend's job:
 * nedb narrows every query, see `nedb/query.ts`.)
 */
import { NekoError } from '../errors.js';
import { CELL_FIELD } from './cells.js';
import type { Document, FindOptions, Query, Update } from './database.js';
import { checkDocumentLanguage, checkPath, checkQuery, checkUpdateLanguage } from './language.js';

/**
 * Checks a plugin's query and returns it (`{}` for none).
 * @param query the plugin's query; undefined means every document
 * @throws NekoError `NEKO_ERR_STORAGE_QUERY` for a query that is not an
 *   object, names the reserved field, or is outside the query language
 *   (see `language.ts`)
 */
export function checkDocumentQuery(query: Query | undefined, operation: string): Query {
  if (query === undefined) return {};
  checkPlainObject(query, 'query', operation);
  checkFields(Object.keys(query), 'query', operation);
  checkQuery(query, operation);
  return query;
}

/**
 * Checks a document to insert.
 * @throws NekoError `NEKO_ERR_STORAGE_QUERY` when it is not a plain object,
 *   sets the reserved field, or holds a field name or value outside the language
 */
export function checkDocument(doc: unknown, operation: string): Document {
  checkPlainObject(doc, 'document', operation);
  checkFields(Object.keys(doc), 'document', operation);
  checkDocumentLanguage(doc, operation);
  return doc as Document;
}

/**
 * Checks an update: a replacement document, or operators of the language
 * (`$set`, `$inc`, …) whose fields do not include the reserved field.
 * (`$rename` is not in the language; its target is still checked first, so
 * the refusal of a rename to the reserved field names that field.)
 * @throws NekoError `NEKO_ERR_STORAGE_QUERY` when it is not an object, would
 *   set, unset or rename the reserved field, or is outside the update language
 */
export function checkUpdate(update: unknown, operation: string): Update {
  checkPlainObject(update, 'update', operation);
  for (const [key, value] of Object.entries(update)) {
    if (!key.startsWith('$')) {
      checkFields([key], 'update', operation);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue; // Refused by checkUpdateLanguage below.
    checkFields(Object.keys(value), 'update', operation);
    if (key === '$rename') {
      checkFields(
        Object.values(value).filter((to): to is string => typeof to === 'string'),
        'update',
        operation,
      );
    }
  }
  checkUpdateLanguage(update, operation);
  return update;
}

/**
 * Checks find options: `sort` and `projection` objects of 1/-1 and 0/1 on
 * field paths, a projection that either keeps or drops fields (`_id: 0`
 * goes with either), `skip` and `limit` whole numbers from 0.
 * @throws NekoError `NEKO_ERR_STORAGE_QUERY` naming the bad option
 */
export function checkFindOptions(options: FindOptions, operation: string): void {
  for (const name of ['skip', 'limit'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw refused(operation, `${name} must be a whole number from 0, not ${String(value)}`);
    }
  }
  checkFieldMap(options.sort, 'sort', [1, -1], operation);
  checkFieldMap(options.projection, 'projection', [0, 1], operation);
  const kept = new Set(
    Object.entries(options.projection ?? {})
      .filter(([field]) => field !== '_id')
      .map(([, value]) => value),
  );
  if (kept.size > 1) {
    throw refused(operation, "a projection can't both keep and omit fields except for _id");
  }
}

function checkFieldMap(
  map: Record<string, number> | undefined,
  name: string,
  allowed: readonly number[],
  operation: string,
): void {
  if (map === undefined) return;
  checkPlainObject(map, name, operation);
  for (const [field, value] of Object.entries(map)) {
    checkPath(field, name, operation);
    if (!allowed.includes(value)) {
      throw refused(operation, `${name}.${field} must be ${allowed.join(' or ')}, not ${String(value)}`);
    }
  }
}

function checkPlainObject(
  value: unknown,
  what: string,
  operation: string,
): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw refused(operation, `the ${what} must be an object, not ${got}`);
  }
}

/** Refuses field paths whose first part is the reserved field. */
function checkFields(fields: readonly string[], what: string, operation: string): void {
  const reserved = fields.find((field) => field.split('.')[0] === CELL_FIELD);
  if (reserved !== undefined) {
    throw refused(
      operation,
      `the ${what} uses the field ${CELL_FIELD}, which is reserved for key-value cells`,
      'Rename the field; use ctx.dbGet/ctx.dbStore for cells.',
    );
  }
}

function refused(operation: string, problem: string, hint?: string): NekoError {
  return new NekoError(
    'NEKO_ERR_STORAGE_QUERY',
    `${operation} refused: ${problem}`,
    hint === undefined ? {} : { hint },
  );
}
