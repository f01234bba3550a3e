import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { NekoError } from '../errors.js';
import { DEFAULT_HOST } from '../server/options.js';

/** The dashboard's default port: the server's (10390) plus one. */
export const DEFAULT_DASHBOARD_PORT = 10391;

/** The dashboard's default interface: loopback, so only this machine reaches it. */
export const DEFAULT_DASHBOARD_HOST = DEFAULT_HOST;

/** The metrics port's default interface (`--metrics-host`): loopback, so only this machine reaches it. */
export const DEFAULT_METRICS_HOST = DEFAULT_HOST;

/** Where the dashboard listens, and who may use it. */
export interface DashboardOptions {
  /** HTTP port; 0 picks a free one. Default 10391. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /**
   * The access token every request must carry, on loopback too. Default: a
   * new random one. At least 16 characters.
   */
  token?: string;
  /**
   * Serve without a token, on a loopback host only: any local user or
   * process can then read the logs and the plugins' data and close
   * sessions. Default false.
   */
  open?: boolean;
}

export interface ResolvedDashboardOptions {
  port: number;
  host: string;
  /** What every request must carry; undefined only for an open dashboard (loopback, `open: true`). */
  token: string | undefined;
}

/** True for `localhost`, `127.x.y.z` and `::1` (also as `::ffff:127.x.y.z`). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Fills in the defaults and checks the values.
 *
 * @param makeToken makes the token when none was given (every dashboard but an open one)
 * @throws NekoError `NEKO_ERR_CONFIG_INVALID` for a bad port, host or token, or an open dashboard off loopback
 */
export function resolveDashboardOptions(
  options: DashboardOptions,
  makeToken: () => string,
): ResolvedDashboardOptions {
  const port = options.port ?? DEFAULT_DASHBOARD_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `dashboard.port must be from 0 to 65535, got ${String(port)}`,
    );
  }
  const host = options.host ?? DEFAULT_DASHBOARD_HOST;
  if (typeof host !== 'string' || host === '') {
    throw new NekoError('NEKO_ERR_CONFIG_INVALID', 'dashboard.host must be a non-empty string');
  }
  if (options.open === true) {
    if (!isLoopback(host)) {
      throw new NekoError(
        'NEKO_ERR_CONFIG_INVALID',
        `an open dashboard (no access token) may listen only on loopback, not on ${host}`,
        { hint: 'drop open to require the token, or listen on 127.0.0.1' },
      );
    }
    if (options.token !== undefined) {
      throw new NekoError(
        'NEKO_ERR_CONFIG_INVALID',
        'an open dashboard takes no token: give either open or token',
      );
    }
    return { port, host, token: undefined };
  }
  const token = options.token ?? makeToken();
  if (token.length < 16) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      'the dashboard access token must be at least 16 characters',
    );
  }
  return { port, host, token };
}

/** The environment variable a stable dashboard token is read from. */
export const DASHBOARD_TOKEN_ENV = 'NEKOCONNECT_DASHBOARD_TOKEN';

/** The shortest token the dashboard takes. */
export const MIN_TOKEN_LENGTH = 16;

/** A dashboard token given by the operator, which stays the same across restarts. */
export interface StableToken {
  readonly token: string;
  /** Where it came from, for the start-up line (never the token itself): `the file …` or the variable's name. */
  readonly source: string;
}

const TOKEN_HINT = `write 16 or more printable characters without spaces, e.g. \`openssl rand -base64 32 > dashboard-token\``;

/**
 * Checks a token given by the operator: at least {@link MIN_TOKEN_LENGTH}
 * characters, printable ASCII, no whitespace. The message names `source`,
 * never the token.
 *
 * @throws NekoError `NEKO_ERR_CONFIG_DASHBOARD_TOKEN`
 */
export function checkStableToken(token: string, source: string): string {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_DASHBOARD_TOKEN',
      `the dashboard token from ${source} has ${token.length} characters; it needs at least ${MIN_TOKEN_LENGTH}`,
      { hint: TOKEN_HINT },
    );
  }
  const bad = /[^\x21-\x7e]/.exec(token);
  if (bad !== null) {
    const what = /\s/.test(bad[0]) ? 'a space or line break' : 'a character that is not printable ASCII';
    throw new NekoError(
      'NEKO_ERR_CONFIG_DASHBOARD_TOKEN',
      `the dashboard token from ${source} holds ${what} (at character ${bad.index + 1})`,
      { hint: TOKEN_HINT },
    );
  }
  return token;
}

/**
 * The stable dashboard token, if one is given: from `file` (the
 * `--dashboard-token-file` flag, else the config's `dashboard.tokenFile`;
 * one line, a trailing line break dropped), else from
 * `NEKOCONNECT_DASHBOARD_TOKEN`. The variable is removed from `env` as it
 * is read, so that processes the server spawns do not inherit it.
 *
 * @param file the token file, absolute
 * @param shownFile the file as messages name it
 * @throws NekoError `NEKO_ERR_CONFIG_DASHBOARD_TOKEN` naming the file or the variable
 */
export async function readStableToken(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  shownFile = file,
): Promise<StableToken | undefined> {
  const fromEnv = env[DASHBOARD_TOKEN_ENV];
  delete env[DASHBOARD_TOKEN_ENV];
  if (file !== undefined) {
    const source = `the file ${shownFile ?? file}`;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new NekoError(
        'NEKO_ERR_CONFIG_DASHBOARD_TOKEN',
        `cannot read the dashboard token file ${shownFile ?? file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { cause: err, hint: TOKEN_HINT },
      );
    }
    return { token: checkStableToken(text.replace(/\r?\n$/, ''), source), source };
  }
  if (fromEnv === undefined || fromEnv === '') return undefined;
  return { token: checkStableToken(fromEnv, DASHBOARD_TOKEN_ENV), source: DASHBOARD_TOKEN_ENV };
}
