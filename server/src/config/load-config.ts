/**
 * Finding and loading the config file: `nekoconnect.config.ts`, `.js`,
 * `.mjs` or `.json` in a folder, or a file named explicitly.
 *
 * TypeScript and JavaScript configs are bundled as plugin logic is (see
 * `build/bundle.ts`), into this user's folder of the system's temporary
 * folder (`<os temp dir>/nekoconnect-<uid>/config/`), never next to the
 * config file, and imported; their default export is the config. JSON is parsed. Either way
 * the result is checked against `schema.ts`.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { NekoError, type SourceLocation } from '../errors.js';
import {
  buildName,
  bundleModule,
  cacheFolderOf,
  ensurePrivateTempDir,
  importFresh,
  removeStaleBuilds,
} from '../build/bundle.js';
import type { NekoConfig } from './define-config.js';
import { parseJson, type JsonSpan } from './json.js';
import { checkConfig, describeValue, type ConfigIssue } from './schema.js';
import { isFile } from '../files.js';
import { shownPath } from '../format.js';

/** The config file names looked for, in this order. */
export const CONFIG_FILE_NAMES = [
  'nekoconnect.config.ts',
  'nekoconnect.config.js',
  'nekoconnect.config.mjs',
  'nekoconnect.config.json',
] as const;

/** The extensions a config file given with `--config` may have. */
const MODULE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

const DOCS_HINT = 'docs/config.md lists every key, its type and its default';

/** A config file, loaded and checked. Paths in `config` are as written (relative to `dir`). */
export interface LoadedConfig {
  /** The config file, absolute. */
  file: string;
  /** Its folder, which relative paths in it are resolved against. */
  dir: string;
  config: NekoConfig;
}

/**
 * The config file of `dir`: the one of {@link CONFIG_FILE_NAMES} that exists.
 *
 * @returns its absolute path, or undefined when there is none
 * @throws NekoError `NEKO_ERR_CONFIG_AMBIGUOUS` when more than one exists
 */
export async function findConfigFile(dir: string): Promise<string | undefined> {
  const candidates = CONFIG_FILE_NAMES.map((name) => path.resolve(dir, name));
  const exists = await Promise.all(candidates.map(isFile));
  const found = candidates.filter((_, i) => exists[i] === true);
  if (found.length > 1) {
    const names = found.map((f) => path.basename(f));
    throw new NekoError(
      'NEKO_ERR_CONFIG_AMBIGUOUS',
      `${found.length} config files in ${path.resolve(dir)}: ${names.join(', ')}; which one is meant is unclear`,
      { hint: `keep one of ${names.join(', ')}, or pick one with --config <file>` },
    );
  }
  return found[0];
}

/**
 * Loads and checks a config file. A relative `file` is resolved against `cwd`,
 * and file names in messages are shown relative to it.
 *
 * @throws NekoError `NEKO_ERR_CONFIG_LOAD` (unreadable, a syntax error with its
 *   position, or the module threw) or `NEKO_ERR_CONFIG_INVALID` (a value, a
 *   key or the default export is not allowed; each problem is named).
 */
