/**
 * The generated project's own `npm test`, run as a plugin author runs it:
 * in a generated folder whose node_modules are the repository's (what an
 * install gives it). It checks the plugin against the Context contract
 * (`nekoconnect validate`) before it runs the tests, so a `recv` whose
 * parameter is not a Context fails even when the tests, which run the
 * code with its types stripped, pass.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatePlugin } from '../src/index.js';
import { projectDir } from './helpers/dirs.js';

const ANSWERS = { name: 'Dice', greeter: 'dice', description: 'Rolls dice.', packageName: 'dice' };
const TIMEOUT = 120_000;

interface Run {
  code: number | null;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** Runs a command in `cwd` with the environment of a user's shell (none of this run's npm_* variables). */
function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'INIT_CWD'),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd,
      env: { ...env, NO_COLOR: '1', CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function project(): Promise<string> {
  const dir = join(await projectDir(), 'dice');
  await generatePlugin({ destBasePath: dir, dir: '.', answers: ANSWERS });
  return dir;
}

describe("the generated project's npm test", () => {
  it(
    'checks the plugin, then runs its tests: a good project passes',
    async () => {
      const dir = await project();
      const tested = await run('npm', ['test'], dir);
      expect(tested.code, tested.output).toBe(0);
      expect(tested.output).toMatch(/1 plugin valid/);
      expect(tested.output).toMatch(/Tests\s+3 passed \(3\)/);
    },
    TIMEOUT,
  );

  it(
    'fails on a recv whose parameter is not a Context, naming the file and line, though the tests alone pass',
    async () => {
      const dir = await project();
      const file = join(dir, 'logic.ts');
      const good = await readFile(file, 'utf8');
      const signature = '  recv(ctx: Context<State>): void {';
      expect(good).toContain(signature);
      const bad = good.replace(signature, '  recv(ctx: string): void {');
      await writeFile(file, bad);
      const line = bad.split('\n').findIndex((l) => l.includes('recv(ctx: string)')) + 1;

      // The tests run the logic with its types stripped: on their own they pass.
      const alone = await run('npx', ['vitest', 'run'], dir);
      expect(alone.code, alone.output).toBe(0);
      expect(alone.output).toMatch(/Tests\s+3 passed \(3\)/);

      const tested = await run('npm', ['test'], dir);
      expect(tested.code, tested.output).not.toBe(0);
      expect(tested.output).toContain(`logic.ts:${line}:13 error NEKO_ERR_VALIDATE_RECV_PARAM`);
      expect(tested.output).toContain(
        'recv(ctx: string) cannot take the Context the server passes: a Context is an object, not a string',
      );
      expect(tested.output).toContain(`> ${line} |   recv(ctx: string): void {`);
      // The check comes first and stops the run: no test ran.
      expect(tested.output).not.toMatch(/Test Files/);
    },
    TIMEOUT,
  );
});
