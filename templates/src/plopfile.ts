/**
 * The plopfile of NekoConnect plugins. Three generators:
 *
 * - `plugin`: a new plugin project in a folder (what `npm create nekoplugin`
 *   runs): spec.conf, logic.ts, logic.test.ts, package.json, tsconfig.json,
 *   README.md, .gitignore and a plopfile.js for the two below;
 * - `add-plugin`: another plugin folder in a plugins directory (spec.conf,
 *   logic.ts, logic.test.ts), for projects that serve several plugins;
 * - `add-op`: an op in a plugin made by either: its code in `Op`, a `case`
 *   in `recv`, a handler method, a test, and a row in README.md;
 * - `ci`: the project's GitHub Actions workflow, `.github/workflows/ci.yml`
 *   (written after the install, which decides between `npm ci` and
 *   `npm install`).
 *
 * Use it with plop (`export { default } from '@nekoconnect/templates/plopfile'`
 * in a project's plopfile.js, then `npx plop add-op`), or through the
 * functions of `@nekoconnect/templates`.
 */
import Handlebars from 'handlebars';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import type { ActionType, CustomActionFunction, NodePlopAPI, PromptQuestion } from 'node-plop';
import { checkGreeterFree, checkTarget, specValue } from './checks.js';
import {
  checkPluginAnswers,
  pluginDefaults,
  toSlug,
  validateDescription,
  validateGreeter,
  validatePackageName,
  validatePluginName,
  type PluginAnswers,
} from './names.js';
import { planAddOp, validateOpCode, validateOpName, type OpTemplate } from './ops.js';
import { dependencyVersions, PACKAGE_ROOT } from './versions.js';

/** Where the Handlebars templates are: `templates/plugin/*.tmpl` and `templates/op/*.tmpl`. */
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');

/**
 * The files of a plugin project, as [template, file written]. The
 * `.gitignore` is stored as `_gitignore.tmpl`: npm leaves `.gitignore` files
 * out of published packages.
 */
export const PROJECT_FILES: ReadonlyArray<readonly [template: string, file: string]> = [
  ['spec.conf.tmpl', 'spec.conf'],
  ['logic.ts.tmpl', 'logic.ts'],
  ['logic.test.ts.tmpl', 'logic.test.ts'],
  ['package.json.tmpl', 'package.json'],
  ['tsconfig.json.tmpl', 'tsconfig.json'],
  ['README.md.tmpl', 'README.md'],
  ['_gitignore.tmpl', '.gitignore'],
  ['plopfile.js.tmpl', 'plopfile.js'],
];

/** The files of a plugin folder added to a plugins directory. */
export const PLUGIN_FOLDER_FILES: ReadonlyArray<readonly [template: string, file: string]> =
  PROJECT_FILES.slice(0, 3);

/** Answers of the `plugin` generator: the project folder, relative to plop's destination. */
export interface PluginGeneratorAnswers extends PluginAnswers {
  dir: string;
}

/** Where the `ci` generator writes the workflow, in the project folder. */
export const CI_WORKFLOW_FILE = '.github/workflows/ci.yml';

/** Answers of the `ci` generator. */
export interface CiGeneratorAnswers {
  /** The project folder, relative to plop's destination. */
  dir: string;
  /** The plugin's name, in the workflow's first comment. */
  name: string;
  /**
   * True when the project has a package-lock.json (the install ran): the
   * workflow installs with `npm ci` and caches npm's downloads; else with
   * `npm install`, without the cache (setup-node's cache needs a lockfile).
   */
  lockfile: boolean;
}

/** Answers of the `add-plugin` generator. */
export interface AddPluginGeneratorAnswers extends Omit<PluginAnswers, 'packageName'> {
  /** The plugins directory, relative to plop's destination. */
  pluginsDir: string;
  /** The new plugin's folder name in it. */
  folder: string;
}

/** Answers of the `add-op` generator. */
export interface AddOpGeneratorAnswers {
  /** The op's name (`Score`, or `get score` for `GetScore`). */
  op: string;
  /** The op code; empty for the next free one. */
  code: string;
  /** The plugin folder, relative to plop's destination. */
  dir: string;
}

