/**
 * The storage contract a plugin sees as `ctx.db`, and the backend contract
 * the server opens one database per plugin through. The embedded backend is
 * nedb (`nedb-store.ts`); a shared store for several servers can implement
 * the same two interfaces later.
 */

/** A stored document. `_id` is set by the store on insert when absent. */
export type Document = Record<string, unknown> & { _id?: string };

/** A nedb-style query: `{ done: false }`, `{ due: { $lt: 5 } }`, `{ $or: [...] }`. */
export type Query = Record<string, unknown>;

/** A nedb-style update: a replacement document, or operators (`$set`, `$inc`, `$push`, `$unset`, ...). */
export type Update = Record<string, unknown>;

export interface FindOptions {
  /** `{ field: 1 }` ascending, `{ field: -1 }` descending. */
  sort?: Record<string, 1 | -1>;
  skip?: number;
  limit?: number;
  /** `{ field: 1 }` to keep only some fields, `{ field: 0 }` to drop some. */
  projection?: Record<string, 0 | 1>;
}

export interface UpdateOptions {
  /** Update every matching document, not just the first. Default false. */
  multi?: boolean;
  /** Insert the update as a new document when nothing matches. Default false. */
  upsert?: boolean;
}

export interface RemoveOptions {
  /** Remove every matching document, not just the first. Default false. */
  multi?: boolean;
}

/**
 * A plugin's own database: documents queried the nedb way, plus the
 * original NekoConnect key-value cells (`get`/`set`, exposed on the context
 * as `ctx.dbGet`/`ctx.dbStore`), kept in the same store but invisible to
 * document queries. A write's promise resolves once it is in the data file.
 */
export interface PluginDatabase {
  insert<T extends object>(doc: T): Promise<T & { _id: string }>;
  insertMany<T extends object>(docs: readonly T[]): Promise<(T & { _id: string })[]>;
  find<T extends object = Document>(query?: Query, options?: FindOptions): Promise<(T & { _id: string })[]>;
  findOne<T extends object = Document>(
    query?: Query,
    options?: Pick<FindOptions, 'projection'>,
  ): Promise<(T & { _id: string }) | null>;
  /** Resolves with the number of documents changed. */
  update(query: Query, update: Update, options?: UpdateOptions): Promise<number>;
  /** Resolves with the number of documents removed. */
  remove(query: Query, options?: RemoveOptions): Promise<number>;
  count(query?: Query): Promise<number>;
  /** The value of a key-value cell, or undefined when it was never stored. */
  get<T = unknown>(cell: string): Promise<T | undefined>;
  /** Stores a JSON-serialisable value in a key-value cell. */
  set(cell: string, value: unknown): Promise<void>;
}

/** A plugin database as the server holds it: the plugin's view plus upkeep. */
export interface ManagedDatabase extends PluginDatabase {
  /** Where the data lives (a file path), or `memory`. */
  readonly location: string;
  /** Rewrites the data file to one line per document. */
  compact(): Promise<void>;
  /** Compacts and stops the scheduled compaction; the database is not used after. */
  close(): Promise<void>;
}

/** Opens plugin databases. One backend per server. */
export interface StorageBackend {
  /**
   * Opens (creating if needed) the database of the plugin with this greeter.
   * @throws NekoError `NEKO_ERR_STORAGE_*` naming the file when it is unreadable or corrupt.
   */
  open(greeter: string): Promise<ManagedDatabase>;
  /**
   * Closes every database still open (see {@link ManagedDatabase.close}).
   * The server calls it last at shutdown, after closing each plugin's own,
   * so that nothing it opened stays open. Optional: a backend without it
   * is left as it is.
   */
  closeAll?(): Promise<void>;
}
