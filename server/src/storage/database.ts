/**
 * The storage contract: what a plugin sees as `ctx.db` (and
 * `ctx.dbGet`/`ctx.dbStore`), and what the server needs of a backend that
 * opens one database per plugin. Every backend implements it the same way
 * and passes the same conformance suite (`server/test/storage/conformance.ts`):
 * the embedded one is nedb (`nedb/`), files or memory; a shared store for
 * several servers (PostgreSQL) implements the same two interfaces.
 *
 * Backend-neutral parts live beside this file: the check of the query and
 * update language (`language.ts`, `documents.ts`), key-value cells
 * (`cells.ts`) and the errors (`storage-errors.ts`). A backend calls the
 * checks before it runs anything, so what one backend refuses every backend
 * refuses.
 */

/** A stored document. `_id` is set by the store on insert when absent. */
export type Document = Record<string, unknown> & { _id?: string };

/**
 * A query: an object whose fields are conditions, all of which must hold.
 *
 * - `{ field: value }`: equality. `field` is a name or a dot path into
 *   nested objects (`'address.city'`). A value that is an object or array
 *   must equal as a whole; when the stored field is an array, a value that
 *   equals one of its elements matches too (`{ tags: 'cat' }` matches
 *   `{ tags: ['cat', 'black'] }`).
 * - `{ field: { $op: operand, ... } }`: every operator must hold:
 *   `$lt $lte $gt $gte` (a number, string or Date; compares values of the
 *   same type only), `$ne` (a value), `$in $nin` (an array of values; on an
 *   array field, any element), `$exists` (true or false), `$regex` (a
 *   pattern as a string, with `$options: 'i'` for case-insensitive, no other
 *   flags).
 * - `$and: [q1, ...]`, `$or: [q1, ...]` (non-empty arrays of queries) and
 *   `$not: q` at any query level.
 *
 * Anything else (`$where`, `$elemMatch`, `$size`, `$nor`, functions,
 * RegExp values, …) is refused with `NEKO_ERR_STORAGE_QUERY`, naming the
 * operator and listing the allowed ones, by every backend.
 */
export type Query = Record<string, unknown>;

/**
 * An update: either a replacement document (no `$` key; the document
 * becomes it, keeping its `_id`), or operators, each taking an object of
 * fields (names or dot paths, created when missing):
 * `$set` (a value), `$unset` (removes the field; the operand is ignored),
 * `$inc` (adds a finite number; a missing field counts as 0, a non-number
 * is refused), `$push` (appends a value to an array, creating it),
 * `$addToSet` (appends it when no element equals it), `$pull` (removes
 * every element equal to a value). Modifiers such as `$each`/`$slice` and
 * other operators (`$rename`, `$min`, `$max`, `$pop`, …) are refused with
 * `NEKO_ERR_STORAGE_QUERY`.
 */
export type Update = Record<string, unknown>;

export interface FindOptions {
  /**
   * `{ field: 1 }` ascending, `{ field: -1 }` descending; with several
   * fields, by the first, then the next. The values of a sorted field must
   * share one type (numbers, strings, booleans or Dates); ascending, the
   * documents missing the field come first, then those where it is null,
   * then the values (descending: the reverse). Mixed types sort in an order
   * the backend chooses. Without a sort, the order is the backend's.
   */
  sort?: Record<string, 1 | -1>;
  /** How many matches to leave out first: a whole number from 0. */
  skip?: number;
  /** The most documents to return: a whole number from 0; 0 is no limit. */
  limit?: number;
  /**
   * `{ field: 1 }` to keep only some fields (dot paths allowed), `{ field: 0 }`
   * to drop some; not both, except that `_id: 0` drops `_id`, which is kept
   * otherwise.
   */
  projection?: Record<string, 0 | 1>;
}

export interface UpdateOptions {
  /** Update every matching document, not just the first. Default false. */
  multi?: boolean;
  /**
   * When nothing matches, insert one document: the query's equality fields
   * with the update applied (or the replacement document). Default false.
   */
  upsert?: boolean;
}

export interface RemoveOptions {
  /** Remove every matching document, not just the first. Default false. */
  multi?: boolean;
}

/**
 * A plugin's own database: documents queried in the language above, plus
 * the original NekoConnect key-value cells (`get`/`set`, exposed on the
 * context as `ctx.dbGet`/`ctx.dbStore`), kept in the same store but
 * invisible to every document operation.
 *
 * Documents hold null, booleans, numbers, strings, Dates, arrays and plain
 * objects; field names may not start with `$` or hold a `.`, and
 * `__nekoCell` is reserved for cells.
 *
 * A write's promise resolves once the write is durable as the backend
 * defines it, and every later operation sees it (nedb on files: the line
 * is appended to the data file, which survives the process being killed;
 * PostgreSQL: the transaction committed). Each update is applied atomically
 * to each document it changes: concurrent `$inc`s lose nothing. A read
 * followed by a write is not atomic.
 *
 * Errors are `NekoError`s: `NEKO_ERR_STORAGE_QUERY` (outside the language,
 * or refused by the store), `NEKO_ERR_STORAGE_CELL` (a bad cell name or
 * value), `NEKO_ERR_STORAGE_WRITE` (the store could not be written),
 * `NEKO_ERR_STORAGE_CLOSED` (after close).
 */
