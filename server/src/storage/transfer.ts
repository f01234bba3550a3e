/**
 * Plugin data as JSON Lines, the format of `nekoconnect data export` and
 * `import`, the same whatever the backend: one record a line, each naming
 * its kind and greeter.
 *
 * ```
 * {"kind":"document","greeter":"todo","document":{"_id":"a1","at":{"$date":"2026-01-02T03:04:05.000Z"},"text":"milk"}}
 * {"kind":"cell","greeter":"todo","name":"count","value":3}
 * ```
 *
 * A Date inside a document is written as `{"$date":"<ISO-8601>"}` and read
 * back as a Date (field names of documents never start with `$`, so this is
 * unambiguous). A cell's value is written as the JSON it is and never
 * decoded: a cell holding `{"$date":"x"}` gets that plain object back. Keys
 * are written sorted (`_id` first), documents by `_id` and cells by name, so
 * the same data gives the same bytes on every backend.
 */
import { NekoError } from '../errors.js';
import { checkCellName, encodeCellValue } from './cells.js';
import type { Document, PluginDatabase } from './database.js';
import { checkDocument } from './documents.js';
import { isPlainObject } from './language.js';

/** A document of one greeter, with its Dates as Dates. */
export interface DocumentRecord {
  readonly kind: 'document';
  readonly greeter: string;
  readonly document: Document & { _id: string };
}

/** A key-value cell of one greeter. */
export interface CellRecord {
  readonly kind: 'cell';
  readonly greeter: string;
  readonly name: string;
  readonly value: unknown;
}

export type TransferRecord = DocumentRecord | CellRecord;

/** How many records of each kind one greeter has. */
export interface TransferCount {
  documents: number;
  cells: number;
}

const DATE_FIELD = '$date';

/**
 * Writes every document (by `_id`) and every cell (by name) of one database
 * as lines (without their line break).
 * @returns how many of each were written
 */
export async function exportDatabase(
  db: PluginDatabase,
  greeter: string,
  write: (line: string) => void | Promise<void>,
): Promise<TransferCount> {
  const documents = await db.find({});
  documents.sort((a, b) => compareStrings(a._id, b._id));
  for (const document of documents) {
    await write(JSON.stringify({ kind: 'document', greeter, document: encodeValue(document, true) }));
  }
  const cells = await db.cells();
  for (const cell of cells) {
    await write(JSON.stringify({ kind: 'cell', greeter, name: cell.name, value: sortedKeys(cell.value) }));
  }
  return { documents: documents.length, cells: cells.length };
}

/**
 * Reads JSON Lines, checking every line before anything is written: a
 * caller that gets the records back may write them all. Blank lines are
 * skipped.
 * @param only keep the records of this greeter only
 * @throws NekoError `NEKO_ERR_DATA_LINE` naming the first bad line's number and what is wrong with it
 */
export function parseRecords(text: string, only?: string): TransferRecord[] {
  const records: TransferRecord[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const record = parseRecord(line, index + 1);
    if (only === undefined || record.greeter === only) records.push(record);
  });
  return records;
}

/**
 * Writes records to the database of their greeter: each document upserted
 * by `_id` (replacing the one with that `_id`), each cell set; importing
 * the same records twice leaves the same data. When two records name the
 * same document or cell, the later one wins. Up to `concurrency` writes are
 * under way at once (a database server takes them on several connections).
 * @returns how many documents and cells were written
 */
