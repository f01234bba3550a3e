import kleur from 'kleur';
import { createDashboard, type Dashboard } from '../dashboard/dashboard.js';
import { isLoopback } from '../config/dashboard-options.js';
import type { ServerFacts } from '../dashboard/views.js';
import { isNekoError } from '../errors.js';
import type { NekoServer } from '../server/server.js';
import type { CliIo } from './command.js';
import { formatError } from '../format.js';

/** What an open dashboard warns at start. */
export const OPEN_DASHBOARD_WARNING =
  'dashboard is open: any local user or process can read logs and data and close sessions';

/**
 * Starts the dashboard of a server the CLI runs, and prints its URL with
 * the access token, the one time it is shown (an open dashboard has none,
 * and is warned about). A dashboard that cannot listen is reported and left
 * off: the server itself keeps going.
 *
 * @param options where it listens and whether it is open; undefined when it is turned off
 */
export async function startDashboard(
  server: NekoServer,
  options: { port: number; host: string; open: boolean } | undefined,
  facts: ServerFacts,
  io: Pick<CliIo, 'out' | 'err'>,
): Promise<Dashboard | undefined> {
  if (options === undefined) return undefined;
  const dashboard = createDashboard(server, { ...options, facts });
  try {
    await dashboard.listen();
  } catch (err) {
    await dashboard.close();
    if (!isNekoError(err)) throw err;
    io.err(formatError(err));
    io.err(kleur.dim('  the server runs without its dashboard'));
    return undefined;
  }
  const note =
    dashboard.token === undefined
      ? kleur.dim('(this machine only, no token)')
      : isLoopback(dashboard.options.host)
        ? kleur.dim('(this machine only; the token in it is shown only now)')
        : kleur.yellow('(reachable from the network: keep this token secret; it is shown only now)');
  io.out(`${kleur.cyan('dashboard')} ${dashboard.url()}  ${note}`);
  if (dashboard.token === undefined) io.err(`${kleur.yellow('warning')} ${OPEN_DASHBOARD_WARNING}`);
  return dashboard;
}
