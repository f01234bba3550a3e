import { isIP } from 'node:net';
import { NekoError } from '../errors.js';

/** The dashboard's default port: the server's (10390) plus one. */
export const DEFAULT_DASHBOARD_PORT = 10391;

/** The dashboard's default interface: loopback, so only this machine reaches it. */
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';

/** Where the dashboard listens. */
export interface DashboardOptions {
  /** HTTP port; 0 picks a free one. Default 10391. */
  port?: number;
  /**
   * Interface to listen on. Default `127.0.0.1`. Any address that is not
   * loopback makes every request need the access token.
   */
  host?: string;
  /**
   * The access token, for a dashboard bound off loopback. Default: a new
   * random one. Ignored on loopback, where no token is asked for.
   */
  token?: string;
}

export interface ResolvedDashboardOptions {
  port: number;
  host: string;
  /** Set when requests must carry it (the dashboard is bound off loopback). */
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
 * @param makeToken makes the token when one is needed and none was given
 * @throws NekoError `NEKO_ERR_CONFIG_INVALID` for a bad port, host or token
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
  if (isLoopback(host)) return { port, host, token: undefined };
  const token = options.token ?? makeToken();
  if (token.length < 16) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      'the dashboard access token must be at least 16 characters',
    );
  }
  return { port, host, token };
}
