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

  /** Number of durations recorded. */
  get count(): number {
    return this.#total;
  }

  /** Records one duration, in ms. */
  record(ms: number): void {
    this.#counts[bucketOf(ms)]!++;
    this.#total++;
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

/** How many distinct op codes a plugin's stats track one by one; packets of further ops count under `other`. */
export const MAX_TRACKED_OPS = 64;

/** Packets and handler latency of one op code (or of the ops past the cap, `other`). */
export class OpStats {
  /** The op code, or `other` for every op past {@link MAX_TRACKED_OPS}. */
  readonly op: number | 'other';
  packets = 0;
  readonly latency = new LatencyHistogram();

  constructor(op: number | 'other') {
    this.op = op;
  }
}

/** The counters of one plugin (by greeter); they carry over when a new version is swapped in. */
export class PluginStats {
  /** Packets handed to the plugin's handler (new runs and packets taken by a waiting `ctx.recv()`). */
  packets = 0;
  /** Handler runs that threw or rejected. */
  errors = 0;
  /** Handler time per packet: from the packet's arrival at the handler until it finished or waited again. */
  readonly latency = new LatencyHistogram();
  /**
   * The same per op code, for the first {@link MAX_TRACKED_OPS} ops seen: a
   * client chooses op codes, so the ops past them share {@link #other}.
   */
  readonly #ops = new Map<number, OpStats>();
  #other: OpStats | undefined;

  /** One packet of op `op` handled in `ms`: a Map lookup more than the plugin-wide count. */
  handled(ms: number, op: number): void {
    this.packets++;
    this.latency.record(ms);
    let stats = this.#ops.get(op);
    if (stats === undefined) {
      if (this.#ops.size < MAX_TRACKED_OPS) {
        stats = new OpStats(op);
        this.#ops.set(op, stats);
      } else {
        stats = this.#other ??= new OpStats('other');
      }
    }
    stats.packets++;
    stats.latency.record(ms);
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
}
