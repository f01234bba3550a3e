/**
 * `node bench/scale.js`: how NekoConnect holds many idle authenticated
 * sessions (10,000 by default) on this machine, before and after each has
 * joined a plugin. See docs/performance.md.
 *
 * Processes: this orchestrator; the server (bench/server.js neko, with
 * plugins/echo only, started with --expose-gc); the active client
 * (bench/scale/probe.js, one connection kept for the whole run); and the
 * holders (bench/scale/holder.js, 2 by default), which open the idle
 * sessions at a controlled pace (a fixed number of handshakes in flight) and
 * hold them. Each process has its own open-file limit (the hard limit: Node.js
 * raises its soft limit to it at start-up), checked before anything starts.
 *
 * Steps:
 *  1. The active client warms up (8,000 round trips). Server memory after two
 *     full GCs: the base. Then the active client's latency with no idle
 *     session on the server ("before"): a second to settle, a first pass kept
 *     apart, then 3 passes of 2,000 sequential echo round trips.
 *  2. The holders open the idle sessions; every one must complete its
 *     handshake, and the server must report them all authenticated, or the
 *     run fails with the reasons.
 *  3. Server memory after two full GCs: held. (held - base) / sessions is the
 *     memory per idle session (one that never sent a packet after its
 *     handshake). Then the active client's passes while the sessions are
 *     held, and a check that none of them was lost meanwhile.
 *  4. Unless --no-join: every idle session sends one echo request, so that
 *     it joins the echo plugin (the server keeps a member record for it, as
 *     for a chat client), and is idle again once answered. The server must
 *     report every one of them joined. Server memory after two full GCs:
 *     joined; (joined - base) / sessions is the memory per joined session.
 *  5. The holders close; once the server is back to the active session
 *     alone (and the echo plugin has only it as a member), its memory again
 *     (released) and the active client's passes again ("after").
 *  6. Unless --no-baseline: the same count of idle connections held by a bare
 *     node:net server, as the floor of what a connection costs in Node.js.
 *
 * Latency with idle sessions is compared with the passes without (before
 * and after together), as the ratio of the medians over the passes.
 */
import { access, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request, runMain, start, stopChildren } from './lib/children.js';
import { fmt, fmtBytes, fmtRatio, table } from './lib/format.js';
import { median } from './lib/stats.js';
import { checkLimits } from './scale/limits.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = path.join(here, 'results', 'scale.json');
const ECHO_PLUGIN = path.join(here, '..', 'plugins', 'echo');

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

/** The goal the report checks (informational: the exit code ignores it). */
const GOAL_RSS_PER_SESSION_BYTES = 8 * 1024;
/** The session count the goal is stated for. */
const GOAL_SESSIONS = 10_000;
/** The echo op of the active client's requests. */
const OP = 7;

const HELP = `Usage: node bench/scale.js [options]      (after npm run build; npm run bench runs it too)

Holds many idle authenticated NekoConnect sessions (server: plugins/echo, in
its own process) and reports the server's memory per session (RSS and heap,
after a full GC, held minus base), first for sessions that never sent a
packet, then for the same sessions once each has sent one echo request and so
joined the plugin; and the latency of one active client (sequential echo
round trips) with and without the idle sessions.

Options:
  --sessions <n>      idle sessions (default ${GOAL_SESSIONS.toLocaleString('en-US')})
  --holders <n>       processes that open and hold them (default 2)
  --concurrency <n>   handshakes in flight per holder (default 50)
  --round-trips <n>   the active client's round trips per pass (default 2,000)
  --passes <n>        passes per state (no idle session before, idle sessions
                      held, none after), after a first pass kept apart; the
                      median pass is reported (default 3)
  --warmup <n>        the active client's round trips before the first pass, not
                      counted (default 8,000)
  --payload <bytes>   the active client's payload (default 32)
  --no-join           skip the second measurement (each session joins the echo
                      plugin with one request, then the memory again)
  --no-baseline       skip the bare node:net server holding the same idle connections
  --quick             1,000 sessions, 1 pass of 500 round trips per state, 2,000 to warm up
  --out <file>        JSON report path (default bench/results/scale.json)
  --no-write          print only
  -h, --help          this text

Goals: server RSS per idle session <= ${GOAL_RSS_PER_SESSION_BYTES / 1024} KiB with ${GOAL_SESSIONS.toLocaleString('en-US')} sessions, for
sessions that never sent a packet and for sessions that joined a plugin, each
reported as PASS/MISS. The exit code is 1 only when the benchmark itself fails, which
includes not being able to hold every session asked for (the reason is given:
an open-file limit, the local port range, a handshake timeout, ...).`;

