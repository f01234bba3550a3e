/**
 * One plugin's database on PostgreSQL: the rows of its greeter in
 * `neko_documents` and `neko_cells` (see `storage.ts` for the tables,
 * atomicity and durability). Opening (connecting, migrating) is
 * `PostgresStorage`'s job; this class gets the storage's pool.
 */
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { NekoError } from '../../errors.js';
import { checkCellName, checkIncrement, encodeCellValue } from '../cells.js';
import type {
  Cell,
  Document,
  FindOptions,
  ManagedDatabase,
  Query,
  RemoveOptions,
  Update,
  UpdateOptions,
} from '../database.js';
import { checkDocument, checkDocumentQuery, checkFindOptions, checkUpdate } from '../documents.js';
import { postgresError, type ServerPlace } from './errors.js';
import { project } from './projection.js';
import { isScalarId, Params, sortOf, whereOf } from './query.js';
import { isReplacement, newDocOf, stepsOf, upsertBase } from './update.js';
import { decodeValue, encodeValue, json, newId } from './values.js';

/** How a {@link PostgresDatabase} is run. */
export interface PostgresDatabaseOptions {
  greeter: string;
  pool: Pool;
  place: ServerPlace;
  /** Called when close() starts, with its outcome. */
  onClose?(closed: Promise<void>): void;
}

/** The key of a greeter's upsert lock: `pg_advisory_xact_lock(hashtextextended($1, 0))`. */
const UPSERT_LOCK_PREFIX = 'nekoconnect upsert ';

