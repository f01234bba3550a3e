/**
 * The plugin loader: from a plugin folder to a constructed `Logic`.
 *
 * 1. read and check `spec.conf`;
 * 2. find the logic file (`<logic>.ts`, `.js`, `.mjs`);
 * 3. for TypeScript, bundle it with esbuild (so it may import sibling `.ts`
 *    files) into the plugin's folder of the cache dir, never into the plugin
 *    folder, which may be read-only; bare imports are resolved from the
 *    plugin folder's `node_modules` as they would be from the source
 *    (`bundle.ts`, shared with the config loader);
 * 4. import the module under a fresh `?v=` query, so a hot reload gets fresh
 *    code instead of the ESM cache;
 * 5. run the checks of `checks.ts` and construct the one `Logic`.
 *
 * A `.ncp` package file (`package.ts`) is a plugin too: its spec.conf and
 * manifest are read from the zip, every entry's hash and the NekoConnect
 * range checked, and its bundled logic (with its source map) written into
 * the cache dir and imported as in step 4. Its `dir` is the package file.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { NekoError, isNekoError } from '../errors.js';
import type { Logic } from '../context/context.js';
import {
  bundleModule,
  cacheFolderOf,
  ensurePrivateTempDir,
  importFresh,
  privateTempDir,
  removeStaleBuilds,
} from '../build/bundle.js';
import { checkGreetersUnique, checkLogicExport, checkRecv, constructLogic } from './checks.js';
import { readSpec } from './spec.js';
import {
  extractPackageLogic,
  isPackageFile,
  packageEntryPath,
  packageSpec,
  readPackage,
  removeStaleMaps,
  verifyPackage,
  type PluginPackage,
} from './package.js';
import { declaredOps } from './stats.js';
import type { PluginSpec } from './spec.js';
import { isFile } from '../files.js';
import { errorMessage } from '../format.js';

/** A plugin whose Logic is constructed and ready to serve. */
export interface LoadedPlugin {
  /** The plugin folder, as given to the loader. */
  dir: string;
  spec: PluginSpec;
  /** The logic source file that was loaded (`<dir>/<logic>.ts`, `.js` or `.mjs`). */
  logicFile: string;
  /** The plugin's one Logic instance. */
  logic: Logic;
  /** When loading finished, in ms since the epoch. */
  loadedAt: number;
  /** The op codes its `Op` table declares (see `declaredOps`); the metrics and dashboard count each apart. */
  ops?: readonly number[];
  /** For a plugin served from a `.ncp` package (`dir` is then the package file): the file and its sha256. */
  package?: { file: string; sha256: string };
}

/** A plugin folder that could not be loaded. */
export interface PluginLoadFailure {
  /** The plugin folder, as given to the loader. */
  dir: string;
  /** Present when spec.conf parsed. */
  spec?: PluginSpec;
  error: NekoError;
}

/** Options of the loader's functions. */
export interface LoadOptions {
  /**
   * Where TypeScript logic is bundled to: each plugin folder gets its own
   * folder in it ({@link cacheFolderOf}); created, private to this user,
   * when missing. Default: `cache` in this user's temporary folder
   * ({@link defaultCacheDir}).
   */
  cacheDir?: string;
}

/** The cache dir of a loader given none: `<os temp dir>/nekoconnect-<uid>/cache`. */
export function defaultCacheDir(): string {
  return path.join(privateTempDir(), 'cache');
}

/** The extensions a `$logic` name is tried with, in this order. */
const LOGIC_EXTENSIONS = ['.ts', '.js', '.mjs'] as const;

/**
 * Finds the logic file `$logic` names: `<dir>/<logic>.ts`, then `.js`, then `.mjs`.
 *
 * @returns the path of the first that is a file (joined onto `dir`)
 * @throws NekoError `NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND`, located at the `$logic`
 *   value in spec.conf, listing the paths tried.
 */
