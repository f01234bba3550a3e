import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeBatch } from '../../src/dev/batch.js';

describe('ChangeBatch', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands a burst over as one batch once no change came for the quiet time', () => {
    const batches: [string, number][][] = [];
    const batch = new ChangeBatch<number>(60, (changes) => batches.push([...changes]));
    for (let i = 0; i < 10; i++) {
      batch.add(i % 2 === 0 ? 'a.ts' : 'b.ts', i);
      vi.advanceTimersByTime(40);
    }
    expect(batches).toEqual([]);
    expect(batch.pending).toBe(true);
    vi.advanceTimersByTime(20);
    expect(batches).toEqual([
      [
        ['a.ts', 8],
        ['b.ts', 9],
      ],
    ]);
    expect(batch.pending).toBe(false);
    batch.add('c.ts', 1);
    vi.advanceTimersByTime(60);
    expect(batches).toHaveLength(2);
  });

  it('flush() hands over at once; cancel() forgets', () => {
    const batches: string[][] = [];
    const batch = new ChangeBatch<null>(60, (changes) => batches.push([...changes.keys()]));
    batch.flush();
    expect(batches).toEqual([]);
    batch.add('a.ts', null);
    batch.flush();
    expect(batches).toEqual([['a.ts']]);
    batch.add('b.ts', null);
    batch.cancel();
    vi.advanceTimersByTime(1_000);
    expect(batches).toEqual([['a.ts']]);
  });

  it('waits once more when its timer fired late (the event loop was busy), so queued events join the batch', () => {
    let now = 0;
    const batches: string[][] = [];
    const batch = new ChangeBatch<null>(
      60,
      (changes) => batches.push([...changes.keys()]),
      () => now,
    );
    batch.add('a.ts', null);
    // The loop was blocked for 500 ms: the timer fires 440 ms late.
    now = 500;
    vi.advanceTimersByTime(60);
    expect(batches).toEqual([]);
    // The events queued behind the block arrive now, and start the quiet time again.
    now = 505;
    vi.advanceTimersByTime(5);
    batch.add('b.ts', null);
    now = 560;
    vi.advanceTimersByTime(55);
    expect(batches).toEqual([]);
    now = 565;
    vi.advanceTimersByTime(5);
    expect(batches).toEqual([['a.ts', 'b.ts']]);
    // Late once, and nothing else came: handed over a moment later.
    batch.add('c.ts', null);
    now = 1_000;
    vi.advanceTimersByTime(60);
    expect(batches).toHaveLength(1);
    now = 1_015;
    vi.advanceTimersByTime(15);
    expect(batches).toEqual([['a.ts', 'b.ts'], ['c.ts']]);
  });

  it('hands the batch over anyway when every timer fires late', () => {
    let now = 0;
    const batches: string[][] = [];
    const batch = new ChangeBatch<null>(
      60,
      (changes) => batches.push([...changes.keys()]),
      () => now,
    );
    batch.add('a.ts', null);
    for (let i = 0; i < 10 && batches.length === 0; i++) {
      now += 1_000;
      vi.advanceTimersByTime(60);
    }
    expect(batches).toEqual([['a.ts']]);
  });
});
