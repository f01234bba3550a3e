/**
 * `npm run bench:storage`: the storage backends against each other, on the
 * same machine in the same run: nedb files (the default) and PostgreSQL.
 * See docs/performance.md.
 *
 * PostgreSQL is a real server started as the tests start theirs
 * (bench/lib/postgres.js: scripts/test-support/postgres.ts), with its
 * durability set to what nedb promises (a commit is acknowledged once written
 * to the operating system, not flushed to the disk), or with `--durability
 * fsync` to PostgreSQL's defaults. Without PostgreSQL installed the run fails
 * with the install hint; `--targets nedb` runs without it.
 *
 * Two parts:
 *
 * 1. The todo example plugin (plugins/todo) as a user sees it. Processes:
 *    this orchestrator, one server per backend (bench/storage/server.js:
 *    NekoConnect serving plugins/todo with `storage: { backend: 'nedb', dir }`
 *    or `{ backend: 'postgres', url }`) and one load generator
 *    (bench/storage/load.js: clients through the SDK, each in lockstep).
 *    ADD: each request inserts an item and increments the `added` cell; LIST:
 *    each request finds a fixed number of stored items (200), sorted. Before
 *    each window the server empties the plugin's database (ADD) or stores the
 *    items anew (LIST); after it, every acknowledged ADD must be stored and
 *    counted. Rounds alternate between the backends (the first backend of a
 *    round alternates too), so machine noise hits them alike.
 * 2. Key-value cells: `get`, `set` and `incr` (ctx.dbGet, ctx.dbStore,
 *    ctx.dbIncr) called one at a time, directly on a plugin database of each
 *    backend (bench/storage/cells.js), in alternating rounds.
 *
 * The report: medians over the rounds, their spread, and the ratios
 * PostgreSQL / nedb (of the medians, and round by round), in
 * bench/results/storage.json.
 */
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ask, newId, request, runMain, start, stopChildren } from './lib/children.js';
import { fmt, fmtRatio, table } from './lib/format.js';
import { DURABILITY, postgresCpuUs, setDurability, startPostgres } from './lib/postgres.js';
import { median, spread } from './lib/stats.js';
import { listFlag, numberFlag } from './lib/options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = path.join(here, 'results', 'storage.json');

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */
/** @typedef {'nedb' | 'postgres'} BackendId */
/** @typedef {'add' | 'list'} TodoOp */
/** @typedef {'get' | 'set' | 'incr'} CellOp */

/** Every backend, in the order a round visits them first. */
const BACKEND_IDS = /** @type {const} */ (['nedb', 'postgres']);
/** @type {Record<BackendId, string>} */
const LABELS = { nedb: 'nedb files', postgres: 'PostgreSQL' };
/** @type {TodoOp[]} */
const TODO_OPS = ['add', 'list'];
/** @type {Record<TodoOp, string>} */
const TODO_LABELS = { add: 'todo ADD', list: 'todo LIST' };
/** @type {CellOp[]} */
const CELL_OPS = ['get', 'set', 'incr'];
/** @type {Record<CellOp, string>} */
const CELL_LABELS = { get: 'dbGet (get)', set: 'dbStore (set)', incr: 'dbIncr (incr)' };

