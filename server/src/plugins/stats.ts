/**
 * What a plugin has done since the server started: packets handled, handler
 * failures, and how long its handler took per packet. Recording is a few
 * additions on the packet path; percentiles are computed when asked.
 */

/** Buckets per doubling of the latency: each bucket spans ≈9% (2^(1/8)). */
const BUCKETS_PER_DOUBLING = 8;
/** The smallest latency told apart, in ms (1 µs); anything shorter lands in bucket 0. */
const FLOOR_MS = 0.001;
/** 1 µs · 2^40 ≈ 12.7 days: longer handler times land in the last bucket. */
const BUCKET_COUNT = 40 * BUCKETS_PER_DOUBLING + 1;

/** Latency percentiles, in ms. */
export interface LatencyPercentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/**
 * A log-scale histogram of durations: constant memory whatever the count,
 * percentiles within ≈5% (the middle of a bucket ≈9% wide).
 */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKET_COUNT);
  #total = 0;
  #sum = 0;

  /** Number of durations recorded. */
  get count(): number {
    return this.#total;
  }

  /** The sum of the durations recorded, in ms. */
  get sum(): number {
    return this.#sum;
  }

  /** Records one duration, in ms. */
  record(ms: number): void {
    this.#counts[bucketOf(ms)]!++;
    this.#total++;
    if (ms > 0) this.#sum += ms;
  }

  /**
   * How many durations were at most each bound, in ms: exact when a bound
   * is a bucket edge (1 µs · 2^(k/8), e.g. any power of two of 1 µs),
   * else counted up to the nearest edge. Bounds in increasing order.
   */
  countsUpTo(boundsMs: readonly number[]): number[] {
    const counts: number[] = [];
    let seen = 0;
    let i = 0;
    for (const bound of boundsMs) {
      const last = Math.min(
        BUCKET_COUNT - 1,
        Math.max(0, Math.round(Math.log2(bound / FLOOR_MS) * BUCKETS_PER_DOUBLING)),
      );
      for (; i <= last; i++) seen += this.#counts[i]!;
      counts.push(seen);
    }
    return counts;
  }

  /**
   * The duration below which a fraction `q` (0–1) of the recorded ones lie,
   * as the geometric middle of its bucket; undefined when nothing was recorded.
   */
  quantile(q: number): number | undefined {
    if (this.#total === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return middleOf(i);
    }
    return middleOf(BUCKET_COUNT - 1);
  }

  /** p50, p90 and p99; undefined when nothing was recorded. */
  percentiles(): LatencyPercentiles | undefined {
    if (this.#total === 0) return undefined;
    return { p50: this.quantile(0.5)!, p90: this.quantile(0.9)!, p99: this.quantile(0.99)! };
  }

  /** The counts per bucket, as plain data another process can {@link merge} (the dashboard under `--workers`). */
  snapshot(): LatencySnapshot {
    return { counts: Array.from(this.#counts), sum: this.#sum };
  }

  /** Adds the durations of a {@link snapshot} to this histogram. */
  merge(snapshot: LatencySnapshot): void {
    const n = Math.min(BUCKET_COUNT, snapshot.counts.length);
    for (let i = 0; i < n; i++) {
      const count = snapshot.counts[i]!;
      this.#counts[i]! += count;
      this.#total += count;
    }
    this.#sum += snapshot.sum;
  }
}

/** A {@link LatencyHistogram}'s counts per bucket and sum, as plain data. */
export interface LatencySnapshot {
  readonly counts: readonly number[];
  readonly sum: number;
}

function bucketOf(ms: number): number {
  if (!(ms > FLOOR_MS)) return 0;
  const i = Math.ceil(Math.log2(ms / FLOOR_MS) * BUCKETS_PER_DOUBLING);
  return i < BUCKET_COUNT ? i : BUCKET_COUNT - 1;
}

/** Bucket i holds durations in (FLOOR·2^((i-1)/8), FLOOR·2^(i/8)]; bucket 0 holds everything up to FLOOR. */
function middleOf(i: number): number {
  if (i === 0) return FLOOR_MS;
  return FLOOR_MS * 2 ** ((i - 0.5) / BUCKETS_PER_DOUBLING);
}

/**
 * How many op codes a plugin's stats track one by one besides the ones it
 * declares (its `Op` table): the first ones seen; packets of further ops
 * count under `other`. The dashboard and the metrics both follow it.
 */
export const MAX_TRACKED_OPS = 64;

/**
 * The op codes a plugin module declares: the values of its exported `Op`
 * table (`export const Op = { Say: 2, … } as const`) that are op codes;
 * empty when it exports none.
 */
export function declaredOps(mod: object): number[] {
  const table: unknown = (mod as Record<string, unknown>)['Op'];
  if (typeof table !== 'object' || table === null) return [];
  const ops = new Set<number>();
  for (const value of Object.values(table)) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff)
      ops.add(value);
  }
  return [...ops];
}

