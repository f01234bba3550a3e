import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dependencyVersions, isNekoTemplatesError } from '../src/index.js';
import { PACKAGE_ROOT } from '../src/versions.js';
import { REPO_ROOT, tempDir } from './helpers/dirs.js';

async function version(folder: string): Promise<string> {
  return (JSON.parse(await readFile(join(REPO_ROOT, folder, 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** A copy of the package as npm installs it: no sibling folders. */
async function installedCopy(versions?: object): Promise<string> {
  const root = join(await tempDir(), 'node_modules', '@nekoconnect', 'templates');
  await mkdir(join(root, 'dist'), { recursive: true });
  await writeFile(
    join(root, 'package.json'),
    JSON.stringify({ name: '@nekoconnect/templates', version: '1.2.3' }),
  );
  if (versions) await writeFile(join(root, 'dist', 'versions.json'), JSON.stringify(versions));
  return root;
}

describe('dependencyVersions', () => {
  it("reads the repository's package.json files", async () => {
    expect(dependencyVersions()).toEqual({
      nekoconnect: await version('server'),
      testing: await version('testing'),
      templates: await version('templates'),
    });
  });

  it('the build copies them into dist/versions.json', async () => {
    const built = JSON.parse(await readFile(join(PACKAGE_ROOT, 'dist', 'versions.json'), 'utf8')) as object;
    expect(built).toEqual({
      nekoconnect: await version('server'),
      '@nekoconnect/testing': await version('testing'),
    });
  });

  it('reads dist/versions.json in an installed copy', async () => {
    const root = await installedCopy({ nekoconnect: '2.0.0', '@nekoconnect/testing': '2.0.1' });
    expect(dependencyVersions(root)).toEqual({ nekoconnect: '2.0.0', testing: '2.0.1', templates: '1.2.3' });
  });

  it('fails with NEKO_ERR_TEMPLATES_VERSIONS when neither has them', async () => {
    const root = await installedCopy({ nekoconnect: '2.0.0' });
    let err: unknown;
    try {
      dependencyVersions(root);
    } catch (e) {
      err = e;
    }
    expect(isNekoTemplatesError(err, 'NEKO_ERR_TEMPLATES_VERSIONS')).toBe(true);
    expect((err as Error).message).toBe(
      `cannot read the version of @nekoconnect/testing: neither the repository's package.json files nor ${join(root, 'dist', 'versions.json')} have it`,
    );
  });
});
