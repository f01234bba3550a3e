/**
 * The one error registry of the `create-nekoplugin` package.
 *
 * Every failure the initializer reports carries a stable `NEKO_ERR_CREATE_*`
 * code from this table. `docs/errors.md` has a row for each code (meaning and
 * fix); a test keeps the two in step.
 */
export const ERROR_CODES = {
  NEKO_ERR_CREATE_USAGE:
    'The command line has an unknown flag, a flag without its value, or an extra argument.',
  NEKO_ERR_CREATE_MISSING_VALUE:
    'A value is missing, there is no terminal to ask for it, and --yes was not given.',
  NEKO_ERR_CREATE_INVALID_VALUE: 'The plugin name, greeter, description or package name is not allowed.',
  NEKO_ERR_CREATE_NOT_EMPTY: 'The project folder exists and is not empty, and --force was not given.',
  NEKO_ERR_CREATE_TARGET: 'The project folder cannot be created or written.',
  NEKO_ERR_CREATE_GENERATE: 'The plugin generator failed while writing the files.',
  NEKO_ERR_CREATE_INSTALL: 'Installing the dependencies failed.',
  NEKO_ERR_CREATE_CANCELLED: 'The run was interrupted (Ctrl+C) before the project was in place.',
} as const;

export type CreateErrorCode = keyof typeof ERROR_CODES;

export interface NekoCreateErrorOptions {
  cause?: unknown;
  /** A short hint on how to fix it. */
  hint?: string;
}

/** The error class of the initializer (a failure it reports): a stable code, a message, a hint. */
export class NekoCreateError extends Error {
  readonly code: CreateErrorCode;
  readonly hint: string | undefined;

  constructor(code: CreateErrorCode, message: string, options: NekoCreateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NekoCreateError';
    this.code = code;
    this.hint = options.hint;
  }
}

/** True when `err` is a NekoCreateError, optionally with the given code. */
export function isNekoCreateError(err: unknown, code?: CreateErrorCode): err is NekoCreateError {
  return err instanceof NekoCreateError && (code === undefined || err.code === code);
}

/** The exit code for a failure: 2 for what the command line asked, 130 for an interrupt, else 1. */
export function exitCodeFor(err: NekoCreateError): number {
  switch (err.code) {
    case 'NEKO_ERR_CREATE_USAGE':
    case 'NEKO_ERR_CREATE_MISSING_VALUE':
    case 'NEKO_ERR_CREATE_INVALID_VALUE':
    case 'NEKO_ERR_CREATE_NOT_EMPTY':
      return 2;
    case 'NEKO_ERR_CREATE_CANCELLED':
      return 130;
    default:
      return 1;
  }
}
