import path from 'node:path';

/** `file` relative to `cwd` when inside it, else as given: how paths are shown to people. */
export function shownPath(file: string, cwd: string = process.cwd()): string {
  const rel = path.relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
