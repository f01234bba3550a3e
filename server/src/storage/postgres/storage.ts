/**
 * The PostgreSQL storage backend: every plugin's data in one PostgreSQL
 * database, shared by any number of NekoConnect servers on one machine or
 * many.
 *
 * ```ts
 * const storage = new PostgresStorage({ url: 'postgres://neko:secret@db:5432/neko' });
 * await storage.prepare(); // connects, migrates the schema
 * const db = await storage.open('chat');
 * await db.insert({ text: 'hi' });
 * await storage.closeAll();
 * ```
 *
 * Tables (created and migrated by `schema.ts`, versions in
 * `neko_schema_migrations`):
 * - `neko_documents (greeter text, id jsonb, seq bigint identity, doc jsonb)`,
 *   primary key `(greeter, id)`: one row per document, `doc` the whole
 *   document including `_id` (a Date as `{"$date": <ms>}`), `id` its `_id`.
 *   The primary key answers an `_id` lookup and a plugin's scan (its
 *   greeter is the key's first column); `seq` is the insertion order, the
 *   order of a find without a sort.
 * - `neko_cells (greeter text, name text, value json)`, primary key
 *   `(greeter, name)`: the key-value cells, each value the JSON text stored,
 *   given back as it went in.
 *
 * Queries, updates and sorts are SQL built from fixed text, with every
 * field path and value a parameter (`query.ts`, `update.ts`), evaluated by
 * functions created with the schema (`functions.ts`) that give them the
 * meaning the nedb backend gives them.
 *
 * Atomicity: every write is one statement, or one transaction, so it holds
 * across servers:
 * - an update with operators (`$inc`, `$push`, …) is one `UPDATE` computing
 *   the new document from the stored one; PostgreSQL locks the row, and a
 *   concurrent change re-checks the query on the new row. Two servers
 *   `$inc`-ing one field lose nothing. Without `multi`, the first match is
 *   chosen and locked (`FOR UPDATE`) in the same statement;
 * - an upsert by `_id` alone is one `INSERT … ON CONFLICT (greeter, id) DO
 *   UPDATE`; an upsert by any other query is a transaction holding the
 *   greeter's advisory lock (`pg_advisory_xact_lock`): update, and insert
 *   when nothing matched; upserts of one plugin by such queries run one at
 *   a time, so two never insert the same document twice;
 * - `insertMany` is one `INSERT` of every document, or none;
 * - `incr` of a cell is one `INSERT … ON CONFLICT DO UPDATE … RETURNING`.
 *
 * Durability: a resolved write is a committed transaction (as durable as
 * the server's `fsync`/`synchronous_commit` settings make a commit).
 *
 * Failures: a server that cannot be reached (at `prepare()`, or later, the
 * connection lost) is `NEKO_ERR_STORAGE_UNREACHABLE` naming host and port,
 * never the password; the pool opens new connections once the server is
 * back. A schema newer than this server knows is `NEKO_ERR_STORAGE_SCHEMA`.
 */
import type { Pool } from 'pg';
import type { NekoError } from '../../errors.js';
import type { StorageBackend } from '../database.js';
import { connectPostgres } from './connect.js';
import { PostgresDatabase } from './database.js';
import { OpenDatabases } from '../open-databases.js';
import { postgresError, type ServerPlace } from './errors.js';
import { migrate } from './schema.js';
import { shownUrl } from '../../shown-url.js';
import { parsePostgresUrl } from './url.js';

/** Options of {@link PostgresStorage}. */
export interface PostgresStorageOptions {
  /** `postgres://user:password@host:port/database` (or `postgresql://`). */
  url: string;
  /** The most connections the pool opens at once. Default 10. */
  maxConnections?: number;
  /** How long connecting may take, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Receives what the server should log: an idle pooled connection that
   * broke (the server restarted or went away; the next operation connects
   * again, or fails with `NEKO_ERR_STORAGE_UNREACHABLE`). Default:
   * `process.emitWarning`.
   */
  onWarning?: (warning: PostgresWarning) => void;
}