/** {@link ManagedDatabase} over the rows of one greeter. */
export class PostgresDatabase implements ManagedDatabase {
  /** The URL without its password. */
  readonly location: string;
  readonly greeter: string;
  readonly #pool: Pool;
  readonly #place: ServerPlace;
  readonly #onClose: ((closed: Promise<void>) => void) | undefined;
  readonly #pending = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  constructor(options: PostgresDatabaseOptions) {
    this.greeter = options.greeter;
    this.#pool = options.pool;
    this.#place = options.place;
    this.location = options.place.location;
    this.#onClose = options.onClose;
  }

  insert<T extends object>(doc: T): Promise<T & { _id: string }> {
    return this.#run('insert', async () => {
      const [row] = prepareDocs([doc], 'insert');
      await this.#query('INSERT INTO neko_documents (greeter, id, doc) VALUES ($1, $2::jsonb, $3::jsonb)', [
        this.greeter,
        json(row!['_id']),
        json(row),
      ]);
      return decodeValue(row) as T & { _id: string };
    });
  }

  insertMany<T extends object>(docs: readonly T[]): Promise<(T & { _id: string })[]> {
    return this.#run('insertMany', async () => {
      if (!Array.isArray(docs)) {
        throw new NekoError('NEKO_ERR_STORAGE_QUERY', 'insertMany refused: it takes an array of documents');
      }
      const rows = prepareDocs(docs, 'insertMany');
      if (rows.length === 0) return [];
      // One statement: every document or none.
      await this.#query(
        `INSERT INTO neko_documents (greeter, id, doc)
         SELECT $1, e -> '_id', e FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, ord) ORDER BY ord`,
        [this.greeter, json(rows)],
      );
      return rows.map((row) => decodeValue(row) as T & { _id: string });
    });
  }

  find<T extends object = Document>(
    query?: Query,
    options: FindOptions = {},
  ): Promise<(T & { _id: string })[]> {
    return this.#run('find', async () => {
      checkFindOptions(options, 'find');
      const checked = checkDocumentQuery(query, 'find');
      const params = new Params();
      const greeter = params.add(this.greeter);
      const where = whereOf(checked, params);
      const { join, orderBy } = sortOf(options.sort, params);
      let sql = `SELECT doc::text AS doc FROM neko_documents ${join} WHERE greeter = ${greeter} AND (${where}) ORDER BY ${orderBy}`;
      if (options.skip !== undefined && options.skip > 0) sql += ` OFFSET ${params.add(options.skip)}`;
      if (options.limit !== undefined && options.limit > 0) sql += ` LIMIT ${params.add(options.limit)}`;
      const { rows } = await this.#query<{ doc: string }>(sql, params.values);
      return project(rows.map(rowDoc), options.projection) as (T & { _id: string })[];
    });
  }

  findOne<T extends object = Document>(
    query?: Query,
    options: Pick<FindOptions, 'projection'> = {},
  ): Promise<(T & { _id: string }) | null> {
    return this.#run('findOne', async () => {
      checkFindOptions({ projection: options.projection }, 'findOne');
      const checked = checkDocumentQuery(query, 'findOne');
      const params = new Params();
      const greeter = params.add(this.greeter);
      const where = whereOf(checked, params);
      const { rows } = await this.#query<{ doc: string }>(
        `SELECT doc::text AS doc FROM neko_documents WHERE greeter = ${greeter} AND (${where}) ORDER BY seq LIMIT 1`,
        params.values,
      );
      if (rows.length === 0) return null;
      return project([rowDoc(rows[0]!)], options.projection)[0] as T & { _id: string };
    });
  }

  update(query: Query, update: Update, options: UpdateOptions = {}): Promise<number> {
    return this.#run('update', async () => {
      const checkedQuery = checkDocumentQuery(query, 'update');
      const checkedUpdate = checkUpdate(update, 'update');
      const multi = options.multi === true;
      if (options.upsert !== true) {
        return (
          (await this.#query(...this.#updateStatement(checkedQuery, checkedUpdate, multi))).rowCount ?? 0
        );
      }
      const keys = Object.keys(checkedQuery);
      if (
        keys.length === 1 &&
        keys[0] === '_id' &&
        isScalarId(checkedQuery['_id']) &&
        !isReplacement(checkedUpdate)
      ) {
        await this.#upsertById(checkedQuery['_id'], checkedUpdate);
        return 1;
      }
      return this.#transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          UPSERT_LOCK_PREFIX + this.greeter,
        ]);
        const updated = (await client.query(...this.#updateStatement(checkedQuery, checkedUpdate, multi)))
          .rowCount;
        if (updated !== null && updated > 0) return updated;
        let doc: Record<string, unknown>;
        if (isReplacement(checkedUpdate)) {
          doc = encodeValue(checkedUpdate) as Record<string, unknown>;
        } else {
          const { rows } = await client.query<{ doc: string }>(
            'SELECT neko_modify($1::jsonb, $2::jsonb)::text AS doc',
            [json(encodeValue(upsertBase(checkedQuery))), json(stepsOf(checkedUpdate))],
          );
          doc = JSON.parse(rows[0]!.doc) as Record<string, unknown>;
        }
        const [row] = prepareDocs([decodeValue(doc) as Document], 'update');
        await client.query(
          'INSERT INTO neko_documents (greeter, id, doc) VALUES ($1, $2::jsonb, $3::jsonb)',
          [this.greeter, json(row!['_id']), json(row)],
        );
        return 1;
      });
    });
  }

  /**
   * The one statement of an update: every match, or the first match, chosen
   * and locked by a scalar subquery (run once: an `IN` could be re-run by a
   * join and pick another row) and checked again once locked.
   */
  #updateStatement(query: Query, update: Update, multi: boolean): [string, unknown[]] {
    const params = new Params();
    const greeter = params.add(this.greeter);
    const where = whereOf(query, params);
    const newDoc = newDocOf('doc', update, params);
    const sql = multi
      ? `UPDATE neko_documents SET doc = ${newDoc} WHERE greeter = ${greeter} AND (${where})`
      : `UPDATE neko_documents SET doc = ${newDoc}
         WHERE greeter = ${greeter} AND id = (
           SELECT id FROM neko_documents WHERE greeter = ${greeter} AND (${where}) ORDER BY seq LIMIT 1 FOR UPDATE
         ) AND (${where})`;
    return [sql, params.values];
  }

  /**
   * An upsert by `_id` alone, with operators: one statement that updates the
   * document, or inserts the update applied to `{ _id }` (a concurrent
   * insert of the same `_id` turns into the update: `ON CONFLICT`).
   */
  async #upsertById(id: string | number, update: Update): Promise<void> {
    const steps = json(stepsOf(update));
    await this.#query(
      `WITH updated AS (
         UPDATE neko_documents SET doc = neko_modify(doc, $3::jsonb) WHERE greeter = $1 AND id = $2::jsonb RETURNING 1
       )
       INSERT INTO neko_documents (greeter, id, doc)
       SELECT $1, $2::jsonb, neko_modify(jsonb_build_object('_id', $2::jsonb), $3::jsonb)
       WHERE NOT EXISTS (SELECT 1 FROM updated)
       ON CONFLICT (greeter, id) DO UPDATE SET doc = neko_modify(neko_documents.doc, $3::jsonb)`,
      [this.greeter, json(id), steps],
    );
  }

  remove(query: Query, options: RemoveOptions = {}): Promise<number> {
    return this.#run('remove', async () => {
      const params = new Params();
      const greeter = params.add(this.greeter);
      const where = whereOf(checkDocumentQuery(query, 'remove'), params);
      const sql =
        options.multi === true
          ? `DELETE FROM neko_documents WHERE greeter = ${greeter} AND (${where})`
          : `DELETE FROM neko_documents
             WHERE greeter = ${greeter} AND id = (
               SELECT id FROM neko_documents WHERE greeter = ${greeter} AND (${where}) ORDER BY seq LIMIT 1 FOR UPDATE
             ) AND (${where})`;
      return (await this.#query(sql, params.values)).rowCount ?? 0;
    });
  }

  count(query?: Query): Promise<number> {
    return this.#run('count', async () => {
      const params = new Params();
      const greeter = params.add(this.greeter);
      const where = whereOf(checkDocumentQuery(query, 'count'), params);
      const { rows } = await this.#query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM neko_documents WHERE greeter = ${greeter} AND (${where})`,
        params.values,
      );
      return rows[0]!.n;
    });
  }

  get<T = unknown>(cell: string): Promise<T | undefined> {
    return this.#run('get', async () => {
      const name = checkCellName(cell);
      const { rows } = await this.#query<{ value: string }>(
        'SELECT value::text AS value FROM neko_cells WHERE greeter = $1 AND name = $2',
        [this.greeter, name],
      );
      return rows.length === 0 ? undefined : (JSON.parse(rows[0]!.value) as T);
    });
  }

  set(cell: string, value: unknown): Promise<void> {
    return this.#run('set', async () => {
      const name = checkCellName(cell);
      const text = encodeCellValue(name, value);
      await this.#query(
        `INSERT INTO neko_cells (greeter, name, value) VALUES ($1, $2, $3::json)
         ON CONFLICT (greeter, name) DO UPDATE SET value = EXCLUDED.value`,
        [this.greeter, name, text],
      );
    });
  }

  /**
   * Adds `by` to the number in a cell (a missing cell counts as 0) in one
   * statement, and gives the new value.
   * @throws NekoError `NEKO_ERR_STORAGE_CELL` for a bad name, a `by` that is
   *   not a finite number, a cell holding a non-number, a result that is not finite
   */
  incr(cell: string, by = 1): Promise<number> {
    return this.#run('incr', async () => {
      const name = checkCellName(cell);
      const amount = checkIncrement(name, by);
      const { rows } = await this.#query<{ value: string }>(
        `INSERT INTO neko_cells AS c (greeter, name, value) VALUES ($1, $2, to_json($3::double precision))
         ON CONFLICT (greeter, name) DO UPDATE SET value = neko_cell_incr($2, c.value, $3::double precision)
         RETURNING value::text AS value`,
        [this.greeter, name, amount],
      );
      return JSON.parse(rows[0]!.value) as number;
    });
  }

  cells(): Promise<Cell[]> {
    return this.#run('cells', async () => {
      const { rows } = await this.#query<{ name: string; value: string }>(
        'SELECT name, value::text AS value FROM neko_cells WHERE greeter = $1',
        [this.greeter],
      );
      const cells: Cell[] = rows.map((row) => ({ name: row.name, value: JSON.parse(row.value) as unknown }));
      return cells.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  /**
   * Refuses new operations (`NEKO_ERR_STORAGE_CLOSED`) and waits for those
   * under way; the pool is the storage's, ended by its `closeAll()`.
   */
  close(): Promise<void> {
    if (this.#closed === undefined) {
      this.#closed = Promise.allSettled([...this.#pending]).then(() => undefined);
      this.#onClose?.(this.#closed);
    }
    return this.#closed;
  }

  #query<R extends QueryResultRow = QueryResultRow>(sql: string, values: unknown[]) {
    return this.#pool.query<R>(sql, values);
  }

  /** Runs task in a transaction on one connection: committed when it resolves, rolled back when it throws. */
  async #transaction<R>(task: (client: PoolClient) => Promise<R>): Promise<R> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const result = await task(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollback: unknown) => {
          broken = rollback instanceof Error ? rollback : new Error(String(rollback));
        });
        throw err;
      }
    } finally {
      client.release(broken);
    }
  }

  /** Runs one operation: refused once closed, tracked until it settles, its errors as NekoErrors. */
  async #run<R>(operation: string, task: () => Promise<R>): Promise<R> {
    if (this.#closed !== undefined) {
      throw new NekoError(
        'NEKO_ERR_STORAGE_CLOSED',
        `${operation} refused: the database of ${this.greeter} at ${this.location} is closed`,
        {
          hint: 'The server has shut the plugin database; do not use ctx.db after the plugin is unloaded.',
        },
      );
    }
    const running = (async () => task())();
    this.#pending.add(running);
    try {
      return await running;
    } catch (err) {
      throw postgresError(err, operation, this.#place);
    } finally {
      this.#pending.delete(running);
    }
  }
}

/** A fetched row's document, Dates decoded. */
function rowDoc(row: { doc: string }): Document {
  return decodeValue(JSON.parse(row.doc)) as Document;
}

/**
 * Checks documents to insert and gives their stored form, each with its
 * `_id` (the given one, else a new one).
 * @throws NekoError `NEKO_ERR_STORAGE_QUERY` for a document outside the
 *   language, or an `_id` that is not a string or a finite number
 */
function prepareDocs(docs: readonly object[], operation: string): Record<string, unknown>[] {
  return docs.map((doc) => {
    const checked = checkDocument(doc, operation);
    const row = encodeValue(checked) as Record<string, unknown>;
    if (row['_id'] === undefined) row['_id'] = newId();
    else if (!isScalarId(row['_id'])) {
      throw new NekoError(
        'NEKO_ERR_STORAGE_QUERY',
        `${operation} refused: a document's _id must be a string or a number, not ${JSON.stringify(row['_id'])}`,
        { hint: 'Leave _id out to have one made.' },
      );
    }
    return row;
  });
}
