/**
 * The cluster benchmark (`npm run bench:cluster`, bench/cluster.js; see
 * docs/performance.md): broadcast latency across processes against local
 * delivery, and echo throughput of one process against several, on a real
 * Redis it starts and stops. Short runs of the real script against the built
 * CLI, checking what its report says against what it measured, and that
 * nothing it started outlives it. No timing is asserted.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const run = promisify(execFile);

function assertBuilt(): void {
  const cli = join(REPO_ROOT, 'server', 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does).`);
}

/** One side's latency figures of a round. */
interface Side {
  samples: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

interface LatencyRound {
  round: number;
  messages: number;
  local: Side;
  cross: Side;
  goalBoundUs: number;
  goalMet: boolean;
}

/** Part 1's figures on one carrier of the bus. */
interface Carrier {
  label: string;
  cluster: string | null;
  processes: { id: string | null; pid: number; port: number }[];
  rounds: LatencyRound[];
  median: Record<'localP99Us' | 'crossP99Us' | 'crossP50Us', number>;
  goal: { boundUs: number; crossP99Us: number; met: boolean; roundsMet: number };
}

interface Throughput {
  requests: number;
  primaryCpuUsPerRequest: number | null;
  machineCoresBusy: number;
  requestsPerSec: number;
  p50Us: number;
  p99Us: number;
  serverCpuUsPerRequest: number;
}

interface Report {
  parameters: {
    rounds: number;
    messages: number;
    receivers: number;
    targets: string[];
    carriers: string[];
    storage: string;
  };
  engines: { redis: { port: number; dir: string } | null; postgres: { port: number; dir: string } | null };
  latency: { carriers: Record<string, Carrier> } | null;
  throughput: {
    targets: Record<string, { ports: number[]; pids: number[] }>;
    rounds: Record<string, Throughput>[];
    medians: Record<string, Throughput>;
    ratios: Record<string, Throughput>;
  } | null;
}

async function bench(args: string[]): Promise<{ stdout: string; report: Report; text: string }> {
  assertBuilt();
  const dir = await mkdtemp(join(tmpdir(), 'neko-bench-cluster-test-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'report.json');
  const { stdout } = await run(process.execPath, ['bench/cluster.js', ...args, '--out', out], {
    cwd: REPO_ROOT,
    timeout: 150_000,
  });
  const text = await readFile(out, 'utf8');
  return { stdout, report: JSON.parse(text) as Report, text };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Whether a process is still there. */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Whether something accepts connections on the port of 127.0.0.1. */
const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/**
 * What part 1 reports for a carrier, against what it measured: 2 rounds of
 * 60 broadcasts to 2 receivers on each side.
 */
function checkCarrier(carrier: Carrier, stdout: string, label: string): void {
  expect(carrier.label).toBe(label);
  expect(carrier.rounds).toHaveLength(2);
  for (const round of carrier.rounds) {
    // Every timed broadcast reached both receivers of each side (the script fails otherwise).
    expect(round.local.samples).toBe(120);
    expect(round.cross.samples).toBe(120);
    for (const side of [round.local, round.cross]) {
      expect(side.p50Us).toBeGreaterThan(0);
      expect(side.p99Us).toBeGreaterThanOrEqual(side.p50Us);
      expect(side.maxUs).toBeGreaterThanOrEqual(side.p99Us);
    }
    expect(round.goalBoundUs).toBeCloseTo(2_000 + 2 * round.local.p99Us, 6);
    expect(round.goalMet).toBe(round.cross.p99Us <= round.goalBoundUs);
  }
  expect(carrier.median.crossP99Us).toBeCloseTo(median(carrier.rounds.map((r) => r.cross.p99Us)), 9);
  expect(carrier.goal.boundUs).toBeCloseTo(2_000 + 2 * carrier.median.localP99Us, 6);
  expect(carrier.goal.met).toBe(carrier.median.crossP99Us <= carrier.goal.boundUs);
  expect(carrier.goal.roundsMet).toBe(carrier.rounds.filter((r) => r.goalMet).length);
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect(stdout).toMatch(
    new RegExp(
      `^round 2/2 ${escaped} +local p50 +[\\d,]+ µs {2}p99 +[\\d,]+ µs {2}across p50 +[\\d,]+ µs`,
      'm',
    ),
  );
  expect(stdout).toMatch(
    new RegExp(
      `^Goal p99 across ≤ 2 ms \\+ 2 × p99 local \\(${escaped}\\): .* ${carrier.goal.met ? 'PASS' : 'MISS'} \\(met in ${carrier.goal.roundsMet} of 2 round\\(s\\)\\)$`,
      'm',
    ),
  );
}

describe('bench: cluster (bench/cluster.js)', () => {
  it('times every broadcast on both processes of a Redis cluster, checks the goal as it says, and leaves no server or Redis behind', async () => {
    const { report, stdout, text } = await bench([
      ...['--rounds', '2', '--messages', '60', '--receivers', '2'],
      ...['--carriers', 'redis', '--no-throughput'],
    ]);
    expect(report.parameters).toMatchObject({ rounds: 2, messages: 60, receivers: 2, carriers: ['redis'] });
    expect(Object.keys(report.latency!.carriers)).toEqual(['redis']);
    const redis = report.latency!.carriers['redis']!;
    checkCarrier(redis, stdout, 'two processes, Redis');
    // Two processes of one cluster, each with its own id.
    expect(redis.cluster).toMatch(/^bench[0-9a-f]{8}$/);
    expect(redis.processes).toHaveLength(2);
    expect(redis.processes[0]!.id).toMatch(/^[0-9a-f]+$/);
    expect(redis.processes[0]!.id).not.toBe(redis.processes[1]!.id);
    // Neither the Redis URL nor its password is shown.
    for (const shown of [stdout, text]) expect(shown).not.toMatch(/redis:\/\/:(?!\*\*\*@)[^\s"@]+@/);
    // Everything it started is gone: the servers, Redis and Redis's directory.
    for (const p of redis.processes) expect(alive(p.pid)).toBe(false);
    expect(report.engines.redis).not.toBeNull();
    expect(existsSync(report.engines.redis!.dir)).toBe(false);
    expect(await listening(report.engines.redis!.port)).toBe(false);
    expect(report.engines.postgres).toBeNull();
  }, 160_000);

  it('measures echo throughput of one process and of two processes on Redis, with the ratios of the medians', async () => {
    const { report, stdout } = await bench([
      '--rounds',
      '2',
      '--no-latency',
      '--targets',
      'single,pair',
      '--window',
      '0.3',
      '--warmup',
      '0.1',
      '--clients',
      '4',
    ]);
    expect(report.parameters).toMatchObject({ targets: ['single', 'pair'], storage: 'nedb' });
    expect(report.latency).toBeNull();
    const throughput = report.throughput!;
    expect(throughput.targets['single']!.ports).toHaveLength(1);
    expect(throughput.targets['pair']!.ports).toHaveLength(2);
    expect(throughput.rounds).toHaveLength(2);
    for (const round of throughput.rounds) {
      for (const target of ['single', 'pair']) {
        expect(round[target]!.requests).toBeGreaterThan(0);
        expect(round[target]!.requestsPerSec).toBeGreaterThan(0);
        expect(round[target]!.serverCpuUsPerRequest).toBeGreaterThanOrEqual(0);
        // The machine was busy at least with the load generator and the servers.
        expect(round[target]!.machineCoresBusy).toBeGreaterThan(0);
      }
    }
    expect(throughput.medians['pair']!.requestsPerSec).toBeCloseTo(
      median(throughput.rounds.map((r) => r['pair']!.requestsPerSec)),
      9,
    );
    expect(throughput.ratios['pair']!.requestsPerSec).toBeCloseTo(
      throughput.medians['pair']!.requestsPerSec / throughput.medians['single']!.requestsPerSec,
      9,
    );
    expect(stdout).toMatch(/^round 2\/2 two processes, Redis +[\d,]+ req\/s/m);
    expect(stdout).toMatch(
      /^echo, median of 2 round\(s\) +one process +two processes, Redis +two processes, Redis \/ one$/m,
    );
    for (const t of Object.values(throughput.targets))
      for (const pid of t.pids) expect(alive(pid)).toBe(false);
    expect(existsSync(report.engines.redis!.dir)).toBe(false);
  }, 160_000);

  it('runs --workers on PostgreSQL: broadcasts between workers over IPC, echo throughput against one process', async () => {
    const { report, stdout, text } = await bench([
      ...['--rounds', '2', '--messages', '60', '--receivers', '2', '--carriers', 'ipc'],
      ...['--targets', 'single,workers', '--window', '0.3', '--warmup', '0.1', '--clients', '4'],
    ]);
    // Workers refuse nedb files: the script ran them, and the process they are compared with, on PostgreSQL.
    expect(report.parameters).toMatchObject({
      carriers: ['ipc'],
      targets: ['single', 'workers'],
      storage: 'postgres',
    });
    const ipc = report.latency!.carriers['ipc']!;
    checkCarrier(ipc, stdout, '--workers 2, IPC');
    expect(ipc.cluster).toBeNull();
    expect(ipc.processes).toHaveLength(1);
    const throughput = report.throughput!;
    expect(throughput.targets['workers']!.ports).toHaveLength(1);
    for (const round of throughput.rounds) {
      expect(round['workers']!.requests).toBeGreaterThan(0);
      expect(round['workers']!.primaryCpuUsPerRequest).toBeGreaterThanOrEqual(0);
      expect(round['single']!.primaryCpuUsPerRequest).toBeNull();
    }
    expect(throughput.ratios['workers']!.requestsPerSec).toBeCloseTo(
      throughput.medians['workers']!.requestsPerSec / throughput.medians['single']!.requestsPerSec,
      9,
    );
    expect(stdout).toMatch(/^echo, median of 2 round\(s\) +one process +--workers 2 +--workers 2 \/ one$/m);
    // No Redis was needed; PostgreSQL's URL and password are never shown, and it is gone with its directory.
    expect(report.engines.redis).toBeNull();
    for (const shown of [stdout, text]) expect(shown).not.toMatch(/postgres(ql)?:\/\//);
    expect(existsSync(report.engines.postgres!.dir)).toBe(false);
    expect(await listening(report.engines.postgres!.port)).toBe(false);
    for (const pid of [...ipc.processes.map((p) => p.pid), ...throughput.targets['workers']!.pids]) {
      expect(alive(pid)).toBe(false);
    }
  }, 160_000);

  it('refuses an unknown target, naming the ones there are', async () => {
    assertBuilt();
    await expect(
      run(process.execPath, ['bench/cluster.js', '--targets', 'single,threads'], { cwd: REPO_ROOT }),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining(
        '--targets: unknown target "threads"; the targets are single, workers, pair',
      ),
    });
  });
});
