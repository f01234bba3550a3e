/**
 * `npm run bench`: NekoConnect against a bare TCP echo server, measured in
 * the same run on the same machine. See docs/performance.md.
 *
 * Processes: this orchestrator, one child per server (bench/server.js) and
 * one child for the load generator (bench/load.js). Rounds alternate
 * between the two targets (neko, bare, neko, bare, ...) so that machine
 * noise hits both alike; the report gives the median of each metric over
 * the rounds and the ratio NekoConnect / bare.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = path.join(here, 'results', 'latest.json');

/** The goals the report checks (informational: the exit code ignores them). */
const GOALS = {
  /** NekoConnect round trips/s at least this fraction of bare's. */
  minThroughputRatio: 0.6,
  /** NekoConnect server CPU per round trip at most this multiple of bare's. */
  maxCpuRatio: 2,
};

const TARGETS = /** @type {const} */ (['neko', 'bare']);
const LABELS = { neko: 'NekoConnect', bare: 'bare echo' };

const HELP = `Usage: npm run bench [-- options]      (or: node bench/run.js [options] after npm run build)

Measures NekoConnect (plugins/echo, through the client SDK) against a bare
node:net length-prefixed echo server, in alternating rounds, and prints the
median of each metric and the ratios NekoConnect / bare.

Options:
  --connections <n>   connections, each in lockstep (default 50)
  --window <s>        measurement window per round, seconds (default 3)
  --warmup <s>        warm-up before each window, seconds (default 1)
  --rounds <n>        rounds per target (default 4)
  --payload <bytes>   request payload size (default 32)
  --quick             smoke run: 1 round, 1 s window, 0.5 s warm-up, plus a
                      short pass of bench/codec.js
  --profile           run every child with --cpu-prof (100 µs interval); the
                      profiles go to ${path.join(os.tmpdir(), 'nekoconnect-bench-profiles')}
                      (profiling slows the children: compare shapes, not figures)
  --out <file>        JSON report path (default bench/results/latest.json)
  -h, --help          this text

The goals (NekoConnect >= ${GOALS.minThroughputRatio}x bare round trips/s, <= ${GOALS.maxCpuRatio}x bare server CPU per
round trip) are reported as PASS/MISS; the exit code is 0 unless the
benchmark itself failed.`;

/**
 * @returns {{ connections: number, windowMs: number, warmupMs: number, rounds: number, payloadBytes: number, op: number, quick: boolean, profile: boolean, out: string } | undefined}
 */
function readOptions() {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string' },
      window: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      payload: { type: 'string' },
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return undefined;
  }
  const quick = values.quick;
  /**
   * @param {string | undefined} text
   * @param {number} fallback
   * @param {string} name
   * @param {{ integer?: boolean, min: number, max: number }} range
   */
  const num = (text, fallback, name, range) => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (
      !Number.isFinite(value) ||
      value < range.min ||
      value > range.max ||
      (range.integer && !Number.isInteger(value))
    ) {
      throw new Error(
        `--${name} must be ${range.integer ? 'a whole number' : 'a number'} from ${range.min} to ${range.max}, got "${text}"`,
      );
    }
    return value;
  };
  return {
    connections: num(values.connections, 50, 'connections', { integer: true, min: 1, max: 2000 }),
    windowMs: num(values.window, quick ? 1 : 3, 'window', { min: 0.1, max: 600 }) * 1000,
    warmupMs: num(values.warmup, quick ? 0.5 : 1, 'warmup', { min: 0, max: 600 }) * 1000,
    rounds: num(values.rounds, quick ? 1 : 4, 'rounds', { integer: true, min: 1, max: 100 }),
    payloadBytes: num(values.payload, 32, 'payload', { integer: true, min: 0, max: 1024 * 1024 - 200 }),
    op: 7,
    quick,
    profile: values.profile,
    out: values.out ? path.resolve(values.out) : RESULTS_FILE,
  };
}

/** Every child started, so that any exit path can kill them. */
const children = new Set();

/**
 * Forks a benchmark child and waits for its `ready` message.
 * @param {string} script
 * @param {string[]} args
 * @param {string[]} execArgv
 * @returns {Promise<{ child: import('node:child_process').ChildProcess, ready: any }>}
 */
function start(script, args, execArgv = []) {
  const child = fork(path.join(here, script), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} ${args.join(' ')} did not start within 30 s`)),
      30_000,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} ${args.join(' ')} exited (${signal ?? code}) before it was ready`));
    });
    child.once('message', (ready) => {
      clearTimeout(timer);
      resolve({ child, ready });
    });
  });
}

/**
 * Sends a request to a child and waits for the answer with the same id.
 * @param {import('node:child_process').ChildProcess} child
 * @param {object} message
 * @param {(reply: any) => boolean} isAnswer
 * @param {number} timeoutMs
 * @param {(reply: any) => void} [onOther] other messages meanwhile
 */
