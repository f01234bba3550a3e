/**
 * `npm run bench`: NekoConnect against what a Node.js server can do on the
 * same machine in the same run. See docs/performance.md.
 *
 * Three parts, one after the other:
 *
 * 1. Throughput and latency. Processes: this orchestrator, one child per
 *    target's server (bench/server.js: NekoConnect over TCP, NekoConnect over
 *    WebSocket, bare node:net echo, ws echo, socket.io) and one child for the
 *    load generator (bench/load.js). Rounds alternate between the targets
 *    (neko, neko-ws, bare, ws, socket.io, neko, ...) so that machine noise
 *    hits them alike; the report gives the median and the spread of each
 *    metric over the rounds, the ratios of NekoConnect to each baseline, and
 *    those of NekoConnect over WebSocket to ws, socket.io and NekoConnect
 *    over TCP.
 * 2. The codec microbenchmark (bench/codec.js), in its own process.
 * 3. The scale benchmark (bench/scale.js): 10,000 idle authenticated
 *    sessions, memory per session and an active client's latency.
 *
 * Everything goes into one JSON report (bench/results/latest.json).
 */
import { fork } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { newId, ask, runMain, start, stopChildren } from './lib/children.js';
import { fmt, fmtRatio, table } from './lib/format.js';
import { median, spread } from './lib/stats.js';
import { TARGETS, TARGET_IDS, parseTargets } from './lib/targets.js';
import { numberFlag } from './lib/options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = path.join(here, 'results', 'latest.json');

/** @typedef {import('./lib/targets.js').TargetId} TargetId */
/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

/** The goals the report checks (informational: the exit code ignores them). */
const GOALS = {
  /** NekoConnect round trips/s at least this fraction of bare's. */
  minThroughputRatioBare: 0.6,
  /** NekoConnect server CPU per round trip at most this multiple of bare's. */
  maxCpuRatioBare: 2,
  /** NekoConnect round trips/s at least this multiple of socket.io's. */
  minThroughputRatioSocketIo: 1.5,
};

const HELP = `Usage: npm run bench [-- options]      (or: node bench/run.js [options] after npm run build)

1. Throughput: NekoConnect (plugins/echo, through the client SDK) against a
   bare node:net length-prefixed echo server (the ceiling), a ws WebSocket
   echo server and a socket.io server answering with an ack (what users
   would pick instead), in alternating rounds; the median and spread of each
   metric and the ratios of NekoConnect to each. The same NekoConnect server
   over WebSocket (neko-ws, one frame per binary message) is a target too,
   with its ratios to ws echo, socket.io and NekoConnect over TCP.
2. The codec microbenchmark (bench/codec.js): decode, encode, verify, nonce.
3. The scale benchmark (bench/scale.js): 10,000 idle authenticated sessions.

Options:
  --targets <list>    throughput targets, comma-separated, from
                      ${TARGET_IDS.join(',')} (default: all; socket.io works too)
  --connections <n>   connections, each in lockstep (default 50)
  --window <s>        measurement window per round, seconds (default 3)
  --warmup <s>        warm-up before each window, seconds (default 1)
  --rounds <n>        rounds per target (default 4)
  --payload <bytes>   request payload size (default 32)
  --no-codec          skip part 2
  --no-scale          skip part 3 (node bench/scale.js runs it alone, with its own options)
  --quick             smoke run: 1 round, 1 s window, 0.5 s warm-up, then a
                      short codec pass and a 1,000-session scale pass
  --profile           run every throughput child with --cpu-prof (100 µs
                      interval); the profiles go to ${path.join(os.tmpdir(), 'nekoconnect-bench-profiles')}
                      (profiling slows the children: compare shapes, not figures)
  --out <file>        JSON report path (default bench/results/latest.json)
  -h, --help          this text

The goals (NekoConnect >= ${GOALS.minThroughputRatioBare}x bare round trips/s, <= ${GOALS.maxCpuRatioBare}x bare server CPU per
round trip, >= ${GOALS.minThroughputRatioSocketIo}x socket.io round trips/s; scale: see bench/scale.js --help)
are reported as PASS/MISS; the exit code is 0 unless the benchmark itself failed.`;

