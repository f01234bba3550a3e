/**
 * The `ctx.state` check of `nekoconnect dev`: reads every session's state
 * of every plugin serving, through the server's public API
 * (`server.plugins()`, each plugin's `sessions()`), and reports what JSON
 * could not carry (see `state-json.ts`) once per plugin, session and
 * top-level key of the state, for as long as the session lasts.
 */
import path from 'node:path';
import { NekoError } from '../errors.js';
import type { NekoServer } from '../server/server.js';
import type { StateEvent } from './events.js';
import { checkStateJson } from './state-json.js';

/** How often the states are read between reloads, in ms. */
export const DEFAULT_STATE_CHECK_MS = 1_000;

/** A running state check. */
export interface StateCheck {
  /** Reads every session's state now and reports what is new. */
  check(): void;
  /** Stops the periodic check. Idempotent. */
  close(): void;
}

/**
 * Checks the session states of `server` every `intervalMs` (on a timer
 * that does not keep the process alive), and whenever {@link StateCheck.check}
 * is called; reports each problem once to `report`.
 */
export function checkSessionStates(
  server: NekoServer,
  report: (event: StateEvent) => void,
  intervalMs = DEFAULT_STATE_CHECK_MS,
): StateCheck {
  /** `greeter \0 session \0 key` of each problem reported, for the sessions still there. */
  const reported = new Set<string>();
  const check = (): void => {
    const live = new Set<string>();
    for (const plugin of server.plugins()) {
      for (const session of plugin.sessions()) {
        live.add(`${plugin.greeter}\0${session.id}`);
        for (const problem of checkStateJson(session.state)) {
          const id = `${plugin.greeter}\0${session.id}\0${problem.key}`;
          if (reported.has(id)) continue;
          reported.add(id);
          report({
            type: 'state',
            dir: path.resolve(plugin.plugin.dir),
            greeter: plugin.greeter,
            session: session.id,
            problem,
            warning: new NekoError(
              'NEKO_ERR_DEV_STATE_NOT_JSON',
              `plugin "${plugin.greeter}", session ${session.id}: ${problem.path} is ${problem.what}; ` +
                'ctx.state must be JSON-serialisable (plain objects, arrays, strings, finite numbers, booleans, null)',
              { hint: problem.fix },
            ),
          });
        }
      }
    }
    // Forget the sessions that are gone (their ids are not used again).
    for (const id of reported) {
      if (!live.has(id.slice(0, id.lastIndexOf('\0')))) reported.delete(id);
    }
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return {
    check,
    close: () => clearInterval(timer),
  };
}