export async function loadConfigFile(file: string, cwd = process.cwd()): Promise<LoadedConfig> {
  const abs = path.resolve(cwd, file);
  const shown = shownPath(abs, cwd);
  const ext = path.extname(abs);
  const isJson = ext === '.json';
  if (!isJson && !MODULE_EXTENSIONS.includes(ext)) {
    throw new NekoError('NEKO_ERR_CONFIG_LOAD', `cannot load the config file ${shown}: unknown extension`, {
      hint: `a config file ends in ${[...MODULE_EXTENSIONS, '.json'].join(', ')}`,
    });
  }
  const hint = 'check the path given to --config';
  let isRegularFile: boolean;
  try {
    isRegularFile = (await stat(abs)).isFile();
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_LOAD',
      `cannot read the config file ${shown}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { cause: err, hint },
    );
  }
  if (!isRegularFile) {
    throw new NekoError('NEKO_ERR_CONFIG_LOAD', `cannot read the config file ${shown}: not a file`, { hint });
  }

  let value: unknown;
  let locate: (issue: ConfigIssue) => SourceLocation | undefined = () => undefined;
  if (isJson) {
    const parsed = await loadJson(abs, shown);
    value = parsed.value;
    locate = (issue) => {
      const span: JsonSpan | undefined = parsed.spans.get(issue.path.join('.'));
      const at = span && (issue.at === 'key' ? (span.key ?? span.value) : span.value);
      return at && { file: abs, ...at };
    };
  } else {
    value = await loadModule(abs, shown);
  }

  const issues = checkConfig(value);
  if (issues.length > 0) {
    const first = issues[0]!;
    const message =
      issues.length === 1
        ? `invalid config ${shown}: ${first.message}`
        : `invalid config ${shown}, ${issues.length} problems:\n${issues.map((i) => `  - ${i.message}`).join('\n')}`;
    // A code frame near a secret would copy it into whatever collects the output.
    const showFrame = !issues.some((i) => i.secret);
    throw new NekoError('NEKO_ERR_CONFIG_INVALID', message, {
      location: showFrame ? issues.map(locate).find((l) => l !== undefined) : undefined,
      hint: DOCS_HINT,
    });
  }
  return { file: abs, dir: path.dirname(abs), config: value as NekoConfig };
}

/**
 * The config of `cwd`: the file named by `configFile` (relative to `cwd`),
 * else the one {@link findConfigFile} finds there; none with `noConfig`.
 */
export async function loadConfig(
  cwd: string,
  options: { configFile?: string | undefined; noConfig?: boolean | undefined } = {},
): Promise<LoadedConfig | undefined> {
  if (options.noConfig) {
    if (options.configFile !== undefined) {
      throw new NekoError('NEKO_ERR_CLI_USAGE', '--config and --no-config contradict each other', {
        hint: 'give one of them',
      });
    }
    return undefined;
  }
  const file = options.configFile ?? (await findConfigFile(cwd));
  return file === undefined ? undefined : loadConfigFile(file, cwd);
}

async function loadJson(
  file: string,
  shown: string,
): Promise<{ value: unknown; spans: Map<string, JsonSpan> }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_LOAD',
      `cannot read the config file ${shown}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { cause: err },
    );
  }
  const parsed = await parseJson(text);
  if (!parsed.ok) {
    throw new NekoError('NEKO_ERR_CONFIG_LOAD', `cannot parse the config file ${shown}: ${parsed.message}`, {
      location: parsed.location && { file, ...parsed.location },
      hint: 'fix the JSON at this location: double-quoted keys and strings, no comments, no trailing commas',
    });
  }
  return parsed;
}

/** Bundles, imports and returns the default export of a TypeScript or JavaScript config. */
async function loadModule(file: string, shown: string): Promise<unknown> {
  const configCache = path.join(await ensurePrivateTempDir('NEKO_ERR_CONFIG_LOAD'), 'config');
  const moduleFile = await bundleModule({
    entry: file,
    dir: path.dirname(file),
    outDir: cacheFolderOf(configCache, path.dirname(file)),
    code: 'NEKO_ERR_CONFIG_LOAD',
    syntaxHint:
      'fix the error at this location; the config file and the files it imports must be valid TypeScript or JavaScript',
  });
  let mod: Record<string, unknown>;
  try {
    mod = (await importFresh(moduleFile)) as Record<string, unknown>;
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_LOAD',
      `importing the config file ${shown} threw: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
        hint: 'the config file runs when the server starts; see the cause for the stack',
      },
    );
  } finally {
    await removeStaleBuilds(moduleFile, buildName(file));
  }
  const example = 'export default defineConfig({ port: 10390 })';
  if (!('default' in mod)) {
    throw new NekoError('NEKO_ERR_CONFIG_INVALID', `the config file ${shown} has no default export`, {
      hint: `export the config object as the default export, e.g. ${example}`,
    });
  }
  if (typeof mod.default === 'function') {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `the default export of ${shown} is ${describeValue(mod.default)}, not the config object`,
      { hint: `export the object itself, not a function returning it, e.g. ${example}` },
    );
  }
  return mod.default;
}
