/**
 * `npm create nekoplugin [dir] -- [options]`, as one linear flow:
 *
 * 1. read the flags (`--help` and `--version` stop here);
 * 2. gather the answers: flags first, then the terminal's prompts (only when
 *    stdin and stdout are terminals), or the defaults with `--yes`;
 * 3. check the project folder;
 * 4. in a staging folder beside it: generate the files with the `plugin`
 *    generator of `@nekoconnect/templates` (through node-plop), install the
 *    dependencies, write the CI workflow with the `ci` generator (`npm ci`
 *    when the install left a package-lock.json), `git init`;
 * 5. move the project into place, or, on any failure, remove everything
 *    this run wrote;
 * 6. print the next steps.
 */
import kleur from 'kleur';
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type * as TemplatesModule from '@nekoconnect/templates';
import type { PluginAnswers } from '@nekoconnect/templates';
import { NekoCreateError, exitCodeFor, isNekoCreateError } from './errors.js';
import { detectPackageManager, installCommand, runScript, type PackageManager } from './package-manager.js';
import { startProgress } from './progress.js';
import { runCommand, tail } from './run.js';
import { inspectTarget, Staging } from './staging.js';

type Templates = typeof TemplatesModule;

export const HELP = `Usage: npm create nekoplugin [dir] -- [options]
       create-nekoplugin [dir] [options]

Creates a NekoConnect plugin project in dir: spec.conf, a Logic class with a
small working example, its vitest tests, package.json, tsconfig.json, a
README and a GitHub Actions workflow (.github/workflows/ci.yml). In a terminal it asks for each value the flags do not give; elsewhere
(CI, a pipe) give them as flags, or take the defaults with --yes.

Options:
  -n, --name <name>           plugin name, $name in spec.conf (default from dir: my-chat -> My Chat)
  -g, --greeter <greeter>     greeter, $greet: printable ASCII without spaces, not auth or
                              nekoconnect-server (default from dir: my-chat)
  -d, --description <text>    one line about the plugin (default: A NekoConnect plugin.)
      --package-name <name>   npm package name (default from dir: my-chat)
  -y, --yes                   take the defaults for every value not given, never ask
      --no-install            do not install the dependencies
      --no-git                do not run git init
      --no-ci                 do not write .github/workflows/ci.yml (validate and test on
                              Node 20 and 22; npm ci when the install wrote a lockfile,
                              else npm install)
  -f, --force                 write into a folder that is not empty (files with the same
                              names are replaced, the others kept)
  -h, --help                  show this help
  -v, --version               print the version

With --yes and no dir, the folder is named after --name, else my-plugin.
Dependencies are installed with the package manager that ran create (npm,
pnpm, yarn or bun). On any failure nothing is left behind.

Exit codes: 0 created, 1 failed, 2 usage error, 130 interrupted.
Docs: docs/create.md in the NekoConnect repository.`;

