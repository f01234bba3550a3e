import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_FILES } from '../src/index.js';
import { PACKAGE_ROOT } from '../src/versions.js';

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
});
