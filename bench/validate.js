/**
 * Benchmark of `nekoconnect validate` (not a test: it prints figures and
 * checks nothing against a limit):
 *
 *   npm run build && node bench/validate.js [--rounds <n>] [--edits <n>] [--plugin <name>] [--no-write]
 *
 * 1. Cold: `nekoconnect validate <plugin>` against `tsc --noEmit` on the same
 *    plugin, each a fresh process, alternating, `--rounds` times (default
 *    10). Two setups: the plugin as in this repository, without a
 *    tsconfig.json (tsc gets the validator's default options as flags), and
 *    the plugin with a tsconfig.json (`tsc --noEmit -p`).
 * 2. Warm: one validator kept alive; a one-line edit of the logic file,
 *    `update(file)`, `validate(dir)`, `--edits` times (default 20). Every
 *    other edit introduces a type error, so each run must find it or not.
 *
 * The plugin (default `chat`) is copied to a temporary folder whose
 * `node_modules` links to this repository's `nekoconnect` and `@types/node`,
 * so both tools resolve the same files. Results go to
 * bench/results/validate.json unless --no-write.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const cli = path.join(root, 'server', 'dist', 'cli', 'main.js');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    edits: { type: 'string', default: '20' },
    plugin: { type: 'string', default: 'chat' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/validate.js [--rounds <n>] [--edits <n>] [--plugin <name>] [--no-write]');
  process.exit(0);
}
const rounds = positive('rounds');
const edits = positive('edits');

/** The validator's default compiler options, as tsc flags (see server/src/validate/compiler.ts). */
const TSC_DEFAULT_FLAGS = [
  '--noEmit',
  '--strict',
  '--target',
  'es2023',
  '--lib',
  'es2023',
  '--module',
  'nodenext',
  '--moduleResolution',
  'nodenext',
  '--skipLibCheck',
  '--allowJs',
  '--types',
  'node',
];

/** The same options as a tsconfig.json, checking the logic file (and what it imports). */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2023',
    lib: ['ES2023'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  },
  files: ['logic.ts'],
};

/**
 * Makes a process print its CPU time (user + system, all its threads) to
 * stderr when it exits; loaded into both tools alike with --import.
 */
const CPU_PROBE = `data:text/javascript,${encodeURIComponent(
  "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('\\n__cpu_ms__ ' + (u.user + u.system) / 1000 + '\\n'); });",
)}`;

// 1. A copy of the plugin that resolves `nekoconnect` and `@types/node` as the repository does.
const temp = await mkdtemp(path.join(os.tmpdir(), 'neko-bench-validate-'));
process.on('exit', () => void rm(temp, { recursive: true, force: true }));
const modules = path.join(temp, 'node_modules');
await mkdir(path.join(modules, '@types'), { recursive: true });
const linkType = process.platform === 'win32' ? 'junction' : 'dir';
await symlink(path.join(root, 'server'), path.join(modules, 'nekoconnect'), linkType);
await symlink(
  path.join(root, 'node_modules', '@types', 'node'),
  path.join(modules, '@types', 'node'),
  linkType,
);
const plain = path.join(temp, values.plugin);
const configured = path.join(temp, `${values.plugin}-tsconfig`);
await cp(path.join(root, 'plugins', values.plugin), plain, {
  recursive: true,
  filter: (src) => !src.endsWith('.test.ts'),
});
await cp(plain, configured, { recursive: true });
await writeFile(path.join(configured, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));