/** Packets and handler latency of one op code (or of the ops past the cap, `other`). */
export class OpStats {
  /** The op code, or `other` for the ops past {@link MAX_TRACKED_OPS} that the plugin does not declare. */
  readonly op: number | 'other';
  /** Packets of this op handed to the plugin's handler. */
  packets = 0;
  /** Packets of this op the plugin sent (replies, pushes, broadcasts: one per client reached). */
  sent = 0;
  readonly latency = new LatencyHistogram();

  constructor(op: number | 'other') {
    this.op = op;
  }
}

/** The counters of one plugin (by greeter); they carry over when a new version is swapped in. */
export class PluginStats {
  /** Packets handed to the plugin's handler (new runs and packets taken by a waiting `ctx.recv()`). */
  packets = 0;
  /** Packets the plugin sent to clients. */
  sent = 0;
  /** Handler runs that threw or rejected. */
  errors = 0;
  /** Handler time per packet: from the packet's arrival at the handler until it finished or waited again. */
  readonly latency = new LatencyHistogram();
  /**
   * The same per op code: every op the plugin declares, and the first
   * {@link MAX_TRACKED_OPS} others seen; a client chooses op codes, so the
   * ops past them share {@link #other}.
   */
  readonly #ops = new Map<number, OpStats>();
  /** The ops of the plugin's `Op` table (its version serving now). */
  #declared: ReadonlySet<number> = new Set();
  /** How many ops in {@link #ops} the plugin did not declare when they were first seen. */
  #undeclared = 0;
  #other: OpStats | undefined;

  /** The ops the plugin (the version serving now) declares: always tracked one by one. */
  declare(ops: Iterable<number>): void {
    this.#declared = new Set(ops);
  }

  /** One packet of op `op` handled in `ms`: a Map lookup more than the plugin-wide count. */
  handled(ms: number, op: number): void {
    this.packets++;
    this.latency.record(ms);
    const stats = this.#op(op);
    stats.packets++;
    stats.latency.record(ms);
  }

  /** `packets` packets of op `op` sent by the plugin (a broadcast sends one per client). */
  sentPackets(op: number, packets: number): void {
    if (packets <= 0) return;
    this.sent += packets;
    this.#op(op).sent += packets;
  }

  /** One handler run failed. */
  failed(): void {
    this.errors++;
  }

  /** Per-op counters, by op code, then `other` (the ops past the cap) when any packet fell there. */
  ops(): OpStats[] {
    const ops = [...this.#ops.values()].sort((a, b) => (a.op as number) - (b.op as number));
    return this.#other === undefined ? ops : [...ops, this.#other];
  }

  /** The counters of `op`: its own when declared or among the first ones seen, else `other`'s. */
  #op(op: number): OpStats {
    let stats = this.#ops.get(op);
    if (stats !== undefined) return stats;
    const declared = this.#declared.has(op);
    if (declared || this.#undeclared < MAX_TRACKED_OPS) {
      if (!declared) this.#undeclared++;
      stats = new OpStats(op);
      this.#ops.set(op, stats);
      return stats;
    }
    return (this.#other ??= new OpStats('other'));
  }
}
