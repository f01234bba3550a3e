/**
 * The one error registry of the `@nekoconnect/templates` package.
 *
 * Every error the generators' programmatic API throws carries a stable
 * `NEKO_ERR_TEMPLATES_*` code from this table. `docs/errors.md` has a row for
 * each code (meaning and fix); a test keeps the two in step. Inside plop
 * (`npx plop …`) the same problems are reported as plop action failures,
 * with the same messages.
 */
export const ERROR_CODES = {
  NEKO_ERR_TEMPLATES_BAD_NAME:
    'The plugin name is empty, too long, or holds a double quote or a control character.',
  NEKO_ERR_TEMPLATES_BAD_GREETER:
    'The greeter is not 1 to 255 printable ASCII characters without spaces and double quotes, or is reserved.',
  NEKO_ERR_TEMPLATES_BAD_PACKAGE_NAME: 'The package name is not a valid name for a new npm package.',
  NEKO_ERR_TEMPLATES_BAD_DESCRIPTION: 'The description is too long or spans several lines.',
  NEKO_ERR_TEMPLATES_TARGET_NOT_EMPTY: 'The folder to generate into exists and is not empty.',
  NEKO_ERR_TEMPLATES_GREETER_TAKEN: 'Another plugin in the plugins directory already declares the greeter.',
  NEKO_ERR_TEMPLATES_BAD_OP: 'The op name or op code to add is invalid, or already used by the plugin.',
  NEKO_ERR_TEMPLATES_LOGIC_SHAPE:
    'The logic file has no `Op` object, `recv` switch or `Logic` class to add an op to.',
  NEKO_ERR_TEMPLATES_VERSIONS: 'The versions of nekoconnect and @nekoconnect/testing cannot be read.',
  NEKO_ERR_TEMPLATES_GENERATE: 'A plop action failed while writing the files.',
} as const;

export type TemplatesErrorCode = keyof typeof ERROR_CODES;

export interface NekoTemplatesErrorOptions {
  cause?: unknown;
  /** A short hint on how to fix it. */
  hint?: string;
}

/** The error class of the templates package: a stable code, a message, a hint. */
export class NekoTemplatesError extends Error {
  readonly code: TemplatesErrorCode;
  readonly hint: string | undefined;

  constructor(code: TemplatesErrorCode, message: string, options: NekoTemplatesErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NekoTemplatesError';
    this.code = code;
    this.hint = options.hint;
  }
}

/** True when `err` is a NekoTemplatesError, optionally with the given code. */
export function isNekoTemplatesError(err: unknown, code?: TemplatesErrorCode): err is NekoTemplatesError {
  return err instanceof NekoTemplatesError && (code === undefined || err.code === code);
}
