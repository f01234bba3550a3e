import kleur from 'kleur';
import { createDashboard, type Dashboard } from '../dashboard/dashboard.js';
import { isLoopback, type StableToken } from '../config/dashboard-options.js';
import type { ServerFacts } from '../dashboard/views.js';
import { isNekoError } from '../errors.js';
import type { NekoServer } from '../server/server.js';
import type { CliIo } from './command.js';
import { formatError } from '../format.js';
import { MetricsServer } from '../metrics/metrics-server.js';
import { metricsOf } from '../metrics/registry.js';

/** What an open dashboard warns at start. */
export const OPEN_DASHBOARD_WARNING =
  'dashboard is open: any local user or process can read logs and data and close sessions';

/**
 * Starts the dashboard of a server the CLI runs, and prints its URL with
 * the access token, the one time it is shown (an open dashboard has none,
 * and is warned about). A stable token (from a file or the environment) is
 * never printed: the line says where it comes from. A dashboard that cannot
 * listen is reported and left off: the server itself keeps going.
 *
 * @param options where it listens, whether it is open, its stable token; undefined when it is turned off
 */
export async function startDashboard(
  server: NekoServer,
  options: { port: number; host: string; open: boolean; token?: StableToken } | undefined,
  facts: ServerFacts,
  io: Pick<CliIo, 'out' | 'err'>,
): Promise<Dashboard | undefined> {
  if (options === undefined) return undefined;
  const { port, host, open, token } = options;
  const dashboard = createDashboard(server, {
    port,
    host,
    open,
    ...(token === undefined ? {} : { token: token.token }),
    facts,
  });
  try {
    await dashboard.listen();
  } catch (err) {
    await dashboard.close();
    if (!isNekoError(err)) throw err;
    io.err(formatError(err));
    io.err(kleur.dim('  the server runs without its dashboard'));
    return undefined;
  }
  const local = isLoopback(dashboard.options.host);
  const note =
    dashboard.token === undefined
      ? kleur.dim('(this machine only, no token)')
      : token !== undefined
        ? local
          ? kleur.dim(`(this machine only; the token is the one in ${token.source})`)
          : kleur.yellow(`(reachable from the network; the token is the one in ${token.source})`)
        : local
          ? kleur.dim('(this machine only; the token in it is shown only now)')
          : kleur.yellow('(reachable from the network: keep this token secret; it is shown only now)');
  io.out(`${kleur.cyan('dashboard')} ${dashboard.url({ withToken: token === undefined })}  ${note}`);
  if (dashboard.token === undefined) io.err(`${kleur.yellow('warning')} ${OPEN_DASHBOARD_WARNING}`);
  return dashboard;
}

/**
 * Starts the metrics port (`--metrics-port`) and prints where it is. When
 * the dashboard or the metrics port serves `/metrics`, the server's metrics
 * start now, so the event-loop lag and GC figures cover the whole run.
 *
 * @param options where it listens; undefined when it is off
 * @param dashboardOn whether the dashboard serves (it serves /metrics too)
 * @throws NekoError `NEKO_ERR_METRICS_LISTEN` when the port cannot be bound
 */
export async function startMetrics(
  server: NekoServer,
  options: { port: number; host: string } | undefined,
  dashboardOn: boolean,
  io: Pick<CliIo, 'out'>,
): Promise<MetricsServer | undefined> {
  if (options === undefined && !dashboardOn) return undefined;
  metricsOf(server);
  if (options === undefined) return undefined;
  const metrics = new MetricsServer(server, options);
  const address = await metrics.listen();
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const note = isLoopback(options.host)
    ? kleur.dim('(/healthz, /readyz, /metrics; no token; this machine only)')
    : kleur.yellow('(/healthz, /readyz, /metrics; no token; reachable from the network)');
  io.out(`${kleur.cyan('metrics')} http://${host}:${address.port}/metrics  ${note}`);
  return metrics;
}
