/**
 * Which files the dev watcher looks at, and which plugin folder a changed
 * file belongs to.
 *
 * Watched: `spec.conf` and source files (`.ts`, `.js`, their `m`/`c`/`x`
 * variants, `.json`) of the plugin folders, and the `.ncp` package files
 * right in the plugins directory (each a plugin of its own). Never watched: `node_modules`,
 * build output (`dist/`, and every folder whose name starts with a dot,
 * `.nekoconnect/` among them), the data directory, the cache dir (where the
 * server writes its bundles), and test files (`*.test.*`, `*.spec.*`), which
 * are not part of a plugin's logic.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { isFile } from '../files.js';
import { isPackageFile } from '../plugins/package.js';

/** What is watched: a plugins directory, or one plugin folder. */
export interface WatchScope {
  /** The folder given to the watcher, absolute. */
  readonly root: string;
  /** True when `root` is itself a plugin folder (it has a spec.conf). */
  readonly single: boolean;
  /** The data directory, absolute; never watched when it lies inside `root`. */
  readonly dataDir?: string;
  /** The cache dir of bundles, absolute; never watched when it lies inside `root`. */
  readonly cacheDir?: string;
}

/** Folder names never looked into (any name starting with `.` neither). */
const SKIPPED_DIRS = new Set(['node_modules', 'dist']);

/** Files whose change reloads a plugin, besides spec.conf. */
const SOURCE_FILE = /\.(?:[cm]?[jt]s|[jt]sx|json)$/;

/** Test files sit beside the logic but are not part of it. */
const TEST_FILE = /\.(?:test|spec)\.(?:[cm]?[jt]s|[jt]sx)$/;

/** True for a file whose change reloads its plugin: spec.conf, a source file that is not a test, a `.ncp` package. */
export function isSourceFile(file: string): boolean {
  const name = path.basename(file);
  return name === 'spec.conf' || isPackageFile(name) || (SOURCE_FILE.test(name) && !TEST_FILE.test(name));
}

/**
 * True for a path the watcher neither watches nor reports: inside a skipped
 * folder, the data directory or the cache dir, or (when `stats` says it is a file) not a
 * source file. chokidar calls it for folders too, sometimes without stats,
 * so without stats only the folders on the path decide.
 */
export function isIgnored(scope: WatchScope, file: string, stats?: Stats): boolean {
  const relative = path.relative(scope.root, file);
  if (relative === '') return false;
  if (relative.startsWith('..') || path.isAbsolute(relative)) return true;
  // A data directory (or cache dir) that is the plugins directory, or holds it, cannot be left
  // out as a whole; its data files and bundles are no source files anyway.
  for (const written of [scope.dataDir, scope.cacheDir]) {
    if (
      written !== undefined &&
      written !== scope.root &&
      isInside(scope.root, written) &&
      isInside(written, file)
    ) {
      return true;
    }
  }
  if (relative.split(path.sep).some((part) => part.startsWith('.') || SKIPPED_DIRS.has(part))) return true;
  return stats?.isFile() === true && !isSourceFile(file);
}

/**
 * The plugin folder a changed path belongs to: `root` itself for one plugin
 * folder; else the folder right under `root` that holds it. Undefined for
 * a file directly in the plugins directory (a `package.json`, a
 * `tsconfig.json`), which concerns every plugin.
 *
 * @param isDir true when the path is a folder (chokidar's `addDir`/`unlinkDir`)
 */
export function pluginFolderOf(scope: WatchScope, file: string, isDir = false): string | undefined {
  if (scope.single) return scope.root;
  const parts = path.relative(scope.root, file).split(path.sep);
  const first = parts[0];
  // A package file right in the plugins directory is a plugin of its own.
  if (parts.length === 1 && !isDir && first !== undefined && isPackageFile(first))
    return path.join(scope.root, first);
  if (first === undefined || first === '' || (parts.length === 1 && !isDir)) return undefined;
  return path.join(scope.root, first);
}

/**
 * The plugin folders of the scope now: `root` for one plugin folder; else
 * each folder right under it that has a spec.conf (skipping the names
 * the loader skips), in name order.
 */
export async function listPluginFolders(scope: WatchScope): Promise<string[]> {
  if (scope.single) return [scope.root];
  let names: string[];
  try {
    const entries = await readdir(scope.root, { withFileTypes: true });
    names = entries
      .filter(
        (e) =>
          (e.isDirectory() || e.isSymbolicLink() || (e.isFile() && isPackageFile(e.name))) &&
          !e.name.startsWith('.') &&
          e.name !== 'node_modules',
      )
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch {
    return [];
  }
  const dirs = names.map((name) => path.join(scope.root, name));
  const withSpec = await Promise.all(
    dirs.map((dir) => isFile(isPackageFile(dir) ? dir : path.join(dir, 'spec.conf'))),
  );
  return dirs.filter((_, i) => withSpec[i] === true);
}

/** True when `file` is `dir` or inside it. */
function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}
