/**
 * `npm run bench:cluster`: NekoConnect as several processes, against one
 * process, on the same machine in the same run. See docs/performance.md.
 *
 * Redis is a real server started as the tests start theirs
 * (bench/lib/redis.js: scripts/test-support/redis.ts); PostgreSQL
 * (bench/lib/postgres.js) only when workers are measured, since workers
 * cannot share nedb files. Without Redis installed the run fails with the
 * install hint. Every server is the built CLI, `nekoconnect start`, in a
 * process of its own (bench/cluster/processes.js).
 *
 * Two parts:
 *
 * 1. Broadcast latency across processes against the same broadcast within
 *    one process, on each carrier of the bus: Redis (two processes, A and B,
 *    in one cluster, each with nedb files of its own) and IPC (`--workers`
 *    without Redis: the primary relays), serving the bench plugin
 *    (bench/cluster/plugins/bcast). One probe process (bench/cluster/latency.js)
 *    holds a publisher and receivers on its process and on another: each
 *    broadcast the publisher sends reaches the first by local delivery and the
 *    others through the bus, and the probe reads both arrivals on its one
 *    clock. Broadcasts go one at a time. Goal: p99 across ≤ 2 ms + 2 × p99
 *    local, on the medians of the rounds, printed as met or not met.
 * 2. Request/response throughput of the echo example plugin (plugins/echo)
 *    with a load generator in its own process (bench/cluster/load.js):
 *    `start` (one process) against `start --workers <n>` (workers sharing the
 *    port) and against two processes in a cluster on Redis, each on its own
 *    port with half of the clients. Rounds alternate the order of the targets.
 *
 * The report: medians over the rounds, their spread, the ratios, in
 * bench/results/cluster.json.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ask, newId, runMain, start, stopChildren } from './lib/children.js';
import { fmt, fmtRatio, table } from './lib/format.js';
import { listFlag, numberFlag } from './lib/options.js';
import { setDurability, startPostgres } from './lib/postgres.js';
import { startRedis } from './lib/redis.js';
import { median, spread } from './lib/stats.js';
import { cliHasWorkers, killServers, startServer } from './cluster/processes.js';
import { clockTicks } from './lib/cpu.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = path.join(here, 'results', 'cluster.json');
const BENCH_PLUGINS = path.join(here, 'cluster', 'plugins');
const ECHO_PLUGIN = path.join(here, '..', 'plugins', 'echo');

/** @typedef {'single' | 'workers' | 'pair'} TargetId */
/** The throughput targets, in the order a round visits them first. */
const TARGET_IDS = /** @type {const} */ (['single', 'workers', 'pair']);

/** @typedef {'redis' | 'ipc'} CarrierId */
/** The carriers of part 1's bus, in the order a round visits them first. */
const CARRIER_IDS = /** @type {const} */ (['redis', 'ipc']);

/** The goal of part 1, µs: p99 across ≤ GOAL_FIXED_US + GOAL_FACTOR × p99 local. */
const GOAL_FIXED_US = 2_000;
const GOAL_FACTOR = 2;

