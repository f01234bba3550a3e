/**
 * The commands of the workspace packages (`nekoconnect`, `create-nekoplugin`)
 * are checked-in launchers under bin/, not files of dist/: npm links a bin only
 * if its file exists at install time, and dist/ is made later, by the build.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../config/cli-in-dir.js';
import { REPO_ROOT } from './run-cli.js';

interface PackageJson {
  name: string;
  version: string;
  bin?: string | Record<string, string>;
  files?: string[];
  workspaces?: string[];
}

interface Bin {
  /** The workspace folder, relative to the repository root (e.g. `server`). */
  workspace: string;
  pkg: PackageJson;
  command: string;
  /** The bin target as package.json gives it, without a leading `./`. */
  target: string;
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

/** Every bin of every workspace package. */
async function workspaceBins(): Promise<Bin[]> {
  const root = await readJson<PackageJson>(path.join(REPO_ROOT, 'package.json'));
  const bins: Bin[] = [];
  for (const workspace of root.workspaces ?? []) {
    const pkg = await readJson<PackageJson>(path.join(REPO_ROOT, workspace, 'package.json'));
    const entries =
      typeof pkg.bin === 'string' ? { [pkg.name.replace(/^@[^/]+\//, '')]: pkg.bin } : (pkg.bin ?? {});
    for (const [command, target] of Object.entries(entries)) {
      bins.push({ workspace, pkg, command, target: path.posix.normalize(target) });
    }
  }
  return bins;
}

function node(
  file: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file, ...args],
      { cwd, env: { ...process.env, NO_COLOR: '1' }, timeout: 15_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const bins = await workspaceBins();

describe('workspace bins', () => {
  it('are the nekoconnect and create-nekoplugin commands', () => {
    expect(bins.map((b) => b.command).sort()).toEqual(['create-nekoplugin', 'nekoconnect']);
  });

  it.each(bins.map((b) => [b.command, b] as const))(
    '%s points at a checked-in, executable launcher that npm can link at install time',
    async (_command, bin) => {
      expect(bin.target.split('/')[0], `${bin.workspace}/package.json bin`).not.toBe('dist');
      const file = path.join(REPO_ROOT, bin.workspace, bin.target);
      const info = await stat(file);
      expect(info.isFile()).toBe(true);
      expect(info.mode & 0o111, `${file} is executable`).not.toBe(0);
      expect((await readFile(file, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
      // Packed, the launcher goes along.
      expect(bin.pkg.files).toContain(bin.target.split('/')[0]);
      // npm ci links bins as package-lock.json records them.
      const lock = await readJson<{ packages: Record<string, { bin?: Record<string, string> }> }>(
        path.join(REPO_ROOT, 'package-lock.json'),
      );
      expect(lock.packages[bin.workspace]?.bin?.[bin.command]).toBe(bin.target);
    },
  );
});

describe('the launchers', () => {
  it.each(bins.map((b) => [b.command, b] as const))(
    '%s runs the built command: --version prints the version',
    async (_command, bin) => {
      const result = await node(path.join(REPO_ROOT, bin.workspace, bin.target), ['--version'], REPO_ROOT);
      expect(result).toEqual({ code: 0, stdout: `${bin.pkg.version}\n`, stderr: '' });
    },
  );

  it.each(bins.map((b) => [b.command, b] as const))(
    '%s, with dist/ missing, says to run the build and exits with 1',
    async (command, bin) => {
      // The package as a fresh clone has it before the build: package.json and the launcher, no dist/.
      const pkgDir = path.join(await tempDir('neko-launcher-'), bin.workspace);
      const launcher = path.join(pkgDir, bin.target);
      await mkdir(path.dirname(launcher), { recursive: true });
      await copyFile(path.join(REPO_ROOT, bin.workspace, bin.target), launcher);
      await writeFile(path.join(pkgDir, 'package.json'), JSON.stringify(bin.pkg));

      const result = await node(launcher, ['--version'], pkgDir);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`${command}: `);
      expect(result.stderr).toContain('is missing');
      expect(result.stderr).toContain('Run `npm run build` from the repository root');
    },
  );
});