const HELP = `Usage: npm run bench:storage [-- options]      (or: node bench/storage.js [options] after npm run build)

The storage backends against each other in one run: nedb files (the
default) and PostgreSQL (a real server started for the run, as the tests
start theirs; it needs Debian's postgresql package: apt-get install -y postgresql).

1. The todo example plugin (plugins/todo), served by NekoConnect on each
   backend, through the client SDK: ADD (insert an item, increment a cell)
   and LIST (a fixed number of stored items, sorted) throughput and latency
   with concurrent clients, each in lockstep.
2. Key-value cells: get, set and incr (ctx.dbGet, ctx.dbStore, ctx.dbIncr)
   one call at a time, directly on each backend's plugin database.

Rounds alternate between the backends; the report gives medians over the
rounds, their spread and the ratios PostgreSQL / nedb.

Options:
  --targets <list>     backends, comma-separated, from ${BACKEND_IDS.join(',')} (default: both;
                       nedb alone needs no PostgreSQL)
  --clients <n>        todo clients, each in lockstep (default 8)
  --items <n>          items stored for LIST (default 200)
  --window <s>         todo measurement window per round, seconds (default 3)
  --warmup <s>         todo warm-up before each window, seconds (default 1)
  --rounds <n>         rounds per backend, both parts (default 3)
  --calls <n>          cell calls timed per op and round (default 2,000, after 200 not timed)
  --durability <d>     PostgreSQL: commit (default: a commit is acknowledged once written to
                       the operating system, not flushed to the disk, as nedb's appends) or
                       fsync (PostgreSQL's defaults: flushed to the disk at each commit)
  --no-todo            skip part 1
  --no-cells           skip part 2
  --quick              smoke run: 1 round, 1 s window, 0.5 s warm-up, 500 cell calls
  --out <file>         JSON report path (default bench/results/storage.json)
  -h, --help           this text

The exit code is 1 when the benchmark itself fails (PostgreSQL missing or not
starting, a child dying, a wrong reply, an acknowledged ADD not stored).`;

function readOptions() {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string' },
      clients: { type: 'string' },
      items: { type: 'string' },
      window: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      calls: { type: 'string' },
      durability: { type: 'string' },
      'no-todo': { type: 'boolean', default: false },
      'no-cells': { type: 'boolean', default: false },
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
  const durability = values.durability ?? 'commit';
  if (!Object.hasOwn(DURABILITY, durability)) {
    throw new Error(`--durability must be one of ${Object.keys(DURABILITY).join(', ')}, got "${durability}"`);
  }
  const todo = !values['no-todo'];
  const cells = !values['no-cells'];
  if (!todo && !cells) throw new Error('--no-todo and --no-cells together leave nothing to measure');
  return {
    targets:
      values.targets !== undefined
        ? listFlag(values.targets, BACKEND_IDS, 'targets', 'backend', {
            pg: 'postgres',
            postgresql: 'postgres',
          })
        : [...BACKEND_IDS],
    clients: num(values.clients, 8, 'clients', { integer: true, min: 1, max: 1000 }),
    items: num(values.items, 200, 'items', { integer: true, min: 0, max: 100_000 }),
    windowMs: num(values.window, quick ? 1 : 3, 'window', { min: 0.1, max: 600 }) * 1000,
    warmupMs: num(values.warmup, quick ? 0.5 : 1, 'warmup', { min: 0, max: 600 }) * 1000,
    rounds: num(values.rounds, quick ? 1 : 3, 'rounds', { integer: true, min: 1, max: 100 }),
    calls: num(values.calls, quick ? 500 : 2_000, 'calls', { integer: true, min: 1, max: 10_000_000 }),
    cellWarmup: quick ? 50 : 200,
    durability: /** @type {import('./lib/postgres.js').Durability} */ (durability),
    todo,
    cells,
    quick,
    out: values.out ? path.resolve(values.out) : RESULTS_FILE,
  };
}

/** @typedef {NonNullable<ReturnType<typeof readOptions>>} Options */

/**
 * What a backend's storage options are, and how to read its database server's CPU.
 * @typedef {object} Backend
 * @property {BackendId} id
 * @property {(dir: string) => object} storage the server's `storage` option, given a fresh temporary directory
 * @property {(() => Promise<number>) | undefined} databaseCpuUs CPU of the database server so far, µs
 *   (undefined: the database runs inside the NekoConnect process)
 */

/**
 * The backends measured.
 * @param {Options} options
 * @param {import('./lib/postgres.js').RunningPostgres | undefined} postgres
 * @returns {Backend[]}
 */