const HELP = `Usage: npm run bench:cluster [-- options]      (or: node bench/cluster.js [options] after npm run build)

NekoConnect as several processes against one process, in one run. It starts
a real Redis server (Debian's redis-server package: apt-get install -y
redis-server) and, for the workers, a real PostgreSQL (apt-get install -y
postgresql), as the tests do. Every server is \`nekoconnect start\`.

1. Broadcast latency: a publisher broadcasts, one broadcast at a time, to
   receivers on its own process (local delivery) and on another (through the
   bus), all read on one clock: on Redis (processes A and B in one cluster)
   and on IPC (--workers without Redis; receivers told apart by pid). p50/p99
   of each, and the goal p99 across <= 2 ms + 2 x p99 local.
2. Throughput of the echo plugin, load generator in its own process, each
   client in lockstep: one process (single), \`--workers <n>\` (workers), and
   two processes in a cluster on Redis with half of the clients each (pair).

Options:
  --rounds <n>         rounds of each part (default 5)
  --messages <n>       timed broadcasts per round (default 2,000, after 200 not timed)
  --receivers <n>      receivers on each side, local and across (default 1)
  --carriers <list>    carriers of part 1, comma-separated, from ${CARRIER_IDS.join(',')}
                       (default: both; ipc only when the CLI has --workers)
  --payload <bytes>    bytes of a broadcast and of an echo request (default 32)
  --targets <list>     throughput targets, comma-separated, from ${TARGET_IDS.join(',')}
                       (default: all; workers only when the CLI has --workers)
  --workers <n>        workers of the workers target and of the IPC carrier (default 2)
  --clients <n>        throughput clients, each in lockstep (default 32)
  --window <s>         throughput window per round, seconds (default 3)
  --warmup <s>         throughput warm-up before each window, seconds (default 1)
  --no-latency         skip part 1
  --no-throughput      skip part 2
  --quick              smoke run: 1 round, 300 broadcasts, 1 s windows after 0.5 s warm-up
  --out <file>         JSON report path (default bench/results/cluster.json)
  -h, --help           this text

The exit code is 0 whether the goal is met (PASS) or not (MISS); it is 1 when the benchmark
itself fails (an engine missing or not starting, a server not starting, a
broadcast lost, repeated or out of order, a wrong reply).`;

function readOptions() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      messages: { type: 'string' },
      receivers: { type: 'string' },
      payload: { type: 'string' },
      targets: { type: 'string' },
      carriers: { type: 'string' },
      workers: { type: 'string' },
      clients: { type: 'string' },
      window: { type: 'string' },
      warmup: { type: 'string' },
      'no-latency': { type: 'boolean', default: false },
      'no-throughput': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
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
  const latency = !values['no-latency'];
  const throughput = !values['no-throughput'];
  if (!latency && !throughput)
    throw new Error('--no-latency and --no-throughput together leave nothing to measure');
  const messages = num(values.messages, quick ? 300 : 2_000, 'messages', {
    integer: true,
    min: 1,
    max: 10_000_000,
  });
  return {
    rounds: num(values.rounds, quick ? 1 : 5, 'rounds', { integer: true, min: 1, max: 100 }),
    messages,
    broadcastWarmup: Math.min(200, Math.ceil(messages / 10)),
    receivers: num(values.receivers, 1, 'receivers', { integer: true, min: 1, max: 1000 }),
    payload: num(values.payload, 32, 'payload', { integer: true, min: 12, max: 65_536 }),
    /** @type {TargetId[] | undefined} undefined: every target the CLI can run */
    targets:
      values.targets !== undefined ? listFlag(values.targets, TARGET_IDS, 'targets', 'target') : undefined,
    /** @type {CarrierId[] | undefined} undefined: every carrier the CLI can run */
    carriers:
      values.carriers !== undefined
        ? listFlag(values.carriers, CARRIER_IDS, 'carriers', 'carrier')
        : undefined,
    workers: num(values.workers, 2, 'workers', { integer: true, min: 2, max: 256 }),
    clients: num(values.clients, 32, 'clients', { integer: true, min: 1, max: 10_000 }),
    windowMs: num(values.window, quick ? 1 : 3, 'window', { min: 0.1, max: 600 }) * 1000,
    warmupMs: num(values.warmup, quick ? 0.5 : 1, 'warmup', { min: 0, max: 600 }) * 1000,
    latency,
    throughput,
    quick,
    out: values.out ? path.resolve(values.out) : RESULTS_FILE,
  };
}

/** @typedef {NonNullable<ReturnType<typeof readOptions>>} Options */

/** A fresh cluster name: each run's keys and channels apart from any other's on the same Redis. */
const clusterName = () => `bench${randomBytes(4).toString('hex')}`;

