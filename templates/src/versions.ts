/**
 * The versions a generated project depends on: `nekoconnect` and
 * `@nekoconnect/testing` as they are now, and this package itself.
 *
 * In the NekoConnect repository they are read from the packages'
 * package.json files, at generation time. A published copy of this package
 * has no siblings; it carries `dist/versions.json`, written from the same
 * files by the build (`scripts/write-versions.js`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NekoTemplatesError } from './errors.js';

/** Exact versions (`0.1.0`); the templates write them as `^0.1.0`. */
export interface DependencyVersions {
  nekoconnect: string;
  testing: string;
  templates: string;
}

/** The package root: both src/ and dist/ sit one folder below it. */
export const PACKAGE_ROOT = join(import.meta.dirname, '..');

interface PackageJson {
  name?: string;
  version?: string;
}

function readPackage(file: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** A workspace sibling's version, when this package sits in the NekoConnect repository. */
function siblingVersion(root: string, folder: string, name: string): string | undefined {
  const pkg = readPackage(join(root, '..', folder, 'package.json'));
  return pkg?.name === name ? pkg.version : undefined;
}

/**
 * The current versions of `nekoconnect`, `@nekoconnect/testing` and
 * `@nekoconnect/templates`.
 * @param root the templates package's folder (for tests: a copy of it)
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_VERSIONS` when neither the
 *   repository's package.json files nor `dist/versions.json` can be read.
 */
export function dependencyVersions(root: string = PACKAGE_ROOT): DependencyVersions {
  const templates = readPackage(join(root, 'package.json'))?.version;
  const nekoconnect = siblingVersion(root, 'server', 'nekoconnect');
  const testing = siblingVersion(root, 'testing', '@nekoconnect/testing');
  if (templates !== undefined && nekoconnect !== undefined && testing !== undefined) {
    return { nekoconnect, testing, templates };
  }
  const file = join(root, 'dist', 'versions.json');
  const built = readPackage(file) as
    Partial<Record<'nekoconnect' | '@nekoconnect/testing', string>> | undefined;
  const versions = {
    nekoconnect: built?.nekoconnect,
    testing: built?.['@nekoconnect/testing'],
    templates,
  };
  const missing = Object.entries(versions)
    .filter(([, v]) => typeof v !== 'string' || !/^\d+\.\d+\.\d+/.test(v))
    .map(([key]) => (key === 'nekoconnect' ? key : `@nekoconnect/${key}`));
  if (missing.length > 0) {
    throw new NekoTemplatesError(
      'NEKO_ERR_TEMPLATES_VERSIONS',
      `cannot read the version of ${missing.join(', ')}: neither the repository's package.json files nor ${file} have it`,
      { hint: 'reinstall @nekoconnect/templates, or run `npm run build` in the NekoConnect repository' },
    );
  }
  return versions as DependencyVersions;
}