export async function resolveLogicFile(dir: string, spec: PluginSpec): Promise<string> {
  const tried = LOGIC_EXTENSIONS.map((ext) => path.join(dir, `${spec.logic}${ext}`));
  for (const file of tried) {
    if (await isFile(file)) return file;
  }
  const hasExtension = /\.(?:[cm]?[jt]s|tsx?|jsx)$/.test(spec.logic);
  throw new NekoError(
    'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND',
    `no logic file for $logic {"${spec.logic}"}: tried ${tried.join(', ')}`,
    {
      location: spec.entries.get('logic')?.valueLocation,
      hint: hasExtension
        ? `write $logic without the extension, e.g. $logic {"${spec.logic.replace(/\.[^.]*$/, '')}"};`
        : `create ${tried[0] ?? spec.logic} exporting \`class Logic\`, or fix the $logic entry`,
    },
  );
}

/**
 * Loads the plugin in `dir`: reads spec.conf, then {@link loadPluginWithSpec}.
 *
 * @throws NekoError any spec.conf error (`NEKO_ERR_SPEC_*`) or plugin error
 *   (`NEKO_ERR_PLUGIN_*`).
 */
export async function loadPlugin(dir: string, options: LoadOptions = {}): Promise<LoadedPlugin> {
  return loadPluginWithSpec(dir, await readPluginSpec(dir), options);
}

/** The package each spec read by {@link readPluginSpec} came from, so the load does not read it again. */
const packageOfSpec = new WeakMap<PluginSpec, PluginPackage>();

/**
 * The spec.conf of a plugin folder, or of a `.ncp` package file (its
 * manifest and spec.conf checked; the rest is checked when it loads).
 *
 * @throws NekoError `NEKO_ERR_SPEC_*`, or `NEKO_ERR_PACKAGE_*` for a package
 */
export async function readPluginSpec(dir: string): Promise<PluginSpec> {
  if (!isPackageFile(dir)) return readSpec(dir);
  const pkg = await readPackage(dir);
  const spec = packageSpec(pkg);
  packageOfSpec.set(spec, pkg);
  return spec;
}

/** True when `dir` is a plugin: a folder holding a spec.conf, or a `.ncp` package file. */
export async function hasPluginSpec(dir: string): Promise<boolean> {
  return isFile(isPackageFile(dir) ? dir : path.join(dir, 'spec.conf'));
}

/**
 * Loads the plugin in `dir` whose spec.conf is already parsed: resolves,
 * transpiles and imports the logic file, checks its `Logic` export and
 * constructs it.
 *
 * @throws NekoError `NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND`, `NEKO_ERR_PLUGIN_TRANSPILE`,
 *   `NEKO_ERR_PLUGIN_IMPORT`, `NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT`,
 *   `NEKO_ERR_PLUGIN_NO_RECV` or `NEKO_ERR_PLUGIN_CONSTRUCT`.
 */
export async function loadPluginWithSpec(
  dir: string,
  spec: PluginSpec,
  options: LoadOptions = {},
): Promise<LoadedPlugin> {
  if (isPackageFile(dir)) return loadPackagedPlugin(dir, spec, options);
  const logicFile = await resolveLogicFile(dir, spec);
  const transpiled = logicFile.endsWith('.ts');
  let moduleFile = transpiled ? await bundleLogic(dir, logicFile, options) : logicFile;
  // Before the import: Node reads a module's source map when it loads it.
  if (transpiled) enableSourceMaps();
  let mod: object;
  try {
    mod = await importLogic(moduleFile, logicFile);
  } catch (err) {
    // Another process sharing the cache dir, loading another version of this folder, may have
    // removed the bundle as stale between its write and this import: write it again, once.
    if (!transpiled || (await isFile(moduleFile))) throw err;
    moduleFile = await bundleLogic(dir, logicFile, options);
    mod = await importLogic(moduleFile, logicFile);
  }
  // Once the new build is imported, the older ones are clutter.
  if (transpiled) await removeStaleBuilds(moduleFile, spec.logic);
  const LogicClass = checkLogicExport(mod, logicFile);
  checkRecv(LogicClass, logicFile);
  const logic = constructLogic(LogicClass, logicFile);
  return { dir, spec, logicFile, logic, loadedAt: Date.now(), ops: declaredOps(mod) };
}

