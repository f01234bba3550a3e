/**
 * Where the Playground's ops of a plugin come from: the one place to ask.
 *
 * - A plugin loaded from a `.ncp` package carries the ops its `pack`
 *   extracted (`ops.json`): they are read from the package (nothing is
 *   parsed, and a package has no sources to parse).
 * - Else its `Op` table and doc comments are read from the logic file by
 *   `extractOps` (validate/ops.ts): under `dev` through the watcher's warm
 *   validator, under `start --playground` through a validator created on
 *   first use. `validate/` is imported only then, so that a server without
 *   the Playground never loads TypeScript.
 */
import type { ExtractedOps } from '../validate/ops.js';
import type { LoadedPlugin } from '../plugins/loader.js';
import { packageOps, readPackage } from '../plugins/package.js';
import { errorMessage } from '../format.js';
import type { PlaygroundOp } from './wire.js';

/** Reads the ops of a plugin folder (see `Validator.ops` of validate/validator.ts). */
export type OpsReader = (pluginDir: string) => Promise<ExtractedOps>;

/** A plugin's ops for the page, or none and why. */
export interface PluginOps {
  readonly ops: readonly PlaygroundOp[];
  readonly reason?: string;
}

/** How a Playground finds the ops of its plugins. */
export interface PluginOpsSources {
  /**
   * The ops of a plugin loaded from a package; default: its `ops.json`, read
   * from the package file.
   */
  readonly packaged?: (file: string) => Promise<PluginOps>;
  /** Reads a plugin folder's `Op` table; default: a validator created on first use. */
  readonly reader?: OpsReader;
}

/** The ops of each plugin, from its package or its sources. */
export class OpsCatalog {
  readonly #packaged: (file: string) => Promise<PluginOps>;
  readonly #reader: OpsReader;
  /** The validator this catalog created (when none was given), disposed with it. */
  #own: Promise<{ ops: OpsReader; dispose: () => void }> | undefined;

  constructor(sources: PluginOpsSources = {}) {
    this.#packaged = sources.packaged ?? opsJsonOf;
    this.#reader = sources.reader ?? ((dir) => this.#ownReader(dir));
  }

  /** The ops of `plugin`: never throws (a failure is the reason there are none). */
  async opsOf(plugin: LoadedPlugin): Promise<PluginOps> {
    try {
      if (plugin.package !== undefined) return await this.#packaged(plugin.package.file);
      const extracted = await this.#reader(plugin.dir);
      const ops = extracted.ops.map((op) => ({
        name: op.name,
        op: op.op,
        ...(op.doc === undefined ? {} : { doc: op.doc }),
      }));
      return 'reason' in extracted ? { ops, reason: extracted.reason } : { ops };
    } catch (err) {
      return { ops: [], reason: `its ops could not be read: ${errorMessage(err)}` };
    }
  }

  /** Lets go of the validator it created, if any. */
  dispose(): void {
    const own = this.#own;
    this.#own = undefined;
    void own?.then((validator) => validator.dispose()).catch(() => undefined);
  }

  async #ownReader(dir: string): Promise<ExtractedOps> {
    // Lazily: ts-morph loads only once the page asks for ops.
    this.#own ??= import('../validate/validator.js').then(({ createValidator }) => {
      const validator = createValidator();
      return { ops: (d: string) => validator.ops(d), dispose: () => validator.dispose() };
    });
    return (await this.#own).ops(dir);
  }
}

/** The `ops.json` of a package file. */
async function opsJsonOf(file: string): Promise<PluginOps> {
  const ops = packageOps(await readPackage(file));
  return 'reason' in ops ? { ops: [], reason: `${ops.reason} (ops.json of ${file})` } : { ops: ops.ops };
}
