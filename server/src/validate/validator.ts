/**
 * The validator: every check of docs/validate.md on one plugin folder or on
 * every plugin of a plugins directory, with a warm mode for the dev server.
 *
 * 1. spec.conf parses and its values hold (cheap, no TypeScript);
 * 2. greeters are unique across the directory;
 * 3. the logic file exists;
 * 4. the logic files are compiled (plugins with the same compiler options
 *    share one program) and the `Logic` class is checked against the
 *    `Context` contract with TypeScript's type checker, then TypeScript's
 *    own diagnostics are collected.
 *
 * ts-morph is loaded at step 4 only, on the first validation that gets
 * there. A validator keeps the parsed files and the last program of each
 * compiler setup: validating again after one file changed re-parses that
 * file only.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { NekoError } from '../errors.js';
import type { PluginSpec } from '../plugins/spec.js';
import { checkConstructor } from './checks/constructor.js';
import { checkContract } from './checks/contract.js';
import { checkGreetersUnique } from './checks/greeters.js';
import { checkHookNames } from './checks/hook-names.js';
import { checkHooks } from './checks/hooks.js';
import { checkLogicExport } from './checks/logic-export.js';
import { checkLogicFile } from './checks/logic-file.js';
import type { LogicInput } from './checks/logic-input.js';
import { checkRecv } from './checks/recv.js';
import { checkSpecFile } from './checks/spec-file.js';
import { checkTsconfig, checkTypeScript } from './checks/typescript.js';
import { checkVersion } from './checks/version.js';
import {
  compilerSetup,
  ProgramBuilder,
  SourceFileCache,
  stampOf,
  toTsPath,
  type CompilerSetup,
} from './compiler.js';
import { CONTRACT_FILE_NAME, contractSource, readContract, resolveContractModule } from './contract.js';
import { findPluginFolders } from './discover.js';
import { flushCodeCache } from './compile-cache.js';
import {
  compareProblems,
  type Finding,
  type PluginResult,
  type Problem,
  type ValidationReport,
} from './problem.js';
import { extractOps, type ExtractedOps } from './ops.js';
import { tsMorph, type TsApi } from './typescript.js';

/**
 * A validator that stays warm between runs: the dev server keeps one, calls
 * {@link Validator.update} for each file that changed, then
 * {@link Validator.validate} again.
 */
export interface Validator {
  /**
   * Validates `dir`: one plugin folder (it has a spec.conf), or every plugin
   * folder in it (then greeters must also be unique across them).
   *
   * @returns the report; problems do not reject the promise
   * @throws NekoError `NEKO_ERR_PLUGINS_DIR` when `dir` is not a readable
   *   folder, `NEKO_ERR_VALIDATE_NO_PLUGINS` when it holds no plugin,
   *   `NEKO_ERR_VALIDATE_DISPOSED` after {@link Validator.dispose}.
   */
  validate(dir: string): Promise<ValidationReport>;
  /**
   * Says that `file` changed, appeared or was deleted, so that the next
   * validation reads it again. Files of a plugin folder whose mtime or size
   * changed are noticed anyway; call this for the rest (a new file, a
   * package in `node_modules`, a tsconfig.json that another one extends).
   */
  update(file: string): void;
  /**
   * The ops of a plugin folder's `Op` table (see {@link extractOps}), from
   * its logic file as the last validation parsed it when the file has not
   * changed since (no second parse), else read afresh.
   *
   * @throws NekoError `NEKO_ERR_SPEC_*` when `pluginDir` has no valid
   *   spec.conf, `NEKO_ERR_VALIDATE_DISPOSED` after {@link Validator.dispose}.
   */
  ops(pluginDir: string): Promise<ExtractedOps>;
  /** Lets go of everything the validator keeps. It cannot validate afterwards. */
  dispose(): void;
}

/** Creates a {@link Validator}. Cheap: nothing is loaded until the first validation needs TypeScript. */
export function createValidator(): Validator {
  return new WarmValidator();
}

