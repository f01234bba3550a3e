/**
 * Every `nekoconnect` command line that docs/deploy.md shows, in its code
 * blocks, its unit file, its Containerfile and its prose, names only flags
 * that exist, and parses: the built CLI is run with the line's own arguments
 * and `--help`, which parses every flag strictly (an unknown flag, a bad
 * number, an extra argument is exit 2) and then prints the help instead of
 * starting anything.
 */
import { describe, expect, it } from 'vitest';
import { assertBuilt, CLI, REPO_ROOT } from '../cli/run-cli.js';
import { codeBlocks, guideCommands, run, shellWords } from './guide.js';

/** The long flags a command's `--help` lists, `--help` itself included. */
async function helpFlags(command: string): Promise<Set<string>> {
  const { stdout } = await run(process.execPath, [CLI, command, '--help'], { cwd: REPO_ROOT });
  return new Set([...stdout.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!));
}

describe('the commands of docs/deploy.md', () => {
  const commands = guideCommands();

  it('are found: the guide starts, reloads, drains and validates', () => {
    const names = new Set(commands.map((c) => c.argv[0]));
    expect([...names]).toEqual(expect.arrayContaining(['drain', 'reload', 'start', 'validate']));
    // The unit's ExecStart, the Containerfile's CMD, the backup check, and the upgrade's drain at least.
    expect(commands.filter((c) => c.argv[0] === 'start').length).toBeGreaterThanOrEqual(4);
    expect(commands.some((c) => c.where.includes('nekoconnect.service'))).toBe(true);
    expect(commands.some((c) => c.where.includes('Containerfile'))).toBe(true);
  });

  it('use only flags that the command lists in its --help', async () => {
    assertBuilt();
    const unknown: string[] = [];
    const listed = new Map<string, Set<string>>();
    for (const { where, argv } of commands) {
      const [name, ...args] = argv as [string, ...string[]];
      if (!listed.has(name)) listed.set(name, await helpFlags(name));
      for (const arg of args) {
        const flag = /^(--[a-z][a-z0-9-]*)/.exec(arg)?.[1];
        if (flag !== undefined && !listed.get(name)!.has(flag))
          unknown.push(`${where}: nekoconnect ${name} ${flag}`);
      }
    }
    expect(listed.get('start')?.has('--data-dir')).toBe(true);
    expect(unknown).toEqual([]);
  });

  it('parse: each runs with --help and exits 0', async () => {
    assertBuilt();
    const failed: string[] = [];
    await Promise.all(
      commands.map(async ({ where, argv }) => {
        try {
          await run(process.execPath, [CLI, ...argv, '--help'], { cwd: REPO_ROOT, timeoutMs: 20_000 });
        } catch (err) {
          failed.push(`${where}: nekoconnect ${argv.join(' ')}\n${(err as Error).message}`);
        }
      }),
    );
    expect(failed).toEqual([]);
  });

  it('the parse check fails on a flag that does not exist', async () => {
    assertBuilt();
    // What the tests above rely on: a misspelt flag is refused before --help is looked at.
    await expect(
      run(process.execPath, [CLI, 'start', 'plugins', '--metrics-prot', '9464', '--help'], {
        cwd: REPO_ROOT,
      }),
    ).rejects.toThrow(/exited with 2[\s\S]*metrics-prot/);
  });

  it('the reader finds the command lines where it expects them', () => {
    // A guard on the extraction itself: shell words as a shell splits them, and a command in every kind of block.
    expect(shellWords(`cp -p "$backup"/*.db 'a b' c\\ d`)).toEqual([
      'cp',
      '-p',
      '$backup/*.db',
      'a b',
      'c d',
    ]);
    expect(shellWords(`a b#c # "a comment`)).toEqual(['a', 'b#c']);
    const kinds = new Set(codeBlocks().map((b) => b.lang));
    expect([...kinds]).toEqual(expect.arrayContaining(['ini', 'dockerfile', 'sh', 'json', 'yaml']));
  });
});
