/**
 * `nekoconnect validate <target>`: a plugin folder, a `.ncp` package, or a
 * plugins directory holding plugin folders and packages, as the server loads
 * them. The folders go to the validator, each package to
 * {@link validatePackage}; one report covers them all, in name order, with
 * the one-plugin-per-greeter rule checked across folders and packages.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isNekoError } from '../errors.js';
import { isFile } from '../files.js';
import { checkGreetersUnique } from '../plugins/checks.js';
import { packageProblem, validatePackage } from './package.js';
import { findingFromError, type PluginResult, type ValidationReport } from './problem.js';
import { validatePlugins } from './validator.js';

/** Validates a plugin folder, a `.ncp` package, or a plugins directory with folders and packages. */
export async function validateTarget(target: string): Promise<ValidationReport> {
  const root = path.resolve(target);
  if (root.endsWith('.ncp')) return validatePackage(root);
  const packages = await packagesIn(root);
  if (packages.length === 0) return validatePlugins(root);

  const started = performance.now();
  let folders: ValidationReport | undefined;
  try {
    folders = await validatePlugins(root);
  } catch (err) {
    // A directory of packages only: no plugin folder to validate.
    if (!isNekoError(err, 'NEKO_ERR_VALIDATE_NO_PLUGINS')) throw err;
  }
  const results = [
    ...(folders?.plugins ?? []),
    ...(await Promise.all(packages.map((file) => validatePackage(file)))).flatMap((r) => r.plugins),
  ].sort((a, b) => byName(path.basename(a.dir), path.basename(b.dir)));
  checkGreetersAcross(results);
  const problems = results.flatMap((result) => result.problems);
  const errorCount = problems.filter((p) => p.severity === 'error').length;
  return {
    root,
    plugins: results,
    problems,
    errorCount,
    warningCount: problems.length - errorCount,
    durationMs: performance.now() - started,
  };
}

/** The `.ncp` files directly in `dir`, absolute, in name order; none when `dir` is itself a plugin folder. */
async function packagesIn(dir: string): Promise<string[]> {
  try {
    if (!(await stat(dir)).isDirectory() || (await isFile(path.join(dir, 'spec.conf')))) return [];
    const names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && e.name.endsWith('.ncp') && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort(byName);
    return names.map((name) => path.join(dir, name));
  } catch {
    // The validator names an unreadable folder with its own code.
    return [];
  }
}

/**
 * A greeter claimed by a folder and a package (or two packages): each of
 * them gets the error the server would give. Folders sharing a greeter among
 * themselves were already told by the validator.
 */
function checkGreetersAcross(results: PluginResult[]): void {
  const claims = results.flatMap((r) => (r.spec === undefined ? [] : [{ dir: r.dir, spec: r.spec }]));
  const duplicates = checkGreetersUnique(claims);
  for (const result of results) {
    const err = duplicates.get(result.dir);
    if (err === undefined || result.problems.some((p) => p.code === err.code)) continue;
    result.problems.push(
      result.dir.endsWith('.ncp')
        ? packageProblem(result.dir, checkGreetersUnique.name, err)
        : {
            ...findingFromError(err),
            plugin: result.dir,
            check: checkGreetersUnique.name,
            severity: 'error',
          },
    );
  }
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
