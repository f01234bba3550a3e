/**
 * For the tests of the bus and presence across real processes: the
 * fixtures bundled once per file (esbuild, inside the repository so that
 * the bundle finds the packages it leaves out), and processes forked with
 * IPC (`serialization: 'advanced'`, as the primary forks its workers),
 * each killed when the test (or the file) ends.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

/** Bundles the fixtures into a temporary folder; `remove` deletes it. */
export async function bundleFixtures(
  names: readonly string[],
): Promise<{ paths: Record<string, string>; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(import.meta.dirname, '.ipc-process-'));
  const paths: Record<string, string> = {};
  for (const name of names) {
    paths[name] = path.join(dir, `${name}.mjs`);
    await build({
      entryPoints: [path.join(import.meta.dirname, 'fixtures', `${name}.ts`)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile: paths[name],
      logLevel: 'silent',
    });
  }
  return { paths, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A forked fixture, resolved once it sent `{ test: 'ready', … }` (its other fields as `ready`). */
export async function forkFixture(
  file: string,
  forked?: (child: ChildProcess) => void,
): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = fork(file, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  forked?.(child);
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      const m = message as { test?: string };
      if (m?.test !== 'ready') return;
      child.off('message', onMessage);
      resolve(m as Record<string, unknown>);
    };
    child.on('message', onMessage);
    child.once('exit', (code, signal) =>
      reject(
        new Error(
          `the fixture ${path.basename(file)} exited (${String(code ?? signal)}) before it was ready`,
        ),
      ),
    );
  });
  return { child, ready };
}

/** Ends a forked fixture: SIGKILL unless it already exited; resolves once it has. */
export async function killFixture(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
