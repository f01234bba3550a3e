/**
 * The PostgreSQL engine under the postgres storage backend: a real server
 * (Debian's `postgresql` package) started by the test, the URL the backend is
 * given and what it shows of it, and connecting with node-postgres.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findPostgresBin,
  startPostgres,
  type RunningPostgres,
} from '../../../scripts/test-support/postgres.js';
import { NekoError, isNekoError } from '../../src/errors.js';
import { connectPostgres } from '../../src/storage/postgres/connect.js';
import { shownUrl } from '../../src/shown-url.js';
import { parsePostgresUrl } from '../../src/storage/postgres/url.js';

/** The error a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<NekoError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof NekoError)) throw new Error(`expected a NekoError, got ${String(err)}`);
  return err;
}

/** A port of 127.0.0.1 that nothing listens on: one that was listened on a moment ago. */
async function closedPort(): Promise<number> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as AddressInfo;
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return port;
}

/** Everything of an error a user may see: its message, its hint, and how it prints. */
function shown(err: NekoError): string {
  return `${err.message}\n${err.hint ?? ''}\n${String(err)}\n${err.stack ?? ''}`;
}

describe('a real PostgreSQL server', () => {
  let server: RunningPostgres;
  const pools: Pool[] = [];

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await server?.stop();
  });

  it('answers connectPostgres() on 127.0.0.1 with the generated user and password, version 13 or newer', async () => {
    const pool = await connectPostgres(server.url, { timeoutMs: 5_000 });
    pools.push(pool);
    const { rows } = await pool.query<{ user: string; database: string; version: string }>(
      'SELECT current_user AS user, current_database() AS database, current_setting($1) AS version',
      ['server_version_num'],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.user).toBe(server.user);
    expect(rows[0]!.database).toBe(server.database);
    expect(Number(rows[0]!.version)).toBeGreaterThanOrEqual(130000);
    const { rows: address } = await pool.query<{ addr: string; port: number }>(
      'SELECT host(inet_server_addr()) AS addr, inet_server_port() AS port',
    );
    expect(address[0]).toEqual({ addr: '127.0.0.1', port: server.port });
  });

  it('takes a percent-encoded user and password from the URL', async () => {
    const pool = await connectPostgres(server.url);
    pools.push(pool);
    const password = 'p@ss:w/rd%20#?&';
    // DDL takes no parameters: the password is a literal (it holds no quote).
    await pool.query(`CREATE ROLE "odd user" LOGIN PASSWORD '${password}'`);
    const url = `postgres://${encodeURIComponent('odd user')}:${encodeURIComponent(password)}@${server.host}:${server.port}/${server.database}`;
    const odd = await connectPostgres(url);
    pools.push(odd);
    const { rows } = await odd.query<{ user: string }>('SELECT current_user AS user');
    expect(rows).toEqual([{ user: 'odd user' }]);
    expect(shownUrl(url)).not.toContain(encodeURIComponent(password));
    expect(shownUrl(url)).toBe(`postgres://odd%20user:***@${server.host}:${server.port}/${server.database}`);
  });

  it('refuses a wrong password with NEKO_ERR_STORAGE_UNREACHABLE naming host and port, not the password', async () => {
    const wrong = `wrong-${server.password}`;
    const url = server.url.replace(encodeURIComponent(server.password), encodeURIComponent(wrong));
    const err = await rejection(connectPostgres(url, { timeoutMs: 5_000 }));
    expect(isNekoError(err, 'NEKO_ERR_STORAGE_UNREACHABLE')).toBe(true);
    expect(err.message).toContain(`127.0.0.1:${server.port}`);
    expect(err.message).toMatch(/password authentication failed/);
    expect(err.hint).toContain(`127.0.0.1:${server.port}`);
    expect(err.hint).toMatch(/password/);
    expect(shown(err)).not.toContain(wrong);
    expect(shown(err)).not.toContain(server.password);
  });

  it('gives NEKO_ERR_STORAGE_UNREACHABLE for a closed port, naming host and port, not the password', async () => {
    const port = await closedPort();
    const url = server.url.replace(`:${server.port}/`, `:${port}/`);
    const started = Date.now();
    const err = await rejection(connectPostgres(url, { timeoutMs: 5_000 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.code).toBe('NEKO_ERR_STORAGE_UNREACHABLE');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.hint).toContain(`127.0.0.1:${port}`);
    expect(shown(err)).not.toContain(server.password);
    expect(shown(err)).toContain(`postgres://${server.user}:***@127.0.0.1:${port}/${server.database}`);
  });

  it('stop() stops the server and removes its directory; a second stop() is harmless', async () => {
    const other = await startPostgres();
    expect(existsSync(other.dir)).toBe(true);
    expect(other.dir.startsWith('/tmp/')).toBe(true);
    const pool = await connectPostgres(other.url);
    await pool.end();
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
    await other.stop();
    const err = await rejection(connectPostgres(other.url, { timeoutMs: 2_000 }));
    expect(err.code).toBe('NEKO_ERR_STORAGE_UNREACHABLE');
  }, 60_000);
});