/**
 * Sends a `run` to a child of bench/cluster/ (bench/lib/lockstep.js's
 * serveRuns) and resolves with its result.
 * @param {import('node:child_process').ChildProcess} child
 * @param {object} fields
 * @param {number} timeoutMs
 * @param {string} what the child, for the error
 * @returns {Promise<any>}
 */
async function runIn(child, fields, timeoutMs, what) {
  const id = newId();
  const reply = await ask(
    child,
    { ...fields, type: 'run', id },
    (m) => (m.type === 'result' || m.type === 'error') && m.id === id,
    timeoutMs,
  );
  if (reply.type === 'error') throw new Error(`${what} failed:\n${reply.message}`);
  return reply.result;
}

/**
 * An error of a measurement, with what the servers printed (the last 40 lines of each).
 * @param {unknown} err
 * @param {import('./cluster/processes.js').ServerProcess[]} servers
 * @returns {Error}
 */
function withOutput(err, servers) {
  const printed = servers
    .map((s) => `--- ${s.label} printed:\n${s.output().split('\n').slice(-40).join('\n')}`)
    .join('\n');
  return new Error(`${err instanceof Error ? err.message : String(err)}\n${printed}`);
}

/**
 * Medians and spreads of some metrics over rounds.
 * @param {Record<string, number>[]} rounds
 * @param {string[]} keys
 */
function summarizeRounds(rounds, keys) {
  return {
    median: Object.fromEntries(keys.map((k) => [k, median(rounds.map((r) => r[k] ?? NaN))])),
    spread: Object.fromEntries(keys.map((k) => [k, spread(rounds.map((r) => r[k] ?? NaN))])),
  };
}

/**
 * A carrier of part 1: the servers, and where the probe's clients go.
 * @typedef {object} Carrier
 * @property {CarrierId} id
 * @property {string} label
 * @property {import('./cluster/processes.js').ServerProcess[]} servers
 * @property {{ publisherPort: number, localPort: number, crossPort: number | undefined }} ports
 *   no crossPort: workers on one port, told apart by pid
 * @property {string | undefined} cluster the cluster's name on Redis
 */

/**
 * Starts the servers of a carrier of part 1.
 * @param {CarrierId} id
 * @param {Options} options
 * @param {{ redis: import('./lib/redis.js').RunningRedis | undefined, storage: string[] }} engines
 * @returns {Promise<Carrier>}
 */
async function startCarrier(id, options, engines) {
  if (id === 'redis') {
    const redis = /** @type {import('./lib/redis.js').RunningRedis} */ (engines.redis);
    const name = clusterName();
    const cluster = ['--cluster', redis.url, '--cluster-name', name];
    const servers = await Promise.all(
      ['process A', 'process B'].map((label) =>
        startServer({ label, plugins: BENCH_PLUGINS, args: cluster }),
      ),
    );
    const [a, b] = servers;
    console.log(
      `Redis: cluster ${name}, process A ${a.processId ?? '?'} on port ${a.port}, process B ${b.processId ?? '?'} on port ${b.port}`,
    );
    return {
      id,
      label: 'two processes, Redis',
      servers,
      ports: { publisherPort: a.port, localPort: a.port, crossPort: b.port },
      cluster: name,
    };
  }
  const label = `--workers ${options.workers}, IPC`;
  const server = await startServer({
    label,
    plugins: BENCH_PLUGINS,
    args: [...engines.storage, '--workers', String(options.workers)],
    timeoutMs: 120_000,
  });
  console.log(`IPC: ${options.workers} workers on port ${server.port} (primary pid ${server.child.pid})`);
  return {
    id,
    label,
    servers: [server],
    ports: { publisherPort: server.port, localPort: server.port, crossPort: undefined },
    cluster: undefined,
  };
}

/**
 * Part 1: broadcast latency, local against across processes, on each carrier.
 * @param {Options} options
 * @param {CarrierId[]} ids
 * @param {{ redis: import('./lib/redis.js').RunningRedis | undefined, storage: string[] }} engines
 */
