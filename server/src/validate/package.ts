/**
 * `nekoconnect validate <file.ncp>`: checks a package without running it:
 * that it opens within the limits, its manifest, the sha256 of every entry,
 * its spec.conf (and that it names the plugin the manifest names), that it
 * was built for this NekoConnect, and its ops.json. The logic in a package is
 * bundled JavaScript: the Context contract and TypeScript's checks need the
 * plugin's sources, which the report says in a note (not a problem).
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { NekoError } from '../errors.js';
import {
  checkCompatible,
  packageEntryPath,
  packageOps,
  packageSpec,
  readPackage,
  verifyEntries,
  type PluginPackage,
} from '../plugins/package.js';
import type { PluginSpec } from '../plugins/spec.js';
import type { PluginResult, Problem, ValidationReport } from './problem.js';

/** The note of every package report: what a package cannot show. */
export const PACKAGE_TYPES_NOTE =
  'type checks (the Logic class against the Context contract, TypeScript) need the sources: run `nekoconnect validate` in the plugin folder it was packed from';

/** Validates one `.ncp` package; the report has one plugin, the package file. */
export async function validatePackage(file: string): Promise<ValidationReport> {
  const started = performance.now();
  const abs = path.resolve(file);
  const problems: Problem[] = [];
  const result: PluginResult = { dir: abs, problems, notes: [PACKAGE_TYPES_NOTE] };
  const run = (check: string, work: () => void): boolean => {
    try {
      work();
      return true;
    } catch (err) {
      if (!(err instanceof NekoError)) throw err;
      problems.push(packageProblem(abs, check, err));
      return false;
    }
  };

  let pkg: PluginPackage | undefined;
  try {
    pkg = await readPackage(abs);
  } catch (err) {
    if (!(err instanceof NekoError)) throw err;
    problems.push(packageProblem(abs, 'readPackage', err));
  }
  if (pkg !== undefined) {
    const opened = pkg;
    let spec: PluginSpec | undefined;
    run('checkSpec', () => {
      spec = packageSpec(opened);
    });
    if (spec !== undefined) {
      result.spec = spec;
      result.logicFile = packageEntryPath(abs, 'logic.mjs');
    }
    run('checkHashes', () => verifyEntries(opened));
    run('checkCompatible', () => checkCompatible(opened));
    run('checkOps', () => void packageOps(opened));
  }
  const errorCount = problems.filter((p) => p.severity === 'error').length;
  return {
    root: abs,
    plugins: [result],
    problems,
    errorCount,
    warningCount: problems.length - errorCount,
    durationMs: performance.now() - started,
  };
}

/**
 * A package's error as a problem of the package file. A location inside it
 * (`<file>!/spec.conf`) is no file an editor or GitHub can open: it goes
 * into the message, and the problem points at the package.
 */
export function packageProblem(file: string, check: string, err: NekoError): Problem {
  const loc = err.location;
  const inside = loc !== undefined && loc.file.startsWith(`${file}!/`);
  const where = inside ? `${loc.file.slice(file.length + 2)}:${loc.line}:${loc.column}: ` : '';
  return {
    plugin: file,
    code: err.code,
    severity: 'error',
    check,
    message: `${where}${err.message}`,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    ...(loc === undefined || inside ? {} : { location: loc }),
  };
}
