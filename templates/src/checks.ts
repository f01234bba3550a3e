/**
 * The checks the generators run before they write anything: the folder to
 * generate into, and the greeters already declared in a plugins directory.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NekoTemplatesError } from './errors.js';

/**
 * Checks that `dir` can receive a new plugin: it does not exist, or it is a
 * folder that is empty (a `.git` folder alone counts as empty), or `force`.
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_TARGET_NOT_EMPTY`.
 */
export function checkTarget(dir: string, force = false): void {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) {
      throw new NekoTemplatesError(
        'NEKO_ERR_TEMPLATES_TARGET_NOT_EMPTY',
        `${dir} exists and is not a folder`,
        {
          hint: 'pick another folder name, or move the file away',
        },
      );
    }
    entries = readdirSync(dir);
  } catch (err) {
    // Missing: fine. A file where a parent folder should be: the write fails and says so.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw err;
  }
  const others = entries.filter((e) => e !== '.git');
  if (others.length > 0 && !force) {
    const shown = others.sort().slice(0, 3).join(', ') + (others.length > 3 ? ', …' : '');
    throw new NekoTemplatesError(
      'NEKO_ERR_TEMPLATES_TARGET_NOT_EMPTY',
      `${dir} is not empty (it holds ${shown})`,
      { hint: 'pick an empty or new folder, or force it to overwrite the files it generates' },
    );
  }
}

/** `$key {"value"}` of a spec.conf, best effort (an entry starts a line or follows a `;`). */
export function specValue(specText: string, key: string): string | undefined {
  const entry = new RegExp(`(?:^|;)[ \\t]*\\$${key}\\s*\\{\\s*"([^"]*)"\\s*\\}`, 'm').exec(specText);
  return entry?.[1];
}

/**
 * Checks that no plugin folder in `pluginsDir` declares `greeter` already.
 * A plugins directory that does not exist yet holds no greeter.
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_GREETER_TAKEN`, naming the folder.
 */
export function checkGreeterFree(pluginsDir: string, greeter: string): void {
  let folders: string[];
  try {
    folders = readdirSync(pluginsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
      .map((e) => e.name)
      .sort();
  } catch {
    return;
  }
  for (const folder of folders) {
    let spec: string;
    try {
      spec = readFileSync(join(pluginsDir, folder, 'spec.conf'), 'utf8');
    } catch {
      continue;
    }
    if (specValue(spec, 'greet') === greeter) {
      throw new NekoTemplatesError(
        'NEKO_ERR_TEMPLATES_GREETER_TAKEN',
        `the greeter "${greeter}" is already declared by ${join(pluginsDir, folder, 'spec.conf')}`,
        { hint: 'greeters are unique in a plugins directory: pick another one' },
      );
    }
  }
}
