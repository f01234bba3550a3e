/**
 * The query and update language of `ctx.db`, checked the same way for every
 * backend before the backend sees anything (see {@link PluginDatabase} for
 * the language itself). Whatever is outside it (`$where`, `$elemMatch`,
 * `$rename`, `$each`, a function, a RegExp value, …) is refused with
 * `NEKO_ERR_STORAGE_QUERY`, naming the operator and listing the allowed
 * ones, so that no plugin comes to rely on what one backend happens to
 * accept.
 */
import { NekoError } from '../errors.js';

/** The operators of a query's top level, each taking queries. */
export const LOGICAL_OPERATORS = ['$and', '$or', '$not'] as const;

/** The operators of a field's condition (`$options` goes only with `$regex`). */
export const FIELD_OPERATORS = [
  '$lt',
  '$lte',
  '$gt',
  '$gte',
  '$ne',
  '$in',
  '$nin',
  '$exists',
  '$regex',
] as const;

/** The update operators. */
export const UPDATE_OPERATORS = ['$set', '$unset', '$inc', '$push', '$pull', '$addToSet'] as const;

/** The only flag a `$regex` may have, through `$options`. */
export const REGEX_OPTIONS = ['', 'i'] as const;

const QUERY_LIST = `${[...LOGICAL_OPERATORS, ...FIELD_OPERATORS].join(', ')} (with $options: 'i')`;
const UPDATE_LIST = UPDATE_OPERATORS.join(', ');
const HINT = 'See "The database: ctx.db" in docs/plugins.md for the query and update language.';

/** A `NEKO_ERR_STORAGE_QUERY` for `operation`. */
export function refused(operation: string, problem: string, hint: string = HINT): NekoError {
  return new NekoError('NEKO_ERR_STORAGE_QUERY', `${operation} refused: ${problem}`, { hint });
}

/** True for `{}`-like objects (not arrays, Dates, RegExps or class instances). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks a query against the language.
 * @throws NekoError `NEKO_ERR_STORAGE_QUERY` naming what is outside it
 */
export function checkQuery(query: unknown, operation: string): void {
  if (!isPlainObject(query)) throw refused(operation, `the query must be an object, not ${describe(query)}`);
  for (const [key, value] of Object.entries(query)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) {
        throw refused(
          operation,
          `the query's ${key} must be an array of queries`,
          `Write { ${key}: [q1, q2] }.`,
        );
      }
      for (const item of value) checkQuery(item, operation);
    } else if (key === '$not') {
      checkQuery(value, operation);
    } else if (key.startsWith('$')) {
      throw refused(
        operation,
        `the query operator ${key} is not supported; the allowed ones are ${QUERY_LIST}`,
      );
    } else {
      checkPath(key, 'query', operation);
      checkCondition(key, value, operation);
    }
  }
}

/** Checks the condition on one field: a value to equal, or an object of field operators. */
function checkCondition(field: string, condition: unknown, operation: string): void {
  if (!isPlainObject(condition) || !Object.keys(condition).some((key) => key.startsWith('$'))) {
    checkValue(condition, `the value of ${field}`, operation);
    return;
  }
  for (const [key, operand] of Object.entries(condition)) {
    const at = `${field}.${key}`;
    switch (key) {
      case '$lt':
      case '$lte':
      case '$gt':
      case '$gte':
        if (typeof operand !== 'number' && typeof operand !== 'string' && !(operand instanceof Date)) {
          throw refused(operation, `${at} takes a number, a string or a Date, not ${describe(operand)}`);
        }
        break;
      case '$ne':
        checkValue(operand, at, operation);
        break;
      case '$in':
      case '$nin':
        if (!Array.isArray(operand))
          throw refused(operation, `${at} takes an array, not ${describe(operand)}`);
        operand.forEach((item, i) => checkValue(item, `${at}[${i}]`, operation));
        break;
      case '$exists':
        if (typeof operand !== 'boolean') {
          throw refused(operation, `${at} takes true or false, not ${describe(operand)}`);
        }
        break;
      case '$regex':
        checkRegex(at, operand, condition['$options'], operation);
        break;
      case '$options':
        if (!('$regex' in condition)) throw refused(operation, `${at} goes only with $regex`);
        break;
      default:
        if (!key.startsWith('$')) {
          throw refused(operation, `the condition on ${field} mixes operators with the field ${key}`);
        }
        if ((LOGICAL_OPERATORS as readonly string[]).includes(key)) {
          throw refused(
            operation,
            `${key} goes at the level of a query ({ ${key}: ... }), not on the field ${field}; the field operators are ${FIELD_OPERATORS.join(', ')}`,
          );
        }
        throw refused(
          operation,
          `the query operator ${key} (on ${field}) is not supported; the allowed ones are ${QUERY_LIST}`,
        );
    }
  }
}