/** Validates `dir` once, with a fresh validator (see {@link Validator.validate}). */
export async function validatePlugins(dir: string): Promise<ValidationReport> {
  const validator = createValidator();
  try {
    return await validator.validate(dir);
  } finally {
    validator.dispose();
  }
}

/** One plugin folder during a validation. */
interface PluginRun {
  dir: string;
  spec?: PluginSpec;
  logicFile?: string;
  problems: Problem[];
}

function record(run: PluginRun, check: string, findings: readonly Finding[]): void {
  for (const finding of findings) {
    run.problems.push({ ...finding, plugin: run.dir, check, severity: finding.severity ?? 'error' });
  }
}

class WarmValidator implements Validator {
  readonly #files = new SourceFileCache();
  /** The program builder of each compiler setup, by setup key. */
  readonly #builders = new Map<string, ProgramBuilder>();
  /** The compiler setup of each plugin folder, with the tsconfig.json stamp it was made from. */
  readonly #setups = new Map<string, { stamp: string; setup: CompilerSetup }>();
  #disposed = false;

  async validate(dir: string): Promise<ValidationReport> {
    if (this.#disposed) {
      throw new NekoError('NEKO_ERR_VALIDATE_DISPOSED', 'this validator was disposed', {
        hint: 'create a new one with createValidator()',
      });
    }
    const started = performance.now();
    const root = path.resolve(dir);
    const { dirs, single } = await findPluginFolders(root);
    const runs: PluginRun[] = dirs.map((d) => ({ dir: d, problems: [] }));

    // 1. spec.conf and its values.
    await Promise.all(
      runs.map(async (run) => {
        const { spec, findings } = await checkSpecFile(run.dir);
        record(run, checkSpecFile.name, findings);
        if (spec === undefined) return;
        run.spec = spec;
        record(run, checkVersion.name, checkVersion(spec));
      }),
    );

    // 2. One folder per greeter.
    if (!single) {
      const claims = runs.flatMap((run) =>
        run.spec === undefined ? [] : [{ dir: run.dir, spec: run.spec }],
      );
      const duplicates = checkGreetersUnique(claims);
      for (const run of runs) {
        const finding = duplicates.get(run.dir);
        if (finding !== undefined) record(run, checkGreetersUnique.name, [finding]);
      }
    }

    // 3. The logic file.
    await Promise.all(
      runs.map(async (run) => {
        if (run.spec === undefined) return;
        const { logicFile, findings } = await checkLogicFile(run.dir, run.spec);
        record(run, checkLogicFile.name, findings);
        if (logicFile !== undefined) run.logicFile = logicFile;
      }),
    );

    // 4. The logic against the contract, and TypeScript's diagnostics.
    const compiled = runs.filter((run) => run.logicFile !== undefined);
    if (compiled.length > 0) {
      this.#checkLogic(compiled);
      // The first validation of the process compiled what checking needs: keep it for the next process.
      flushCodeCache();
    }

    const plugins: PluginResult[] = runs.map((run) => ({
      dir: run.dir,
      ...(run.spec === undefined ? {} : { spec: run.spec }),
      ...(run.logicFile === undefined ? {} : { logicFile: run.logicFile }),
      problems: [...run.problems].sort(compareProblems),
    }));
    const problems = plugins.flatMap((p) => p.problems);
    return {
      root,
      plugins,
      problems,
      errorCount: problems.filter((p) => p.severity === 'error').length,
      warningCount: problems.filter((p) => p.severity === 'warning').length,
      durationMs: performance.now() - started,
    };
  }

