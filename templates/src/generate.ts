/**
 * The generators as functions: each checks its input (throwing coded
 * errors before anything is written), then runs the plop generator of the
 * same name through node-plop.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import nodePlop, { type NodePlopAPI } from 'node-plop';
import { checkGreeterFree, checkTarget } from './checks.js';
import { NekoTemplatesError } from './errors.js';
import { checkPluginAnswers, toSlug, type PluginAnswers } from './names.js';
import { planAddOp } from './ops.js';
import plopfile, {
  CI_WORKFLOW_FILE,
  opFiles,
  opRenderer,
  type AddOpGeneratorAnswers,
  type AddPluginGeneratorAnswers,
  type CiGeneratorAnswers,
  type PluginGeneratorAnswers,
} from './plopfile.js';
import { dependencyVersions } from './versions.js';

export interface PlopOptions {
  /** The folder the generators' paths are relative to. */
  destBasePath: string;
  /** Overwrite files that exist (plop's `force`). */
  force?: boolean;
}

/** A node-plop instance with the generators of this package registered. */
export async function createPlop(options: PlopOptions): Promise<NodePlopAPI> {
  const plop = await nodePlop('', {
    destBasePath: resolve(options.destBasePath),
    force: options.force === true,
  });
  plopfile(plop);
  return plop;
}

/** What a generator wrote. */
export interface GenerateResult {
  /** The files written, relative to `destBasePath`, in the order written. */
  files: string[];
}

export interface GeneratePluginOptions extends PlopOptions {
  /** The project folder, relative to `destBasePath` (`.` for `destBasePath` itself). */
  dir: string;
  answers: PluginAnswers;
}

/**
 * Writes a new plugin project into `destBasePath/dir`: spec.conf, logic.ts,
 * logic.test.ts, package.json, tsconfig.json, README.md, .gitignore and
 * plopfile.js. The output depends on the answers and the package versions
 * only.
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_BAD_*` for a bad answer,
 *   `NEKO_ERR_TEMPLATES_TARGET_NOT_EMPTY` when the folder holds files and
 *   `force` is not set, `NEKO_ERR_TEMPLATES_VERSIONS`, or
 *   `NEKO_ERR_TEMPLATES_GENERATE` when writing fails.
 */
export async function generatePlugin(options: GeneratePluginOptions): Promise<GenerateResult> {
  checkPluginAnswers(options.answers);
  checkTarget(resolve(options.destBasePath, options.dir), options.force === true);
  dependencyVersions();
  const answers: PluginGeneratorAnswers = { ...options.answers, dir: options.dir };
  return run(await createPlop(options), 'plugin', answers);
}

export interface AddCiWorkflowOptions extends PlopOptions {
  /** The project folder, relative to `destBasePath` (`.` for `destBasePath` itself). */
  dir: string;
  /** The plugin's name, in the workflow's first comment. */
  name: string;
  /**
   * Whether the project has a package-lock.json. Default: whether the
   * folder holds one now (after the install, when one ran).
   */
  lockfile?: boolean;
}

/**
 * Writes the project's GitHub Actions workflow, `.github/workflows/ci.yml`:
 * on push and pull request, on Node 20 and 22, install (`npm ci` with a
 * lockfile, else `npm install`), `npm run validate -- --reporter github`,
 * and `npm test` with vitest's `github-actions` reporter.
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_GENERATE` when the file
 *   exists and `force` is not set, or writing fails.
 */
export async function addCiWorkflow(options: AddCiWorkflowOptions): Promise<GenerateResult> {
  const lockfile =
    options.lockfile ?? existsSync(join(resolve(options.destBasePath, options.dir), 'package-lock.json'));
  const answers: CiGeneratorAnswers = { dir: options.dir, name: options.name, lockfile };
  const { changes, failures } = await (
    await createPlop(options)
  )
    .getGenerator('ci')
    .runActions({ ...answers });
  if (failures.length > 0) {
    const [first] = failures;
    throw new NekoTemplatesError(
      'NEKO_ERR_TEMPLATES_GENERATE',
      `the ci generator failed: ${first?.error ?? first?.message ?? 'unknown error'}${first?.path ? ` (${first.path})` : ''}`,
      { hint: `pass force to replace an existing ${CI_WORKFLOW_FILE}, or check that the folder is writable` },
    );
  }
  return { files: changes.map((c) => c.path.replace(/^[\\/]/, '')) };
}

