import { isNekoError } from '../../errors.js';
import { readSpec, type PluginSpec } from '../../plugins/spec.js';
import { findingFromError, type Finding } from '../problem.js';

/**
 * spec.conf exists and parses, with the server's own parser: the four
 * required entries are present, the greeter can travel in a frame and is
 * not reserved, `$logic` is a plain file name (no `/`, `\` or `..`).
 *
 * Finds the first problem only, with the parser's precise position:
 * `NEKO_ERR_SPEC_READ`, `NEKO_ERR_SPEC_SYNTAX`, `NEKO_ERR_SPEC_DUPLICATE_KEY`,
 * `NEKO_ERR_SPEC_UNKNOWN_KEY`, `NEKO_ERR_SPEC_MISSING_KEY`, `NEKO_ERR_SPEC_BAD_GREETER`,
 * `NEKO_ERR_SPEC_RESERVED_GREETER` or `NEKO_ERR_SPEC_BAD_LOGIC_PATH`.
 */
export async function checkSpecFile(dir: string): Promise<{ spec?: PluginSpec; findings: Finding[] }> {
  try {
    return { spec: await readSpec(dir), findings: [] };
  } catch (err) {
    if (isNekoError(err)) return { findings: [findingFromError(err)] };
    throw err;
  }
}
