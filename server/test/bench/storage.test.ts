/**
 * The storage benchmark (`npm run bench:storage`, bench/storage.js; see
 * docs/performance.md): nedb files against a real PostgreSQL in one run,
 * through the todo plugin and directly on the backends' cells. Short runs of
 * the real script against the built server/dist, checking what its report
 * says against what it measured.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const run = promisify(execFile);

/** A short run: small windows, few clients and items. */
const SHORT = [
  ...['--window', '0.3', '--warmup', '0.1', '--clients', '3', '--items', '20', '--calls', '50'],
] as const;

function assertBuilt(): void {
  const dist = join(REPO_ROOT, 'server', 'dist', 'index.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first (npm test does).`);
}

/** One backend's figures in one round (todo or cells). */
interface Figures {
  requests: number;
  acknowledged: number;
  stored: number;
  requestsPerSec: number;
  databaseCpuUsPerRequest: number | null;
  calls: number;
  p50Us: number;
  p99Us: number;
}

/** One op's figures of each backend. */
interface ByBackend {
  nedb: Figures;
  postgres: Figures;
}

/** The ratios PostgreSQL / nedb of one op. */
interface Ratios {
  requestsPerSec: number;
  p50Us: number;
}

/** A part of the report: its rounds, medians and ratios, by op and backend. */
interface Part<Op extends string> {
  rounds: Record<Op, ByBackend>[];
  medians: Record<Op, ByBackend>;
  ratios: Record<Op, Ratios>;
}

interface Report {
  parameters: Record<string, unknown>;
  postgres: { durability: string; settings: Record<string, string>; version: string } | null;
  todo: Part<'add' | 'list'> & { locations: Record<'nedb' | 'postgres', string> };
  cells: Part<'get' | 'set' | 'incr'>;
}

async function bench(args: string[]): Promise<{ stdout: string; report: Report; text: string }> {
  assertBuilt();
  const dir = await mkdtemp(join(tmpdir(), 'neko-bench-storage-test-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'report.json');
  const { stdout } = await run(process.execPath, ['bench/storage.js', ...args, '--out', out], {
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

describe('bench: storage backends (bench/storage.js)', () => {
  it('runs on nedb alone without PostgreSQL: every acknowledged ADD stored, LIST of the items stored', async () => {
    const { report, stdout } = await bench(['--targets', 'nedb', '--rounds', '2', ...SHORT]);
    expect(report.parameters).toMatchObject({ targets: ['nedb'], clients: 3, items: 20, rounds: 2 });
    expect(report.postgres).toBeNull();
    expect(report.todo.rounds).toHaveLength(2);
    for (const round of report.todo.rounds) {
      expect(round.add.nedb.requests).toBeGreaterThan(0);
      // The server holds exactly what the clients were told was added (checked by the script too).
      expect(round.add.nedb.stored).toBe(round.add.nedb.acknowledged);
      expect(round.add.nedb.acknowledged).toBeGreaterThanOrEqual(round.add.nedb.requests);
      expect(round.list.nedb.stored).toBe(20);
      expect(round.list.nedb.databaseCpuUsPerRequest).toBeNull();
    }
    expect(report.todo.medians.add.nedb.requestsPerSec).toBeCloseTo(
      median(report.todo.rounds.map((r) => r.add.nedb.requestsPerSec)),
      9,
    );
    for (const op of ['get', 'set', 'incr'] as const) {
      for (const round of report.cells.rounds) {
        expect(round[op].nedb.calls).toBe(50);
        expect(round[op].nedb.p99Us).toBeGreaterThanOrEqual(round[op].nedb.p50Us);
      }
    }
    // No second backend, no ratio.
    expect(report.todo.ratios).toEqual({});
    expect(stdout).toMatch(/^round 2\/2 todo LIST nedb files +[\d,]+ req\/s/m);
    expect(stdout).toMatch(/^round 1\/2 dbIncr \(incr\) nedb files +p50 +[\d,]+ µs/m);
  }, 160_000);

  it('compares a real PostgreSQL with nedb in one run, with durability matched and the password never shown', async () => {
    const { report, stdout, text } = await bench(['--rounds', '1', ...SHORT]);
    expect(report.parameters.targets).toEqual(['nedb', 'postgres']);
    expect(report.postgres).toMatchObject({
      durability: 'commit',
      settings: { fsync: 'off', synchronous_commit: 'on', full_page_writes: 'off' },
    });
    expect(report.postgres?.version).toMatch(/^\d+/);
    const round = report.todo.rounds[0]!;
    for (const op of ['add', 'list'] as const) {
      expect(round[op].postgres.requests).toBeGreaterThan(0);
      // PostgreSQL's own processes worked for the requests; nedb works inside the server.
      expect(round[op].postgres.databaseCpuUsPerRequest).toBeGreaterThan(0);
      expect(round[op].nedb.databaseCpuUsPerRequest).toBeNull();
      expect(report.todo.ratios[op].requestsPerSec).toBeCloseTo(
        report.todo.medians[op].postgres.requestsPerSec / report.todo.medians[op].nedb.requestsPerSec,
        9,
      );
    }
    expect(round.add.postgres.stored).toBe(round.add.postgres.acknowledged);
    expect(round.list.postgres.stored).toBe(20);
    for (const op of ['get', 'set', 'incr'] as const) {
      expect(report.cells.rounds[0]![op].postgres.calls).toBe(50);
      expect(report.cells.ratios[op].p50Us).toBeCloseTo(
        report.cells.medians[op].postgres.p50Us / report.cells.medians[op].nedb.p50Us,
        9,
      );
    }
    // Where the data lived is shown with the password masked, in the output and the report alike.
    expect(report.todo.locations.postgres).toMatch(/^postgres:\/\/neko_[0-9a-f]+:\*\*\*@127\.0\.0\.1:\d+\//);
    for (const shown of [stdout, text]) {
      expect(shown).toContain(':***@127.0.0.1');
      expect(shown).not.toMatch(/postgres(ql)?:\/\/[^\s"/]*:(?!\*\*\*@)[^\s"@/]+@/);
    }
    expect(stdout).toMatch(/^todo ADD: median of 1 round\(s\) +nedb files +PostgreSQL +PostgreSQL \/ nedb$/m);
  }, 160_000);

  it('refuses an unknown backend, naming the ones there are', async () => {
    assertBuilt();
    await expect(
      run(process.execPath, ['bench/storage.js', '--targets', 'nedb,mysql'], { cwd: REPO_ROOT }),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--targets: unknown backend "mysql"; the backends are nedb, postgres'),
    });
  });
});