function checkRegex(at: string, pattern: unknown, options: unknown, operation: string): void {
  if (typeof pattern !== 'string') {
    throw refused(
      operation,
      `${at} takes a pattern as a string, not ${describe(pattern)}`,
      "Write { $regex: '^mi', $options: 'i' }.",
    );
  }
  if (options !== undefined && !(REGEX_OPTIONS as readonly unknown[]).includes(options)) {
    throw refused(
      operation,
      `$options of ${at} may only be 'i', not ${JSON.stringify(options) ?? describe(options)}`,
    );
  }
  try {
    new RegExp(pattern);
  } catch (err) {
    throw refused(operation, `${at} is not a valid pattern: ${(err as Error).message}`);
  }
}

/**
 * Checks an update: operators from the list, or a replacement document.
 * @throws NekoError `NEKO_ERR_STORAGE_QUERY` naming what is outside the language
 */
export function checkUpdateLanguage(update: unknown, operation: string): void {
  if (!isPlainObject(update))
    throw refused(operation, `the update must be an object, not ${describe(update)}`);
  const keys = Object.keys(update);
  const operators = keys.filter((key) => key.startsWith('$'));
  if (operators.length === 0) {
    checkDocumentLanguage(update, operation);
    return;
  }
  if (operators.length !== keys.length) {
    throw refused(operation, 'an update is either operators or a replacement document, not both');
  }
  for (const [operator, fields] of Object.entries(update)) {
    if (!(UPDATE_OPERATORS as readonly string[]).includes(operator)) {
      throw refused(
        operation,
        `the update operator ${operator} is not supported; the allowed ones are ${UPDATE_LIST}`,
      );
    }
    if (!isPlainObject(fields)) {
      throw refused(operation, `${operator} takes an object of fields, not ${describe(fields)}`);
    }
    for (const [field, operand] of Object.entries(fields)) {
      checkPath(field, 'update', operation);
      const at = `${operator}.${field}`;
      if (operator === '$inc') {
        if (typeof operand !== 'number' || !Number.isFinite(operand)) {
          throw refused(operation, `${at} takes a finite number, not ${describe(operand)}`);
        }
      } else if (operator !== '$unset') {
        if (isPlainObject(operand) && Object.keys(operand).some((key) => key.startsWith('$'))) {
          const modifier = Object.keys(operand).find((key) => key.startsWith('$'))!;
          throw refused(
            operation,
            `${modifier} in ${at} is not supported: ${operator} takes a value; the update operators are ${UPDATE_LIST}`,
          );
        }
        checkValue(operand, at, operation);
      }
    }
  }
}

/**
 * Checks a document to store: field names that neither start with `$` nor
 * hold a `.`, and values of the stored types.
 * @throws NekoError `NEKO_ERR_STORAGE_QUERY`
 */
export function checkDocumentLanguage(
  doc: Record<string, unknown>,
  operation: string,
  what = 'document',
): void {
  checkValue(doc, `the ${what}`, operation);
}

/**
 * Checks a value that is stored or compared: null, booleans, numbers,
 * strings, Dates, arrays and plain objects of those (undefined is left to
 * the backend, as JSON drops it); in stored objects, field names that
 * neither start with `$` nor hold a `.`.
 */
function checkValue(value: unknown, at: string, operation: string): void {
  switch (typeof value) {
    case 'function':
    case 'symbol':
    case 'bigint':
      throw refused(operation, `${at} is a ${typeof value}, which the database does not store`);
    case 'object':
      break;
    default:
      return;
  }
  if (value === null || value instanceof Date) return;
  if (value instanceof RegExp) {
    throw refused(
      operation,
      `${at} is a RegExp; the language matches patterns with { $regex: 'pattern' }`,
      "Write { field: { $regex: '^mi', $options: 'i' } }.",
    );
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkValue(item, `${at}[${i}]`, operation));
    return;
  }
  if (!isPlainObject(value)) throw refused(operation, `${at} is ${describe(value)}, not a plain object`);
  for (const [key, item] of Object.entries(value)) {
    if (key.startsWith('$')) {
      throw refused(operation, `the field name ${key} in ${at} cannot begin with the $ character`);
    }
    if (key.includes('.')) throw refused(operation, `the field name ${key} in ${at} cannot contain a .`);
    checkValue(item, `${at}.${key}`, operation);
  }
}

/** Checks a dot path (`a`, `a.b.c`): no empty part, no part starting with `$`. */
export function checkPath(path: string, what: string, operation: string): void {
  const parts = path.split('.');
  if (parts.some((part) => part === ''))
    throw refused(operation, `the ${what} names the field "${path}", which has an empty part`);
  const operator = parts.find((part) => part.startsWith('$'));
  if (operator !== undefined) {
    throw refused(
      operation,
      `the ${what} names the field "${path}": ${operator} is not an operator in this place`,
    );
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
    ?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? `a ${name}` : 'an object';
}