describe('finding PostgreSQL', () => {
  it('finds initdb, pg_ctl and postgres in one folder', () => {
    const bin = findPostgresBin();
    for (const tool of ['initdb', 'pg_ctl', 'postgres']) expect(existsSync(path.join(bin, tool))).toBe(true);
  });

  it('fails saying how to install PostgreSQL when it is neither on PATH nor in the lib folder', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'neko-no-pg-'));
    try {
      expect(() => findPostgresBin(empty, path.join(empty, 'postgresql'))).toThrow(
        'PostgreSQL is not installed: apt-get install -y postgresql',
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL URLs', () => {
  it('shownUrl() masks the password of user:password@', () => {
    expect(shownUrl('postgres://neko:hunter2@db.example:5433/chat')).toBe(
      'postgres://neko:***@db.example:5433/chat',
    );
    expect(shownUrl('postgresql://neko:hunter2@10.0.0.5/chat?sslmode=require')).toBe(
      'postgresql://neko:***@10.0.0.5/chat?sslmode=require',
    );
  });

  it('shownUrl() masks a percent-encoded password, and one given as a parameter', () => {
    const url = `postgres://neko:${encodeURIComponent('s3cr@t:/%x')}@localhost/chat`;
    const shown = shownUrl(url);
    expect(shown).toBe('postgres://neko:***@localhost/chat');
    expect(shown).not.toMatch(/s3cr|%40|%3A/);
    expect(shownUrl('postgres://neko@localhost/chat?password=hunter2')).toBe(
      'postgres://neko@localhost/chat?password=***',
    );
  });

  it('shownUrl() leaves a URL without a password as it is', () => {
    for (const url of [
      'postgres://neko@localhost/chat',
      'postgres://localhost:5432/chat',
      'postgresql://[::1]:5432/chat',
    ]) {
      expect(shownUrl(url)).toBe(url);
    }
  });

  it('shownUrl() masks the password of a URL too malformed to parse', () => {
    const shown = shownUrl('postgres://neko:pa/ss@word@db:notaport/chat');
    expect(shown).not.toMatch(/pa\/ss|word/);
    expect(shown).toBe('postgres://neko:***@db:notaport/chat');
  });

  it('parsePostgresUrl() gives the settings node-postgres takes', () => {
    expect(
      parsePostgresUrl(`postgresql://ne%20ko:${encodeURIComponent('p@ss:/')}@[::1]:6543/my%2Fdb`),
    ).toEqual({
      host: '::1',
      port: 6543,
      user: 'ne ko',
      password: 'p@ss:/',
      database: 'my/db',
      ssl: false,
      application_name: undefined,
    });
    expect(parsePostgresUrl('postgres://db.example/chat?sslmode=verify-full&application_name=neko')).toEqual({
      host: 'db.example',
      port: 5432,
      user: undefined,
      password: undefined,
      database: 'chat',
      ssl: { rejectUnauthorized: true },
      application_name: 'neko',
    });
  });

  it('parsePostgresUrl() refuses a malformed URL with NEKO_ERR_CONFIG_INVALID, naming it without its password', () => {
    const bad = [
      ['mysql://neko:hunter2@db/chat', /postgres:\/\/ or postgresql:\/\//],
      ['postgres://neko:hunter2@db:99999/chat', /not a URL|port/],
      ['postgres://neko:hunter2@/chat', /not a URL|no host/],
      ['postgres://neko:hunter2@db/chat/extra', /more than a database name/],
      ['postgres://neko:hunter2@db/chat?sslmode=sometimes', /sslmode=sometimes/],
      ['postgres://neko:hunter2@db/chat?timezone=UTC', /parameter timezone/],
      ['postgres://neko:hunter%ZZ2@db/chat', /percent-encoding in its password/],
      ['neko:hunter2@db', /not a URL|postgres:\/\//],
    ] as const;
    for (const [url, problem] of bad) {
      let caught: unknown;
      try {
        parsePostgresUrl(url);
      } catch (err) {
        caught = err;
      }
      expect(isNekoError(caught, 'NEKO_ERR_CONFIG_INVALID'), url).toBe(true);
      const err = caught as NekoError;
      expect(err.message, url).toMatch(problem);
      expect(shown(err), url).not.toContain('hunter');
      expect(err.message, url).toContain('***');
    }
  });
});