/**
 * @returns {{ targets: TargetId[], connections: number, windowMs: number, warmupMs: number, rounds: number, payloadBytes: number, op: number, codec: boolean, scale: boolean, quick: boolean, profile: boolean, out: string } | undefined}
 */
function readOptions() {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string' },
      connections: { type: 'string' },
      window: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      payload: { type: 'string' },
      'no-codec': { type: 'boolean', default: false },
      'no-scale': { type: 'boolean', default: false },
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
  const num = numberFlag;
  return {
    targets: values.targets !== undefined ? parseTargets(values.targets) : [...TARGET_IDS],
    connections: num(values.connections, 50, 'connections', { integer: true, min: 1, max: 2000 }),
    windowMs: num(values.window, quick ? 1 : 3, 'window', { min: 0.1, max: 600 }) * 1000,
    warmupMs: num(values.warmup, quick ? 0.5 : 1, 'warmup', { min: 0, max: 600 }) * 1000,
    rounds: num(values.rounds, quick ? 1 : 4, 'rounds', { integer: true, min: 1, max: 100 }),
    payloadBytes: num(values.payload, 32, 'payload', { integer: true, min: 0, max: 1024 * 1024 - 200 }),
    op: 7,
    codec: !values['no-codec'],
    scale: !values['no-scale'],
    quick,
    profile: values.profile,
    out: values.out ? path.resolve(values.out) : RESULTS_FILE,
  };
}

/**
 * The server child's CPU time so far, µs (user + system).
 * @param {ChildProcess} server
 * @returns {Promise<number>}
 */
async function serverCpu(server) {
  const id = newId();
  const reply = await ask(server, { type: 'cpu', id }, (m) => m.type === 'cpu' && m.id === id, 10_000);
  return reply.usage.user + reply.usage.system;
}

/**
 * One round against one target.
 * @param {ChildProcess} load
 * @param {ChildProcess} server
 * @param {TargetId} target
 * @param {number} port
 * @param {NonNullable<ReturnType<typeof readOptions>>} options
 */
async function measure(load, server, target, port, options) {
  const id = newId();
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
    throw new Error(`load generator failed against ${TARGETS[target].label}:\n${reply.message}`);
  if (cpu.length !== 2)
    throw new Error(`expected two window marks from the load generator, got ${cpu.length}`);
  const [cpuStart, cpuEnd] = await Promise.all(cpu);
  const result = reply.result;
  if (result.roundTrips === 0)
    throw new Error(`no round trip completed against ${TARGETS[target].label} in the window`);
  const serverCpuUs = cpuEnd - cpuStart;
  return { ...result, serverCpuUs, serverCpuUsPerRoundTrip: serverCpuUs / result.roundTrips };
}

/** The metrics of a round, in table order. */
const METRICS = [
  { key: 'roundTripsPerSec', label: 'round trips/s', digits: 0 },
  { key: 'p50Us', label: 'p50 latency (µs)', digits: 0 },
  { key: 'p99Us', label: 'p99 latency (µs)', digits: 0 },
  { key: 'serverCpuUsPerRoundTrip', label: 'server CPU per round trip (µs)', digits: 2 },
  { key: 'clientCpuUsPerRoundTrip', label: 'load generator CPU per round trip (µs)', digits: 2 },
];

/**
 * Runs a benchmark script as a child that reports `{ type: 'report', report }`
 * over IPC, its output going to this terminal.
 * @param {string} script
 * @param {string[]} args
 * @returns {Promise<any>} the report
 */
function runPart(script, args) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(here, script), args, { stdio: 'inherit' });
    /** @type {any} */
    let report;
    child.on('message', (/** @type {any} */ m) => {
      if (m?.type === 'report') report = m.report;
    });
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', (code, signal) => {
      process.off('exit', kill);
      if (code !== 0) reject(new Error(`bench/${script} exited (${signal ?? code})`));
      else if (report === undefined) reject(new Error(`bench/${script} sent no report`));
      else resolve(report);
    });
  });
}

