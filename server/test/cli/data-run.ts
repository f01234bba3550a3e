import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { NedbStorage } from '../../src/storage/nedb/storage.js';
import { CLI, REPO_ROOT } from './run-cli.js';

/** Runs the built CLI to completion, with `stdin` as its input (none: an empty one). */
export function runData(
  args: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', NEKOCONNECT_DATABASE_URL: '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A fresh temp folder, removed when the test ends. */
export async function tempDir(prefix = 'neko-data-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The same dates everywhere, so that exports can be compared byte for byte. */
export const AT = new Date('2026-03-04T05:06:07.089Z');

/**
 * Stores a known set of data in a nedb data directory: documents with
 * Dates, nested objects and arrays, cells (one holding `{"$date": "x"}`),
 * in three greeters (one with an upper-case letter and a slash).
 */
export async function seedNedb(dir: string): Promise<void> {
  const storage = new NedbStorage({ dataDir: dir });
  try {
    const todo = await storage.open('todo');
    await todo.insert({ _id: 't2', title: 'milk', done: false, at: AT, tags: ['shop', { at: AT }] });
    await todo.insert({ _id: 't1', title: 'eggs', done: true, meta: { by: { name: 'neko', n: 2 } } });
    await todo.set('count', 2);
    await todo.set('weird', { $date: 'x' });
    const chat = await storage.open('Chat/room');
    await chat.insert({ _id: 'm1', text: 'hi', at: AT, list: [[1, 2], [], null] });
    await chat.set('topic', { title: 'cats', pinned: ['a', 'b'] });
    const score = await storage.open('score');
    await score.set('best', 99.5);
    await storage.open('empty');
  } finally {
    await storage.closeAll();
  }
}
