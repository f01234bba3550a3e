import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { NekoError } from '../errors.js';
import { isFile } from '../files.js';
import { errorMessage } from '../format.js';

/** What a folder given to the validator holds. */
export interface PluginFolders {
  /** The plugin folders, absolute, in name order. */
  dirs: string[];
  /** True when the folder is itself a plugin folder (it has a spec.conf). */
  single: boolean;
}

/**
 * The plugin folders of `root`: `root` itself when it has a spec.conf, else
 * each immediate subfolder that has one, as the server loads them (names
 * starting with `.` and `node_modules` are skipped).
 *
 * @throws NekoError `NEKO_ERR_PLUGINS_DIR` when `root` is not a readable
 *   folder, `NEKO_ERR_VALIDATE_NO_PLUGINS` when it holds no plugin.
 */
export async function findPluginFolders(root: string): Promise<PluginFolders> {
  let names: string[];
  try {
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
    if (await isFile(path.join(root, 'spec.conf'))) return { dirs: [root], single: true };
    names = (await readdir(root, { withFileTypes: true }))
      .filter(
        (e) =>
          (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.') && e.name !== 'node_modules',
      )
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (err) {
    throw new NekoError('NEKO_ERR_PLUGINS_DIR', `cannot read ${root}: ${errorMessage(err)}`, {
      cause: err,
      hint: 'give a plugin folder (one with a spec.conf) or a folder of plugin folders',
    });
  }
  const dirs = names.map((name) => path.join(root, name));
  const hasSpec = await Promise.all(dirs.map((dir) => isFile(path.join(dir, 'spec.conf'))));
  const plugins = dirs.filter((_, i) => hasSpec[i] === true);
  if (plugins.length === 0) {
    throw new NekoError(
      'NEKO_ERR_VALIDATE_NO_PLUGINS',
      `${root} is not a plugin folder (it has no spec.conf) and holds no plugin folder`,
      { hint: 'give a plugin folder or a folder of them, e.g. `nekoconnect validate plugins`' },
    );
  }
  return { dirs: plugins, single: false };
}