function backends(options, postgres) {
  return options.targets.map((id) => {
    if (id === 'nedb') return { id, storage: (dir) => ({ backend: 'nedb', dir }), databaseCpuUs: undefined };
    const pg = /** @type {import('./lib/postgres.js').RunningPostgres} */ (postgres);
    return {
      id,
      storage: () => ({ backend: 'postgres', url: pg.url }),
      databaseCpuUs: () => postgresCpuUs(pg.dir),
    };
  });
}

/** The metrics of a todo round, in table order. */
const TODO_METRICS = [
  { key: 'requestsPerSec', label: 'requests/s', digits: 0 },
  { key: 'p50Us', label: 'p50 latency (µs)', digits: 0 },
  { key: 'p99Us', label: 'p99 latency (µs)', digits: 0 },
  { key: 'serverCpuUsPerRequest', label: 'server CPU per request (µs)', digits: 1 },
  { key: 'databaseCpuUsPerRequest', label: 'PostgreSQL CPU per request (µs)', digits: 1 },
  { key: 'totalCpuUsPerRequest', label: 'server + database CPU per request (µs)', digits: 1 },
];

/** The metrics of a cell round, in table order. */
const CELL_METRICS = [
  { key: 'p50Us', label: 'p50 latency (µs)', digits: 0 },
  { key: 'p99Us', label: 'p99 latency (µs)', digits: 0 },
  { key: 'callsPerSec', label: 'calls/s (one at a time)', digits: 0 },
  { key: 'cpuUsPerCall', label: 'CPU of the calling process per call (µs)', digits: 1 },
];

/**
 * A CPU reading of a todo server and its database server, in µs.
 * @param {ChildProcess} server
 * @param {Backend} backend
 * @returns {Promise<{ server: number, database: number | undefined }>}
 */
async function cpuNow(server, backend) {
  const [reply, database] = await Promise.all([
    request(server, 'cpu', {}, 10_000),
    backend.databaseCpuUs?.(),
  ]);
  return { server: reply.usage.user + reply.usage.system, database };
}

/**
 * One todo window against one backend's server.
 * @param {ChildProcess} load
 * @param {{ child: ChildProcess, ready: any }} server
 * @param {Backend} backend
 * @param {TodoOp} op
 * @param {Options} options
 */
async function measureTodo(load, server, backend, op, options) {
  const items = op === 'list' ? options.items : 0;
  const before = await request(server.child, 'reset', { items }, 120_000);
  if (before.documents !== items || before.added !== 0) {
    throw new Error(
      `${LABELS[backend.id]}: after the reset, ${before.documents} items and added ${before.added}, not ${items} and 0`,
    );
  }
  /** @type {Promise<{ server: number, database: number | undefined }>[]} */
  const cpu = [];
  const { clients, warmupMs, windowMs } = options;
  const id = newId();
  const reply = await ask(
    load,
    { type: 'run', id, port: server.ready.port, clients, warmupMs, windowMs, op, items },
    (m) => (m.type === 'result' || m.type === 'error') && m.id === id,
    warmupMs + windowMs + 120_000,
    (m) => {
      if (m.type === 'mark' && m.id === id) cpu.push(cpuNow(server.child, backend));
    },
  );
  if (reply.type === 'error') {
    throw new Error(`load generator failed against ${LABELS[backend.id]} (${op}):\n${reply.message}`);
  }
  if (cpu.length !== 2)
    throw new Error(`expected two window marks from the load generator, got ${cpu.length}`);
  const [cpuStart, cpuEnd] = await Promise.all(cpu);
  const result = reply.result;
  if (result.requests === 0)
    throw new Error(`no ${op} request completed against ${LABELS[backend.id]} in the window`);

  // What the server stored: every acknowledged ADD, counted once; LIST changed nothing.
  const after = await request(server.child, 'count', {}, 60_000);
  const expected = op === 'add' ? result.acknowledged : items;
  if (after.documents !== expected || after.added !== (op === 'add' ? result.acknowledged : 0)) {
    throw new Error(
      `${LABELS[backend.id]} (${op}): ${result.acknowledged} requests acknowledged, but the server holds ` +
        `${after.documents} items and added ${after.added} (expected ${expected} and ${op === 'add' ? result.acknowledged : 0})`,
    );
  }
  const serverCpuUsPerRequest = (cpuEnd.server - cpuStart.server) / result.requests;
  const databaseCpuUsPerRequest =
    cpuStart.database === undefined || cpuEnd.database === undefined
      ? null
      : (cpuEnd.database - cpuStart.database) / result.requests;
  return {
    ...result,
    stored: after.documents,
    serverCpuUsPerRequest,
    databaseCpuUsPerRequest,
    totalCpuUsPerRequest: serverCpuUsPerRequest + (databaseCpuUsPerRequest ?? 0),
  };
}