export async function importRecords(
  db: PluginDatabase,
  records: readonly TransferRecord[],
  concurrency = 8,
): Promise<TransferCount> {
  // The last record of each document and cell: the writes may then run in any order.
  const last = new Map<string, TransferRecord>();
  for (const record of records) {
    const key = record.kind === 'document' ? `d${record.document._id}` : `c${record.name}`;
    last.delete(key);
    last.set(key, record);
  }
  const queue = [...last.values()];
  const count: TransferCount = { documents: 0, cells: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      const record = queue[next++]!;
      try {
        if (record.kind === 'document') {
          await db.update({ _id: record.document._id }, record.document, { upsert: true });
          count.documents++;
        } else {
          await db.set(record.name, record.value);
          count.cells++;
        }
      } catch (err) {
        next = queue.length; // The other workers stop after their write under way.
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
  return count;
}

function lineError(line: number, problem: string): NekoError {
  return new NekoError('NEKO_ERR_DATA_LINE', `line ${line}: ${problem}; nothing was imported`, {
    hint:
      'Each line is {"kind":"document","greeter":…,"document":{"_id":…}} or ' +
      '{"kind":"cell","greeter":…,"name":…,"value":…}, as nekoconnect data export writes them. See docs/storage.md.',
  });
}

function parseRecord(text: string, line: number): TransferRecord {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw lineError(line, `not JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(value)) throw lineError(line, 'not a JSON object');
  const { kind, greeter } = value;
  if (kind !== 'document' && kind !== 'cell') {
    throw lineError(line, `"kind" must be "document" or "cell", got ${JSON.stringify(kind) ?? 'nothing'}`);
  }
  if (typeof greeter !== 'string' || greeter === '') {
    throw lineError(line, '"greeter" must be a non-empty string');
  }
  const allowed =
    kind === 'document' ? ['kind', 'greeter', 'document'] : ['kind', 'greeter', 'name', 'value'];
  const extra = Object.keys(value).find((key) => !allowed.includes(key));
  if (extra !== undefined) {
    throw lineError(line, `a ${kind} line has no "${extra}" (it takes ${allowed.join(', ')})`);
  }
  if (kind === 'cell') {
    if (!('value' in value)) throw lineError(line, 'a cell line needs its "value"');
    try {
      const name = checkCellName(value.name);
      encodeCellValue(name, value.value);
      return { kind, greeter, name, value: value.value };
    } catch (err) {
      throw lineError(line, (err as Error).message);
    }
  }
  const document = decodeValue(value.document, line, 'document');
  if (!isPlainObject(document)) throw lineError(line, '"document" must be a JSON object');
  if (typeof document._id !== 'string' || document._id === '') {
    throw lineError(line, 'the document needs an "_id" string');
  }
  try {
    checkDocument(document, 'import');
  } catch (err) {
    throw lineError(line, (err as Error).message);
  }
  return { kind, greeter, document: document as Document & { _id: string } };
}

/** A document's value with every `{"$date": ISO}` made a Date; another `$` field is refused. */
function decodeValue(value: unknown, line: number, where: string): unknown {
  if (Array.isArray(value)) return value.map((item, i) => decodeValue(item, line, `${where}[${i}]`));
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.includes(DATE_FIELD)) {
    const iso = value[DATE_FIELD];
    const date = typeof iso === 'string' ? new Date(iso) : undefined;
    if (keys.length !== 1 || date === undefined || Number.isNaN(date.getTime())) {
      throw lineError(
        line,
        `${where} has a "$date" that is not {"$date":"<ISO-8601 date>"} alone (got ${JSON.stringify(value)})`,
      );
    }
    return date;
  }
  const dollar = keys.find((key) => key.startsWith('$'));
  if (dollar !== undefined) {
    throw lineError(line, `${where} has the field "${dollar}": document fields never start with "$"`);
  }
  return Object.fromEntries(keys.map((key) => [key, decodeValue(value[key], line, `${where}.${key}`)]));
}

/** A document's value for JSON: Dates as `{"$date": ISO}`, keys sorted (`_id` first at the top). */
function encodeValue(value: unknown, top: boolean): unknown {
  if (value instanceof Date) return { [DATE_FIELD]: value.toISOString() };
  if (Array.isArray(value)) return value.map((item) => encodeValue(item, false));
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value).sort((a, b) =>
    top && a === '_id' ? -1 : top && b === '_id' ? 1 : compareStrings(a, b),
  );
  return Object.fromEntries(keys.map((key) => [key, encodeValue(value[key], false)]));
}

/** A cell's value with its object keys sorted; nothing else changes. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => sortedKeys(item));
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value).sort(compareStrings);
  return Object.fromEntries(keys.map((key) => [key, sortedKeys(value[key])]));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