/** Registers the helpers, action types and generators on a plop instance. */
export default function plopfile(plop: NodePlopAPI): void {
  // Templates write text raw ({{{x}}}) or through a helper that quotes it for its language.
  plop.setHelper('json', (value: unknown) => new Handlebars.SafeString(JSON.stringify(value ?? '')));
  plop.setHelper('ts', (value: unknown) => new Handlebars.SafeString(tsString(String(value ?? ''))));
  // Text inside a /** … */ comment: a `*/` would end it.
  plop.setHelper(
    'comment',
    (value: unknown) => new Handlebars.SafeString(String(value ?? '').replace(/\*\//g, '*\\/')),
  );
  plop.setActionType('neko-prepare-project', prepareProject);
  plop.setActionType('neko-prepare-plugin-folder', preparePluginFolder);
  plop.setActionType('neko-add-op', addOpAction);

  plop.setGenerator('plugin', {
    description: 'a new plugin project: spec.conf, Logic class, tests, package.json, tsconfig.json, README',
    prompts: [
      {
        type: 'input',
        name: 'dir',
        message: 'Project folder',
        default: 'my-plugin',
        validate: nonEmpty('folder'),
      },
      ...answerPrompts((answers) => pluginDefaults(basename(resolve(String(answers.dir ?? '.'))))),
      {
        type: 'input',
        name: 'packageName',
        message: 'npm package name',
        default: (answers: Record<string, unknown>) =>
          pluginDefaults(basename(resolve(String(answers.dir)))).packageName,
        validate: validatePackageName,
      },
    ] satisfies PromptQuestion[],
    actions: [
      { type: 'neko-prepare-project' },
      ...PROJECT_FILES.map(([template, file]) => addFile(template, `{{{dir}}}/${file}`)),
    ],
  });

  plop.setGenerator('add-plugin', {
    description: 'another plugin folder in a plugins directory: spec.conf, Logic class, tests',
    prompts: [
      {
        type: 'input',
        name: 'pluginsDir',
        message: 'Plugins directory',
        default: 'plugins',
        validate: nonEmpty('directory'),
      },
      ...answerPrompts((answers) => {
        const slug = toSlug(String(answers.name ?? ''));
        return {
          ...pluginDefaults(slug === '' ? 'my-plugin' : slug),
          name: String(answers.name ?? 'My Plugin'),
        };
      }),
      {
        type: 'input',
        name: 'folder',
        message: 'Folder name',
        default: (answers: Record<string, unknown>) => toSlug(String(answers.greeter)) || 'my-plugin',
        validate: folderName,
      },
    ] satisfies PromptQuestion[],
    actions: [
      { type: 'neko-prepare-plugin-folder' },
      ...PLUGIN_FOLDER_FILES.map(([template, file]) =>
        addFile(template, `{{{pluginsDir}}}/{{{folder}}}/${file}`),
      ),
    ],
  });

  plop.setGenerator('ci', {
    description: 'a GitHub Actions workflow: validate and test on Node 20 and 22, on push and pull request',
    prompts: [
      { type: 'input', name: 'dir', message: 'Project folder', default: '.', validate: nonEmpty('folder') },
      { type: 'input', name: 'name', message: 'Plugin name', default: 'the plugin' },
      {
        type: 'confirm',
        name: 'lockfile',
        message: 'Is package-lock.json committed (npm ci)?',
        default: true,
      },
    ] satisfies PromptQuestion[],
    actions: [
      {
        type: 'add',
        path: `{{{dir}}}/${CI_WORKFLOW_FILE}`,
        templateFile: join(TEMPLATES_DIR, 'ci', 'ci.yml.tmpl'),
        abortOnFail: true,
      },
    ],
  });

  plop.setGenerator('add-op', {
    description: 'an op in a plugin: its code in Op, a handler in Logic, a test, a row in README.md',
    prompts: [
      { type: 'input', name: 'op', message: 'Op name (e.g. Score)', validate: validateOpName },
      {
        type: 'input',
        name: 'code',
        message: 'Op code (empty: the next free one)',
        default: '',
        validate: validateOpCode,
      },
      { type: 'input', name: 'dir', message: 'Plugin folder', default: '.', validate: nonEmpty('folder') },
    ] satisfies PromptQuestion[],
    actions: [{ type: 'neko-add-op' }],
  });
}

/** The prompts for name, greeter and description, with defaults from `defaults(answers so far)`. */
function answerPrompts(defaults: (answers: Record<string, unknown>) => PluginAnswers): PromptQuestion[] {
  return [
    {
      type: 'input',
      name: 'name',
      message: 'Plugin name ($name, shown in logs)',
      default: (answers: Record<string, unknown>) => defaults(answers).name,
      validate: validatePluginName,
    },
    {
      type: 'input',
      name: 'greeter',
      message: 'Greeter ($greet, what clients put in their packets)',
      default: (answers: Record<string, unknown>) => defaults(answers).greeter,
      validate: validateGreeter,
    },
    {
      type: 'input',
      name: 'description',
      message: 'Description (one line)',
      default: (answers: Record<string, unknown>) => defaults(answers).description,
      validate: validateDescription,
    },
  ];
}

function addFile(template: string, path: string): ActionType {
  return { type: 'add', path, templateFile: join(TEMPLATES_DIR, 'plugin', template), abortOnFail: true };
}

function nonEmpty(what: string): (value: string) => true | string {
  return (value) => (value.trim() === '' ? `the ${what} cannot be empty` : true);
}

function folderName(value: string): true | string {
  if (value.trim() === '' || value !== value.trim())
    return 'a folder name cannot be empty or start or end with a space';
  if (/[\\/]/.test(value) || value === '.' || value === '..')
    return 'a folder name is one name, without / or \\';
  if (value.startsWith('.') || value === 'node_modules')
    return 'the server skips folders starting with . and node_modules';
  return true;
}

/** A TypeScript string literal in single quotes. */
export function tsString(value: string): string {
  const body = JSON.stringify(value).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'");
  return `'${body}'`;
}

/** Plop's destination folder joined with a folder from the answers. */
function destPath(plop: NodePlopAPI, dir: unknown): string {
  return resolve(plop.getDestBasePath(), String(dir));
}

/** `plugin`: checks the answers and the project folder, and adds what the templates need. (Async, so that plop reports a throw as a failure of this action.) */
const prepareProject: CustomActionFunction = async (answers, config, plop) => {
  checkPluginAnswers(answers);
  const dir = destPath(plop, answers.dir);
  checkTarget(dir, config.force === true);
  Object.assign(answers, { versions: dependencyVersions(), readme: true });
  return relative(plop.getDestBasePath(), dir) || '.';
};

/** `add-plugin`: checks the answers, the new folder, and that the greeter is free in the plugins directory. */
const preparePluginFolder: CustomActionFunction = async (answers, config, plop) => {
  checkPluginAnswers(answers, ['name', 'greeter', 'description']);
  const folderCheck = folderName(String(answers.folder));
  if (folderCheck !== true) throw new Error(folderCheck);
  const pluginsDir = destPath(plop, answers.pluginsDir);
  const dir = join(pluginsDir, String(answers.folder));
  checkTarget(dir, config.force === true);
  checkGreeterFree(pluginsDir, String(answers.greeter));
  Object.assign(answers, { readme: false });
  return relative(plop.getDestBasePath(), dir);
};

/** The files `add-op` reads and writes in a plugin folder. */
export interface OpFiles {
  dir: string;
  spec: string;
  logic: string;
  test: string;
  readme: string;
}

/**
 * Where logic.ts, its test and README.md are in the plugin folder `dir` (from
 * its spec.conf's `$logic`), and the plugin's greeter and name.
 */
export function opFiles(dir: string): OpFiles & { greeter: string; name: string | undefined } {
  const spec = join(dir, 'spec.conf');
  let specText: string;
  try {
    specText = readFileSync(spec, 'utf8');
  } catch {
    throw new Error(`${dir} is not a plugin folder: it has no spec.conf`);
  }
  const greeter = specValue(specText, 'greet');
  if (greeter === undefined) throw new Error(`${spec} has no $greet entry`);
  const logic = specValue(specText, 'logic') ?? 'logic';
  return {
    dir,
    spec,
    greeter,
    name: specValue(specText, 'name'),
    logic: join(dir, `${logic}.ts`),
    test: join(dir, `${logic}.test.ts`),
    readme: join(dir, 'README.md'),
  };
}

/** Renders a template of `templates/op/`. */
export function opRenderer(
  plop: NodePlopAPI,
): (template: OpTemplate, data: Record<string, unknown>) => string {
  return (template, data) =>
    plop.renderString(readFileSync(join(TEMPLATES_DIR, 'op', `${template}.tmpl`), 'utf8'), data);
}

/** `add-op`: plans every change first, then writes logic.ts, its test and README.md. */
const addOpAction: CustomActionFunction = async (answers, _config, plop) => {
  const files = opFiles(destPath(plop, answers.dir ?? '.'));
  const read = (file: string): string | undefined =>
    existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const logic = read(files.logic);
  if (logic === undefined) throw new Error(`${files.logic} does not exist`);
  const code = String(answers.code ?? '').trim();
  const plan = planAddOp({
    op: String(answers.op ?? ''),
    code: code === '' ? undefined : Number(code),
    greeter: files.greeter,
    name: files.name,
    logic,
    test: read(files.test),
    readme: read(files.readme),
    render: opRenderer(plop),
  });
  writeFileSync(files.logic, plan.logic);
  writeFileSync(files.test, plan.test);
  if (plan.readme !== undefined) writeFileSync(files.readme, plan.readme);
  Object.assign(answers, { opName: plan.opName, code: String(plan.code) });
  const written = [files.logic, files.test, ...(plan.readme === undefined ? [] : [files.readme])];
  return `op ${plan.opName} = ${plan.code}: ${written.map((f) => relative(plop.getDestBasePath(), f)).join(', ')}`;
};
