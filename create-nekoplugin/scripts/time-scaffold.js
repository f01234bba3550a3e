// How long `create-nekoplugin <dir> --yes --no-install --no-git` takes, as a
// user waits for it: the built bin in a fresh process each run, wall clock.
// Usage: node create-nekoplugin/scripts/time-scaffold.js [runs] [bin]
// (after `npm run build`; bin defaults to this package's dist/index.js).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const runs = Number(process.argv[2] ?? 10);
const bin = process.argv[3] ?? join(import.meta.dirname, '..', 'dist', 'index.js');
const cwd = mkdtempSync(join(tmpdir(), 'time-scaffold-'));

function time(args) {
  const started = performance.now();
  execFileSync(process.execPath, [bin, ...args], {
    cwd,
    stdio: 'ignore',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return performance.now() - started;
}

function summary(label, times) {
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const ms = (t) => `${Math.round(t)} ms`;
  console.log(
    `${label.padEnd(34)} min ${ms(sorted[0])}  median ${ms(median)}  max ${ms(sorted.at(-1))}  (${runs} runs)`,
  );
}

try {
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log(
    `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${load}`,
  );
  time(['warm-up', '--yes', '--no-install', '--no-git']);
  summary(
    'node + --version (no templates)',
    Array.from({ length: runs }, () => time(['--version'])),
  );
  summary(
    'scaffold (--no-install --no-git)',
    Array.from({ length: runs }, (_, i) => time([`p${i}`, '--yes', '--no-install', '--no-git'])),
  );
} finally {
  rmSync(cwd, { recursive: true, force: true });
}
