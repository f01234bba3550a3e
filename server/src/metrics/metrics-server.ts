import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_METRICS_HOST } from '../config/dashboard-options.js';
import { NekoError } from '../errors.js';
import { closableHttp, listenOrThrow } from '../server/listen.js';
import type { NekoServer } from '../server/server.js';
import { answerHealth, isHealthPath, type HealthSource } from './endpoints.js';
import { metricsOf } from './registry.js';

/** Where the metrics port listens. */
export interface MetricsServerOptions {
  /** HTTP port; 0 picks a free one. */
  port: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
}

/**
 * A small HTTP server with only `/healthz`, `/readyz` and `/metrics`, no
 * token (`--metrics-port`): for health checks and Prometheus, with the
 * dashboard on or off. Every other path is a 404.
 */
export class MetricsServer {
  readonly host: string;
  readonly port: number;
  readonly #server: NekoServer | HealthSource;
  /** Closes the HTTP server and its open connections. */
  #closeHttp: (() => Promise<void>) | undefined;
  #http: HttpServer | undefined;

  /** @param server the server, or under `--workers` the primary's view of its workers */
  constructor(server: NekoServer | HealthSource, options: MetricsServerOptions) {
    this.#server = server;
    this.port = options.port;
    this.host = options.host ?? DEFAULT_METRICS_HOST;
  }

  /** The address listened on, once {@link listen} resolved. */
  address(): AddressInfo | undefined {
    const address = this.#http?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /**
   * Starts serving; the server's metrics start being gathered (event-loop lag, GC) now.
   *
   * @throws NekoError `NEKO_ERR_METRICS_LISTEN` when the port cannot be bound
   */
  async listen(): Promise<AddressInfo> {
    if (this.#http) throw new NekoError('NEKO_ERR_METRICS_LISTEN', 'the metrics port is already listening');
    if (!('metrics' in this.#server)) metricsOf(this.#server);
    const http = createHttpServer((req, res) => {
      const pathname = new URL(req.url ?? '/', 'http://metrics.invalid').pathname;
      if (isHealthPath(pathname)) {
        answerHealth(this.#server, req, res, pathname);
        return;
      }
      const body = JSON.stringify({
        error: `no page at ${pathname}: this port serves /healthz, /readyz and /metrics`,
      });
      res.writeHead(404, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
    this.#closeHttp = closableHttp(http);
    this.#http = http;
    try {
      await listenOrThrow(http, this.port, this.host, {
        code: 'NEKO_ERR_METRICS_LISTEN',
        what: 'the metrics port cannot listen on',
        inUse:
          'Another process uses this port: pick another with --metrics-port (metrics.port in the config).',
      });
    } catch (err) {
      this.#http = undefined;
      throw err;
    }
    return this.address()!;
  }

  /** Stops serving; open connections close. */
  async close(): Promise<void> {
    const http = this.#http;
    if (!http) return;
    this.#http = undefined;
    await this.#closeHttp?.();
  }
}
