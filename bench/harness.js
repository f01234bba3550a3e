/**
 * `node bench/harness.js`: how long a plugin test file takes under the
 * @nekoconnect/testing harness, as vitest itself measures it. See the
 * "Test harness" section of docs/performance.md.
 *
 * Runs `npx vitest run <file> --reporter=json` a few times (a fresh vitest
 * process each time) and reports, per run and as the median over the runs:
 * the sum of the tests' own durations (each test creates its server, loads
 * the plugin, connects and runs), the slowest test, and the wall time of the
 * whole vitest process (its start-up included). Run `npm run build` first:
 * plugin tests import the built packages.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const RESULTS_FILE = path.join(here, 'results', 'harness.json');
const DEFAULT_FILE = 'plugins/echo/logic.test.ts';

const HELP = `Usage: node bench/harness.js [options]      (after npm run build)

Runs a plugin test file with vitest a few times and reports how long its
tests take under the @nekoconnect/testing harness.

Options:
  --file <path>   the test file, relative to the repository (default ${DEFAULT_FILE})
  --runs <n>      vitest runs (default 5)
  --out <file>    JSON report path (default bench/results/harness.json)
  -h, --help      this text`;

function readOptions() {
  const { values } = parseArgs({
    options: {
      file: { type: 'string', default: DEFAULT_FILE },
      runs: { type: 'string', default: '5' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return undefined;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
    throw new Error(`--runs must be a whole number from 1 to 100, got "${values.runs}"`);
  }
  return { file: values.file, runs, out: values.out ? path.resolve(values.out) : RESULTS_FILE };
}

/**
 * One `vitest run` of the file with the JSON reporter.
 * @param {string} file
 * @param {string} outputFile
 * @returns {Promise<{ wallMs: number }>}
 */
function runVitest(file, outputFile) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('npx', ['vitest', 'run', file, '--reporter=json', `--outputFile=${outputFile}`], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      const wallMs = performance.now() - started;
      if (code === 0) resolve({ wallMs });
      else reject(new Error(`vitest exited with code ${code} on ${file}:\n${stderr}`));
    });
  });
}

/**
 * The figures of one run, from vitest's JSON report.
 * @param {string} reportFile
 * @param {number} wallMs
 */
async function readRun(reportFile, wallMs) {
  const report = JSON.parse(await readFile(reportFile, 'utf8'));
  const [result] = report.testResults;
  if (!result || report.testResults.length !== 1) {
    throw new Error(`expected one test file in the report, got ${report.testResults.length}`);
  }
  const tests = result.assertionResults;
  const failed = tests.filter((t) => t.status !== 'passed');
  if (failed.length > 0) throw new Error(`tests did not pass: ${failed.map((t) => t.title).join(', ')}`);
  return {
    tests: tests.length,
    testsMs: tests.reduce((sum, t) => sum + (t.duration ?? 0), 0),
    slowestTestMs: Math.max(...tests.map((t) => t.duration ?? 0)),
    wallMs,
  };
}

async function main() {
  const options = readOptions();
  if (!options) return;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'nekoconnect-harness-bench-'));
  try {
    /** @type {Awaited<ReturnType<typeof readRun>>[]} */
    const runs = [];
    for (let i = 0; i < options.runs; i++) {
      const reportFile = path.join(tmp, `run-${i}.json`);
      const { wallMs } = await runVitest(options.file, reportFile);
      const run = await readRun(reportFile, wallMs);
      runs.push(run);
      console.log(
        `run ${i + 1}/${options.runs}: ${run.tests} tests in ${run.testsMs.toFixed(0)} ms ` +
          `(slowest ${run.slowestTestMs.toFixed(0)} ms), ` +
          `vitest process ${run.wallMs.toFixed(0)} ms`,
      );
    }
    const summary = {
      tests: runs[0]?.tests ?? 0,
      testsMs: median(runs.map((r) => r.testsMs)),
      perTestMs: median(runs.map((r) => r.testsMs / r.tests)),
      slowestTestMs: median(runs.map((r) => r.slowestTestMs)),
      wallMs: median(runs.map((r) => r.wallMs)),
    };
    console.log(
      `\nmedian of ${options.runs} runs of ${options.file}: ${summary.tests} tests in ` +
        `${summary.testsMs.toFixed(0)} ms (${summary.perTestMs.toFixed(1)} ms a test, slowest ` +
        `${summary.slowestTestMs.toFixed(0)} ms), vitest process ${summary.wallMs.toFixed(0)} ms`,
    );
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(
      options.out,
      `${JSON.stringify(
        {
          file: options.file,
          runs,
          median: summary,
          node: process.version,
          cpu: os.cpus()[0]?.model ?? 'unknown',
          date: new Date().toISOString(),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`report: ${path.relative(process.cwd(), options.out)}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