/**
 * The order of the backends in a round: the first one alternates from round
 * to round, so that neither always runs right after the other's writes.
 * @template T
 * @param {T[]} list
 * @param {number} round from 1
 * @returns {T[]}
 */
const orderOf = (list, round) => (round % 2 === 1 ? list : [...list].reverse());

/**
 * Medians, spreads and the ratios PostgreSQL / nedb of a part's rounds.
 * @param {any[]} rounds each `{ round, [op]: { [backend]: metrics } }`
 * @param {string[]} ops
 * @param {BackendId[]} targets
 * @param {{ key: string }[]} metrics
 */
function summarize(rounds, ops, targets, metrics) {
  /** @type {Record<string, Record<string, Record<string, number>>>} */
  const medians = {};
  /** @type {Record<string, Record<string, Record<string, ReturnType<typeof spread>>>>} */
  const spreads = {};
  /** @type {Record<string, Record<string, number>>} */
  const ratios = {};
  /** @type {Record<string, Record<string, number>[]>} */
  const perRoundRatios = {};
  for (const op of ops) {
    medians[op] = {};
    spreads[op] = {};
    for (const t of targets) {
      const values = (/** @type {string} */ key) => rounds.map((r) => r[op][t][key] ?? NaN);
      medians[op][t] = Object.fromEntries(metrics.map((m) => [m.key, median(values(m.key))]));
      spreads[op][t] = Object.fromEntries(metrics.map((m) => [m.key, spread(values(m.key))]));
    }
    if (targets.includes('nedb') && targets.includes('postgres')) {
      const pg = medians[op].postgres;
      const nedb = medians[op].nedb;
      ratios[op] = Object.fromEntries(metrics.map((m) => [m.key, pg[m.key] / nedb[m.key]]));
      perRoundRatios[op] = rounds.map((r) =>
        Object.fromEntries(
          metrics.map((m) => [m.key, (r[op].postgres[m.key] ?? NaN) / (r[op].nedb[m.key] ?? NaN)]),
        ),
      );
    }
  }
  return { medians, spread: spreads, ratios, perRoundRatios };
}

/**
 * Prints a part's tables: medians, spreads, ratios.
 * @param {ReturnType<typeof summarize>} summary
 * @param {string[]} ops
 * @param {Record<string, string>} opLabels
 * @param {BackendId[]} targets
 * @param {{ key: string, label: string, digits: number }[]} metrics
 * @param {number} roundCount
 */
