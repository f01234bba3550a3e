import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The version of the `nekoconnect` package this CLI belongs to. */
export function packageVersion(): string {
  // Both src/cli and dist/cli sit two folders below the package root.
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
