/**
 * The PostgreSQL backend's schema and its migrations.
 *
 * `neko_schema_migrations` holds one row per migration applied (version,
 * name, when). {@link migrate} runs under a session advisory lock, so
 * servers starting together on one database migrate it once, one after the
 * other; each migration runs in its own transaction with its row, so a
 * failed one leaves nothing half done, and one applied is never run again.
 * A database migrated by a newer NekoConnect (a version this one does not
 * know) is refused with `NEKO_ERR_STORAGE_SCHEMA`.
 *
 * A later change of the schema adds a migration at the end of
 * {@link MIGRATIONS}; a migration never changes once released. The SQL
 * functions are all `CREATE OR REPLACE`: a change to `functions.ts` comes
 * with a migration that runs {@link FUNCTIONS_SQL} again, so that a
 * database migrated before gets the new functions too (a fresh one runs it
 * twice, to the same end).
 */
import type { Pool, PoolClient } from 'pg';
import { NekoError } from '../../errors.js';
import { FUNCTIONS_SQL } from './functions.js';

/** One step of the schema. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The key of the advisory lock held while migrating (any fixed 64-bit number; 'neko' 'schm' in ASCII). */
export const MIGRATION_LOCK_KEY = '7954882181713799533';

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'documents, cells and the functions of the query language',
    sql: `
      CREATE TABLE neko_documents (
        greeter text NOT NULL,
        id jsonb NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        doc jsonb NOT NULL,
        PRIMARY KEY (greeter, id)
      );
      CREATE TABLE neko_cells (
        greeter text NOT NULL,
        name text NOT NULL,
        value json NOT NULL,
        PRIMARY KEY (greeter, name)
      );
      ${FUNCTIONS_SQL}
    `,
  },
];

/** The newest schema version this server knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings the database's schema to {@link SCHEMA_VERSION}, under the
 * migration lock.
 * @param location the URL without its password, for messages
 * @throws NekoError `NEKO_ERR_STORAGE_SCHEMA` when the database's schema is
 *   newer than this server knows
 */
export async function migrate(pool: Pool, location: string): Promise<void> {
  const client = await pool.connect();
  let broken: unknown;
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS neko_schema_migrations (
           version integer PRIMARY KEY,
           name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const applied = await appliedVersions(client);
      const newest = Math.max(0, ...applied);
      if (newest > SCHEMA_VERSION) {
        throw new NekoError(
          'NEKO_ERR_STORAGE_SCHEMA',
          `the database ${location} has schema version ${newest}, newer than version ${SCHEMA_VERSION} that this NekoConnect knows`,
          {
            hint: 'A newer NekoConnect migrated this database: upgrade NekoConnect on this machine to the version the other servers run.',
          },
        );
      }
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO neko_schema_migrations (version, name) VALUES ($1, $2)', [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
    } finally {
      await client
        .query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY])
        .catch((err: unknown) => {
          broken = err;
        });
    }
  } finally {
    // A connection whose unlock failed may still hold the lock: end it rather than pool it.
    client.release(broken instanceof Error ? broken : undefined);
  }
}

async function appliedVersions(client: PoolClient): Promise<Set<number>> {
  const { rows } = await client.query<{ version: number }>('SELECT version FROM neko_schema_migrations');
  return new Set(rows.map((row) => row.version));
}
