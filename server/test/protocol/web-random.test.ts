import { afterEach, describe, expect, it, vi } from 'vitest';
import { WEB_RANDOM_LENGTH, webRandomString } from '../../src/protocol/web-random.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('webRandomString', () => {
  it('returns 22 printable ASCII characters from a 64-symbol alphabet: at least 96 bits', () => {
    for (let i = 0; i < 1000; i++) {
      const r = webRandomString();
      expect(typeof r).toBe('string');
      expect(r).toHaveLength(WEB_RANDOM_LENGTH);
      expect(r).toMatch(/^[A-Za-z0-9_-]{22}$/);
    }
    expect(WEB_RANDOM_LENGTH).toBe(22);
    expect(WEB_RANDOM_LENGTH * Math.log2(ALPHABET.length)).toBeGreaterThanOrEqual(96);
  });

  it('repeats no value over 100,000 draws and uses all 64 symbols about evenly', () => {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    const draws = 100_000;
    for (let i = 0; i < draws; i++) {
      const r = webRandomString();
      seen.add(r);
      for (const c of r) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(seen.size).toBe(draws);
    expect([...counts.keys()].sort()).toEqual([...ALPHABET].sort());
    // 2.2 M symbols, 34,375 expected each (σ ≈ 183): ±5 % is 9 σ.
    const expected = (draws * WEB_RANDOM_LENGTH) / 64;
    for (const count of counts.values()) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.05);
  });

  it('draws its bits from crypto.getRandomValues in 4 KiB blocks, 6 bits per symbol, and wipes what it used', async () => {
    vi.resetModules();
    const getRandomValues = vi.spyOn(globalThis.crypto, 'getRandomValues');
    let pool: Uint8Array | undefined;
    getRandomValues.mockImplementationOnce(<T extends ArrayBufferView | null>(array: T): T => {
      pool = array as unknown as Uint8Array;
      for (let i = 0; i < pool.length; i++) pool[i] = i & 0xff;
      return array;
    });
    const fresh = await import('../../src/protocol/web-random.js');
    expect(fresh.webRandomString()).toBe(ALPHABET.slice(0, 22));
    expect(getRandomValues).toHaveBeenCalledTimes(1);
    expect(pool).toBeInstanceOf(Uint8Array);
    expect(pool).toHaveLength(4096);
    expect(fresh.webRandomString()).toBe(ALPHABET.slice(22, 44));
    // Bytes 44..65: the top two bits are masked off (64 → 'A').
    expect(fresh.webRandomString()).toBe(ALPHABET.slice(44, 64) + 'AB');
    expect(pool!.subarray(0, 66).every((b) => b === 0)).toBe(true);
    expect(pool![66]).toBe(66);
    // 4096 bytes make 186 strings; the 187th draws a new block.
    for (let i = 3; i < 186; i++) fresh.webRandomString();
    expect(getRandomValues).toHaveBeenCalledTimes(1);
    expect(pool!.subarray(0, 186 * 22).every((b) => b === 0)).toBe(true);
    expect(fresh.webRandomString()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(getRandomValues).toHaveBeenCalledTimes(2);
  });
});