function ask(child, message, isAnswer, timeoutMs, onOther) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (reply) => {
      if (isAnswer(reply)) {
        done();
        resolve(reply);
      } else {
        onOther?.(reply);
      }
    };
    const onExit = (code, signal) => {
      done();
      reject(new Error(`a benchmark child exited (${signal ?? code}) during a measurement`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no answer from a benchmark child within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

let nextId = 1;

/**
 * The server child's CPU time so far, µs (user + system).
 * @param {import('node:child_process').ChildProcess} server
 * @returns {Promise<number>}
 */
async function serverCpu(server) {
  const id = nextId++;
  const reply = await ask(server, { type: 'cpu', id }, (m) => m.type === 'cpu' && m.id === id, 10_000);
  return reply.usage.user + reply.usage.system;
}

/**
 * One round against one target.
 * @param {import('node:child_process').ChildProcess} load
 * @param {import('node:child_process').ChildProcess} server
 * @param {'neko' | 'bare'} target
 * @param {number} port
 * @param {ReturnType<typeof readOptions> & object} options
 */
async function measure(load, server, target, port, options) {
  const id = nextId++;
  /** @type {Promise<number>[]} */
  const cpu = [];
  const { connections, warmupMs, windowMs, payloadBytes, op } = options;
  const reply = await ask(
    load,
    { type: 'run', id, target, port, connections, warmupMs, windowMs, payloadBytes, op },
    (m) => (m.type === 'result' || m.type === 'error') && m.id === id,
    warmupMs + windowMs + 60_000,
    (m) => {
      if (m.type === 'mark' && m.id === id) cpu.push(serverCpu(server));
    },
  );
  if (reply.type === 'error')
    throw new Error(`load generator failed against ${LABELS[target]}:\n${reply.message}`);
  if (cpu.length !== 2)
    throw new Error(`expected two window marks from the load generator, got ${cpu.length}`);
  const [cpuStart, cpuEnd] = await Promise.all(cpu);
  const result = reply.result;
  if (result.roundTrips === 0)
    throw new Error(`no round trip completed against ${LABELS[target]} in the window`);
  const serverCpuUs = cpuEnd - cpuStart;
  return { ...result, serverCpuUs, serverCpuUsPerRoundTrip: serverCpuUs / result.roundTrips };
}

/** The metrics of a round, in table order. */
const METRICS = [
  { key: 'roundTripsPerSec', label: 'round trips/s', digits: 0, ratio: true },
  { key: 'p50Us', label: 'p50 latency (µs)', digits: 0, ratio: true },
  { key: 'p99Us', label: 'p99 latency (µs)', digits: 0, ratio: true },
  { key: 'serverCpuUsPerRoundTrip', label: 'server CPU per round trip (µs)', digits: 2, ratio: true },
  { key: 'clientCpuUsPerRoundTrip', label: 'load generator CPU per round trip (µs)', digits: 2, ratio: true },
];

/**
 * @param {number} value
 * @param {number} digits
 */
const fmt = (value, digits) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';

/** @param {number} value */
const fmtRatio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a');

/**
 * @param {string[][]} rows
 * @param {('l' | 'r')[]} align
 */
function table(rows, align) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r.map((cell, i) => (align[i] === 'l' ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '),
    )
    .join('\n');
}

async function main() {
  const options = readOptions();
  if (!options) return;
  try {
    await access(path.join(here, '..', 'server', 'dist', 'index.js'));
  } catch {
    throw new Error('server/dist is missing: run `npm run build` first (npm run bench does)');
  }
  const cpus = os.cpus();
  const machine = {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    availableParallelism: os.availableParallelism(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    totalMemoryBytes: os.totalmem(),
  };
  console.log(
    `NekoConnect bench: ${options.connections} connections in lockstep, ${options.payloadBytes}-byte payload, op ${options.op}, ` +
      `${options.rounds} round(s) x ${options.windowMs / 1000} s (after ${options.warmupMs / 1000} s warm-up) per target`,
  );
  console.log(`node ${process.version}, ${machine.cpuCount} x ${machine.cpuModel}\n`);

  const profileDir = path.join(os.tmpdir(), 'nekoconnect-bench-profiles');
  /** @param {string} name */
  const profile = (name) =>
    options.profile
      ? [
          '--cpu-prof',
          '--cpu-prof-interval=100',
          `--cpu-prof-dir=${profileDir}`,
          `--cpu-prof-name=${name}.cpuprofile`,
        ]
      : [];
  const [neko, bare, load] = await Promise.all([
    start('server.js', ['neko'], profile('neko-server')),
    start('server.js', ['bare'], profile('bare-server')),
    start('load.js', [], profile('load-generator')),
  ]);
  const servers = { neko, bare };

  /** @type {{ round: number, neko: any, bare: any }[]} */
  const rounds = [];
  for (let round = 1; round <= options.rounds; round++) {
    const entry = { round, neko: undefined, bare: undefined };
    for (const target of TARGETS) {
      const { child, ready } = servers[target];
      entry[target] = await measure(load.child, child, target, ready.port, options);
      const r = entry[target];
      console.log(
        `round ${round}/${options.rounds} ${LABELS[target].padEnd(11)} ${fmt(r.roundTripsPerSec, 0).padStart(8)} rt/s` +
          `  p50 ${fmt(r.p50Us, 0).padStart(6)} µs  p99 ${fmt(r.p99Us, 0).padStart(6)} µs` +
          `  server ${fmt(r.serverCpuUsPerRoundTrip, 2).padStart(6)} µs/rt  load gen ${fmt(r.clientCpuUsPerRoundTrip, 2).padStart(6)} µs/rt`,
      );
    }
    rounds.push(entry);
  }

  await stopChildren([neko.child, bare.child, load.child]);
  if (options.profile)
    console.log(`\nCPU profiles (neko-server, bare-server, load-generator) written to ${profileDir}`);

  const medians = {};
  for (const target of TARGETS) {
    medians[target] = Object.fromEntries(
      METRICS.map((m) => [m.key, median(rounds.map((r) => r[target][m.key]))]),
    );
  }
  const ratios = Object.fromEntries(METRICS.map((m) => [m.key, medians.neko[m.key] / medians.bare[m.key]]));
  const perRoundRatios = rounds.map((r) => ({
    round: r.round,
    roundTripsPerSec: r.neko.roundTripsPerSec / r.bare.roundTripsPerSec,
    serverCpuUsPerRoundTrip: r.neko.serverCpuUsPerRoundTrip / r.bare.serverCpuUsPerRoundTrip,
  }));
  const goals = [
    {
      goal: `round trips/s >= ${GOALS.minThroughputRatio}x bare`,
      ratio: ratios.roundTripsPerSec,
      pass: ratios.roundTripsPerSec >= GOALS.minThroughputRatio,
    },
    {
      goal: `server CPU per round trip <= ${GOALS.maxCpuRatio}x bare`,
      ratio: ratios.serverCpuUsPerRoundTrip,
      pass: ratios.serverCpuUsPerRoundTrip <= GOALS.maxCpuRatio,
    },
  ];

  const rows = [[`median of ${rounds.length} round(s)`, LABELS.neko, LABELS.bare, 'neko/bare']];
  for (const m of METRICS) {
    rows.push([
      m.label,
      fmt(medians.neko[m.key], m.digits),
      fmt(medians.bare[m.key], m.digits),
      fmtRatio(ratios[m.key]),
    ]);
  }
  console.log(`\n${table(rows, ['l', 'r', 'r', 'r'])}\n`);
  if (rounds.length > 1) {
    const spread = (key) => perRoundRatios.map((r) => fmtRatio(r[key])).join(' ');
    console.log(`per-round ratio, round trips/s:        ${spread('roundTripsPerSec')}`);
    console.log(`per-round ratio, server CPU/round trip: ${spread('serverCpuUsPerRoundTrip')}\n`);
  }
  for (const g of goals) console.log(`${g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${fmtRatio(g.ratio)}`);

  const report = {
    date: new Date().toISOString(),
    node: process.version,
    machine,
    parameters: {
      connections: options.connections,
      windowSeconds: options.windowMs / 1000,
      warmupSeconds: options.warmupMs / 1000,
      rounds: options.rounds,
      payloadBytes: options.payloadBytes,
      op: options.op,
      quick: options.quick,
      profile: options.profile,
    },
    goals,
    medians,
    ratios,
    perRoundRatios,
    rounds,
  };
  await mkdir(path.dirname(options.out), { recursive: true });
  await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nReport written to ${path.relative(process.cwd(), options.out) || options.out}`);

  if (options.quick) {
    console.log('\nCodec microbenchmark (quick pass of bench/codec.js):');
    const codec = fork(path.join(here, 'codec.js'), ['--quick', '--no-write'], { stdio: 'inherit' });
    children.add(codec);
    const [code, signal] = await once(codec, 'exit');
    if (code !== 0) throw new Error(`bench/codec.js exited (${signal ?? code})`);
  }
}

/**
 * Asks children to stop, and kills those still there after a grace period.
 * @param {import('node:child_process').ChildProcess[]} list
 */
async function stopChildren(list) {
  await Promise.all(
    list.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
          const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve(undefined);
          });
          if (child.connected) child.send({ type: 'stop' });
          else child.kill('SIGTERM');
        }),
    ),
  );
}

function killAll() {
  for (const child of children) child.kill('SIGKILL');
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

main().then(
  () => {
    killAll();
  },
  (err) => {
    console.error(`\nbench failed: ${err instanceof Error ? err.message : String(err)}`);
    killAll();
    process.exitCode = 1;
  },
);