async function latencyPart(options, ids, engines) {
  /** @type {Carrier[]} */
  const carriers = [];
  const probe = await start('cluster/latency.js', []);
  try {
    for (const id of ids) carriers.push(await startCarrier(id, options, engines));
    const width = Math.max(...carriers.map((c) => c.label.length));
    /** @type {Record<string, any[]>} */
    const rounds = Object.fromEntries(carriers.map((c) => [c.id, []]));
    for (let round = 1; round <= options.rounds; round++) {
      for (const carrier of round % 2 === 1 ? carriers : [...carriers].reverse()) {
        const result = await runIn(
          probe.child,
          {
            ...carrier.ports,
            receivers: options.receivers,
            messages: options.messages,
            warmup: options.broadcastWarmup,
            payload: options.payload,
          },
          120_000 + options.messages * 50,
          `the broadcast probe (${carrier.label})`,
        ).catch((err) => {
          throw withOutput(err, carrier.servers);
        });
        const bound = GOAL_FIXED_US + GOAL_FACTOR * result.local.p99Us;
        const entry = {
          round,
          ...result,
          ratioP50: result.cross.p50Us / result.local.p50Us,
          ratioP99: result.cross.p99Us / result.local.p99Us,
          goalBoundUs: bound,
          goalMet: result.cross.p99Us <= bound,
        };
        rounds[carrier.id].push(entry);
        console.log(
          `round ${round}/${options.rounds} ${carrier.label.padEnd(width)}  local p50 ${fmt(result.local.p50Us, 0).padStart(6)} µs  p99 ${fmt(result.local.p99Us, 0).padStart(6)} µs` +
            `  across p50 ${fmt(result.cross.p50Us, 0).padStart(6)} µs  p99 ${fmt(result.cross.p99Us, 0).padStart(6)} µs` +
            `  goal ${entry.goalMet ? 'met' : 'not met'} (p99 across ≤ ${fmt(bound, 0)} µs)`,
        );
      }
    }
    /** @type {Record<string, any>} */
    const byCarrier = {};
    for (const carrier of carriers) {
      byCarrier[carrier.id] = summarizeCarrier(carrier, rounds[carrier.id]);
    }
    return { carriers: byCarrier };
  } finally {
    await stopChildren([probe.child]);
    await Promise.all(carriers.flatMap((c) => c.servers.map((s) => s.stop())));
  }
}

/**
 * A carrier's medians, spreads and goal, printed and returned.
 * @param {Carrier} carrier
 * @param {any[]} rounds
 */
function summarizeCarrier(carrier, rounds) {
  const flat = rounds.map((r) => ({
    localP50Us: r.local.p50Us,
    localP99Us: r.local.p99Us,
    crossP50Us: r.cross.p50Us,
    crossP99Us: r.cross.p99Us,
    localMeanUs: r.local.meanUs,
    crossMeanUs: r.cross.meanUs,
    broadcastsPerSec: r.broadcastsPerSec,
  }));
  const summary = summarizeRounds(flat, Object.keys(flat[0]));
  const m = summary.median;
  const bound = GOAL_FIXED_US + GOAL_FACTOR * m.localP99Us;
  const goal = {
    rule: `p99 across <= ${GOAL_FIXED_US} µs + ${GOAL_FACTOR} x p99 local (medians of the rounds)`,
    boundUs: bound,
    crossP99Us: m.crossP99Us,
    met: m.crossP99Us <= bound,
    roundsMet: rounds.filter((r) => r.goalMet).length,
  };
  const rows = [
    [
      `${carrier.label}: median of ${rounds.length} round(s)`,
      'local (same process)',
      'across processes',
      'across / local',
    ],
    ['p50 (µs)', fmt(m.localP50Us, 0), fmt(m.crossP50Us, 0), fmtRatio(m.crossP50Us / m.localP50Us)],
    ['p99 (µs)', fmt(m.localP99Us, 0), fmt(m.crossP99Us, 0), fmtRatio(m.crossP99Us / m.localP99Us)],
    ['mean (µs)', fmt(m.localMeanUs, 0), fmt(m.crossMeanUs, 0), fmtRatio(m.crossMeanUs / m.localMeanUs)],
  ];
  if (rounds.length > 1) {
    for (const [label, key] of /** @type {const} */ ([
      ['p50', 'P50Us'],
      ['p99', 'P99Us'],
    ])) {
      const sl = summary.spread[`local${key}`];
      const sc = summary.spread[`cross${key}`];
      rows.push([
        `  spread of ${label} (min–max)`,
        `${fmt(sl.min, 0)}–${fmt(sl.max, 0)}`,
        `${fmt(sc.min, 0)}–${fmt(sc.max, 0)}`,
        rounds.map((r) => fmtRatio(label === 'p50' ? r.ratioP50 : r.ratioP99)).join(' '),
      ]);
    }
  }
  console.log(`\n${table(rows, ['l', 'r', 'r', 'r'])}`);
  console.log(
    `Goal p99 across ≤ 2 ms + 2 × p99 local (${carrier.label}): ${fmt(m.crossP99Us, 0)} µs against ${fmt(bound, 0)} µs: ` +
      `${goal.met ? 'PASS' : 'MISS'} (met in ${goal.roundsMet} of ${rounds.length} round(s))`,
  );
  return {
    label: carrier.label,
    cluster: carrier.cluster ?? null,
    processes: carrier.servers.map((s) => ({
      label: s.label,
      id: s.processId ?? null,
      pid: s.child.pid,
      port: s.port,
    })),
    rounds,
    ...summary,
    goal,
  };
}

