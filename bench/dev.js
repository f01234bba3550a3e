/**
 * Benchmark of `nekoconnect dev` (not a test: it prints figures and checks
 * nothing against a limit):
 *
 *   npm run build && node bench/dev.js [--edits <n>] [--warmup <n>] [--no-write]
 *
 * How long from saving a plugin's logic file to the first packet answered by
 * the new code, and how many client connections drop on the way, for two
 * ways of working, side by side in the same run:
 *
 * - dev: `nekoconnect dev <plugins>`: the change is validated (warm
 *   validator), transpiled, loaded and swapped in, in the running server;
 * - restart: `node --watch-path=<logic file> nekoconnect start <plugins>`:
 *   Node restarts the whole server on a change (watching the one source file,
 *   the most favourable setup: watching the folder would also see the
 *   server's own build output and restart again).
 *
 * Each target serves its own copy of a plugins directory (this repository's
 * echo, chat and todo plugins and a `marker` plugin whose logic answers a
 * constant), on its own port. One client per target sends requests back to
 * back; after each edit (a new value of the constant), the time to the first
 * reply carrying it is recorded. A client that loses its connection counts a
 * drop and reconnects at once (every 5 ms until the server answers). Edits
 * alternate between the targets (dev, restart, dev, ...), each after a quiet
 * moment, so machine noise falls on both alike. Results go to
 * bench/results/dev.json unless --no-write.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '../server/dist/client/index.js';
import { median } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const cli = path.join(root, 'server', 'dist', 'cli', 'main.js');
const RESULTS_FILE = path.join(here, 'results', 'dev.json');
const SECRET = 'nekoconnect-bench-dev';
/** The goal: dev at least this many times faster than a restart, with no dropped connection. */
const GOAL_SPEEDUP = 5;

