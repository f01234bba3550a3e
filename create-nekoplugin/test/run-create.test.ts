import { describe, expect, it, vi } from 'vitest';
import { NekoTemplatesError } from '@nekoconnect/templates';
import type * as Templates from '@nekoconnect/templates';
import { runCreate, type CreateIo } from '../src/cli.js';
import { listTree, tempDir } from './helpers/cli.js';

// The generator fails after every check passed: a broken install of @nekoconnect/templates.
vi.mock('@nekoconnect/templates', async (importOriginal) => ({
  ...(await importOriginal<typeof Templates>()),
  generatePlugin: vi.fn(async () => {
    throw new NekoTemplatesError('NEKO_ERR_TEMPLATES_VERSIONS', 'cannot read the version of nekoconnect', {
      hint: 'reinstall @nekoconnect/templates',
    });
  }),
}));

function io(cwd: string): CreateIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    out: (line) => lines.push(line),
    err: (line) => errors.push(line),
    progress: process.stdout,
    cwd,
    env: {},
    interactive: false,
    onInterrupt: () => () => {},
  };
}

describe('runCreate', () => {
  it('reports a failing generator as NEKO_ERR_CREATE_GENERATE, exit code 1, and leaves nothing', async () => {
    const cwd = await tempDir();
    const run = io(cwd);
    expect(await runCreate(['dice', '--yes', '--no-install', '--no-git'], run)).toBe(1);
    expect(run.errors.join('\n')).toBe(
      'error NEKO_ERR_CREATE_GENERATE\n  cannot read the version of nekoconnect\n  fix: reinstall @nekoconnect/templates',
    );
    expect(await listTree(cwd)).toEqual([]);
  });

  it('answers --help without loading the templates', async () => {
    const run = io(await tempDir());
    expect(await runCreate(['-h'], run)).toBe(0);
    expect(run.lines[0]).toMatch(/^Usage: npm create nekoplugin/);
  });
});
