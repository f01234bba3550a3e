import { NekoError } from 'nekoconnect';

/**
 * The one error registry of the `@nekoconnect/testing` package.
 *
 * Every error the harness throws carries a stable `NEKO_ERR_TESTING_*` code
 * from this table. `docs/errors.md` has a row for each code (meaning and
 * fix); a test keeps the two in step. Errors of the server itself (a frame
 * that cannot be encoded, say) stay `NekoError`s with the server's codes.
 */
export const ERROR_CODES = {
  NEKO_ERR_TESTING_OPTIONS:
    'createTestServer(), useTestServer(), connect() or a wait was given options that cannot work.',
  NEKO_ERR_TESTING_PLUGIN_LOAD: 'A plugin failed to load into the test server.',
  NEKO_ERR_TESTING_UNKNOWN_PLUGIN: 'server.db() named a greeter that no loaded plugin answers to.',
  NEKO_ERR_TESTING_HANDSHAKE: 'server.connect() or client.handshake() could not authenticate.',
  NEKO_ERR_TESTING_TIMEOUT:
    'A wait (request, next, expectStatus, expectClosed) saw nothing matching in time.',
  NEKO_ERR_TESTING_UNEXPECTED_STATUS: 'expectStatus() got a status other than the one expected.',
  NEKO_ERR_TESTING_CLOSED:
    'The connection or the server closed while a wait was pending, or a call came after.',
  NEKO_ERR_TESTING_DROPPED:
    'client.drop() cut the connection while a request waited for its answer; it is not sent again.',
  NEKO_ERR_TESTING_SERVER_HASH: 'A server packet did not carry H of any random the fake client sent.',
  NEKO_ERR_TESTING_PROTOCOL: 'The server sent bytes that are not a valid frame.',
  NEKO_ERR_TESTING_JSON: "A received packet's json() found data that is not valid JSON.",
  NEKO_ERR_TESTING_CLOSE_TIMEOUT: 'server.close() did not finish in time: a handler is still running.',
  NEKO_ERR_TESTING_HANDLER_FAILED:
    "A test failed after a plugin's handler threw or rejected: the report carries the handler's error and stack.",
  NEKO_ERR_TESTING_NOT_STARTED:
    'A useTestServer() handle was used before its beforeAll hook started the server.',
} as const;

export type TestingErrorCode = keyof typeof ERROR_CODES;

export interface NekoTestingErrorOptions {
  cause?: unknown;
  /** A short hint on how to fix it. */
  hint?: string;
}

/**
 * The error class of the testing package: a `NekoError` of nekoconnect (a
 * stable code, a message, a hint) with the codes of this package's registry.
 */
export class NekoTestingError extends NekoError<TestingErrorCode> {
  constructor(code: TestingErrorCode, message: string, options: NekoTestingErrorOptions = {}) {
    super(code, message, options);
    this.name = 'NekoTestingError';
  }
}

/** True when `err` is a NekoTestingError, optionally with the given code. */
export function isNekoTestingError(err: unknown, code?: TestingErrorCode): err is NekoTestingError {
  return err instanceof NekoTestingError && (code === undefined || err.code === code);
}