const OPTIONS = {
  name: { type: 'string', short: 'n' },
  greeter: { type: 'string', short: 'g' },
  description: { type: 'string', short: 'd' },
  'package-name': { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  'no-install': { type: 'boolean' },
  'no-git': { type: 'boolean' },
  'no-ci': { type: 'boolean' },
  force: { type: 'boolean', short: 'f' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/** The command line, read. */
export interface CreateOptions {
  dir?: string | undefined;
  name?: string | undefined;
  greeter?: string | undefined;
  description?: string | undefined;
  packageName?: string | undefined;
  yes: boolean;
  install: boolean;
  git: boolean;
  /** Write `.github/workflows/ci.yml` (not with `--no-ci`). */
  ci: boolean;
  force: boolean;
  help: boolean;
  version: boolean;
}

/**
 * Reads the command line strictly.
 * @throws NekoCreateError `NEKO_ERR_CREATE_USAGE` for an unknown flag, a flag
 *   without its value, or more than one folder.
 */
export function parseCreateArgs(argv: readonly string[]): CreateOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new NekoCreateError(
      'NEKO_ERR_CREATE_USAGE',
      (err as Error).message.replace(/\. To specify.*$/s, ''),
      {
        hint: 'run `npm create nekoplugin -- --help` for the options',
      },
    );
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) {
    throw new NekoCreateError(
      'NEKO_ERR_CREATE_USAGE',
      `unexpected argument "${positionals[1]}": give one folder`,
      {
        hint: 'quote a folder name with spaces; run `npm create nekoplugin -- --help` for the usage',
      },
    );
  }
  return {
    dir: positionals[0],
    name: values.name,
    greeter: values.greeter,
    description: values.description,
    packageName: values['package-name'],
    yes: values.yes === true,
    install: values['no-install'] !== true,
    git: values['no-git'] !== true,
    ci: values['no-ci'] !== true,
    force: values.force === true,
    help: values.help === true,
    version: values.version === true,
  };
}

/** What the initializer needs from its process. */
export interface CreateIo {
  /** Prints a line to stdout. */
  out(line: string): void;
  /** Prints a line to stderr. */
  err(line: string): void;
  /** Where the install's progress is drawn: a spinner when it is a terminal. */
  progress: NodeJS.WriteStream;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** True when stdin and stdout are terminals: missing values are asked for. */
  interactive: boolean;
  /** Calls `handler` on Ctrl+C (SIGINT) or SIGTERM; returns the unsubscribe. */
  onInterrupt(handler: () => void): () => void;
}

/** Runs the initializer; resolves with the exit code. Failures are printed, never thrown. */
export async function runCreate(argv: readonly string[], io: CreateIo): Promise<number> {
  try {
    return await create(argv, io);
  } catch (err) {
    if (isNekoCreateError(err)) {
      io.err(formatError(err));
      return exitCodeFor(err);
    }
    io.err(`${kleur.red('error')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}

/** The version of this package. */
export function packageVersion(): string {
  // src/ and dist/ both sit one folder below the package root.
  const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** A failure for a person: the code, the message, the fix. */
export function formatError(err: NekoCreateError): string {
  const lines = [`${kleur.red('error')} ${kleur.dim(err.code)}`, `  ${err.message}`];
  if (err.hint) lines.push(`  ${kleur.cyan('fix:')} ${err.hint}`);
  return lines.join('\n');
}

/** The answers and the folder they go into. */
interface Plan extends PluginAnswers {
  dir: string;
}

async function create(argv: readonly string[], io: CreateIo): Promise<number> {
  // 1. The command line.
  const options = parseCreateArgs(argv);
  if (options.help) {
    io.out(HELP);
    return 0;
  }
  if (options.version) {
    io.out(packageVersion());
    return 0;
  }
  const templates: Templates = await import('@nekoconnect/templates');

  // 2. The answers: flags, then prompts or defaults.
  checkAnswers(templates, {
    name: options.name,
    greeter: options.greeter,
    description: options.description,
    packageName: options.packageName,
  });
  const plan = await gatherAnswers(templates, options, io);
  checkAnswers(templates, plan);

  // 3. The project folder.
  const target = resolve(io.cwd, plan.dir);
  const { state, entries } = await inspectTarget(target);
  if (state === 'not-empty' && !options.force) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
    throw new NekoCreateError(
      'NEKO_ERR_CREATE_NOT_EMPTY',
      `${display(io.cwd, target)} is not empty (it holds ${shown})`,
      {
        hint: 'pick a new or empty folder, or pass --force to write into it (files with the generated names are replaced)',
      },
    );
  }
  io.out(
    `Creating ${kleur.bold(plan.name)} (greeter ${kleur.cyan(plan.greeter)}) in ${display(io.cwd, target)}`,
  );

  // 4. Generate, install and git init in a staging folder; 5. move it into place.
  const pm = detectPackageManager(io.env.npm_config_user_agent);
  const interrupt = new AbortController();
  const unsubscribe = io.onInterrupt(() => interrupt.abort());
  let staging: Staging | undefined;
  try {
    staging = await Staging.create(target, state);
    const started = performance.now();
    const files = await generate(templates, staging, plan);
    io.out(`  wrote ${files.join(', ')} (${Math.round(performance.now() - started)} ms)`);
    if (options.install && !interrupt.signal.aborted) {
      await install(pm, staging.project, io, interrupt.signal);
    }
    if (options.ci && !interrupt.signal.aborted) await writeCi(templates, staging, plan, io);
    if (options.git && !interrupt.signal.aborted) await gitInit(staging.project, io, interrupt.signal);
    if (interrupt.signal.aborted) throw cancelled();
    await staging.commit();
  } catch (err) {
    await staging?.rollback();
    throw interrupt.signal.aborted ? cancelled() : err;
  } finally {
    unsubscribe();
  }

  // 6. Next steps.
  printNextSteps(io, pm, target, plan, options);
  return 0;
}

/** Checks the values given; a bad one is a usage error. */
function checkAnswers(templates: Templates, answers: Partial<PluginAnswers>): void {
  const keys = (Object.keys(answers) as Array<keyof PluginAnswers>).filter((k) => answers[k] !== undefined);
  try {
    templates.checkPluginAnswers(answers, keys);
  } catch (err) {
    if (!templates.isNekoTemplatesError(err)) throw err;
    const flag = /PACKAGE_NAME/.test(err.code)
      ? '--package-name'
      : `--${/BAD_(\w+)$/.exec(err.code)![1]!.toLowerCase()}`;
    throw new NekoCreateError('NEKO_ERR_CREATE_INVALID_VALUE', err.message, {
      cause: err,
      hint: `${err.hint ?? 'give another value'} (${flag})`,
    });
  }
}

/**
 * Flags first; then, for what is missing, the `plugin` generator's prompts
 * on a terminal, or the defaults derived from the folder name with --yes.
 * @throws NekoCreateError `NEKO_ERR_CREATE_MISSING_VALUE` when a value is
 *   missing, there is no terminal, and --yes was not given.
 */
async function gatherAnswers(templates: Templates, options: CreateOptions, io: CreateIo): Promise<Plan> {
  const given = {
    dir: options.dir,
    name: options.name,
    greeter: options.greeter,
    description: options.description,
    packageName: options.packageName,
  };
  const asked = ['dir', 'name', 'greeter', 'description'] as const;
  const missing = asked.filter((key) => given[key] === undefined);
  const interactive = io.interactive && !options.yes;

  if (missing.length > 0 && !options.yes && !interactive) {
    const flags = missing.map((key) => (key === 'dir' ? '[dir]' : `--${key}`));
    throw new NekoCreateError(
      'NEKO_ERR_CREATE_MISSING_VALUE',
      `missing ${flags.join(', ')}: there is no terminal to ask for ${missing.length === 1 ? 'it' : 'them'}`,
      {
        hint: 'pass them as flags, or --yes to take the defaults derived from the folder name (npm create nekoplugin my-chat -- --yes)',
      },
    );
  }

  if (interactive && (missing.length > 0 || given.packageName === undefined)) {
    const plop = await templates.createPlop({ destBasePath: io.cwd });
    const prompts = plop.getGenerator('plugin').prompts;
    // Plop's inquirer skips the questions whose answer is already given.
    const { inquirer } = plop as unknown as {
      inquirer: { prompt(questions: unknown, answers: object): Promise<Record<string, unknown>> };
    };
    const prefilled = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
    const answers = await inquirer.prompt(prompts, prefilled);
    return {
      dir: String(answers.dir),
      name: String(answers.name),
      greeter: String(answers.greeter),
      description: String(answers.description),
      packageName: String(answers.packageName),
    };
  }

  const dir =
    given.dir ?? (given.name !== undefined ? templates.toSlug(given.name) || 'my-plugin' : 'my-plugin');
  const defaults = templates.pluginDefaults(basename(resolve(io.cwd, dir)));
  return {
    dir,
    name: given.name ?? defaults.name,
    greeter: given.greeter ?? defaults.greeter,
    description: given.description ?? defaults.description,
    packageName: given.packageName ?? defaults.packageName,
  };
}

/** Runs the `plugin` generator into the staging folder; resolves with the files, relative to the project. */
async function generate(templates: Templates, staging: Staging, plan: Plan): Promise<string[]> {
  const { dir: _dir, ...answers } = plan;
  const { files } = await generating(templates, () =>
    templates.generatePlugin({
      destBasePath: staging.root,
      dir: basename(staging.project),
      answers,
    }),
  );
  return files.map((f) => relative(basename(staging.project), f));
}

/** Runs a generator of the templates; their coded errors become this tool's `NEKO_ERR_CREATE_GENERATE`. */
async function generating<T>(templates: Templates, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (templates.isNekoTemplatesError(err)) {
      throw new NekoCreateError('NEKO_ERR_CREATE_GENERATE', err.message, {
        cause: err,
        hint: err.hint ?? '',
      });
    }
    throw err;
  }
}

/** The `ci` generator into the staging folder, after the install: it looks for the lockfile the install wrote. */
async function writeCi(templates: Templates, staging: Staging, plan: Plan, io: CreateIo): Promise<void> {
  const lockfile = existsSync(join(staging.project, 'package-lock.json'));
  await generating(templates, () =>
    templates.addCiWorkflow({
      destBasePath: staging.root,
      dir: basename(staging.project),
      name: plan.name,
      lockfile,
      force: true,
    }),
  );
  io.out(
    `  wrote ${templates.CI_WORKFLOW_FILE} (${lockfile ? 'npm ci: package-lock.json is there' : 'npm install: no package-lock.json yet'})`,
  );
}

async function install(
  pm: PackageManager,
  project: string,
  io: CreateIo,
  signal: AbortSignal,
): Promise<void> {
  const { command, args } = installCommand(pm);
  const progress = startProgress(`Installing dependencies with ${pm}`, io.progress);
  const result = await runCommand(command, args, { cwd: project, env: io.env, signal });
  progress.stop(result.code === 0);
  if (result.code === 0 || signal.aborted) return;
  const why =
    (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
      ? `${pm} was not found on PATH`
      : result.error !== undefined
        ? `${command} ${args.join(' ')} could not run: ${result.error.message}`
        : `${command} ${args.join(' ')} failed (exit code ${result.code ?? 'none'})`;
  const output = result.output.trim() === '' ? '' : `; its last lines:\n${tail(result.output)}`;
  throw new NekoCreateError('NEKO_ERR_CREATE_INSTALL', `${why}${output}`, {
    hint: 'nothing was created. Fix what the package manager reports (network, registry, versions) and run again, or pass --no-install and install later',
  });
}

/** `git init`, unless git is missing or the folder is already inside a repository (then a note). */
async function gitInit(project: string, io: CreateIo, signal: AbortSignal): Promise<void> {
  const options = { cwd: project, env: io.env, signal };
  const inside = await runCommand('git', ['rev-parse', '--is-inside-work-tree'], options);
  if (inside.error !== undefined) {
    if (!signal.aborted) io.out(kleur.yellow('  git was not found: no repository created'));
    return;
  }
  if (inside.code === 0 && inside.output.trim() === 'true') {
    io.out('  inside a git repository already: no new one created');
    return;
  }
  const init = await runCommand('git', ['init', '-q'], options);
  if (init.code === 0) io.out('  initialized a git repository');
  else if (!signal.aborted)
    io.out(kleur.yellow(`  git init failed, no repository created:\n${tail(init.output, 5)}`));
}

function cancelled(): NekoCreateError {
  return new NekoCreateError('NEKO_ERR_CREATE_CANCELLED', 'interrupted: nothing was created', {
    hint: 'run the command again',
  });
}

function printNextSteps(
  io: CreateIo,
  pm: PackageManager,
  target: string,
  plan: Plan,
  options: CreateOptions,
): void {
  const steps: Array<[command: string, what: string]> = [];
  const cd = relative(io.cwd, target);
  if (cd !== '') steps.push([`cd ${shellQuote(cd.startsWith('..') || isAbsolute(cd) ? target : cd)}`, '']);
  if (!options.install) steps.push([`${pm} install`, 'install the dependencies']);
  steps.push(
    [runScript(pm, 'test'), 'validate the plugin, then run its tests'],
    [runScript(pm, 'validate'), 'check it against the Context contract'],
    [runScript(pm, 'dev'), 'serve it, reloaded on every save'],
  );
  const width = Math.max(...steps.map(([command]) => command.length)) + 2;
  io.out('');
  io.out(`${kleur.green('Done.')} ${plan.name} is in ${display(io.cwd, target)}. Next steps:`);
  for (const [command, what] of steps)
    io.out(`  ${kleur.bold(command.padEnd(width))}${kleur.dim(what)}`.trimEnd());
}

/** A path as the user would type it: relative to the working directory when inside it. */
function display(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  if (rel === '') return '.';
  return rel.startsWith('..') || isAbsolute(rel) ? path : `.${sep}${rel}`;
}

function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}
