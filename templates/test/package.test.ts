import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_FILES, generatePlugin, pluginDefaults } from '../src/index.js';
import { PACKAGE_ROOT } from '../src/versions.js';
import { REPO_ROOT, tempDir } from './helpers/dirs.js';

const run = promisify(execFile);

describe('the published package', () => {
  it('ships the built code, versions.json and every template, the gitignore template included', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: PACKAGE_ROOT,
    });
    const [pack] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
    const files = pack!.files.map((f) => f.path);
    for (const [template] of PROJECT_FILES) expect(files).toContain(`templates/plugin/${template}`);
    expect(files).toContain('templates/plugin/_gitignore.tmpl');
    for (const t of ['entry', 'case', 'handler', 'test', 'test-file', 'readme-row'])
      expect(files).toContain(`templates/op/${t}.tmpl`);
    expect(files).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/plopfile.js', 'dist/versions.json']),
    );
    expect(
      files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('scripts/')),
    ).toEqual([]);
  });

  it("the generated README's links into node_modules/nekoconnect/docs are guides the nekoconnect package ships", async () => {
    const dest = await tempDir();
    await generatePlugin({ destBasePath: dest, dir: '.', answers: pluginDefaults('dice') });
    const readme = await readFile(join(dest, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(node_modules\/nekoconnect\/(docs\/[^)#]+)/g)].map((m) => m[1]!);
    expect(links).toEqual(['docs/plugins.md', 'docs/testing.md', 'docs/create.md', 'docs/errors.md']);
    // Every mention, linked or not, points into the package's docs folder.
    expect(
      readme
        .match(/node_modules\/nekoconnect\/[^\s)`]*/g)
        ?.every((m) => m.startsWith('node_modules/nekoconnect/docs/')),
    ).toBe(true);
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: join(REPO_ROOT, 'server'),
    });
    const [pack] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
    const shipped = pack!.files.map((f) => f.path);
    expect(links.filter((l) => !shipped.includes(l))).toEqual([]);
    // In this workspace node_modules/nekoconnect is the server folder: the links resolve here too.
    for (const link of links)
      expect(existsSync(join(REPO_ROOT, 'node_modules', 'nekoconnect', link)), link).toBe(true);
  });
});