  update(file: string): void {
    if (this.#disposed) return;
    const abs = path.resolve(file);
    this.#files.forget(abs);
    const base = path.basename(abs);
    const affectsSetup =
      base === 'package.json' ||
      /^tsconfig.*\.json$/.test(base) ||
      abs.split(path.sep).includes('node_modules');
    if (affectsSetup) {
      this.#setups.clear();
      this.#files.invalidateResolutions();
    }
  }

  async ops(pluginDir: string): Promise<ExtractedOps> {
    if (this.#disposed) {
      throw new NekoError('NEKO_ERR_VALIDATE_DISPOSED', 'this validator was disposed', {
        hint: 'create a new one with createValidator()',
      });
    }
    return extractOps(pluginDir, { parsed: (file) => this.#files.parsed(file) });
  }

  dispose(): void {
    this.#disposed = true;
    for (const builder of this.#builders.values()) builder.dispose();
    this.#builders.clear();
    this.#setups.clear();
    this.#files.clear();
  }

  /** Step 4: groups the plugins by compiler setup and checks each group with one program. */
  #checkLogic(runs: readonly PluginRun[]): void {
    const tsApi = tsMorph().ts;
    const groups = new Map<string, { setup: CompilerSetup; runs: PluginRun[] }>();
    for (const run of runs) {
      const setup = this.#setupFor(tsApi, run.dir);
      const group = groups.get(setup.key);
      if (group === undefined) groups.set(setup.key, { setup, runs: [run] });
      else group.runs.push(run);
    }

    for (const { setup, runs: groupRuns } of groups.values()) {
      const builder = this.#builderFor(tsApi, setup);
      const roots: string[] = [];
      const declarations = new Map<PluginRun, string>();
      for (const run of groupRuns) {
        this.#files.refresh(run.dir);
        const contractModule = resolveContractModule(run.dir);
        declarations.set(run, contractModule);
        this.#files.setVirtual(
          path.join(run.dir, CONTRACT_FILE_NAME),
          contractSource(run.dir, contractModule),
        );
        roots.push(run.logicFile!, path.join(run.dir, CONTRACT_FILE_NAME));
      }
      const program = builder.program(roots);
      const checker = program.getTypeChecker();

      for (const run of groupRuns) {
        const file = program.getSourceFile(toTsPath(run.logicFile!));
        const contractFile = program.getSourceFile(toTsPath(path.join(run.dir, CONTRACT_FILE_NAME)));
        if (file === undefined || contractFile === undefined) continue; // deleted since step 3
        const contract = readContract(tsApi, checker, contractFile);
        contract.declarations ??= declarations.get(run);
        const input: LogicInput = {
          ts: tsApi,
          program,
          checker,
          pluginDir: run.dir,
          file,
          typed: /\.[cm]?tsx?$/.test(run.logicFile!),
          contract,
        };

        record(run, checkTsconfig.name, checkTsconfig(tsApi, setup));
        record(run, checkContract.name, checkContract(contract));
        const { logic, findings } = checkLogicExport(input);
        record(run, checkLogicExport.name, findings);
        if (logic !== undefined) {
          record(run, checkConstructor.name, checkConstructor(input, logic));
          record(run, checkRecv.name, checkRecv(input, logic));
          record(run, checkHooks.name, checkHooks(input, logic));
          record(run, checkHookNames.name, checkHookNames(input, logic));
        }
        record(
          run,
          checkTypeScript.name,
          checkTypeScript(input, (f) => this.#files.isVirtual(f)),
        );
      }
    }
  }

  #setupFor(tsApi: TsApi, dir: string): CompilerSetup {
    const stamp = stampOf(path.join(dir, 'tsconfig.json')) ?? 'none';
    const cached = this.#setups.get(dir);
    if (cached !== undefined && cached.stamp === stamp) return cached.setup;
    const setup = compilerSetup(tsApi, dir);
    this.#setups.set(dir, { stamp, setup });
    return setup;
  }

  #builderFor(tsApi: TsApi, setup: CompilerSetup): ProgramBuilder {
    const existing = this.#builders.get(setup.key);
    if (existing !== undefined) return existing;
    // A tsconfig.json that changed has a new key; its old program is of no more use.
    if (setup.tsconfig !== undefined) {
      for (const [key, builder] of this.#builders) {
        if (builder.setup.tsconfig === setup.tsconfig) {
          builder.dispose();
          this.#builders.delete(key);
        }
      }
    }
    const builder = new ProgramBuilder(tsApi, setup, this.#files);
    this.#builders.set(setup.key, builder);
    return builder;
  }
}