/**
 * @param {NonNullable<ReturnType<typeof readOptions>>} options
 */
async function throughput(options) {
  const { targets } = options;
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
  const [load, ...started] = await Promise.all([
    start('load.js', [], { execArgv: profile('load-generator') }),
    ...targets.map((t) => start('server.js', [t], { execArgv: profile(`${t}-server`) })),
  ]);
  /** @type {Partial<Record<TargetId, { child: ChildProcess, ready: any }>>} */
  const servers = Object.fromEntries(targets.map((t, i) => [t, started[i]]));
  const width = Math.max(...targets.map((t) => TARGETS[t].label.length));

  /** @type {({ round: number } & Partial<Record<TargetId, any>>)[]} */
  const rounds = [];
  for (let round = 1; round <= options.rounds; round++) {
    /** @type {{ round: number } & Partial<Record<TargetId, any>>} */
    const entry = { round };
    for (const target of targets) {
      const { child, ready } = /** @type {{ child: ChildProcess, ready: any }} */ (servers[target]);
      const r = await measure(load.child, child, target, ready.port, options);
      entry[target] = r;
      console.log(
        `round ${round}/${options.rounds} ${TARGETS[target].label.padEnd(width)} ${fmt(r.roundTripsPerSec, 0).padStart(8)} rt/s` +
          `  p50 ${fmt(r.p50Us, 0).padStart(6)} µs  p99 ${fmt(r.p99Us, 0).padStart(6)} µs` +
          `  server ${fmt(r.serverCpuUsPerRoundTrip, 2).padStart(6)} µs/rt  load gen ${fmt(r.clientCpuUsPerRoundTrip, 2).padStart(6)} µs/rt`,
      );
    }
    rounds.push(entry);
  }

  await stopChildren([load.child, ...started.map((s) => s.child)]);
  if (options.profile) {
    const names = [...targets.map((t) => `${t}-server`), 'load-generator'];
    console.log(`\nCPU profiles (${names.join(', ')}) written to ${profileDir}`);
  }

  /** @type {Partial<Record<TargetId, Record<string, number>>>} */
  const medians = {};
  /** @type {Partial<Record<TargetId, Record<string, ReturnType<typeof spread>>>>} */
  const spreads = {};
  for (const target of targets) {
    medians[target] = Object.fromEntries(
      METRICS.map((m) => [m.key, median(rounds.map((r) => r[target][m.key]))]),
    );
    spreads[target] = Object.fromEntries(
      METRICS.map((m) => [m.key, spread(rounds.map((r) => r[target][m.key]))]),
    );
  }
  /**
   * The ratios of one target's medians to each base's, and the same within each round (same round, so the
   * same moment of the machine).
   * @param {TargetId} subject
   * @param {TargetId[]} bases
   */
  const compare = (subject, bases) => {
    const mine = /** @type {Record<string, number>} */ (medians[subject]);
    /** @type {Partial<Record<TargetId, Record<string, number>>>} subject / base, of the medians */
    const ratios = {};
    for (const base of bases) {
      const b = /** @type {Record<string, number>} */ (medians[base]);
      ratios[base] = Object.fromEntries(METRICS.map((m) => [m.key, mine[m.key] / b[m.key]]));
    }
    const perRound = rounds.map((r) => ({
      round: r.round,
      ...Object.fromEntries(
        bases.map((base) => [
          base,
          {
            roundTripsPerSec: r[subject].roundTripsPerSec / r[base].roundTripsPerSec,
            serverCpuUsPerRoundTrip: r[subject].serverCpuUsPerRoundTrip / r[base].serverCpuUsPerRoundTrip,
          },
        ]),
      ),
    }));
    return { bases, ratios, perRound };
  };
  // NekoConnect (TCP) against every other target but NekoConnect over WebSocket.
  const tcp = compare(
    'neko',
    targets.includes('neko') ? targets.filter((t) => t !== 'neko' && t !== 'neko-ws') : [],
  );
  const ratios = tcp.ratios;
  const perRoundRatios = tcp.perRound;
  // NekoConnect over WebSocket against the other WebSocket servers, and against itself over TCP.
  /** @type {TargetId[]} */
  const wsBases = ['ws', 'socketio', 'neko'];
  const overWs = compare(
    'neko-ws',
    targets.includes('neko-ws') ? wsBases.filter((t) => targets.includes(t)) : [],
  );

  /** @type {{ part: string, goal: string, ratio: number, pass: boolean, perRound?: number[] }[]} */
  const goals = [];
  const perRound = (/** @type {TargetId} */ base, /** @type {string} */ key, list = perRoundRatios) =>
    list.map((r) => /** @type {any} */ (r)[base][key]);
  if (ratios.bare) {
    goals.push({
      part: 'throughput',
      goal: `round trips/s >= ${GOALS.minThroughputRatioBare}x bare echo`,
      ratio: ratios.bare.roundTripsPerSec,
      pass: ratios.bare.roundTripsPerSec >= GOALS.minThroughputRatioBare,
      perRound: perRound('bare', 'roundTripsPerSec'),
    });
    goals.push({
      part: 'throughput',
      goal: `server CPU per round trip <= ${GOALS.maxCpuRatioBare}x bare echo`,
      ratio: ratios.bare.serverCpuUsPerRoundTrip,
      pass: ratios.bare.serverCpuUsPerRoundTrip <= GOALS.maxCpuRatioBare,
      perRound: perRound('bare', 'serverCpuUsPerRoundTrip'),
    });
  }
  if (ratios.socketio) {
    goals.push({
      part: 'throughput',
      goal: `round trips/s >= ${GOALS.minThroughputRatioSocketIo}x socket.io`,
      ratio: ratios.socketio.roundTripsPerSec,
      pass: ratios.socketio.roundTripsPerSec >= GOALS.minThroughputRatioSocketIo,
      perRound: perRound('socketio', 'roundTripsPerSec'),
    });
  }

  const labels = targets.map((t) => TARGETS[t].label);
  const align = /** @type {('l' | 'r')[]} */ (['l', ...targets.map(() => 'r')]);
  const medianRows = [[`median of ${rounds.length} round(s)`, ...labels]];
  for (const m of METRICS) {
    medianRows.push([
      m.label,
      ...targets.map((t) => fmt(/** @type {Record<string, number>} */ (medians[t])[m.key], m.digits)),
    ]);
  }
  console.log(`\n${table(medianRows, align)}`);
  if (rounds.length > 1) {
    const spreadRows = [['spread over the rounds (min–max)', ...labels]];
    for (const m of METRICS) {
      spreadRows.push([
        m.label,
        ...targets.map((t) => {
          const s = /** @type {Record<string, ReturnType<typeof spread>>} */ (spreads[t])[m.key];
          return `${fmt(s.min, m.digits)}–${fmt(s.max, m.digits)}`;
        }),
      ]);
    }
    console.log(`\n${table(spreadRows, align)}`);
  }
  for (const [subject, comparison] of /** @type {const} */ ([
    ['neko', tcp],
    ['neko-ws', overWs],
  ])) {
    if (comparison.bases.length === 0) continue;
    const ratioRows = [
      [`${TARGETS[subject].label} / ... (of the medians)`, ...comparison.bases.map((b) => TARGETS[b].label)],
    ];
    for (const m of METRICS) {
      ratioRows.push([
        m.label,
        ...comparison.bases.map((b) =>
          fmtRatio(/** @type {Record<string, number>} */ (comparison.ratios[b])[m.key]),
        ),
      ]);
    }
    console.log(`\n${table(ratioRows, ['l', ...comparison.bases.map(() => /** @type {const} */ ('r'))])}`);
    if (rounds.length > 1) {
      console.log('');
      for (const base of comparison.bases) {
        for (const [key, what] of [
          ['roundTripsPerSec', 'round trips/s'],
          ['serverCpuUsPerRoundTrip', 'server CPU/rt'],
        ]) {
          const list = perRound(base, key, comparison.perRound).map(fmtRatio).join(' ');
          const who = subject === 'neko' ? '' : `${TARGETS[subject].label} `;
          console.log(`${who}per-round ratio to ${TARGETS[base].label}, ${what}:`.padEnd(62) + list);
        }
      }
    }
  }
  /** @type {string[]} the ratios of NekoConnect over WebSocket, informational (no goal) */
  const notes = [];
  if (overWs.bases.length > 0) {
    for (const [key, what] of [
      ['roundTripsPerSec', 'round trips/s'],
      ['serverCpuUsPerRoundTrip', 'server CPU per round trip'],
    ]) {
      const list = overWs.bases.map(
        (b) =>
          `${fmtRatio(/** @type {Record<string, number>} */ (overWs.ratios[b])[key])} ${TARGETS[b].label}`,
      );
      notes.push(`NekoConnect over WebSocket, ${what}: ${list.join(', ')}`);
    }
  }
  console.log('');
  for (const g of goals) console.log(`${g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${fmtRatio(g.ratio)}`);
  if (!ratios.bare)
    console.log('n/a   the goals against bare echo (NekoConnect or bare not among --targets)');
  if (!ratios.socketio)
    console.log('n/a   the goal against socket.io (NekoConnect or socket.io not among --targets)');
  for (const note of notes) console.log(`info  ${note}`);
  if (!overWs.ratios.ws && !overWs.ratios.socketio)
    console.log(
      'n/a   the ratios of NekoConnect over WebSocket (neko-ws, or both ws and socket.io, not among --targets)',
    );

  return {
    goals,
    notes,
    medians,
    spread: spreads,
    ratios,
    perRoundRatios,
    ratiosWebSocket: overWs.ratios,
    perRoundRatiosWebSocket: overWs.perRound,
    rounds,
  };
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
    loadAverageAtStart: os.loadavg(),
  };
  const labels = options.targets.map((t) => TARGETS[t].label).join(', ');
  console.log(
    `NekoConnect bench, throughput: ${labels}; ${options.connections} connections in lockstep, ` +
      `${options.payloadBytes}-byte payload, op ${options.op}, ` +
      `${options.rounds} round(s) x ${options.windowMs / 1000} s (after ${options.warmupMs / 1000} s warm-up) per target`,
  );
  console.log(
    `node ${process.version}, ${machine.cpuCount} x ${machine.cpuModel}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );

  const result = await throughput(options);

  /** @type {any} */
  let codec = null;
  if (options.codec) {
    console.log(`\nCodec microbenchmark (bench/codec.js${options.quick ? ' --quick' : ''}):`);
    codec = await runPart('codec.js', options.quick ? ['--quick', '--no-write'] : []);
  }
  /** @type {any} */
  let scale = null;
  if (options.scale) {
    console.log(`\nScale (bench/scale.js${options.quick ? ' --quick' : ''}):`);
    scale = await runPart('scale.js', options.quick ? ['--quick', '--no-write'] : []);
  }

  const goals = [...result.goals, ...(scale?.goals ?? [])];
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    machine: { ...machine, loadAverageAtEnd: os.loadavg() },
    parameters: {
      targets: options.targets,
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
    medians: result.medians,
    spread: result.spread,
    ratios: result.ratios,
    perRoundRatios: result.perRoundRatios,
    ratiosWebSocket: result.ratiosWebSocket,
    perRoundRatiosWebSocket: result.perRoundRatiosWebSocket,
    rounds: result.rounds,
    codec,
    scale,
  };
  await mkdir(path.dirname(options.out), { recursive: true });
  await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);

  if (codec || scale) {
    console.log('\nAll goals:');
    for (const g of goals) {
      const value = g.part === 'scale' ? g.display : fmtRatio(g.ratio);
      console.log(`${g.pass ? 'PASS' : 'MISS'}  ${g.part}: ${g.goal}: ${value}`);
    }
    for (const note of result.notes) console.log(`info  throughput: ${note}`);
  }
  console.log(`\nReport written to ${path.relative(process.cwd(), options.out) || options.out}`);
}

runMain(main, 'bench');