/**
 * Loads every plugin folder in `pluginsDir`: each immediate subfolder that
 * holds a `spec.conf`, and each `.ncp` package file, in name order. Folders
 * whose name starts with `.`, `node_modules`, and folders without spec.conf
 * are skipped.
 *
 * A plugin that fails does not stop the others: its error goes to
 * `failures`. When two or more folders declare the same greeter, none of them
 * is loaded; each gets a `NEKO_ERR_PLUGIN_DUPLICATE_GREETER` failure naming
 * all of them.
 *
 * @param refuse checks each folder whose spec.conf parsed, before its logic
 *   module is imported; the error it returns is the folder's failure, and
 *   its logic is not loaded (the registry refuses a greeter another folder
 *   serves this way)
 * @throws NekoError `NEKO_ERR_PLUGINS_DIR` when `pluginsDir` cannot be read.
 */
export async function loadPluginsDir(
  pluginsDir: string,
  refuse: (dir: string, spec: PluginSpec) => NekoError | undefined = () => undefined,
  options: LoadOptions = {},
): Promise<{ plugins: LoadedPlugin[]; failures: PluginLoadFailure[] }> {
  const dirs = await listPluginDirs(pluginsDir);

  // 1. Parse every spec.conf first, so that duplicate greeters are found
  //    before any logic module runs.
  const parsed = await Promise.all(
    dirs.map(async (dir): Promise<{ dir: string; spec: PluginSpec } | PluginLoadFailure> => {
      try {
        return { dir, spec: await readPluginSpec(dir) };
      } catch (err) {
        return { dir, error: asNekoError(err, dir) };
      }
    }),
  );
  const withSpec = parsed.flatMap((p) => ('error' in p ? [] : [p]));
  const duplicates = checkGreetersUnique(withSpec);

  // 2. Load the rest one by one, in name order, so top-level side effects
  //    of logic modules happen in a predictable order.
  const plugins: LoadedPlugin[] = [];
  const failures: PluginLoadFailure[] = [];
  for (const entry of parsed) {
    if ('error' in entry) {
      failures.push(entry);
      continue;
    }
    const refused = duplicates.get(entry.dir) ?? refuse(entry.dir, entry.spec);
    if (refused !== undefined) {
      failures.push({ dir: entry.dir, spec: entry.spec, error: refused });
      continue;
    }
    try {
      plugins.push(await loadPluginWithSpec(entry.dir, entry.spec, options));
    } catch (err) {
      failures.push({ dir: entry.dir, spec: entry.spec, error: asNekoError(err, entry.dir) });
    }
  }
  return { plugins, failures };
}

/* ------------------------------------------------------------------------ */

let sourceMapsEnabled = false;

/**
 * Turns on source-mapped stack traces for the process (once), so that the
 * stack of an error thrown in a bundled plugin names `logic.ts:line:column`
 * (from the bundle's inline source map) instead of the bundle in the cache
 * dir. The logger, the dashboard and `server.logs()` print `error.stack`.
 */
function enableSourceMaps(): void {
  if (sourceMapsEnabled) return;
  sourceMapsEnabled = true;
  process.setSourceMapsEnabled(true);
}

/**
 * Checks that a plugins directory (or one plugin folder) can be read, as a
 * load would: what a start checks before it binds a port or takes the data
 * directory's lock.
 * @throws NekoError `NEKO_ERR_PLUGINS_DIR` naming the directory
 */
export async function checkPluginsDir(pluginsDir: string): Promise<void> {
  await readPluginsDir(pluginsDir);
}

async function readPluginsDir(pluginsDir: string): Promise<Dirent[]> {
  try {
    return await readdir(pluginsDir, { withFileTypes: true });
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_PLUGINS_DIR',
      `cannot read the plugins directory ${pluginsDir}: ${errorMessage(err)}`,
      { cause: err, hint: 'check the path; it must be a directory holding one folder per plugin' },
    );
  }
}

