/**
 * The health and metrics endpoints, served without a token on the
 * dashboard's port and on the metrics port: `GET /healthz` (the process
 * serves), `GET /readyz` (the server is ready: plugins loaded, storage
 * reachable, not shutting down), `GET /metrics` (Prometheus text).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NekoServer, Readiness } from '../server/server.js';
import { metricsOf } from './registry.js';

/**
 * What answers the health paths: one server ({@link healthOf}), or under
 * `--workers` the primary, which asks its workers.
 */
export interface HealthSource {
  readiness(): Promise<Readiness>;
  /** Every metric in the Prometheus text format, and its content type. */
  metrics(): Promise<{ readonly type: string; readonly body: string }>;
}

/** The health source of one server. */
export function healthOf(server: NekoServer): HealthSource {
  return {
    readiness: () => server.readiness(),
    metrics: async () => {
      const metrics = metricsOf(server);
      return { type: metrics.contentType, body: await metrics.text() };
    },
  };
}

/** The paths {@link answerHealth} serves: the only ones the dashboard serves without its token. */
export const HEALTH_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

/** True when `pathname` is one of {@link HEALTH_PATHS}. */
export function isHealthPath(pathname: string): boolean {
  return HEALTH_PATHS.includes(pathname);
}

/**
 * Answers a request for one of {@link HEALTH_PATHS}. Never throws: a
 * failure to read the metrics is a 500 with its message.
 */
export function answerHealth(
  server: NekoServer | HealthSource,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): void {
  const source = 'metrics' in server ? server : healthOf(server);
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    send(res, method, 405, JSON_TYPE, JSON.stringify({ error: `${method} is not allowed here; use GET` }), {
      allow: 'GET, HEAD',
    });
    return;
  }
  const answer =
    pathname === '/healthz'
      ? Promise.resolve({ status: 200, type: JSON_TYPE, body: JSON.stringify({ status: 'ok' }) })
      : pathname === '/readyz'
        ? source.readiness().then(({ ready, reasons }) => ({
            status: ready ? 200 : 503,
            type: JSON_TYPE,
            body: JSON.stringify({ ready, reasons }),
          }))
        : source.metrics().then(({ type, body }) => ({ status: 200, type, body }));
  answer.then(
    ({ status, type, body }) => send(res, method, status, type, body),
    (err: unknown) =>
      send(
        res,
        method,
        500,
        JSON_TYPE,
        JSON.stringify({ error: `${pathname} failed: ${(err as Error).message}` }),
      ),
  );
}

const JSON_TYPE = 'application/json; charset=utf-8';

function send(
  res: ServerResponse,
  method: string,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    ...headers,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(method === 'HEAD' ? undefined : body);
}
