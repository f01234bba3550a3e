import type { LogRecord } from 'nekoconnect';
import type { NekoTestingError } from './errors.js';
import { describeStatus, handlerFailedError, summarizeError } from './packet.js';

/** Failure messages list this many handler failures. */
const LISTED = 6;

/** A status 500 a fake client received, with the handler's error it reports. */
export interface HandlerFailure {
  /** The packet it answered, `"game" op 3`. */
  readonly answered: string;
  readonly error: unknown;
}

/**
 * The handler failures of one test server, from its log to the fake
 * clients' statuses 500.
 *
 * The dispatcher logs a handler's failure (`NEKO_ERR_PLUGIN_HANDLER`, with
 * the session and the error) just before it answers that session 500, and
 * a session's packets are answered in order: so the n-th status 500 a
 * client receives reports the n-th failure logged for its session.
 */
export class HandlerFailures {
  /** By session id, the errors logged and not yet claimed by a status 500, oldest first. */
  readonly #logged = new Map<string, unknown[]>();

  /** A sink for the server's logger. */
  note(record: LogRecord): void {
    if (record.code !== 'NEKO_ERR_PLUGIN_HANDLER' || record.session === undefined) return;
    const queue = this.#logged.get(record.session);
    if (queue) queue.push(record.error);
    else this.#logged.set(record.session, [record.error]);
  }

  /** The oldest failure logged for `session` and not yet claimed; undefined when there is none. */
  take(session: string): unknown {
    const queue = this.#logged.get(session);
    if (!queue) return undefined;
    const error = queue.shift();
    if (queue.length === 0) this.#logged.delete(session);
    return error;
  }
}

/**
 * For a test that failed: the handler failures behind the statuses 500 a
 * client received during it, as one `NEKO_ERR_TESTING_HANDLER_FAILED` error
 * whose stack is the first handler's, so that the report points at the
 * plugin's line. Undefined when there were none.
 */
export function handlerFailureReport(
  client: string,
  failures: readonly HandlerFailure[],
): NekoTestingError | undefined {
  const first = failures[0];
  if (!first) return undefined;
  const lines = failures
    .slice(0, LISTED)
    .map(
      ({ answered, error }) => `${answered} was answered ${describeStatus(500)}: ${summarizeError(error)}`,
    );
  if (failures.length > LISTED) lines.push(`and ${failures.length - LISTED} more`);
  return handlerFailedError(
    `${client}: the plugin's handler failed during this test:\n${lines.join('\n')}`,
    first.error,
  );
}
