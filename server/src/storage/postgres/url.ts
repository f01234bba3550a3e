/**
 * PostgreSQL URLs (`postgres://user:password@host:port/database`): the
 * connection settings they stand for, and the form in which one may be shown.
 * A URL's password never leaves this module except in the settings given to
 * the client: every log line, error and dashboard answer shows shownUrl()
 * (`../../shown-url.ts`).
 */
import { NekoError } from '../../errors.js';
import { listWords } from '../../format.js';
import { shownUrl } from '../../shown-url.js';

/** What node-postgres (`pg`) needs to connect: a subset of its ClientConfig. */
export interface PostgresSettings {
  host: string;
  port: number;
  user: string | undefined;
  password: string | undefined;
  database: string | undefined;
  /** false: plain TCP; otherwise TLS, verifying the server's certificate or not. */
  ssl: false | { rejectUnauthorized: boolean };
  application_name: string | undefined;
}

const SCHEMES = ['postgres:', 'postgresql:'];
const DEFAULT_PORT = 5432;
/** The `sslmode` values understood, as libpq reads them. */
const SSL_MODES: Record<string, PostgresSettings['ssl']> = {
  disable: false,
  require: { rejectUnauthorized: false },
  'verify-ca': { rejectUnauthorized: true },
  'verify-full': { rejectUnauthorized: true },
};
const PARAMETERS = ['sslmode', 'application_name'];

function invalid(url: string, problem: string): NekoError {
  return new NekoError('NEKO_ERR_CONFIG_INVALID', `the PostgreSQL URL ${shownUrl(url)} ${problem}`, {
    hint: 'Write it as postgres://user:password@host:5432/database (percent-encode @, :, / and % in the user and password).',
  });
}

function decoded(url: string, part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(url, `has a bad percent-encoding in its ${what}`);
  }
}

/**
 * The connection settings of a `postgres://` or `postgresql://` URL.
 * Throws NEKO_ERR_CONFIG_INVALID, naming the URL without its password,
 * for anything else.
 */
export function parsePostgresUrl(url: string): PostgresSettings {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(url, 'is not a URL');
  }
  if (!SCHEMES.includes(parsed.protocol)) {
    throw invalid(url, `does not start with postgres:// or postgresql://`);
  }
  if (parsed.hostname === '') throw invalid(url, 'names no host');
  const port = parsed.port === '' ? DEFAULT_PORT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(url, 'has a port outside 1–65535');
  const path = parsed.pathname.replace(/^\//, '');
  if (path.includes('/')) throw invalid(url, 'has more than a database name in its path');
  if (parsed.hash !== '') throw invalid(url, 'has a #fragment');

  let ssl: PostgresSettings['ssl'] = false;
  let applicationName: string | undefined;
  for (const [name, value] of parsed.searchParams) {
    if (name === 'sslmode') {
      if (!Object.hasOwn(SSL_MODES, value)) {
        throw invalid(url, `has sslmode=${value}; sslmode is one of ${listWords(Object.keys(SSL_MODES))}`);
      }
      ssl = SSL_MODES[value]!;
    } else if (name === 'application_name') {
      applicationName = value;
    } else {
      throw invalid(url, `has the parameter ${name}; the parameters understood are ${listWords(PARAMETERS)}`);
    }
  }

  return {
    // An IPv6 address keeps its brackets in the URL, not in the settings.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user: parsed.username === '' ? undefined : decoded(url, parsed.username, 'user'),
    password: parsed.password === '' ? undefined : decoded(url, parsed.password, 'password'),
    database: path === '' ? undefined : decoded(url, path, 'database name'),
    ssl,
    application_name: applicationName,
  };
}