const { values } = parseArgs({
  options: {
    edits: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    quiet: { type: 'string', default: '400' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(`Usage: node bench/dev.js [options]      (after npm run build)

Measures the time from saving a plugin to the first packet answered by the
new code: nekoconnect dev (hot reload) against node --watch restarting
nekoconnect start, edits alternating between them.

Options:
  --edits <n>    measured edits per target (default 20)
  --warmup <n>   edits per target before measuring (default 2)
  --quiet <ms>   pause before each edit (default 400)
  --no-write     do not write bench/results/dev.json
  -h, --help     this text`);
  process.exit(0);
}
const edits = positive('edits');
const warmup = Number(values.warmup);
const quietMs = positive('quiet');

/** The marker plugin: TypeScript, typed against the installed nekoconnect, answering its MARK. */
function markerLogic(mark) {
  return `import type { Context, PluginContext } from 'nekoconnect';

/** Changed by every edit of the benchmark. */
const MARK: string = ${JSON.stringify(mark)};

interface Stats {
  requests: number;
}

export class Logic {
  #stats: Stats = { requests: 0 };

  onLoad(ctx: PluginContext): void {
    ctx.log(\`marker \${MARK} loaded\`);
  }

  recv(ctx: Context): void {
    this.#stats.requests++;
    ctx.state['seen'] = Number(ctx.state['seen'] ?? 0) + 1;
    ctx.send(MARK, { op: ctx.op });
  }
}
`;
}

// 1. Two copies of a plugins directory, each resolving `nekoconnect` to this repository's server.
const temp = await mkdtemp(path.join(os.tmpdir(), 'neko-bench-dev-'));
const children = [];
let cleaned = false;
async function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  for (const child of children) stop(child);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await rm(temp, { recursive: true, force: true });
}
process.on('SIGINT', () => void cleanUp().then(() => process.exit(130)));

async function pluginsCopy(name) {
  const dir = path.join(temp, name);
  await mkdir(path.join(dir, 'plugins', 'node_modules'), { recursive: true });
  const linkType = process.platform === 'win32' ? 'junction' : 'dir';
  await symlink(
    path.join(root, 'server'),
    path.join(dir, 'plugins', 'node_modules', 'nekoconnect'),
    linkType,
  );
  for (const plugin of ['echo', 'chat', 'todo']) {
    await cp(path.join(root, 'plugins', plugin), path.join(dir, 'plugins', plugin), {
      recursive: true,
      filter: (src) => !src.endsWith('.test.ts') && !src.includes(`${path.sep}.nekoconnect`),
    });
  }
  await mkdir(path.join(dir, 'plugins', 'marker'));
  await writeFile(
    path.join(dir, 'plugins', 'marker', 'spec.conf'),
    '$name {"Marker"};\n$greet {"marker"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
  );
  const logicFile = path.join(dir, 'plugins', 'marker', 'logic.ts');
  await writeFile(logicFile, markerLogic('start'));
  return { dir, plugins: path.join(dir, 'plugins'), logicFile, data: path.join(dir, 'data') };
}

/** A free TCP port on the loopback interface. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a process in its own process group; resolves once its output matches `ready`. */
function launch(label, args, ready) {
  const child = spawn(process.execPath, args, {
    cwd: temp,
    env: { ...process.env, NEKOCONNECT_SECRET: SECRET, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let output = '';
  const onData = (chunk) => (output += chunk);
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start:\n${output}`)), 30_000);
    const check = () => {
      if (!ready.test(output)) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      resolve({ child, output: () => output });
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`${label} exited with code ${code}:\n${output}`)));
  });
}

/** Ends a process group this benchmark started. */
function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

/**
 * A client that keeps asking the marker plugin for its MARK, reconnecting
 * whenever its connection drops (counted).
 */
class Probe {
  constructor(port) {
    this.port = port;
    this.client = undefined;
    this.drops = 0;
  }

  async #connected() {
    while (this.client === undefined) {
      try {
        const client = await connect({ secret: SECRET, port: this.port, connectTimeoutMs: 2_000 });
        client.once('close', () => {
          if (this.client === client) {
            this.client = undefined;
            this.drops++;
          }
        });
        this.client = client;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    return this.client;
  }

  /** The marker's answer, or undefined when the request failed (the connection dropped). */
  async ask() {
    const client = await this.#connected();
    try {
      return (await client.request('marker', '', { timeoutMs: 5_000 })).text();
    } catch {
      return undefined;
    }
  }

  /** Resolves with the ms from `since` to the first answer equal to `mark`. */
  async until(mark, since) {
    for (;;) {
      const answer = await this.ask();
      if (answer === mark) return performance.now() - since;
      if (performance.now() - since > 30_000)
        throw new Error(`no answer "${mark}" within 30 s (last: ${answer})`);
    }
  }

  async close() {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}

// 2. Both servers, each with its client.
const devCopy = await pluginsCopy('dev');
const restartCopy = await pluginsCopy('restart');
const devPort = await freePort();
const restartPort = await freePort();
const dev = await launch(
  'nekoconnect dev',
  [
    cli,
    'dev',
    devCopy.plugins,
    '--port',
    String(devPort),
    '--data-dir',
    devCopy.data,
    '--dashboard-port',
    '0',
  ],
  /watching .* for changes/,
);
await launch(
  'node --watch nekoconnect start',
  [
    `--watch-path=${restartCopy.logicFile}`,
    cli,
    'start',
    restartCopy.plugins,
    '--port',
    String(restartPort),
    '--data-dir',
    restartCopy.data,
    '--dashboard-port',
    '0',
  ],
  /listening on/,
);
const targets = [
  { name: 'dev', label: 'nekoconnect dev (hot reload)', copy: devCopy, probe: new Probe(devPort), times: [] },
  {
    name: 'restart',
    label: 'node --watch + start (restart)',
    copy: restartCopy,
    probe: new Probe(restartPort),
    times: [],
  },
];

console.log(
  `node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}; ` +
    `${warmup} warm-up + ${edits} measured edit(s) per target, alternating, ${quietMs} ms apart`,
);
try {
  for (const target of targets) {
    if ((await target.probe.ask()) !== 'start')
      throw new Error(`${target.name}: the marker plugin does not answer`);
  }
  // The dev server validates every plugin once at start-up (which warms the validator): let it finish.
  while (!/validated \d+ plugins? in/.test(dev.output()))
    await new Promise((resolve) => setTimeout(resolve, 50));

  // 3. Edits, alternating.
  let n = 0;
  for (let i = 0; i < warmup + edits; i++) {
    for (const target of targets) {
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      const mark = `edit-${++n}`;
      const dropsBefore = target.probe.drops;
      const started = performance.now();
      await writeFile(target.copy.logicFile, markerLogic(mark));
      const ms = await target.probe.until(mark, started);
      if (i < warmup) {
        target.probe.drops = dropsBefore;
        continue;
      }
      target.times.push(ms);
      process.stdout.write(
        `  ${target.name.padEnd(8)} edit ${String(i - warmup + 1).padStart(2)}  ${fmt(ms)}\n`,
      );
    }
  }
} finally {
  for (const target of targets) await target.probe.close();
  await cleanUp();
}

// 4. The report.
const summary = targets.map((t) => ({
  target: t.name,
  label: t.label,
  edits: t.times.length,
  medianMs: median(t.times),
  minMs: Math.min(...t.times),
  maxMs: Math.max(...t.times),
  p90Ms: percentile(t.times, 90),
  droppedConnections: t.probe.drops,
  timesMs: t.times.map((x) => Math.round(x * 10) / 10),
}));
const [devResult, restartResult] = summary;
// The dev server's own account of each reload: validation, transpiling, loading and the swap.
const reloads = [...dev.output().matchAll(/marker reloaded in (\d+) ms/g)]
  .map((m) => Number(m[1]))
  .slice(warmup);
devResult.reloadMedianMs = median(reloads);
const speedup = restartResult.medianMs / devResult.medianMs;
console.log(
  `\nfrom saving the logic file to the first packet answered by the new code, ${edits} edits each:`,
);
console.log(`${''.padEnd(32)}  median      min      p90      max  dropped connections`);
for (const r of summary) {
  console.log(
    `${r.label.padEnd(32)} ${fmt(r.medianMs).padStart(8)} ${fmt(r.minMs).padStart(8)} ${fmt(r.p90Ms).padStart(8)} ${fmt(r.maxMs).padStart(8)}  ${r.droppedConnections}`,
  );
}
const goals = [
  { goal: `dev at least ${GOAL_SPEEDUP}x faster than a restart (median)`, pass: speedup >= GOAL_SPEEDUP },
  { goal: 'dev drops no connection', pass: devResult.droppedConnections === 0 },
];
console.log(
  `\nof which the dev server's reload (validate, transpile, load, swap), as it prints it: median ${fmt(devResult.reloadMedianMs)}`,
);
console.log(`restart / dev: ${speedup.toFixed(1)}x`);
for (const g of goals) console.log(`${g.pass ? 'PASS' : 'MISS'}  ${g.goal}`);

if (!values['no-write']) {
  await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
  await writeFile(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpu: `${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}`,
        parameters: { edits, warmup, quietMs },
        results: summary,
        speedup,
        goals,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`report written to ${path.relative(process.cwd(), RESULTS_FILE)}`);
}
// A server child may hold the event loop through its pipes: leave now.
process.exit(0);

function positive(name) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number of at least 1, got "${values[name]}"`);
    process.exit(2);
  }
  return n;
}

function percentile(list, p) {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function fmt(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}