export interface PluginDatabase {
  insert<T extends object>(doc: T): Promise<T & { _id: string }>;
  /** Inserts every document or none. */
  insertMany<T extends object>(docs: readonly T[]): Promise<(T & { _id: string })[]>;
  find<T extends object = Document>(query?: Query, options?: FindOptions): Promise<(T & { _id: string })[]>;
  findOne<T extends object = Document>(
    query?: Query,
    options?: Pick<FindOptions, 'projection'>,
  ): Promise<(T & { _id: string }) | null>;
  /** Resolves with the number of documents changed (1 for an upsert that inserted). */
  update(query: Query, update: Update, options?: UpdateOptions): Promise<number>;
  /** Resolves with the number of documents removed. */
  remove(query: Query, options?: RemoveOptions): Promise<number>;
  count(query?: Query): Promise<number>;
  /** The value of a key-value cell, or undefined when it was never stored. */
  get<T = unknown>(cell: string): Promise<T | undefined>;
  /**
   * Stores a value in a key-value cell: null, booleans, finite numbers,
   * strings, arrays and plain objects (any keys), given back exactly by
   * {@link get}; anything JSON would change is refused (`NEKO_ERR_STORAGE_CELL`).
   */
  set(cell: string, value: unknown): Promise<void>;
  /**
   * Adds `by` (default 1, a finite number) to the number in a key-value
   * cell, atomically, and resolves with the new value; a cell never stored
   * counts as 0. Concurrent increments lose nothing, also from several
   * servers on one shared store (nedb: one at a time per database in the
   * process; PostgreSQL: one `INSERT … ON CONFLICT DO UPDATE … RETURNING`).
   * A cell holding anything but a number, a `by` that is not a finite
   * number, or a sum that is not finite is refused (`NEKO_ERR_STORAGE_CELL`)
   * and changes nothing.
   */
  incr(cell: string, by?: number): Promise<number>;
  /**
   * Every key-value cell stored, each with its value as {@link get} gives
   * it, ordered by name (by UTF-16 code units, as JavaScript compares
   * strings); empty when none was stored. Documents are never in it, as
   * cells are never in a document operation. For tools that show a
   * plugin's data (the dashboard's Data tab); a plugin reads its cells by name.
   */
  cells(): Promise<Cell[]>;
}

/** A key-value cell, as {@link PluginDatabase.cells} lists it. */
export interface Cell {
  readonly name: string;
  readonly value: unknown;
}

/** A plugin database as the server holds it: the plugin's view plus its end. */
export interface ManagedDatabase extends PluginDatabase {
  /** Where the data lives, for messages: a file path, `memory`, or a URL without its password. */
  readonly location: string;
  /**
   * Ends the database: refuses new operations at once
   * (`NEKO_ERR_STORAGE_CLOSED`), lets those under way finish, then does
   * what the backend needs (nedb: stops the scheduled compaction and
   * compacts the file; a server: releases its connection). Calling it again
   * returns the same promise. A later `open` of the greeter gives a new
   * database.
   */
  close(): Promise<void>;
}

/**
 * Opens plugin databases. One backend per server; the server selects it
 * through `ServerOptions.storage`.
 */
export interface StorageBackend {
  /**
   * Opens (creating if needed) the database of the plugin with this greeter.
   * Opening a greeter that is open (or opening) gives the same database
   * object, so a plugin reload keeps it; after its `close()` a new one is
   * opened, with the data a persistent backend kept.
   * @throws NekoError `NEKO_ERR_SPEC_BAD_GREETER` for an empty greeter;
   *   `NEKO_ERR_STORAGE_*` naming the location when the store is
   *   unreadable, corrupt or unreachable.
   */
  open(greeter: string): Promise<ManagedDatabase>;
  /**
   * Optional: readies the backend before the server opens any database, and
   * claims what must not be shared (nedb takes its data directory's lock).
   * The server calls it once, before the first `open`; `closeAll()` gives
   * back what it claimed.
   * @throws NekoError `NEKO_ERR_STORAGE_*` naming the location (nedb:
   *   `NEKO_ERR_STORAGE_LOCKED` when another server holds the data directory)
   */
  prepare?(): Promise<void>;
  /**
   * Optional: checks that the store can be reached and written now (the
   * server's readiness asks it).
   * @throws NekoError `NEKO_ERR_STORAGE_*` saying why not
   */
  ping?(): Promise<void>;
  /**
   * Optional: the greeters that have anything stored (documents or cells),
   * sorted, so that a tool can export every plugin's data (`nekoconnect
   * data export --all`). nedb: the data files of its directory (in memory:
   * the databases opened); PostgreSQL: the greeters in its tables.
   */
  greeters?(): Promise<string[]>;
  /**
   * Closes every database still open (see {@link ManagedDatabase.close}),
   * and what the backend holds besides (a connection pool); rejects with the
   * first failure after all are done. The server calls it last at shutdown,
   * after closing each plugin's own. Calling it again is harmless.
   */
  closeAll(): Promise<void>;
}