/** The metrics of a throughput round, in table order. */
const THROUGHPUT_METRICS = [
  { key: 'requestsPerSec', label: 'requests/s', digits: 0 },
  { key: 'p50Us', label: 'p50 latency (µs)', digits: 0 },
  { key: 'p99Us', label: 'p99 latency (µs)', digits: 0 },
  { key: 'serverCpuUsPerRequest', label: 'server CPU per request (µs, all its processes)', digits: 1 },
  { key: 'serverCoresBusy', label: 'server cores busy (CPU time / window)', digits: 2 },
  { key: 'primaryCpuUsPerRequest', label: '  of which the primary, per request (µs)', digits: 1 },
  { key: 'clientCpuUsPerRequest', label: 'load generator CPU per request (µs)', digits: 1 },
  { key: 'clientCoresBusy', label: 'load generator cores busy', digits: 2 },
  { key: 'machineCoresBusy', label: 'machine cores busy (every process)', digits: 2 },
];

/**
 * A throughput target's servers, started.
 * @typedef {object} Target
 * @property {TargetId} id
 * @property {string} label
 * @property {import('./cluster/processes.js').ServerProcess[]} servers
 */

/**
 * Starts the servers of a throughput target.
 * @param {TargetId} id
 * @param {Options} options
 * @param {{ redis: import('./lib/redis.js').RunningRedis | undefined, storage: string[] }} engines
 * @returns {Promise<Target>}
 */
async function startTarget(id, options, engines) {
  const { storage } = engines;
  if (id === 'single') {
    return {
      id,
      label: 'one process',
      servers: [await startServer({ label: 'one process', plugins: ECHO_PLUGIN, args: storage })],
    };
  }
  if (id === 'workers') {
    const label = `--workers ${options.workers}`;
    return {
      id,
      label,
      servers: [
        await startServer({
          label,
          plugins: ECHO_PLUGIN,
          args: [...storage, '--workers', String(options.workers)],
          timeoutMs: 120_000,
        }),
      ],
    };
  }
  const redis = /** @type {import('./lib/redis.js').RunningRedis} */ (engines.redis);
  const cluster = ['--cluster', redis.url, '--cluster-name', clusterName()];
  const label = 'two processes, Redis';
  return {
    id,
    label,
    servers: await Promise.all(
      ['pair A', 'pair B'].map((l) =>
        startServer({ label: l, plugins: ECHO_PLUGIN, args: [...storage, ...cluster] }),
      ),
    ),
  };
}

