/**
 * What a change does to one plugin folder:
 *
 * 1. validate it with the warm validator (skipped when the folder lost its
 *    spec.conf: there is nothing to check, only a greeter to take down);
 *    an error rejects the change, and the version serving keeps serving;
 * 2. load the new version and swap it in (`server.reloadPlugin`): transpile,
 *    import, the old version's `onUnload`, the new one's `onLoad`, one step
 *    for the router;
 * 3. report what happened as one {@link DevEvent}.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { NekoError, isNekoError } from '../errors.js';
import { isFile } from '../files.js';
import { errorMessage } from '../format.js';
import type { NekoServer } from '../server/server.js';
import type { DevEvent } from './events.js';
import type { WatchScope } from './paths.js';
import { problemErrors, type DevValidator } from './validation.js';

export class PluginReloader {
  readonly #server: NekoServer;
  readonly #scope: WatchScope;
  readonly #validator: DevValidator | undefined;
  readonly #emit: (event: DevEvent) => void;
  /** Folders whose last failure was a greeter another folder serves: worth a retry when a plugin goes away. */
  readonly #duplicates = new Set<string>();

  constructor(
    server: NekoServer,
    scope: WatchScope,
    validator: DevValidator | undefined,
    emit: (event: DevEvent) => void,
  ) {
    this.#server = server;
    this.#scope = scope;
    this.#validator = validator;
    this.#emit = emit;
  }

  /**
   * Validates every plugin once (which warms the validator up) and reports
   * the plugins with problems. Changes nothing for clients.
   */
  async check(): Promise<void> {
    if (this.#validator === undefined) return;
    const started = performance.now();
    let report;
    try {
      report = await this.#validator.validate(this.#scope.root);
    } catch (err) {
      // No plugin folder yet (NEKO_ERR_VALIDATE_NO_PLUGINS) is fine in dev: one may be added.
      if (isNekoError(err, 'NEKO_ERR_VALIDATE_NO_PLUGINS')) return;
      this.#emit({
        type: 'error',
        error: validatorFailed(err, 'each plugin is validated on its next change'),
      });
      return;
    }
    // The load failures the start-up report printed, by folder: the validator finds them again.
    const loadFailures = new Map<string, NekoError>();
    for (const status of this.#server.pluginStatuses()) {
      if (status.problem !== undefined) loadFailures.set(path.resolve(status.dir), status.problem.error);
    }
    for (const plugin of report.plugins) {
      if (plugin.problems.length === 0) continue;
      const problems = problemErrors(plugin.problems);
      const { warnings } = problems;
      if (problems.errors.some((e) => e.code === 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER'))
        this.#duplicates.add(plugin.dir);
      const failure = loadFailures.get(path.resolve(plugin.dir));
      const errors = problems.errors.filter((e) => failure === undefined || !sameError(e, failure));
      const shown = problems.errors.length - errors.length;
      if (errors.length === 0 && warnings.length === 0) continue;
      const greeter = plugin.spec?.greeter;
      this.#emit({
        type: 'checked',
        dir: plugin.dir,
        ...(greeter === undefined ? {} : { greeter }),
        errors,
        warnings,
        ...(shown > 0 ? { shown } : {}),
      });
    }
    this.#emit({
      type: 'validated',
      plugins: report.plugins.length,
      durationMs: performance.now() - started,
    });
  }

  /**
   * Brings the server in line with one plugin folder after a change; see the
   * module comment. Resolves with the event it reported (none when the
   * folder holds no plugin and served none).
   */
  async reload(dir: string): Promise<DevEvent | undefined> {
    const event = await this.#reload(dir);
    if (event !== undefined) this.#emit(event);
    return event;
  }

  async #reload(dir: string): Promise<DevEvent | undefined> {
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;
    const serving = this.#hostOf(dir);

    // 1. Validation, unless the folder lost its spec.conf.
    let warnings: NekoError[] = [];
    if (this.#validator !== undefined && (await isFile(path.join(dir, 'spec.conf')))) {
      try {
        const report = await this.#validator.validate(dir);
        const problems = problemErrors(report.problems);
        warnings = problems.warnings;
        if (problems.errors.length > 0) {
          const greeter = report.plugins[0]?.spec?.greeter ?? serving?.greeter;
          return {
            type: 'rejected',
            dir,
            ...(greeter === undefined ? {} : { greeter }),
            stage: 'validate',
            errors: problems.errors,
            ...this.#effect(serving, greeter),
            durationMs: elapsed(),
          };
        }
      } catch (err) {
        // The folder went away meanwhile: the load step below says so. Anything else is the
        // validator's own failure: say so, and load the change unchecked rather than stop the loop.
        if (!isNekoError(err, 'NEKO_ERR_PLUGINS_DIR') && !isNekoError(err, 'NEKO_ERR_VALIDATE_NO_PLUGINS')) {
          this.#emit({
            type: 'error',
            error: validatorFailed(err, 'the change is loaded without validation'),
          });
        }
      }
    }

    // 2. The new version, swapped in.
    let outcome;
    try {
      outcome = await this.#server.reloadPlugin(dir);
    } catch (err) {
      const error = new NekoError('NEKO_ERR_DEV_RELOAD', `reloading ${dir} failed: ${errorMessage(err)}`, {
        cause: err,
        hint: 'this is a NekoConnect bug: please report it with the stack',
      });
      return {
        type: 'rejected',
        dir,
        ...(serving === undefined ? {} : { greeter: serving.greeter }),
        stage: 'load',
        errors: [error],
        ...this.#effect(serving, serving?.greeter),
        durationMs: elapsed(),
      };
    }

    // 3. The report.
    switch (outcome.kind) {
      case 'loaded': {
        this.#duplicates.delete(dir);
        const { spec } = outcome.plugin;
        return {
          type: 'reloaded',
          dir,
          greeter: spec.greeter,
          name: spec.name,
          version: outcome.version,
          added: outcome.added,
          ...(outcome.renamedFrom === undefined ? {} : { renamedFrom: outcome.renamedFrom }),
          durationMs: elapsed(),
          warnings,
        };
      }
      case 'failed': {
        if (outcome.error.code === 'NEKO_ERR_PLUGIN_DUPLICATE_GREETER') this.#duplicates.add(dir);
        const greeter = outcome.spec?.greeter ?? serving?.greeter;
        return {
          type: 'rejected',
          dir,
          ...(greeter === undefined ? {} : { greeter }),
          stage: 'load',
          errors: [outcome.error],
          ...this.#effect(this.#hostOf(dir), greeter),
          durationMs: elapsed(),
        };
      }
      case 'removed':
        this.#duplicates.delete(dir);
        return { type: 'removed', dir, greeter: outcome.greeter, durationMs: elapsed() };
      case 'none':
        this.#duplicates.delete(dir);
        return undefined;
    }
  }

  /**
   * The folders to retry after a plugin went away: those that failed only
   * because another folder served their greeter.
   */
  takeDuplicates(): string[] {
    const dirs = [...this.#duplicates];
    this.#duplicates.clear();
    return dirs;
  }

  /** What clients get after a rejected change: the version still serving, or the greeter's answer. */
  #effect(
    serving: { version: number } | undefined,
    greeter: string | undefined,
  ): { serving?: number; answers?: 404 | 503; servedBy?: string } {
    if (serving !== undefined) return { serving: serving.version };
    const route = greeter === undefined ? undefined : this.#server.route(greeter);
    // A greeter another folder serves answers as that folder's plugin does.
    if (route?.kind === 'plugin') return { servedBy: path.resolve(route.host.plugin.dir) };
    return { answers: route?.kind === 'unavailable' ? 503 : 404 };
  }

  /** The host serving the plugin of `dir`, if one does. */
  #hostOf(dir: string): { greeter: string; version: number } | undefined {
    const abs = path.resolve(dir);
    return this.#server.plugins().find((host) => path.resolve(host.plugin.dir) === abs);
  }
}

/**
 * True when a validator's error is the load failure already reported: the
 * same code, or the same file and line (esbuild and TypeScript word a syntax
 * error differently, at the same place).
 */
function sameError(error: NekoError, failure: NekoError): boolean {
  if (error.code === failure.code) return true;
  const a = error.location;
  const b = failure.location;
  return (
    a !== undefined && b !== undefined && path.resolve(a.file) === path.resolve(b.file) && a.line === b.line
  );
}

function validatorFailed(err: unknown, consequence: string): NekoError {
  return new NekoError(
    'NEKO_ERR_DEV_VALIDATOR',
    `the validator failed: ${errorMessage(err)}; ${consequence}`,
    { cause: err, hint: 'this is a NekoConnect bug: please report it with the stack' },
  );
}