/** The plugin folders and `.ncp` package files of `pluginsDir`, sorted by name, joined onto it. */
async function listPluginDirs(pluginsDir: string): Promise<string[]> {
  const names = (await readPluginsDir(pluginsDir))
    .filter(
      (e) =>
        (e.isDirectory() || e.isSymbolicLink() || (e.isFile() && isPackageFile(e.name))) &&
        !e.name.startsWith('.'),
    )
    .filter((e) => e.name !== 'node_modules')
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const dirs = names.map((name) => path.join(pluginsDir, name));
  const hasSpec = await Promise.all(dirs.map(hasPluginSpec));
  return dirs.filter((_, i) => hasSpec[i] === true);
}

/**
 * Loads the plugin of a `.ncp` package whose spec.conf is already read:
 * verifies every entry's hash and the NekoConnect range, writes the logic
 * and its source map into the package's folder of the cache dir, and imports
 * it fresh (stack traces then map into the plugin's sources).
 *
 * @throws NekoError `NEKO_ERR_PACKAGE_*`, or the plugin errors of a folder's load
 */
async function loadPackagedPlugin(
  file: string,
  spec: PluginSpec,
  options: LoadOptions,
): Promise<LoadedPlugin> {
  let pkg = packageOfSpec.get(spec);
  if (pkg === undefined) {
    pkg = await readPackage(file);
    packageSpec(pkg);
  }
  verifyPackage(pkg);
  const cacheDir =
    options.cacheDir ?? path.join(await ensurePrivateTempDir('NEKO_ERR_PLUGIN_TRANSPILE'), 'cache');
  const moduleFile = await extractPackageLogic(pkg, cacheFolderOf(cacheDir, file));
  enableSourceMaps();
  const logicFile = packageEntryPath(file, 'logic.mjs');
  const mod = await importLogic(moduleFile, logicFile);
  await removeStaleBuilds(moduleFile, spec.logic);
  await removeStaleMaps(moduleFile, spec.logic);
  const LogicClass = checkLogicExport(mod, logicFile);
  checkRecv(LogicClass, logicFile);
  const logic = constructLogic(LogicClass, logicFile);
  return {
    dir: file,
    spec,
    logicFile,
    logic,
    loadedAt: Date.now(),
    ops: declaredOps(mod),
    package: { file, sha256: pkg.sha256 },
  };
}

/**
 * Bundles a TypeScript logic file into the plugin's folder of the cache dir
 * (the default one checked first: it is in a folder every user shares).
 */
async function bundleLogic(dir: string, logicFile: string, options: LoadOptions): Promise<string> {
  const cacheDir =
    options.cacheDir ?? path.join(await ensurePrivateTempDir('NEKO_ERR_PLUGIN_TRANSPILE'), 'cache');
  return bundleModule({
    entry: logicFile,
    dir,
    outDir: cacheFolderOf(cacheDir, dir),
    code: 'NEKO_ERR_PLUGIN_TRANSPILE',
    syntaxHint:
      'fix the error at this location; the logic file and the files it imports must be valid TypeScript',
    writeHint: `the server needs write access to its cache dir ${cacheDir}; give it another with --cache-dir <dir>`,
  });
}

/** Imports `moduleFile` as a fresh module instance; errors name the source `logicFile`. */
async function importLogic(moduleFile: string, logicFile: string): Promise<object> {
  try {
    return await importFresh(moduleFile);
  } catch (err) {
    throw new NekoError('NEKO_ERR_PLUGIN_IMPORT', `importing ${logicFile} threw: ${errorMessage(err)}`, {
      cause: err,
      hint: 'code at the top level of the logic module runs when the plugin loads; see the cause for the stack',
    });
  }
}

/** Keeps NekoErrors; wraps anything else so a failure always carries a coded error. */
function asNekoError(err: unknown, dir: string): NekoError {
  if (isNekoError(err)) return err;
  return new NekoError(
    'NEKO_ERR_PLUGIN_IMPORT',
    `loading the plugin in ${dir} failed: ${errorMessage(err)}`,
    { cause: err, hint: 'see the cause for the stack' },
  );
}