/**
 * One throughput window against one target.
 * @param {import('node:child_process').ChildProcess} load
 * @param {Target} target
 * @param {Options} options
 */
async function measureThroughput(load, target, options) {
  /** @type {Promise<{ totalUs: number, ownUs: number }[]>[]} */
  const cpu = [];
  /** @type {Promise<number>[]} */
  const machine = [];
  const cpuNow = () => Promise.all(target.servers.map((s) => s.cpu()));
  const id = newId();
  const reply = await ask(
    load,
    {
      type: 'run',
      id,
      ports: target.servers.map((s) => s.port),
      clients: options.clients,
      warmupMs: options.warmupMs,
      windowMs: options.windowMs,
      payload: options.payload,
    },
    (m) => (m.type === 'result' || m.type === 'error') && m.id === id,
    options.warmupMs + options.windowMs + 120_000,
    (m) => {
      if (m.type === 'mark' && m.id === id) {
        cpu.push(cpuNow());
        machine.push(machineBusyUs());
      }
    },
  );
  if (reply.type === 'error') {
    const failed = new Error(`load generator failed against ${target.label}:\n${reply.message}`);
    throw withOutput(failed, target.servers);
  }
  if (cpu.length !== 2)
    throw new Error(`expected two window marks from the load generator, got ${cpu.length}`);
  const [before, after] = await Promise.all(cpu);
  const r = reply.result;
  if (r.requests === 0) throw new Error(`no request completed against ${target.label} in the window`);
  const used = (/** @type {'totalUs' | 'ownUs'} */ key) =>
    after.reduce((sum, reading, i) => sum + reading[key] - before[i][key], 0);
  const [machineBefore, machineAfter] = await Promise.all(machine);
  return {
    ...r,
    serverCpuUsPerRequest: used('totalUs') / r.requests,
    serverCoresBusy: used('totalUs') / 1e6 / r.seconds,
    // Under --workers: what the primary itself spent (it hands connections to the workers and relays their bus).
    primaryCpuUsPerRequest: target.id === 'workers' ? used('ownUs') / r.requests : null,
    // Every process of the machine: with the two above, what was left to other work.
    machineCoresBusy: (machineAfter - machineBefore) / 1e6 / r.seconds,
  };
}

/**
 * The CPU time every core of the machine has spent busy since boot, µs (all
 * but idle and iowait, from the first line of /proc/stat; Linux).
 * @returns {Promise<number>}
 */
