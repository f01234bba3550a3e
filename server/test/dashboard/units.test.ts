import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogBuffer } from '../../src/dashboard/log-buffer.js';
import { isLoopback, resolveDashboardOptions } from '../../src/config/dashboard-options.js';
import { generateToken, tokenMatches } from '../../src/dashboard/token.js';
import { LatencyHistogram, MAX_TRACKED_OPS, PluginStats } from '../../src/plugins/stats.js';
import { stateView } from '../../src/dashboard/state-view.js';
import { groupRuns } from '../../src/dashboard/log-runs.js';

describe('LatencyHistogram', () => {
  it('gives percentiles within 5% of the exact ones', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.002, max: 60_000, noNaN: true }), { minLength: 1, maxLength: 500 }),
        (durations) => {
          const histogram = new LatencyHistogram();
          for (const d of durations) histogram.record(d);
          const sorted = [...durations].sort((a, b) => a - b);
          for (const q of [0.5, 0.9, 0.99]) {
            const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
            const estimate = histogram.quantile(q)!;
            expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.05);
          }
        },
      ),
    );
  });

  it('has no percentiles before the first duration, and clamps the extremes', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.percentiles()).toBeUndefined();
    histogram.record(0);
    histogram.record(-1);
    expect(histogram.percentiles()).toEqual({ p50: 0.001, p90: 0.001, p99: 0.001 });
    histogram.record(1e15);
    expect(histogram.quantile(1)).toBeGreaterThan(1e9);
    expect(histogram.count).toBe(3);
  });
});

describe('LogBuffer', () => {
  const record = (message: string, level: 'info' | 'warn' | 'error' = 'info') => ({
    time: 1,
    level,
    message,
  });

  it('keeps the newest lines, numbered, and counts every line by level', () => {
    const logs = new LogBuffer(3);
    for (let i = 1; i <= 5; i++) logs.push(record(`m${i}`, i % 2 === 0 ? 'warn' : 'info'));
    expect(logs.entries().map((e) => [e.seq, e.message])).toEqual([
      [3, 'm3'],
      [4, 'm4'],
      [5, 'm5'],
    ]);
    expect(logs.counts).toEqual({ info: 3, warn: 2, error: 0 });
    expect(logs.entries(4).map((e) => e.seq)).toEqual([5]);
    expect(logs.entries(0, {}, 2).map((e) => e.seq)).toEqual([4, 5]);
    expect(logs.entries(0, { levels: new Set(['warn']) }).map((e) => e.seq)).toEqual([4]);
    expect(logs.last).toBe(5);
  });

  it('calls listeners in order, and a throwing one stops no other', () => {
    const logs = new LogBuffer();
    const seen: number[] = [];
    logs.subscribe(() => {
      throw new Error('broken reader');
    });
    const stop = logs.subscribe((e) => seen.push(e.seq));
    logs.push(record('a'));
    logs.push(record('b'));
    stop();
    logs.push(record('c'));
    expect(seen).toEqual([1, 2]);
  });
});

describe('dashboard options and token', () => {
  it('tells loopback addresses from the others', () => {
    for (const host of [
      '127.0.0.1',
      '127.5.6.7',
      'localhost',
      'LOCALHOST',
      'app.localhost',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
    ]) {
      expect([host, isLoopback(host)]).toEqual([host, true]);
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '192.168.1.2',
      '10.0.0.1',
      'example.com',
      '128.0.0.1',
      'localhost.example.com',
    ]) {
      expect([host, isLoopback(host)]).toEqual([host, false]);
    }
  });

  it('asks for a token on loopback too, none only when open there, and checks the values', () => {
    expect(resolveDashboardOptions({}, () => 'made-token-0123456789')).toEqual({
      port: 10391,
      host: '127.0.0.1',
      token: 'made-token-0123456789',
    });
    const off = resolveDashboardOptions({ host: '0.0.0.0', port: 0 }, () => 'made-token-0123456789');
    expect(off).toEqual({ port: 0, host: '0.0.0.0', token: 'made-token-0123456789' });
    const given = resolveDashboardOptions({ token: 'a-token-of-my-own-choosing' }, generateToken);
    expect(given.token).toBe('a-token-of-my-own-choosing');
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      expect(resolveDashboardOptions({ host, open: true }, generateToken)).toEqual({
        port: 10391,
        host,
        token: undefined,
      });
    }
    expect(resolveDashboardOptions({ open: false }, () => 'made-token-0123456789').token).toBe(
      'made-token-0123456789',
    );
    expect(() => resolveDashboardOptions({ host: '0.0.0.0', open: true }, generateToken)).toThrow(
      /an open dashboard \(no access token\) may listen only on loopback, not on 0\.0\.0\.0/,
    );
    expect(() => resolveDashboardOptions({ port: 65536 }, generateToken)).toThrow(
      /dashboard.port must be from 0 to 65535/,
    );
    expect(() => resolveDashboardOptions({ token: 'short' }, generateToken)).toThrow(/at least 16/);
    expect(() => resolveDashboardOptions({ host: '0.0.0.0', token: 'short' }, generateToken)).toThrow(
      /at least 16/,
    );
  });

  it('compares tokens whole', () => {
    const token = generateToken();
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(`${token} `, token)).toBe(false);
    expect(tokenMatches(token.slice(1), token)).toBe(false);
    expect(tokenMatches('', token)).toBe(false);
    expect(tokenMatches(undefined, token)).toBe(false);
  });
});