export interface AddPluginOptions extends PlopOptions {
  /** The plugins directory, relative to `destBasePath`. */
  pluginsDir: string;
  /** The new plugin's folder name; default: the greeter as a slug (`My_Chat!` → `my_chat`). */
  folder?: string;
  answers: Omit<PluginAnswers, 'packageName'>;
}

/**
 * Adds a plugin folder (spec.conf, logic.ts, logic.test.ts) to a plugins
 * directory.
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_BAD_*` for a bad answer,
 *   `NEKO_ERR_TEMPLATES_TARGET_NOT_EMPTY`, `NEKO_ERR_TEMPLATES_GREETER_TAKEN`
 *   when another plugin there has the greeter, `NEKO_ERR_TEMPLATES_GENERATE`.
 */
export async function addPlugin(options: AddPluginOptions): Promise<GenerateResult> {
  checkPluginAnswers(options.answers, ['name', 'greeter', 'description']);
  const folder = options.folder ?? (toSlug(options.answers.greeter) || 'my-plugin');
  const pluginsDir = resolve(options.destBasePath, options.pluginsDir);
  checkTarget(join(pluginsDir, folder), options.force === true);
  checkGreeterFree(pluginsDir, options.answers.greeter);
  const answers: AddPluginGeneratorAnswers = { ...options.answers, pluginsDir: options.pluginsDir, folder };
  return run(await createPlop(options), 'add-plugin', answers);
}

export interface AddOpOptions extends PlopOptions {
  /** The plugin folder, relative to `destBasePath`. Default `.`. */
  dir?: string;
  /** The op's name: `Score` (or `get score`, which becomes `GetScore`). */
  op: string;
  /** The op code; default: the smallest free one from 1. */
  code?: number;
}

export interface AddOpResult extends GenerateResult {
  /** The name as written in `Op`. */
  opName: string;
  code: number;
}

/**
 * Adds an op to a plugin made by these templates: `Op.<Name> = code`, a
 * `case` in `recv`, a handler method that answers with the data it got, a
 * test of it, and a row in README.md's op table when there is one.
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_BAD_OP` for a bad or taken
 *   name or code, `NEKO_ERR_TEMPLATES_LOGIC_SHAPE` when the logic file has
 *   no `Op` object, `recv` switch or `Logic` class to add to, or
 *   `NEKO_ERR_TEMPLATES_GENERATE` (not a plugin folder, no logic file).
 */
export async function addOp(options: AddOpOptions): Promise<AddOpResult> {
  const dir = options.dir ?? '.';
  const plop = await createPlop(options);
  // Plan once here so that a bad op fails with its own code; the action plans again and writes.
  let files;
  try {
    files = opFiles(resolve(options.destBasePath, dir));
  } catch (err) {
    throw new NekoTemplatesError('NEKO_ERR_TEMPLATES_GENERATE', (err as Error).message, {
      hint: 'give the plugin folder: the one with spec.conf and the logic file',
    });
  }
  const read = (file: string): string | undefined =>
    existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const logic = read(files.logic);
  if (logic === undefined) {
    throw new NekoTemplatesError('NEKO_ERR_TEMPLATES_GENERATE', `${files.logic} does not exist`, {
      hint: 'add-op edits a TypeScript logic file (the $logic entry of spec.conf, plus .ts)',
    });
  }
  const plan = planAddOp({
    op: options.op,
    code: options.code,
    greeter: files.greeter,
    name: files.name,
    logic,
    test: read(files.test),
    readme: read(files.readme),
    render: opRenderer(plop),
  });
  const answers: AddOpGeneratorAnswers = { op: plan.opName, code: String(plan.code), dir };
  await run(plop, 'add-op', answers);
  const written = [files.logic, files.test, ...(plan.readme === undefined ? [] : [files.readme])];
  return {
    files: written.map((f) => relative(resolve(options.destBasePath), f)),
    opName: plan.opName,
    code: plan.code,
  };
}

async function run(plop: NodePlopAPI, generator: string, answers: object): Promise<GenerateResult> {
  const { changes, failures } = await plop.getGenerator(generator).runActions({ ...answers });
  if (failures.length > 0) {
    const [first] = failures;
    throw new NekoTemplatesError(
      'NEKO_ERR_TEMPLATES_GENERATE',
      `the ${generator} generator failed: ${first?.error ?? first?.message ?? 'unknown error'}${first?.path ? ` (${first.path})` : ''}`,
      { hint: 'check that the destination folder is writable' },
    );
  }
  // The first change is the generator's check; the others are the files added, as `/path`.
  return { files: changes.slice(1).map((c) => c.path.replace(/^[\\/]/, '')) };
}
