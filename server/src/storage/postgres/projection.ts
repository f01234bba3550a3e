/**
 * A find's projection, applied to the documents fetched, as nedb's cursor
 * applies it: keeping fields builds a new document of the kept paths' values
 * (`getDotValue`, so a path through an array keeps the array of values),
 * dropping fields removes the paths; `_id` is kept unless `_id: 0`.
 * (Dropping a path through a null leaves the document as it is, where nedb
 * fails the find.)
 */
import type { Document } from '../database.js';

/** nedb's getDotValue, on a decoded document. */
export function dotValue(obj: unknown, parts: readonly string[]): unknown {
  if (!obj) return undefined;
  if (parts.length === 0) return obj;
  const record = obj as Record<string, unknown>;
  if (parts.length === 1) return record[parts[0]!];
  const first = record[parts[0]!];
  if (Array.isArray(first)) {
    const i = parseInt(parts[1]!, 10);
    if (!Number.isNaN(i)) return dotValue(first[i], parts.slice(2));
    return first.map((item) => dotValue(item, parts.slice(1)));
  }
  return dotValue(first, parts.slice(1));
}

/** The documents with the projection applied (the same array when there is none). */
export function project(docs: Document[], projection: Record<string, 0 | 1> | undefined): Document[] {
  if (projection === undefined || Object.keys(projection).length === 0) return docs;
  const keepId = projection['_id'] !== 0;
  const fields = Object.keys(projection).filter((field) => field !== '_id');
  const keep = fields.length > 0 && projection[fields[0]!] === 1;
  return docs.map((doc) => {
    let out: Record<string, unknown>;
    if (keep) {
      out = {};
      for (const field of fields) {
        const value = dotValue(doc, field.split('.'));
        if (value !== undefined) setPath(out, field.split('.'), value);
      }
    } else {
      out = { ...doc };
      for (const field of fields) out = unsetPath(out, field.split('.'));
    }
    if (keepId) out['_id'] = doc._id;
    else delete out['_id'];
    return out as Document;
  });
}

function setPath(obj: Record<string, unknown>, parts: readonly string[], value: unknown): void {
  let at = obj;
  for (const part of parts.slice(0, -1)) {
    if (at[part] === undefined) at[part] = {};
    const next = at[part];
    if (typeof next !== 'object' || next === null) return;
    at = next as Record<string, unknown>;
  }
  at[parts[parts.length - 1]!] = value;
}

/** A copy of obj without the path (copying only the objects on the way). */
function unsetPath(obj: Record<string, unknown>, parts: readonly string[]): Record<string, unknown> {
  const [first, ...rest] = parts as [string, ...string[]];
  if (!(first in obj)) return obj;
  const out = { ...obj };
  if (rest.length === 0) {
    delete out[first];
    return out;
  }
  const child = obj[first];
  if (typeof child !== 'object' || child === null || child instanceof Date) return obj;
  out[first] = Array.isArray(child)
    ? unsetInArray(child, rest)
    : unsetPath(child as Record<string, unknown>, rest);
  return out;
}

function unsetInArray(list: unknown[], parts: readonly string[]): unknown[] {
  const index = /^(0|[1-9][0-9]*)$/.test(parts[0]!) ? Number(parts[0]) : -1;
  if (index < 0 || index >= list.length) return list;
  const copy = [...list];
  if (parts.length === 1) {
    copy[index] = null;
    return copy;
  }
  const child = copy[index];
  if (typeof child === 'object' && child !== null && !(child instanceof Date) && !Array.isArray(child)) {
    copy[index] = unsetPath(child as Record<string, unknown>, parts.slice(1));
  }
  return copy;
}