/** Something the server should log about the storage; `greeter` is empty when it concerns every plugin. */
export interface PostgresWarning {
  greeter: string;
  /** The URL without its password. */
  location: string;
  message: string;
  error?: NekoError;
}

/** {@link StorageBackend} over one PostgreSQL database: one pool, shared by the databases it opens. */
export class PostgresStorage implements StorageBackend {
  /** The URL without its password. */
  readonly location: string;
  readonly #url: string;
  readonly #options: PostgresStorageOptions;
  readonly #place: ServerPlace;
  #ready: Promise<Pool> | undefined;
  readonly #open = new OpenDatabases((greeter) => this.#openNew(greeter));

  /** @throws NekoError `NEKO_ERR_CONFIG_INVALID` for a malformed URL (shown without its password) */
  constructor(options: PostgresStorageOptions) {
    const settings = parsePostgresUrl(options.url);
    this.#url = options.url;
    this.#options = options;
    this.location = shownUrl(options.url);
    this.#place = {
      where: `${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`,
      location: this.location,
      password: settings.password,
    };
  }

  /**
   * Connects (a `SELECT 1` through a new pool) and migrates the schema;
   * once done, later calls return at once.
   * @throws NekoError `NEKO_ERR_STORAGE_UNREACHABLE` naming host and port,
   *   `NEKO_ERR_STORAGE_SCHEMA` for a schema newer than this server knows
   */
  async prepare(): Promise<void> {
    await this.#pool();
  }

  /** Opens the database of the plugin with this greeter (preparing first when needed). */
  open(greeter: string): Promise<PostgresDatabase> {
    return this.#open.open(greeter);
  }

  /** Runs `SELECT 1`. @throws NekoError `NEKO_ERR_STORAGE_UNREACHABLE` when the server does not answer */
  async ping(): Promise<void> {
    const pool = await this.#pool();
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      throw postgresError(err, 'ping', this.#place);
    }
  }

  /** The greeters with documents or cells stored, sorted (by UTF-16 code units). */
  async greeters(): Promise<string[]> {
    const pool = await this.#pool();
    try {
      const { rows } = await pool.query<{ greeter: string }>(
        'SELECT DISTINCT greeter FROM neko_documents UNION SELECT DISTINCT greeter FROM neko_cells',
      );
      return rows.map((row) => row.greeter).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    } catch (err) {
      throw postgresError(err, 'greeters', this.#place);
    }
  }

  /**
   * Closes every open database, then ends the pool; rejects with the first
   * failure after all are done. A later `open` or `prepare` connects again.
   */
  async closeAll(): Promise<void> {
    const results = await this.#open.closeEach();
    const ready = this.#ready;
    this.#ready = undefined;
    if (ready !== undefined) {
      const pool = await ready.catch(() => undefined);
      if (pool !== undefined) results.push(...(await Promise.allSettled([pool.end()])));
    }
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw postgresError(failed.reason, 'closeAll', this.#place);
  }

  #pool(): Promise<Pool> {
    if (this.#ready === undefined) {
      const ready = this.#connect();
      this.#ready = ready;
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined;
      });
    }
    return this.#ready;
  }

  async #connect(): Promise<Pool> {
    const pool = await connectPostgres(this.#url, {
      ...(this.#options.connectTimeoutMs === undefined ? {} : { timeoutMs: this.#options.connectTimeoutMs }),
      ...(this.#options.maxConnections === undefined ? {} : { maxConnections: this.#options.maxConnections }),
    });
    pool.on('error', (err) => {
      const error = postgresError(err, 'an idle connection', this.#place);
      const warn =
        this.#options.onWarning ??
        ((warning: PostgresWarning) => process.emitWarning(warning.message, 'NekoConnectStorageWarning'));
      warn({ greeter: '', location: this.location, message: error.message, error });
    });
    try {
      await migrate(pool, this.location);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw postgresError(err, 'migrating the schema', this.#place);
    }
    return pool;
  }

  async #openNew(greeter: string): Promise<PostgresDatabase> {
    const pool = await this.#pool();
    return new PostgresDatabase({
      greeter,
      pool,
      place: this.#place,
      onClose: (closed) => this.#open.closing(greeter, closed),
    });
  }
}
