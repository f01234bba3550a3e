/**
 * Documents and query values as the PostgreSQL backend stores them: JSON,
 * with a Date as `{"$date": <milliseconds>}` (document field names never
 * start with `$`, so nothing else has that shape) and, in a query only,
 * `undefined` as `{"$undefined": true}`, which no stored value equals.
 */
import { randomBytes } from 'node:crypto';
import { isPlainObject } from '../language.js';

/** The JSON form of a stored value: Dates as `{ $date }`, undefined fields dropped (as JSON drops them). */
export function encodeValue(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : encodeValue(item)));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = encodeValue(item);
    return out;
  }
  return value;
}

/** The JSON form of a value in a query, where undefined (which nothing equals) is kept as a marker. */
export function encodeQueryValue(value: unknown): unknown {
  if (value === undefined) return { $undefined: true };
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(encodeQueryValue);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = encodeQueryValue(item);
    return out;
  }
  return value;
}

/** A stored value back as the plugin stored it: `{ $date }` as a Date. */
export function decodeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record['$date'] === 'number' && Object.keys(record).length === 1) {
      return new Date(record['$date']);
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(record)) out[key] = decodeValue(item);
    return out;
  }
  return value;
}

/** JSON text for a `jsonb` parameter. */
export function json(value: unknown): string {
  return JSON.stringify(value);
}

/** A new document id: 16 characters of base64 without `+` and `/`, as nedb makes them. */
export function newId(): string {
  return randomBytes(32).toString('base64').replace(/[+/]/g, '').slice(0, 16);
}