async function machineBusyUs() {
  const text = await readFile('/proc/stat', 'utf8');
  const fields = text.slice(0, text.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = fields[3] + fields[4];
  return ((total - idle) / clockTicks()) * 1e6;
}

/**
 * Part 2: throughput of one process, workers, two processes.
 * @param {Options} options
 * @param {TargetId[]} targets
 * @param {{ redis: import('./lib/redis.js').RunningRedis | undefined, storage: string[] }} engines
 */
async function throughputPart(options, targets, engines) {
  /** @type {Target[]} */
  const list = [];
  const load = await start('cluster/load.js', []);
  try {
    for (const id of targets) list.push(await startTarget(id, options, engines));
    for (const t of list) console.log(`${t.label}: port(s) ${t.servers.map((s) => s.port).join(', ')}`);
    const width = Math.max(...list.map((t) => t.label.length));
    /** @type {any[]} */
    const rounds = [];
    for (let round = 1; round <= options.rounds; round++) {
      /** @type {any} */
      const entry = { round };
      for (const t of round % 2 === 1 ? list : [...list].reverse()) {
        const r = await measureThroughput(load.child, t, options);
        entry[t.id] = r;
        console.log(
          `round ${round}/${options.rounds} ${t.label.padEnd(width)} ${fmt(r.requestsPerSec, 0).padStart(7)} req/s` +
            `  p50 ${fmt(r.p50Us, 0).padStart(6)} µs  p99 ${fmt(r.p99Us, 0).padStart(6)} µs` +
            `  server ${fmt(r.serverCpuUsPerRequest, 1).padStart(6)} µs/req on ${fmt(r.serverCoresBusy, 2)} cores`,
        );
      }
      rounds.push(entry);
    }
    const keys = THROUGHPUT_METRICS.map((m) => m.key);
    /** @type {Record<string, ReturnType<typeof summarizeRounds>>} */
    const byTarget = {};
    for (const t of list)
      byTarget[t.id] = summarizeRounds(
        rounds.map((r) => r[t.id]),
        keys,
      );
    const medians = Object.fromEntries(list.map((t) => [t.id, byTarget[t.id].median]));
    const spreads = Object.fromEntries(list.map((t) => [t.id, byTarget[t.id].spread]));
    /** @type {Record<string, Record<string, number>>} */
    const ratios = {};
    /** @type {Record<string, Record<string, number>[]>} */
    const perRoundRatios = {};
    if (targets.includes('single')) {
      for (const t of list.filter((x) => x.id !== 'single')) {
        ratios[t.id] = Object.fromEntries(keys.map((k) => [k, medians[t.id][k] / medians.single[k]]));
        perRoundRatios[t.id] = rounds.map((r) =>
          Object.fromEntries(keys.map((k) => [k, r[t.id][k] / r.single[k]])),
        );
      }
    }
    const rows = [[`echo, median of ${rounds.length} round(s)`, ...list.map((t) => t.label)]];
    for (const t of Object.keys(ratios)) rows[0].push(`${list.find((x) => x.id === t)?.label} / one`);
    // A metric no target has (the primary's CPU, without the workers target) is left out.
    const shown = THROUGHPUT_METRICS.filter((m) => list.some((t) => Number.isFinite(medians[t.id][m.key])));
    for (const m of shown) {
      rows.push([
        m.label,
        ...list.map((t) => fmt(medians[t.id][m.key], m.digits)),
        ...Object.keys(ratios).map((t) => fmtRatio(ratios[t][m.key])),
      ]);
    }
    if (rounds.length > 1) {
      for (const m of THROUGHPUT_METRICS.filter((x) => x.key === 'requestsPerSec' || x.key === 'p99Us')) {
        rows.push([
          `  spread of ${m.label.replace(/ \(.*/, '')} (min–max)`,
          ...list.map(
            (t) => `${fmt(spreads[t.id][m.key].min, m.digits)}–${fmt(spreads[t.id][m.key].max, m.digits)}`,
          ),
          ...Object.keys(ratios).map((t) => perRoundRatios[t].map((r) => fmtRatio(r[m.key])).join(' ')),
        ]);
      }
    }
    console.log(`\n${table(rows, ['l', ...rows[0].slice(1).map(() => /** @type {const} */ ('r'))])}`);
    if (rounds.length > 1 && Object.keys(ratios).length > 0) {
      console.log('(the ratio columns of a spread row: round by round)');
    }
    return {
      targets: Object.fromEntries(
        list.map((t) => [
          t.id,
          { label: t.label, ports: t.servers.map((s) => s.port), pids: t.servers.map((s) => s.child.pid) },
        ]),
      ),
      rounds,
      medians,
      spread: spreads,
      ratios,
      perRoundRatios,
    };
  } finally {
    await stopChildren([load.child]);
    await Promise.all(list.flatMap((t) => t.servers.map((s) => s.stop())));
  }
}

async function main() {
  const options = readOptions();
  if (!options) return;
  try {
    await access(path.join(here, '..', 'server', 'dist', 'cli', 'main.js'));
  } catch {
    throw new Error('server/dist is missing: run `npm run build` first (npm run bench:cluster does)');
  }
  process.on('exit', killServers);
  const workersBuilt = cliHasWorkers();
  /** @type {TargetId[]} */
  let targets = [];
  /** @type {CarrierId[]} */
  let carriers = [];
  /** @type {string | null} */
  let leftOut = null;
  if (options.throughput) {
    if (options.targets?.includes('workers') && !workersBuilt) {
      throw new Error('--targets workers: this build of `nekoconnect start` has no --workers');
    }
    targets = options.targets ?? TARGET_IDS.filter((id) => id !== 'workers' || workersBuilt);
  }
  if (options.latency) {
    if (options.carriers?.includes('ipc') && !workersBuilt) {
      throw new Error('--carriers ipc: this build of `nekoconnect start` has no --workers');
    }
    carriers = options.carriers ?? CARRIER_IDS.filter((id) => id !== 'ipc' || workersBuilt);
  }
  if (!workersBuilt && !options.targets && !options.carriers) {
    leftOut = 'this build of `nekoconnect start` has no --workers';
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

  /** @type {import('./lib/redis.js').RunningRedis | undefined} */
  let redis;
  /** @type {import('./lib/postgres.js').RunningPostgres | undefined} */
  let postgres;
  try {
    if (carriers.includes('redis') || targets.includes('pair')) redis = await startRedis();
    // Workers cannot share nedb files: they run on PostgreSQL, and every throughput target with them, alike.
    if (targets.includes('workers') || carriers.includes('ipc')) {
      postgres = await startPostgres();
      await setDurability(postgres.url, 'commit');
    }
    const storage = postgres ? ['--storage', postgres.url] : [];
    const storageName = postgres ? 'PostgreSQL' : 'nedb files, a data directory per process';
    const throughputStorage = targets.includes('workers') ? storage : [];
    console.log(
      `NekoConnect cluster bench: ${options.rounds} round(s); ` +
        (options.latency
          ? `broadcasts over ${carriers.join(', ')}: ${options.messages} timed per round, ${options.receivers} receiver(s) on each side, ${options.payload} bytes; `
          : '') +
        (options.throughput
          ? `throughput: ${targets.join(', ')}, ${options.clients} clients in lockstep, ${options.windowMs / 1000} s window after ${options.warmupMs / 1000} s warm-up, storage ${throughputStorage.length > 0 ? storageName : 'nedb files, a data directory per process'}`
          : ''),
    );
    if (leftOut) console.log(`The workers (throughput) and IPC (latency) are left out: ${leftOut}.`);
    console.log(
      `node ${process.version}, ${machine.cpuCount} x ${machine.cpuModel}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
    );

    /** @type {any} */
    let latency = null;
    if (options.latency) {
      console.log('Part 1: broadcast latency, within one process and across processes');
      latency = await latencyPart(options, carriers, { redis, storage });
    }
    /** @type {any} */
    let throughput = null;
    if (options.throughput) {
      console.log(`${options.latency ? '\n' : ''}Part 2: echo throughput, load generator in its own process`);
      throughput = await throughputPart(options, targets, { redis, storage: throughputStorage });
    }

    const report = {
      date: new Date().toISOString(),
      node: process.version,
      machine: { ...machine, loadAverageAtEnd: os.loadavg() },
      parameters: {
        rounds: options.rounds,
        messages: options.messages,
        broadcastWarmup: options.broadcastWarmup,
        receivers: options.receivers,
        payload: options.payload,
        targets,
        carriers,
        workers: options.workers,
        clients: options.clients,
        windowSeconds: options.windowMs / 1000,
        warmupSeconds: options.warmupMs / 1000,
        // Of the workers (and of every throughput target when the workers are measured); the others keep nedb files.
        storage: postgres ? 'postgres' : 'nedb',
        quick: options.quick,
      },
      workersLeftOut: leftOut,
      // Where the engines ran (both gone by the end of the run), never their passwords.
      engines: {
        redis: redis ? { port: redis.port, dir: redis.dir } : null,
        postgres: postgres ? { port: postgres.port, dir: postgres.dir } : null,
      },
      latency,
      throughput,
    };
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nReport written to ${path.relative(process.cwd(), options.out) || options.out}`);
  } finally {
    await Promise.all([redis?.stop(), postgres?.stop()]);
  }
}

runMain(main, 'bench:cluster');