function readOptions() {
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string' },
      holders: { type: 'string' },
      concurrency: { type: 'string' },
      'round-trips': { type: 'string' },
      warmup: { type: 'string' },
      passes: { type: 'string' },
      payload: { type: 'string' },
      'no-join': { type: 'boolean', default: false },
      'no-baseline': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
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
   * @param {number} min
   * @param {number} max
   */
  const int = (text, fallback, name, min, max) => {
    if (text === undefined) return fallback;
    const value = Number(text.replaceAll(/[,_]/g, ''));
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
  return {
    sessions: int(values.sessions, quick ? 1_000 : GOAL_SESSIONS, 'sessions', 1, 1_000_000),
    holders: int(values.holders, 2, 'holders', 1, 64),
    concurrency: int(values.concurrency, 50, 'concurrency', 1, 10_000),
    roundTrips: int(values['round-trips'], quick ? 500 : 2_000, 'round-trips', 1, 10_000_000),
    passes: int(values.passes, quick ? 1 : 3, 'passes', 1, 100),
    warmupRoundTrips: int(values.warmup, quick ? 2_000 : 8_000, 'warmup', 0, 10_000_000),
    payloadBytes: int(values.payload, 32, 'payload', 0, 1024 * 1024 - 200),
    join: !values['no-join'],
    baseline: !values['no-baseline'],
    quick,
    out: values.out ? path.resolve(values.out) : RESULTS_FILE,
    write: !values['no-write'],
  };
}

/** @typedef {NonNullable<ReturnType<typeof readOptions>>} Options */

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `total` split into `parts` shares as even as can be.
 * @param {number} total
 * @param {number} parts
 * @returns {number[]}
 */
const split = (total, parts) =>
  Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

/**
 * The server's memory after two full GCs, with its connection counts.
 * @param {ChildProcess} server
 */
async function memory(server) {
  const reply = await request(server, 'memory', {}, 60_000);
  if (!reply.gc) throw new Error('the server has no gc(): it must run with --expose-gc');
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = reply.usage;
  return {
    rss,
    vmRss: reply.vmRssBytes ?? rss,
    heapUsed,
    heapTotal,
    external,
    arrayBuffers,
    stats: reply.stats,
  };
}

/** @typedef {Awaited<ReturnType<typeof memory>>} Memory */

/**
 * The difference of two memory samples, per connection.
 * @param {Memory} base
 * @param {Memory} held
 * @param {number} count
 */
function perConnection(base, held, count) {
  /** @param {'rss' | 'vmRss' | 'heapUsed' | 'heapTotal' | 'external' | 'arrayBuffers'} key */
  const per = (key) => (held[key] - base[key]) / count;
  return {
    rss: per('rss'),
    vmRss: per('vmRss'),
    heapUsed: per('heapUsed'),
    heapTotal: per('heapTotal'),
    external: per('external'),
    arrayBuffers: per('arrayBuffers'),
  };
}

/**
 * The server child's CPU time so far, µs.
 * @param {ChildProcess} server
 * @returns {Promise<number>}
 */
async function cpuOf(server) {
  const reply = await request(server, 'cpu', {}, 10_000);
  return reply.usage.user + reply.usage.system;
}

/**
 * The holders open `total` connections between them, at the pace set by
 * `concurrency`. Fails with the reasons unless every one opened.
 * @param {{ child: ChildProcess }[]} holders
 * @param {'neko' | 'bare'} kind
 * @param {number} port
 * @param {number} total
 * @param {Options} options
 */
async function openAll(holders, kind, port, total, options) {
  const shares = split(total, holders.length);
  const progress = shares.map(() => 0);
  const tty = process.stdout.isTTY;
  const started = performance.now();
  const ticker = tty
    ? setInterval(() => {
        const opened = progress.reduce((a, b) => a + b, 0);
        process.stdout.write(
          `\r  opening: ${opened.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`,
        );
      }, 500)
    : undefined;
  try {
    const replies = await Promise.all(
      holders.map((h, i) =>
        request(
          h.child,
          'open',
          { kind, port, count: shares[i], concurrency: options.concurrency },
          120_000 + shares[i] * 20,
          (m) => {
            if (m.type === 'progress') progress[i] = m.opened;
          },
        ),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const opened = replies.reduce((sum, r) => sum + r.opened, 0);
    /** @type {Record<string, number>} */
    const errors = {};
    for (const r of replies) {
      for (const [reason, count] of Object.entries(r.errors)) errors[reason] = (errors[reason] ?? 0) + count;
    }
    if (opened !== total) {
      const reasons = Object.entries(errors)
        .sort((a, b) => b[1] - a[1])
        .map(([reason, count]) => `  ${count} x ${reason}`)
        .join('\n');
      throw new Error(
        `only ${opened.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} ${kind === 'neko' ? 'sessions' : 'connections'} ` +
          `could be opened; the failures:\n${reasons}`,
      );
    }
    return { opened, seconds, perSecond: opened / seconds };
  } finally {
    if (ticker) {
      clearInterval(ticker);
      process.stdout.write('\r\x1b[K');
    }
  }
}

/**
 * Every session the holders hold makes one echo request, so that it joins
 * the echo plugin. Fails with the reasons unless every one was answered.
 * @param {{ child: ChildProcess }[]} holders
 * @param {number} total the sessions held
 * @param {Options} options
 */
async function joinAll(holders, total, options) {
  const started = performance.now();
  const replies = await Promise.all(
    holders.map((h) =>
      request(
        h.child,
        'join',
        { concurrency: options.concurrency },
        120_000 + Math.ceil(total / holders.length) * 20,
      ),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const joined = replies.reduce((sum, r) => sum + r.joined, 0);
  if (joined !== total) {
    /** @type {Record<string, number>} */
    const errors = {};
    for (const r of replies) {
      for (const [reason, count] of Object.entries(r.errors)) errors[reason] = (errors[reason] ?? 0) + count;
    }
    const reasons = Object.entries(errors)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, count]) => `  ${count} x ${reason}`)
      .join('\n');
    throw new Error(
      `only ${joined.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} sessions got their echo request ` +
        `answered; the failures:\n${reasons}`,
    );
  }
  return { joined, seconds, perSecond: joined / seconds };
}

/**
 * Waits until the server holds `expected` connections (at most `timeoutMs`).
 * @param {ChildProcess} server
 * @param {number} expected
 * @param {number} timeoutMs
 */
async function waitForConnections(server, expected, timeoutMs) {
  const started = performance.now();
  for (;;) {
    const { stats } = await request(server, 'stats', {}, 10_000);
    if (stats.connections === expected) return (performance.now() - started) / 1000;
    if (performance.now() - started > timeoutMs) {
      throw new Error(
        `the server still holds ${stats.connections} connections ${timeoutMs / 1000} s later (expected ${expected})`,
      );
    }
    await sleep(100);
  }
}

/**
 * One pass of the active client: its sequential round trips.
 * @param {ChildProcess} probe
 * @param {number} roundTrips
 * @param {Options} options
 * @param {boolean} [record] false for a warm-up
 * @returns {Promise<{ p50Us: number, p99Us: number, maxUs: number, meanUs: number, seconds: number }>}
 */
async function probePass(probe, roundTrips, options, record = true) {
  const reply = await request(
    probe,
    'probe',
    { roundTrips, payloadBytes: options.payloadBytes, op: OP, record },
    60_000 + roundTrips * 50,
  );
  const { p50Us, p99Us, maxUs, meanUs, seconds } = reply;
  return { p50Us, p99Us, maxUs, meanUs, seconds };
}

/**
 * The active client's latency in one state of the server: a second to
 * settle (the memory sample before it ran full GCs), a first pass that is
 * kept apart (right after 10,000 handshakes, it was often slower, most likely
 * while the JIT re-optimized the echo path: a transient of the change, not a
 * cost of the state), then `options.passes` passes a
 * moment apart. A burst of other work on the machine spoils one pass, not
 * the median of the passes. Each pass also gives the server's CPU time per
 * round trip (idle sessions cost no CPU while the active client is not
 * sending, so this is the round trips' own, GC threads included).
 * @param {ChildProcess} probe
 * @param {ChildProcess} server
 * @param {Options} options
 */
async function probeState(probe, server, options) {
  await sleep(1_000);
  /** @returns {Promise<Awaited<ReturnType<typeof probePass>> & { serverCpuUsPerRoundTrip: number }>} */
  const measured = async () => {
    const cpuStart = await cpuOf(server);
    const pass = await probePass(probe, options.roundTrips, options);
    const serverCpuUsPerRoundTrip = ((await cpuOf(server)) - cpuStart) / options.roundTrips;
    return { ...pass, serverCpuUsPerRoundTrip };
  };
  const first = await measured();
  const passes = [];
  for (let i = 0; i < options.passes; i++) {
    await sleep(200);
    passes.push(await measured());
  }
  return { ...summarize(passes), first };
}

/**
 * The median of each figure over passes (max: the largest).
 * @param {{ p50Us: number, p99Us: number, maxUs: number, meanUs: number, serverCpuUsPerRoundTrip: number }[]} passes
 */
function summarize(passes) {
  return {
    p50Us: median(passes.map((p) => p.p50Us)),
    p99Us: median(passes.map((p) => p.p99Us)),
    meanUs: median(passes.map((p) => p.meanUs)),
    maxUs: Math.max(...passes.map((p) => p.maxUs)),
    serverCpuUsPerRoundTrip: median(passes.map((p) => p.serverCpuUsPerRoundTrip)),
    passes,
  };
}

/** @param {{ p50Us: number, p99Us: number, maxUs: number, meanUs: number, serverCpuUsPerRoundTrip: number }} l */
const fmtLatency = (l) =>
  `p50 ${fmt(l.p50Us, 0)} µs, p99 ${fmt(l.p99Us, 0)} µs, mean ${fmt(l.meanUs, 0)} µs, max ${fmt(l.maxUs, 0)} µs, ` +
  `server CPU ${fmt(l.serverCpuUsPerRoundTrip, 1)} µs/rt`;

/** @param {Memory} m */
const fmtMemory = (m) =>
  `RSS ${fmtBytes(m.rss)}, heap used ${fmtBytes(m.heapUsed)} (of ${fmtBytes(m.heapTotal)}), external ${fmtBytes(m.external)}`;

/**
 * NekoConnect with `options.sessions` idle sessions.
 * @param {Options} options
 */
async function measureNeko(options) {
  const { sessions } = options;
  const [server, probe, ...holders] = await Promise.all([
    start(
      'server.js',
      ['neko', '--plugins', ECHO_PLUGIN, '--max-connections', String(Math.max(12_000, sessions + 2_000))],
      { execArgv: ['--expose-gc'] },
    ),
    start('scale/probe.js', []),
    ...Array.from({ length: options.holders }, () => start('scale/holder.js', [])),
  ]);
  try {
    const port = server.ready.port;
    await request(probe.child, 'connect', { port }, 30_000);
    // Warm-up: the JIT of the server, the SDK and the echo path take a few thousand round trips to settle.
    await probePass(probe.child, options.warmupRoundTrips, options, false);

    const base = await memory(server.child);
    console.log(`server base (echo loaded, 1 session):  ${fmtMemory(base)}`);
    const before = await probeState(probe.child, server.child, options);
    console.log(`active client, no idle session:        ${fmtLatency(before)}`);

    const cpuBefore = await cpuOf(server.child);
    const opening = await openAll(holders, 'neko', port, sessions, options);
    const cpuAfter = await cpuOf(server.child);
    const handshakeCpuUs = (cpuAfter - cpuBefore) / sessions;
    console.log(
      `opened ${fmt(sessions, 0)} sessions in ${fmt(opening.seconds, 1)} s ` +
        `(${fmt(opening.perSecond, 0)}/s), server CPU ${fmt(handshakeCpuUs, 0)} µs per session opened`,
    );
    const { stats } = await request(server.child, 'stats', {}, 10_000);
    // Every idle session authenticated, and none has sent a packet: only the active client has joined echo.
    if (stats.connections !== sessions + 1 || stats.authenticated !== sessions + 1 || stats.joined !== 1) {
      throw new Error(
        `the server holds ${stats.connections} connections, ${stats.authenticated} authenticated, ` +
          `${stats.joined} joined to echo; expected ${sessions + 1} connections and authenticated ` +
          `(the idle sessions and the active client) and 1 joined (the active client)`,
      );
    }
    await sleep(500);
    const held = await memory(server.child);
    console.log(`server with ${fmt(sessions, 0)} idle sessions:`.padEnd(39) + fmtMemory(held));
    const during = await probeState(probe.child, server.child, options);
    console.log(`active client, ${fmt(sessions, 0)} idle sessions:`.padEnd(39) + fmtLatency(during));

    const counts = await Promise.all(holders.map((h) => request(h.child, 'count', {}, 10_000)));
    const alive = counts.reduce((sum, c) => sum + c.alive, 0);
    const lost = counts.reduce((sum, c) => sum + c.lost, 0);
    const after = await request(server.child, 'stats', {}, 10_000);
    if (alive !== sessions || lost > 0 || after.stats.authenticated !== sessions + 1) {
      throw new Error(
        `sessions were lost while held: ${alive} of ${sessions} still open on the client side ` +
          `(${lost} closed), ${after.stats.authenticated - 1} authenticated on the server`,
      );
    }

    // The same sessions, once each has sent the echo plugin a packet and so joined it (the chat case).
    let join = null;
    if (options.join) {
      const cpuJoinStart = await cpuOf(server.child);
      const joining = await joinAll(holders, sessions, options);
      const joinCpuUs = ((await cpuOf(server.child)) - cpuJoinStart) / sessions;
      const { stats: joinedStats } = await request(server.child, 'stats', {}, 10_000);
      if (joinedStats.authenticated !== sessions + 1 || joinedStats.joined !== sessions + 1) {
        throw new Error(
          `after the join requests the server holds ${joinedStats.authenticated} authenticated sessions, ` +
            `${joinedStats.joined} joined to echo; expected ${sessions + 1} of each`,
        );
      }
      await sleep(500);
      const joined = await memory(server.child);
      console.log(
        `joined: each sent 1 echo request in ${fmt(joining.seconds, 1)} s (${fmt(joining.perSecond, 0)}/s), ` +
          `server CPU ${fmt(joinCpuUs, 0)} µs per request`,
      );
      console.log(`server with ${fmt(sessions, 0)} joined sessions:`.padEnd(39) + fmtMemory(joined));
      join = {
        joined,
        perSession: perConnection(base, joined, sessions),
        increment: perConnection(held, joined, sessions),
        joining: { ...joining, serverCpuUsPerSession: joinCpuUs },
      };
    }

    await Promise.all(holders.map((h) => request(h.child, 'close', {}, 60_000)));
    const drainSeconds = await waitForConnections(server.child, 1, 30_000);
    // Every session that joined has left the plugin too.
    const { stats: releasedStats } = await request(server.child, 'stats', {}, 10_000);
    if (releasedStats.joined !== 1) {
      throw new Error(`${releasedStats.joined - 1} closed sessions are still members of the echo plugin`);
    }
    const released = await memory(server.child);
    console.log(`server after they closed:              ${fmtMemory(released)}`);
    const afterLatency = await probeState(probe.child, server.child, options);
    console.log(`active client, no idle session again:  ${fmtLatency(afterLatency)}`);

    return {
      port,
      base,
      held,
      released,
      perSession: perConnection(base, held, sessions),
      join,
      opening: { ...opening, serverCpuUsPerSession: handshakeCpuUs },
      drainSeconds,
      latency: { before, during, after: afterLatency },
    };
  } finally {
    await stopChildren([server.child, probe.child, ...holders.map((h) => h.child)]);
  }
}

/**
 * A bare node:net server holding `options.sessions` idle TCP connections:
 * what a connection costs a Node.js process before any protocol.
 * @param {Options} options
 */
async function measureBare(options) {
  const [server, ...holders] = await Promise.all([
    start('server.js', ['bare'], { execArgv: ['--expose-gc'] }),
    ...Array.from({ length: options.holders }, () => start('scale/holder.js', [])),
  ]);
  try {
    const base = await memory(server.child);
    const opening = await openAll(holders, 'bare', server.ready.port, options.sessions, options);
    await waitForConnections(server.child, options.sessions, 10_000);
    await sleep(500);
    const held = await memory(server.child);
    const perConn = perConnection(base, held, options.sessions);
    console.log(
      `bare node:net, ${fmt(options.sessions, 0)} idle connections: RSS ${fmtBytes(perConn.rss)} and heap used ` +
        `${fmtBytes(perConn.heapUsed)} per connection (base ${fmtBytes(base.rss)}, held ${fmtBytes(held.rss)})`,
    );
    await Promise.all(holders.map((h) => request(h.child, 'close', {}, 60_000)));
    return { base, held, perConnection: perConn, opening };
  } finally {
    await stopChildren([server.child, ...holders.map((h) => h.child)]);
  }
}

async function main() {
  const options = readOptions();
  if (!options) return;
  try {
    await access(path.join(here, '..', 'server', 'dist', 'index.js'));
  } catch {
    throw new Error('server/dist is missing: run `npm run build` first (npm run bench does)');
  }
  const { sessions } = options;
  const perHolder = Math.ceil(sessions / options.holders);
  const limits = checkLimits({
    serverSockets: sessions + 1,
    clientSockets: perHolder,
    totalClientConnections: sessions + 1,
  });
  const cpus = os.cpus();
  console.log(
    `NekoConnect scale: ${fmt(sessions, 0)} idle authenticated sessions (${options.holders} holder processes, ` +
      `${options.concurrency} handshakes in flight each); active client: ${fmt(options.roundTrips, 0)} sequential ` +
      `${options.payloadBytes}-byte echo round trips per pass`,
  );
  const fdText = limits.openFiles
    ? `open files ${limits.openFiles.soft}/${limits.openFiles.hard} (soft/hard; server needs ~${limits.serverFds}, ` +
      `each holder ~${limits.clientFds})`
    : 'open-file limit unknown';
  console.log(
    `node ${process.version}, ${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown'}, load average ` +
      `${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${fdText}\n`,
  );

  const neko = await measureNeko(options);
  const bare = options.baseline ? await measureBare(options) : null;

  // Without idle sessions: the passes before they opened and after they closed.
  const without = summarize([...neko.latency.before.passes, ...neko.latency.after.passes]);
  const firstRows = [
    ['first pass of a state (kept apart)', 'p50 (µs)', 'p99 (µs)', 'server CPU (µs/rt)'],
    ...[
      ['no idle session (before)', neko.latency.before.first],
      [`right after opening ${fmt(sessions, 0)}`, neko.latency.during.first],
      ['right after closing them', neko.latency.after.first],
    ].map(([label, l]) => [
      /** @type {string} */ (label),
      fmt(/** @type {any} */ (l).p50Us, 0),
      fmt(/** @type {any} */ (l).p99Us, 0),
      fmt(/** @type {any} */ (l).serverCpuUsPerRoundTrip, 1),
    ]),
  ];
  const latencyRatio = {
    p50: neko.latency.during.p50Us / without.p50Us,
    p99: neko.latency.during.p99Us / without.p99Us,
    serverCpuUsPerRoundTrip: neko.latency.during.serverCpuUsPerRoundTrip / without.serverCpuUsPerRoundTrip,
  };

  const per = neko.perSession;
  const joinedPer = neko.join?.perSession;
  /** @type {[string, 'rss' | 'heapUsed' | 'heapTotal' | 'external'][]} */
  const figures = [
    ['RSS', 'rss'],
    ['heap used', 'heapUsed'],
    ['heap total', 'heapTotal'],
    ['external', 'external'],
  ];
  const rows = [
    [
      'per session, (sample - base) / sessions',
      'NekoConnect idle',
      ...(joinedPer ? ['joined echo'] : []),
      ...(bare ? ['bare node:net'] : []),
    ],
    ...figures.map(([label, key]) => [
      label,
      fmtBytes(per[key]),
      ...(joinedPer ? [fmtBytes(joinedPer[key])] : []),
      ...(bare ? [fmtBytes(bare.perConnection[key])] : []),
    ]),
  ];
  console.log(`\n${table(rows, ['l', 'r', 'r', 'r'])}`);
  if (joinedPer) {
    console.log(
      '(idle: sessions that never sent a packet after the handshake; joined echo: the same sessions after each ' +
        'sent one echo request, so that the plugin holds a member record for it)',
    );
  }
  const latencyRows = [
    [`active client, median of ${options.passes} pass(es)`, 'p50 (µs)', 'p99 (µs)', 'server CPU (µs/rt)'],
    ...[
      ['no idle session (before + after)', without],
      [`${fmt(sessions, 0)} idle sessions`, neko.latency.during],
    ].map(([label, l]) => [
      /** @type {string} */ (label),
      fmt(/** @type {any} */ (l).p50Us, 0),
      fmt(/** @type {any} */ (l).p99Us, 0),
      fmt(/** @type {any} */ (l).serverCpuUsPerRoundTrip, 1),
    ]),
    [
      'ratio',
      fmtRatio(latencyRatio.p50),
      fmtRatio(latencyRatio.p99),
      fmtRatio(latencyRatio.serverCpuUsPerRoundTrip),
    ],
  ];
  console.log(`\n${table(latencyRows, ['l', 'r', 'r', 'r'])}`);
  console.log(`\n${table(firstRows, ['l', 'r', 'r', 'r'])}\n`);

  /**
   * @param {string} what
   * @param {number} rss
   */
  const goal = (what, rss) => ({
    part: 'scale',
    goal: `server RSS per ${what} <= ${GOAL_RSS_PER_SESSION_BYTES / 1024} KiB (${fmt(sessions, 0)} sessions)`,
    value: rss,
    display: fmtBytes(rss),
    pass: rss <= GOAL_RSS_PER_SESSION_BYTES,
    sessions,
    atGoalCount: sessions >= GOAL_SESSIONS,
  });
  const goals = [
    goal('idle session (never sent a packet)', per.rss),
    ...(joinedPer ? [goal('session that joined a plugin (one echo request)', joinedPer.rss)] : []),
  ];
  for (const g of goals) console.log(`${g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${g.display}`);
  if (sessions < GOAL_SESSIONS) {
    console.log(`(fewer sessions than the goal's ${fmt(GOAL_SESSIONS, 0)}: the figure is indicative only)`);
  }

  const report = {
    date: new Date().toISOString(),
    node: process.version,
    machine: {
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      cpuCount: cpus.length,
      loadAverage: os.loadavg(),
    },
    parameters: {
      sessions,
      holders: options.holders,
      concurrency: options.concurrency,
      roundTrips: options.roundTrips,
      passes: options.passes,
      warmupRoundTrips: options.warmupRoundTrips,
      payloadBytes: options.payloadBytes,
      op: OP,
      join: options.join,
      quick: options.quick,
    },
    limits,
    goals,
    neko: {
      base: neko.base,
      held: neko.held,
      released: neko.released,
      perSession: per,
      join: neko.join,
      opening: neko.opening,
      drainSeconds: neko.drainSeconds,
      latency: {
        before: neko.latency.before,
        during: neko.latency.during,
        after: neko.latency.after,
        withoutIdle: {
          p50Us: without.p50Us,
          p99Us: without.p99Us,
          meanUs: without.meanUs,
          serverCpuUsPerRoundTrip: without.serverCpuUsPerRoundTrip,
        },
        ratio: latencyRatio,
      },
    },
    bare,
  };
  if (options.write) {
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nReport written to ${path.relative(process.cwd(), options.out) || options.out}`);
  }
  // Run by bench/run.js: the figures go into its report too.
  if (process.send) {
    process.send({ type: 'report', report });
    process.disconnect();
  }
}

runMain(main, 'bench/scale.js');