describe('PluginStats per op', () => {
  it('tracks the first 64 ops one by one and counts the rest under other', () => {
    const stats = new PluginStats();
    for (let op = 0; op < MAX_TRACKED_OPS + 10; op++) stats.handled(1, op);
    stats.handled(2, 5);
    stats.handled(4, 1000);
    const ops = stats.ops();
    expect(ops).toHaveLength(MAX_TRACKED_OPS + 1);
    expect(ops.slice(0, 3).map((o) => [o.op, o.packets])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    expect(ops.find((o) => o.op === 5)!.packets).toBe(2);
    const other = ops.at(-1)!;
    expect([other.op, other.packets]).toEqual(['other', 11]);
    expect(ops.reduce((n, o) => n + o.packets, 0)).toBe(stats.packets);
    expect(other.latency.quantile(1)).toBeGreaterThan(3);
  });

  it('has no other row while under the cap', () => {
    const stats = new PluginStats();
    stats.handled(1, 9);
    stats.handled(1, 3);
    expect(stats.ops().map((o) => o.op)).toEqual([3, 9]);
  });
});

describe('stateView', () => {
  it('copies plain data, Dates as text, and marks what JSON cannot carry', () => {
    const state: Record<string, unknown> = { n: 1, list: [1, 'two', null], at: new Date(0), nan: NaN };
    state['self'] = { back: state };
    state['shared'] = [state['list'], state['list']];
    state['u'] = undefined;
    const { value, problems } = stateView(state);
    expect(value).toEqual({
      n: 1,
      list: [1, 'two', null],
      at: '1970-01-01T00:00:00.000Z',
      nan: { $unserialisable: 'is NaN, not a JSON number' },
      self: { back: { $unserialisable: 'refers back to a value that contains it (a cycle)' } },
      // The same array twice is no cycle.
      shared: [
        [1, 'two', null],
        [1, 'two', null],
      ],
      u: { $unserialisable: 'is undefined' },
    });
    expect(problems).toEqual([
      'state.nan is NaN, not a JSON number',
      'state.self.back refers back to a value that contains it (a cycle)',
      'state.u is undefined',
    ]);
    expect(() => JSON.stringify(value)).not.toThrow();
  });

  it('survives a getter that throws and a state nested too deep', () => {
    const throwing = Object.defineProperty({}, 'bad', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    expect(stateView(throwing)).toEqual({
      value: { bad: { $unserialisable: 'could not be read: no' } },
      problems: ['state.bad could not be read: no'],
    });
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 40; i++) deep = (deep['d'] = {}) as Record<string, unknown>;
    const { problems } = stateView(root);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/nested more than 32 levels deep$/);
  });
});

describe('LogBuffer runs', () => {
  it('continues a run with a repeat from any session, its own id in the text aside, and starts one otherwise', () => {
    const logs = new LogBuffer();
    const line = (message: string, session?: string, level: 'info' | 'warn' = 'info'): void => {
      logs.push({ time: 1, level, message, plugin: 'chat', ...(session ? { session } : {}) });
    };
    line('s-4 joined', 's-4');
    line('s-5 joined', 's-5');
    line('s-4 joined', 's-5'); // names another session than its own: not the same text
    line('tick');
    line('tick');
    line('tick', undefined, 'warn');
    line('tick');
    expect(logs.entries().map((e) => e.run)).toEqual([1, 1, 3, 4, 4, 6, 7]);
    const runs = groupRuns(logs.entries());
    expect(runs.map((r) => [r.message, r.count, r.seq, r.lastSeq, r.sessions])).toEqual([
      ['s-4 joined', 2, 1, 2, ['s-4', 's-5']],
      ['s-4 joined', 1, 3, 3, ['s-5']],
      ['tick', 2, 4, 5, []],
      ['tick', 1, 6, 6, []],
      ['tick', 1, 7, 7, []],
    ]);
  });
});