function printSummary(summary, ops, opLabels, targets, metrics, roundCount) {
  const shown = metrics.filter((m) =>
    ops.some((op) => targets.some((t) => Number.isFinite(summary.medians[op][t][m.key]))),
  );
  for (const op of ops) {
    const rows = [[`${opLabels[op]}: median of ${roundCount} round(s)`, ...targets.map((t) => LABELS[t])]];
    if (summary.ratios[op]) rows[0].push('PostgreSQL / nedb');
    for (const m of shown) {
      const row = [m.label, ...targets.map((t) => fmt(summary.medians[op][t][m.key], m.digits))];
      if (summary.ratios[op]) row.push(fmtRatio(summary.ratios[op][m.key]));
      rows.push(row);
    }
    if (roundCount > 1) {
      for (const m of shown.filter((x) => !/cpu/i.test(x.key))) {
        rows.push([
          `  spread of ${m.label.replace(/ \(.*/, '')} (min–max)`,
          ...targets.map((t) => {
            const s = summary.spread[op][t][m.key];
            return `${fmt(s.min, m.digits)}–${fmt(s.max, m.digits)}`;
          }),
          ...(summary.ratios[op]
            ? [summary.perRoundRatios[op].map((r) => fmtRatio(r[m.key])).join(' ')]
            : []),
        ]);
      }
    }
    console.log(`\n${table(rows, ['l', ...rows[0].slice(1).map(() => /** @type {const} */ ('r'))])}`);
  }
  if (roundCount > 1 && ops.some((op) => summary.ratios[op])) {
    console.log('(the last column of a spread row: PostgreSQL / nedb round by round)');
  }
}

/**
 * Part 1: the todo plugin on each backend.
 * @param {Options} options
 * @param {Backend[]} list
 */