// 2. Cold runs, alternating: validate, validate without its code cache, and tsc.
const noCache = { NODE_DISABLE_COMPILE_CACHE: '1' };
const cases = [
  {
    name: 'no tsconfig.json',
    validate: () => run([cli, 'validate', plain, '--json'], plain),
    validateNoCache: () => run([cli, 'validate', plain, '--json'], plain, noCache),
    tsc: () => run([tsc, ...TSC_DEFAULT_FLAGS, 'logic.ts'], plain),
  },
  {
    name: 'tsconfig.json',
    validate: () => run([cli, 'validate', configured, '--json'], configured),
    validateNoCache: () => run([cli, 'validate', configured, '--json'], configured, noCache),
    tsc: () => run([tsc, '--noEmit', '-p', configured], configured),
  },
];
const TOOLS = ['validate', 'validateNoCache', 'tsc'];
const LABELS = { validate: 'validate', validateNoCache: 'validate, no code cache', tsc: 'tsc --noEmit' };
const cold = [];
console.log(
  `node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, plugin ${values.plugin}`,
);
console.log(`cold: ${rounds} round(s), alternating; wall time and CPU time (user + system) of each process`);
for (const c of cases) {
  const runs = { validate: [], validateNoCache: [], tsc: [] };
  // Warm the code cache (and the OS file cache) once, outside the measurement.
  c.validate();
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? TOOLS : [...TOOLS].reverse();
    for (const tool of order) runs[tool].push(c[tool]());
  }
  const result = { case: c.name };
  for (const tool of TOOLS) {
    result[tool] = {
      wallMs: summarize(runs[tool].map((r) => r.wall)),
      cpuMs: summarize(runs[tool].map((r) => r.cpu)),
    };
  }
  result.wallRatio = result.validate.wallMs.median / result.tsc.wallMs.median;
  result.cpuRatio = result.validate.cpuMs.median / result.tsc.cpuMs.median;
  cold.push(result);
  console.log(`  ${c.name}: median (min)`);
  for (const tool of TOOLS) {
    const r = result[tool];
    console.log(
      `    ${LABELS[tool].padEnd(24)} wall ${fmt(r.wallMs.median)} (${fmt(r.wallMs.min)})` +
        `   CPU ${fmt(r.cpuMs.median)} (${fmt(r.cpuMs.min)})`,
    );
  }
  console.log(`    validate / tsc: wall ${result.wallRatio.toFixed(2)}x, CPU ${result.cpuRatio.toFixed(2)}x`);
}

// 3. Warm: one validator, one-line edits.
const { createValidator } = await import('../server/dist/validate/index.js');
const validator = createValidator();
const logicFile = path.join(plain, 'logic.ts');
const original = await readFile(logicFile, 'utf8');
let started = performance.now();
const first = await validator.validate(plain);
const firstMs = performance.now() - started;
if (first.errorCount !== 0)
  fail(`the plugin does not validate clean:\n${JSON.stringify(first.problems, null, 2)}`);
const warm = [];
for (let i = 1; i <= edits; i++) {
  const broken = i % 2 === 0;
  // One line changes: a comment, or a line with a type error.
  const line = broken ? `const edit${i}: number = 'not a number';` : `// edit ${i}`;
  await writeFile(logicFile, `${original}${line}\n`);
  validator.update(logicFile);
  started = performance.now();
  const report = await validator.validate(plain);
  warm.push(performance.now() - started);
  const found = report.problems.some((p) => p.tsCode === 2322);
  if (found !== broken)
    fail(`edit ${i}: expected ${broken ? 'a' : 'no'} TS2322, got ${JSON.stringify(report.problems)}`);
}
validator.dispose();
const warmMs = summarize(warm);
console.log(
  `warm: first validate in-process ${fmt(firstMs)}; then ${edits} one-line edits (every other one a type error)`,
);
console.log(`  re-validate median ${fmt(warmMs.median)}, min ${fmt(warmMs.min)}, max ${fmt(warmMs.max)}`);

const goals = cold.flatMap((c) => [
  { goal: `cold validate <= tsc --noEmit, wall time (${c.case})`, pass: c.wallRatio <= 1 },
  { goal: `cold validate <= tsc --noEmit, CPU time (${c.case})`, pass: c.cpuRatio <= 1 },
]);
goals.push({ goal: 'warm re-validate < 100 ms (median)', pass: warmMs.median < 100 });
for (const g of goals) console.log(`${g.pass ? 'PASS' : 'MISS'}  ${g.goal}`);

if (!values['no-write']) {
  const out = path.join(here, 'results', 'validate.json');
  await mkdir(path.dirname(out), { recursive: true });
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    plugin: values.plugin,
    rounds,
    cold,
    warm: { firstMs, edits, ...warmMs },
    goals,
  };
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`written to ${path.relative(process.cwd(), out)}`);
}

/**
 * Runs `node <args>` to completion in `cwd`; returns its wall time and CPU
 * time in ms. Exits the benchmark if it fails.
 */
function run(args, cwd, env = {}) {
  const started = performance.now();
  const child = spawnSync(process.execPath, [`--import=${CPU_PROBE}`, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  const wall = performance.now() - started;
  if (child.status !== 0) {
    fail(`node ${args.join(' ')} exited with ${child.status}:\n${child.stdout}\n${child.stderr}`);
  }
  const cpu = Number(/__cpu_ms__ ([\d.]+)/.exec(child.stderr)?.[1]);
  return { wall, cpu };
}

function summarize(times) {
  return {
    median: median(times),
    min: Math.min(...times),
    max: Math.max(...times),
    runs: times.map(Math.round),
  };
}

function fmt(ms) {
  return `${Math.round(ms)} ms`;
}

function positive(name) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a positive whole number, got ${values[name]}`);
  return n;
}

function fail(message) {
  console.error(`bench/validate.js: ${message}`);
  process.exit(1);
}
