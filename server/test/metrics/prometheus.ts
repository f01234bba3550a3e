/**
 * Reading the Prometheus text format in tests: every sample by name and
 * labels, and the `# TYPE` of every metric.
 */
import { expect } from 'vitest';

/** One scrape: its samples and the type of each metric. */
export interface Scrape {
  readonly text: string;
  /** `name{a="1",b="2"}` (labels sorted) → value. */
  readonly samples: ReadonlyMap<string, number>;
  /** Metric name → `counter`, `gauge`, `histogram`… */
  readonly types: ReadonlyMap<string, string>;
}

/** The key of a sample: its name and its labels, sorted. */
export function sampleKey(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

/** Parses the text format (the subset prom-client writes: no timestamps, no escapes in our label values). */
export function parseScrape(text: string): Scrape {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m![2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    const value = m![3] === '+Inf' ? Infinity : Number(m![3]);
    samples.set(sampleKey(m![1]!, labels), value);
  }
  return { text, samples, types };
}

/** The value of a sample; 0 when absent (a counter not yet incremented has no sample). */
export function valueOf(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return scrape.samples.get(sampleKey(name, labels)) ?? 0;
}

/** The values one label takes across the samples of a metric that have `labels` too. */
export function labelValues(
  scrape: Scrape,
  name: string,
  label: string,
  labels: Record<string, string> = {},
): Set<string> {
  const values = new Set<string>();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const key of scrape.samples.keys()) {
    if (!key.startsWith(`${name}{`)) continue;
    if (!wanted.every((w) => key.includes(w))) continue;
    const m = new RegExp(`[{,]${label}="([^"]*)"`).exec(key);
    if (m) values.add(m[1]!);
  }
  return values;
}

/** GETs `/metrics` at `base` and parses it. */
export async function scrape(base: string): Promise<Scrape> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseScrape(await res.text());
}
