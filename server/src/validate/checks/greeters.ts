import { checkGreetersUnique as findDuplicateGreeters } from '../../plugins/checks.js';
import type { PluginSpec } from '../../plugins/spec.js';
import { shownPath } from '../../format.js';
import { findingFromError, type Finding } from '../problem.js';

/**
 * Every greeter of a plugins directory is declared by one folder only, as
 * the server requires when it loads them: for each folder that shares its
 * greeter, `NEKO_ERR_PLUGIN_DUPLICATE_GREETER` at its `$greet` value, naming
 * all of them (relative to `cwd` when inside it).
 *
 * @returns the finding of each such folder, by folder
 */
export function checkGreetersUnique(
  plugins: readonly { dir: string; spec: PluginSpec }[],
  cwd = process.cwd(),
): Map<string, Finding> {
  const shown = plugins.map((p) => ({ dir: shownPath(p.dir, cwd), spec: p.spec }));
  const errors = findDuplicateGreeters(shown);
  const findings = new Map<string, Finding>();
  plugins.forEach((plugin, i) => {
    const err = errors.get(shown[i]!.dir);
    if (err !== undefined) findings.set(plugin.dir, findingFromError(err));
  });
  return findings;
}
