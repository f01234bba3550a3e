/**
 * What the published packages hold, as `npm pack` lists it: each has its
 * README.md and the MIT LICENSE, and nekoconnect ships the guides
 * (docs/*.md), so that `node_modules/nekoconnect/docs/…` exists after an
 * install and the READMEs can point there.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createServer } from '../../src/server/server.js';
import { REPO_ROOT } from '../cli/run-cli.js';

const run = promisify(execFile);

const PACKAGES = [
  { dir: 'server', name: 'nekoconnect' },
  { dir: 'testing', name: '@nekoconnect/testing' },
  { dir: 'templates', name: '@nekoconnect/templates' },
  { dir: 'create-nekoplugin', name: 'create-nekoplugin' },
] as const;

/** The files `npm pack` would put in the package of `dir`, without running any script. */
async function packedFiles(dir: string): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: join(REPO_ROOT, dir),
  });
  const [pack] = JSON.parse(stdout) as Array<{ name: string; files: Array<{ path: string }> }>;
  return pack!.files.map((f) => f.path);
}

/** The guides of the repository: docs/*.md. */
async function guides(): Promise<string[]> {
  return (await readdir(join(REPO_ROOT, 'docs'))).filter((f) => f.endsWith('.md')).sort();
}

function assertDocsBuilt(): void {
  if (!existsSync(join(REPO_ROOT, 'server', 'docs')))
    throw new Error(
      'server/docs is missing: run `npm run build` first (npm test does); it copies docs/ there.',
    );
}

describe('the published packages', () => {
  it.each(PACKAGES)('$name ships its README.md and the MIT LICENSE', async ({ dir, name }) => {
    const files = await packedFiles(dir);
    expect(files).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json']));
    const license = await readFile(join(REPO_ROOT, dir, 'LICENSE'), 'utf8');
    expect(license).toBe(await readFile(join(REPO_ROOT, 'LICENSE'), 'utf8'));
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the NekoConnect authors\n/);
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, dir, 'package.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect([pkg.name, pkg.license]).toEqual([name, 'MIT']);
    const readme = await readFile(join(REPO_ROOT, dir, 'README.md'), 'utf8');
    expect(readme.split('\n')[0]).toBe(`# ${name}`);
    expect(readme.match(/^## .*/gm)).toEqual(['## Install', '## Example', '## Documentation', '## License']);
  });

  it('nekoconnect ships every guide of docs/', async () => {
    assertDocsBuilt();
    const files = await packedFiles('server');
    const docs = await guides();
    expect(docs.length).toBeGreaterThan(5);
    for (const doc of docs) {
      expect(files).toContain(`docs/${doc}`);
      // The copy made by the build, not something else of that name (its content follows docs/ at each build).
      const title = (file: string): Promise<string | undefined> =>
        readFile(file, 'utf8').then((text) => text.split('\n')[0]);
      expect(await title(join(REPO_ROOT, 'server', 'docs', doc)), `server/docs/${doc}`).toBe(
        await title(join(REPO_ROOT, 'docs', doc)),
      );
    }
    // And in this workspace, where node_modules/nekoconnect is the server folder.
    expect(existsSync(join(REPO_ROOT, 'node_modules', 'nekoconnect', 'docs', 'plugins.md'))).toBe(true);
  });

  it('the guides the READMEs point to are in the nekoconnect package', async () => {
    assertDocsBuilt();
    const shipped = new Set(await packedFiles('server'));
    const pointers: string[] = [];
    for (const { dir } of PACKAGES) {
      const readme = await readFile(join(REPO_ROOT, dir, 'README.md'), 'utf8');
      // `node_modules/nekoconnect/docs/x.md` anywhere; in nekoconnect's own README, links to docs/x.md.
      for (const m of readme.matchAll(/node_modules\/nekoconnect\/(docs\/[\w.-]+)/g)) pointers.push(m[1]!);
      if (dir === 'server') for (const m of readme.matchAll(/\]\((docs\/[^)#]+)/g)) pointers.push(m[1]!);
    }
    expect(pointers.length).toBeGreaterThan(10);
    expect(pointers.filter((p) => !shipped.has(p))).toEqual([]);
  });

  it("nekoconnect's README example runs: its plugin answers its client as the comment says", async () => {
    const readme = await readFile(join(REPO_ROOT, 'server', 'README.md'), 'utf8');
    const spec = /```text\nspec\.conf\s+([\s\S]*?)```/.exec(readme)?.[1]?.replace(/^\s+/gm, '');
    const logic = /```ts\n\/\/ logic\.ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const client = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect([spec, logic, client].map((part) => part !== undefined)).toEqual([true, true, true]);

    // Inside the repository, so that `nekoconnect` and `nekoconnect/client` resolve as they do for a reader.
    const dir = join(REPO_ROOT, '.nekoconnect', 'package-readme-test');
    await mkdir(join(dir, 'plugins', 'echo'), { recursive: true });
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'plugins', 'echo', 'spec.conf'), spec!);
    await writeFile(join(dir, 'plugins', 'echo', 'logic.ts'), logic!);
    const server = createServer({
      secret: 'package-readme-secret',
      plugins: join(dir, 'plugins'),
      port: 0,
      storage: { backend: 'memory' },
    });
    const { port } = await server.listen();
    onTestFinished(() => server.close());

    const file = join(dir, 'hello.mjs');
    expect(client).toContain('connect({ secret: process.env.NEKOCONNECT_SECRET })');
    await writeFile(file, client!.replace('connect({ ', `connect({ port: ${port}, `));
    const { stdout } = await run(process.execPath, [file], {
      env: { ...process.env, NEKOCONNECT_SECRET: 'package-readme-secret' },
      timeout: 15_000,
    });
    expect(stdout).toBe(`${/console\.log\(.*\); \/\/ (.*)/.exec(client!)![1]}\n`);
  });
});
