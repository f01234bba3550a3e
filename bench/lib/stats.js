/**
 * Small statistics helpers shared by the benchmark processes.
 */

/** Resolution of the first histogram row: 1/16 µs. */
const SCALE = 16;
/** Buckets per power of two (relative bucket width 1/128, under 0.8 %). */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** Rows: the linear row 0, then one per power of two (enough for hours). */
const ROWS = 40;

/**
 * A latency histogram with fixed memory (HDR style): values fall into
 * log-linear buckets, `SUB` per power of two, so a reported percentile is
 * within 0.4 % of the true value. Recording is a few arithmetic operations
 * and one array increment, with no allocation.
 */
export class LatencyHistogram {
  constructor() {
    /** Counts per bucket. */
    this.counts = new Float64Array(SUB * ROWS);
    /** Values recorded. */
    this.total = 0;
    /** Largest value recorded, µs. */
    this.max = 0;
  }

  /** Forgets every recorded value. */
  reset() {
    this.counts.fill(0);
    this.total = 0;
    this.max = 0;
  }

  /**
   * Records one latency.
   * @param {number} micros latency in microseconds
   */
  record(micros) {
    this.counts[bucketOf(micros)]++;
    this.total++;
    if (micros > this.max) this.max = micros;
  }

  /**
   * The value at or below which `p` percent of the recorded values fall.
   * @param {number} p percentile, 0–100
   * @returns {number} microseconds (the middle of its bucket), or NaN when empty
   */
  percentile(p) {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(middleOf(i), this.max);
    }
    return this.max;
  }
}

/**
 * Bucket index of a value.
 * @param {number} micros
 * @returns {number}
 */
export function bucketOf(micros) {
  const v = Math.floor(micros * SCALE);
  if (v < SUB) return v < 0 ? 0 : v;
  const exponent = Math.floor(Math.log2(v));
  const row = exponent - SUB_BITS + 1;
  if (row >= ROWS) return SUB * ROWS - 1;
  const sub = Math.floor(v / 2 ** (exponent - SUB_BITS)) - SUB;
  return row * SUB + Math.min(Math.max(sub, 0), SUB - 1);
}

/**
 * The middle value (µs) of a bucket.
 * @param {number} index
 * @returns {number}
 */
export function middleOf(index) {
  const row = Math.floor(index / SUB);
  const sub = index % SUB;
  if (row === 0) return (sub + 0.5) / SCALE;
  const width = 2 ** (row - 1);
  return ((SUB + sub) * width + width / 2) / SCALE;
}

/**
 * The median of a list of numbers, ignoring non-finite ones (NaN if none).
 * @param {number[]} values
 * @returns {number}
 */
export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The smallest and largest of a list of numbers, and its quartiles (by
 * linear interpolation), ignoring non-finite values (all NaN if none).
 * @param {number[]} values
 * @returns {{ min: number, q1: number, q3: number, max: number }}
 */
export function spread(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { min: NaN, q1: NaN, q3: NaN, max: NaN };
  /** @param {number} q */
  const quantile = (q) => {
    const at = (sorted.length - 1) * q;
    const low = Math.floor(at);
    const high = Math.ceil(at);
    return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
  };
  return { min: sorted[0], q1: quantile(0.25), q3: quantile(0.75), max: sorted[sorted.length - 1] };
}
