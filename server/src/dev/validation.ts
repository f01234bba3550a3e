/**
 * The validator as the dev watcher uses it: kept warm between changes, and
 * loaded only when first needed, so that ts-morph never loads for a
 * command that does not validate.
 */
import { NekoError } from '../errors.js';
import type { Problem, ValidationReport, Validator } from '../validate/index.js';
import type { ExtractedOps } from '../validate/ops.js';

/** What the watcher needs of a validator; `createValidator()` of `nekoconnect/validate` is one. */
export interface DevValidator {
  /** Validates one plugin folder, or every plugin of a plugins directory. */
  validate(dir: string): Promise<ValidationReport>;
  /** Says that a file changed, appeared or was deleted. */
  update(file: string): void;
  /** Lets go of what it keeps. */
  dispose(): void;
}

/**
 * A validator created on first use, with the `validate/` module imported
 * then. Calls before that are no-ops (nothing is warm yet).
 */
export class LazyValidator implements DevValidator {
  #validator: Promise<Validator> | undefined;
  #loaded: Validator | undefined;
  #disposed = false;

  async validate(dir: string): Promise<ValidationReport> {
    return (await this.#load()).validate(dir);
  }

  /**
   * The ops of a plugin folder's `Op` table, read through the warm validator
   * (no second parse of a logic file it validated and that has not changed
   * since): what the dashboard's Playground lists under `dev`.
   */
  async ops(dir: string): Promise<ExtractedOps> {
    return (await this.#load()).ops(dir);
  }

  #load(): Promise<Validator> {
    this.#validator ??= import('../validate/index.js').then(({ createValidator }) => {
      this.#loaded = createValidator();
      if (this.#disposed) this.#loaded.dispose();
      return this.#loaded;
    });
    return this.#validator;
  }

  update(file: string): void {
    this.#loaded?.update(file);
  }

  dispose(): void {
    this.#disposed = true;
    this.#loaded?.dispose();
  }
}

/** The problems of a report, as coded errors (so they print like load errors, with a code frame). */
export function problemErrors(problems: readonly Problem[]): { errors: NekoError[]; warnings: NekoError[] } {
  const errors: NekoError[] = [];
  const warnings: NekoError[] = [];
  for (const problem of problems) {
    const details = problem.details?.length ? `\n${problem.details.join('\n')}` : '';
    const error = new NekoError(problem.code, `${problem.message}${details}`, {
      location: problem.location,
      hint: problem.hint,
    });
    (problem.severity === 'error' ? errors : warnings).push(error);
  }
  return { errors, warnings };
}
