/**
 * Opening a connection pool to the PostgreSQL server of a storage URL, and
 * proving it answers. `pg` is loaded here, on first use, so a server on the
 * nedb backend never loads it.
 */
import type { Pool } from 'pg';
import { NekoError } from '../../errors.js';
import { errorMessage } from '../../format.js';
import { shownUrl } from '../../shown-url.js';
import { parsePostgresUrl } from './url.js';

export interface ConnectOptions {
  /** How long connecting (TCP, TLS and authentication) may take, in ms. */
  timeoutMs?: number;
  /** The most connections the pool opens at once. */
  maxConnections?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * A `pg.Pool` on the URL's database, after a `SELECT 1` went through it.
 * Throws NEKO_ERR_CONFIG_INVALID for a malformed URL, and
 * NEKO_ERR_STORAGE_UNREACHABLE, naming host and port but never the password,
 * when the server cannot be reached or refuses the user.
 */
export async function connectPostgres(url: string, options: ConnectOptions = {}): Promise<Pool> {
  const settings = parsePostgresUrl(url);
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    ...settings,
    connectionTimeoutMillis: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    max: options.maxConnections ?? 10,
  });
  // A pooled connection that breaks while idle is reported to the pool; the next query that
  // needs a connection fails with its own error. Without a listener the process would crash.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (err) {
    await pool.end().catch(() => {});
    const where = `${settings.host}:${settings.port}`;
    let reason = errorMessage(err);
    if (settings.password) reason = reason.split(settings.password).join('***');
    throw new NekoError(
      'NEKO_ERR_STORAGE_UNREACHABLE',
      `cannot connect to PostgreSQL at ${where} (${shownUrl(url)}): ${reason}`,
      {
        cause: err,
        hint:
          `Is PostgreSQL running on ${where} and accepting TCP connections from this machine? ` +
          `Check the user, password and database name of the URL.`,
      },
    );
  }
}
