import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { THROW_LINE } from './fixtures/reports/thrower/logic.js';
import { FIXTURES } from './helpers/fixtures.js';

const REPORTS = join(FIXTURES, 'reports');
const VITEST = join(createRequire(import.meta.url).resolve('vitest/package.json'), '..', 'vitest.mjs');

/** Runs one test file of fixtures/reports in a child vitest; resolves with what it printed, colours off. */
function runVitest(file: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  // This process's vitest settings must not leak into the child.
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'TEST') delete env[key];
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [VITEST, 'run', '--config', join(REPORTS, 'vitest.config.ts'), file],
      { cwd: REPORTS, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('what vitest prints for a failing plugin', () => {
  it('reports a plugin that fails to load once per test file, with its fix', async () => {
    const out = await runVitest('load-failure.check.ts');
    // The blocks of useTestServer() fail in their beforeAll: their tests are skipped.
    expect(out).toMatch(/Tests\s+3 failed \| 3 skipped/);
    // Every failed test and block is listed; each plugin's error is printed once, with its fix.
    expect(count(out, 'FAIL  load-failure.check.ts')).toBe(5);
    expect(count(out, 'NEKO_ERR_SPEC_UNKNOWN_KEY unknown entry $gret')).toBe(1);
    expect(count(out, 'fix: rename $gret to $greet')).toBe(1);
    expect(out).toContain(`${join(REPORTS, 'misspelled', 'spec.conf')}:3:1`);
    // The same for a plugin loaded by useTestServer() in two describe blocks.
    expect(count(out, 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT /')).toBe(1);
    expect(count(out, 'fix: write `export class Logic')).toBe(1);
  }, 60_000);

  it("adds the handler's error and its logic.ts line to a test that failed on a status 500", async () => {
    const out = await runVitest('handler-failure.check.ts');
    expect(out).toMatch(/Tests\s+1 failed/);
    expect(out).toContain('expected 500 to be 200');
    expect(out).toContain(`client 1: the plugin's handler failed during this test:`);
    expect(out).toContain(
      '"thrower" op 2 was answered status 500 (plugin handler failed): TypeError: no score for mimi',
    );
    expect(out).toContain(`thrower/logic.ts:${THROW_LINE}:`);
  }, 60_000);
});
