import path from 'node:path';
import { isFile } from '../../files.js';
import type { PluginSpec } from '../../plugins/spec.js';
import { shownPath } from '../../format.js';
import type { Finding } from '../problem.js';

/** The extensions a `$logic` name is tried with, in this order (as the loader does). */
const LOGIC_EXTENSIONS = ['.ts', '.js', '.mjs'] as const;

/**
 * The file `$logic` names exists in the plugin folder (`<logic>.ts`, then
 * `.js`, then `.mjs`, as the loader tries them): `NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND`
 * at the `$logic` value otherwise, listing the paths tried (relative to
 * `cwd` when inside it), with the loader's message and hint.
 *
 * The loader's own `resolveLogicFile` is not imported: it would bring the
 * bundler with it. A test keeps the two in step.
 *
 * @returns the logic file, absolute
 */
export async function checkLogicFile(
  dir: string,
  spec: PluginSpec,
  cwd = process.cwd(),
): Promise<{ logicFile?: string; findings: Finding[] }> {
  const candidates = LOGIC_EXTENSIONS.map((ext) => path.join(dir, `${spec.logic}${ext}`));
  for (const file of candidates) {
    if (await isFile(file)) return { logicFile: path.resolve(file), findings: [] };
  }
  const tried = candidates.map((file) => shownPath(file, cwd));
  const hasExtension = /\.(?:[cm]?[jt]s|tsx?|jsx)$/.test(spec.logic);
  const location = spec.entries.get('logic')?.valueLocation;
  return {
    findings: [
      {
        code: 'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND',
        message: `no logic file for $logic {"${spec.logic}"}: tried ${tried.join(', ')}`,
        hint: hasExtension
          ? `write $logic without the extension, e.g. $logic {"${spec.logic.replace(/\.[^.]*$/, '')}"};`
          : `create ${tried[0] ?? spec.logic} exporting \`class Logic\`, or fix the $logic entry`,
        ...(location === undefined ? {} : { location }),
      },
    ],
  };
}