async function todoPart(options, list) {
  const dirs = await Promise.all(list.map(() => mkdtemp(path.join(os.tmpdir(), 'neko-bench-storage-'))));
  try {
    const [load, ...servers] = await Promise.all([
      start('storage/load.js', []),
      ...list.map((b, i) =>
        start('storage/server.js', [JSON.stringify(b.storage(dirs[i]))], { startTimeoutMs: 60_000 }),
      ),
    ]);
    for (const [i, b] of list.entries())
      console.log(`${LABELS[b.id].padEnd(11)} todo data at ${servers[i].ready.location}`);
    const width = Math.max(...list.map((b) => LABELS[b.id].length));
    /** @type {any[]} */
    const rounds = [];
    for (let round = 1; round <= options.rounds; round++) {
      /** @type {any} */
      const entry = { round };
      for (const op of TODO_OPS) {
        entry[op] = {};
        for (const b of orderOf(list, round)) {
          const server = servers[list.indexOf(b)];
          const r = await measureTodo(load.child, server, b, op, options);
          entry[op][b.id] = r;
          console.log(
            `round ${round}/${options.rounds} ${TODO_LABELS[op].padEnd(9)} ${LABELS[b.id].padEnd(width)} ${fmt(r.requestsPerSec, 0).padStart(7)} req/s` +
              `  p50 ${fmt(r.p50Us, 0).padStart(6)} µs  p99 ${fmt(r.p99Us, 0).padStart(6)} µs` +
              `  server ${fmt(r.serverCpuUsPerRequest, 1).padStart(6)} µs/req` +
              (r.databaseCpuUsPerRequest === null
                ? ''
                : `  PostgreSQL ${fmt(r.databaseCpuUsPerRequest, 1).padStart(6)} µs/req`),
          );
        }
      }
      rounds.push(entry);
    }
    await stopChildren([load.child, ...servers.map((s) => s.child)]);
    const targets = list.map((b) => b.id);
    const summary = summarize(rounds, TODO_OPS, targets, TODO_METRICS);
    printSummary(summary, TODO_OPS, TODO_LABELS, targets, TODO_METRICS, rounds.length);
    return {
      ...summary,
      rounds,
      locations: Object.fromEntries(list.map((b, i) => [b.id, servers[i].ready.location])),
    };
  } finally {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/**
 * Part 2: key-value cells, directly on each backend.
 * @param {Options} options
 * @param {Backend[]} list
 */
async function cellsPart(options, list) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'neko-bench-cells-'));
  try {
    const cells = await start('storage/cells.js', []);
    for (const b of list) {
      const opened = await request(cells.child, 'open', { target: b.id, storage: b.storage(dir) }, 60_000);
      console.log(`${LABELS[b.id].padEnd(11)} cells at ${opened.location}`);
    }
    const width = Math.max(...list.map((b) => LABELS[b.id].length));
    /** @type {any[]} */
    const rounds = [];
    for (let round = 1; round <= options.rounds; round++) {
      /** @type {any} */
      const entry = { round };
      for (const op of CELL_OPS) {
        entry[op] = {};
        for (const b of orderOf(list, round)) {
          const { result: r } = await request(
            cells.child,
            'run',
            { target: b.id, op, calls: options.calls, warmup: options.cellWarmup },
            600_000,
          );
          entry[op][b.id] = r;
          console.log(
            `round ${round}/${options.rounds} ${CELL_LABELS[op].padEnd(13)} ${LABELS[b.id].padEnd(width)}` +
              `  p50 ${fmt(r.p50Us, 0).padStart(5)} µs  p99 ${fmt(r.p99Us, 0).padStart(6)} µs  ${fmt(r.callsPerSec, 0).padStart(7)} calls/s`,
          );
        }
      }
      rounds.push(entry);
    }
    await stopChildren([cells.child]);
    const targets = list.map((b) => b.id);
    const summary = summarize(rounds, CELL_OPS, targets, CELL_METRICS);
    printSummary(summary, CELL_OPS, CELL_LABELS, targets, CELL_METRICS, rounds.length);
    return { ...summary, rounds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main() {
  const options = readOptions();
  if (!options) return;
  try {
    await access(path.join(here, '..', 'server', 'dist', 'index.js'));
  } catch {
    throw new Error('server/dist is missing: run `npm run build` first (npm run bench:storage does)');
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

  /** @type {import('./lib/postgres.js').RunningPostgres | undefined} */
  let postgres;
  /** @type {{ version: string, durability: string, settings: Record<string, string> } | null} */
  let postgresInfo = null;
  try {
    if (options.targets.includes('postgres')) {
      postgres = await startPostgres();
      const { settings, version } = await setDurability(postgres.url, options.durability);
      postgresInfo = { version, durability: options.durability, settings };
    }
    console.log(
      `NekoConnect storage bench: ${options.targets.map((t) => LABELS[t]).join(', ')}; ` +
        `${options.rounds} round(s); todo: ${options.clients} clients in lockstep, ${options.items} items for LIST, ` +
        `${options.windowMs / 1000} s window after ${options.warmupMs / 1000} s warm-up; cells: ${options.calls} calls per op`,
    );
    if (postgresInfo) {
      console.log(
        `PostgreSQL ${postgresInfo.version} (durability ${options.durability}: ` +
          `${Object.entries(postgresInfo.settings)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}), on 127.0.0.1 over TCP`,
      );
    }
    console.log(
      `node ${process.version}, ${machine.cpuCount} x ${machine.cpuModel}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
    );

    const list = backends(options, postgres);
    /** @type {any} */
    let todo = null;
    if (options.todo) {
      console.log('Part 1: the todo plugin, through the client SDK');
      todo = await todoPart(options, list);
    }
    /** @type {any} */
    let cells = null;
    if (options.cells) {
      console.log(
        `${options.todo ? '\n' : ''}Part 2: key-value cells, directly on each backend's plugin database`,
      );
      cells = await cellsPart(options, list);
    }

    const report = {
      date: new Date().toISOString(),
      node: process.version,
      machine: { ...machine, loadAverageAtEnd: os.loadavg() },
      parameters: {
        targets: options.targets,
        clients: options.clients,
        items: options.items,
        windowSeconds: options.windowMs / 1000,
        warmupSeconds: options.warmupMs / 1000,
        rounds: options.rounds,
        cellCalls: options.calls,
        cellWarmupCalls: options.cellWarmup,
        durability: options.durability,
        quick: options.quick,
      },
      postgres: postgresInfo,
      todo,
      cells,
    };
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nReport written to ${path.relative(process.cwd(), options.out) || options.out}`);
  } finally {
    await postgres?.stop();
  }
}

runMain(main, 'bench:storage');
