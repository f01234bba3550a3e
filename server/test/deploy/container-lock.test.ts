/**
 * What docs/deploy.md says about a container restarted after a kill: the
 * lock its killed server left names the pid the new server gets (in a
 * container, the same at every start), and the new server takes it over:
 * a lock naming its own pid is one it did not take. Played without a
 * container: a process writes such a lock (its own pid, this host name)
 * into a fresh data directory, then runs `nekoconnect start` in itself.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { assertBuilt, CLI, REPO_ROOT } from '../cli/run-cli.js';
import { GUIDE } from './guide.js';

describe('the lock after a crash, as docs/deploy.md describes it for containers', () => {
  it("a lock naming the starting server's own pid and host name is taken over, as the guide says", async () => {
    assertBuilt();
    expect(readFileSync(GUIDE, 'utf8').replace(/\s+/g, ' ')).toMatch(
      /a lock that names the new server's own pid cannot be another server's: it takes it over/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'neko-deploy-lock-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'data');
    const script = join(dir, 'restarted.mjs');
    await writeFile(
      script,
      `import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
mkdirSync(${JSON.stringify(dataDir)}, { mode: 0o700 });
// The lock a killed server left: the pid this process has now, as a restarted container's server would.
writeFileSync(${JSON.stringify(join(dataDir, 'nekoconnect.lock'))},
  JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }) + '\\n');
process.argv = [process.argv[0], ${JSON.stringify(CLI)}, 'start', ${JSON.stringify(join(REPO_ROOT, 'plugins', 'echo'))},
  '--data-dir', ${JSON.stringify(dataDir)}, '--port', '0', '--no-dashboard'];
await import(${JSON.stringify(CLI)});
`,
    );
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, NEKOCONNECT_SECRET: 'deploy-lock-secret-0123456789', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (/listening on/.test(out)) resolve();
      };
      child.stdout.on('data', check);
      child.on('exit', () => reject(new Error(`exited before listening:\n${out}`)));
    });
    expect(out).not.toContain('NEKO_ERR_STORAGE_LOCKED');
    const lock = JSON.parse(readFileSync(join(dataDir, 'nekoconnect.lock'), 'utf8')) as {
      pid: number;
      startedAt: string;
    };
    expect(lock.pid).toBe(child.pid);
    expect(lock.startedAt).not.toBe('2026-01-01T00:00:00.000Z');
    child.kill('SIGTERM');
    expect(await new Promise<number | null>((resolve) => child.on('exit', resolve))).toBe(0);
  });
});
