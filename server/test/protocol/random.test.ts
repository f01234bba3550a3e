import * as crypto from 'node:crypto';
import { describe, it, expect, vi } from 'vitest';
import { RANDOM_LENGTH, randomString } from '../../src/protocol/random.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, randomFillSync: vi.fn(actual.randomFillSync) };
});

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('randomString', () => {
  it('returns 22 printable ASCII characters from a 64-symbol alphabet: at least 96 bits', () => {
    for (let i = 0; i < 1000; i++) {
      const r = randomString();
      expect(r).toHaveLength(RANDOM_LENGTH);
      expect(r.toString('latin1')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    }
    expect(RANDOM_LENGTH).toBe(22);
    expect(RANDOM_LENGTH * Math.log2(ALPHABET.length)).toBeGreaterThanOrEqual(96);
  });

  it('repeats no value over 100,000 draws and uses all 64 symbols about evenly', () => {
    const seen = new Set<string>();
    const counts = new Map<number, number>();
    const draws = 100_000;
    for (let i = 0; i < draws; i++) {
      const r = randomString();
      seen.add(r.toString('latin1'));
      for (const c of r) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(seen.size).toBe(draws);
    expect([...counts.keys()].sort((x, y) => x - y)).toEqual(
      [...Buffer.from(ALPHABET, 'latin1')].sort((x, y) => x - y),
    );
    // 2.2 M symbols, 34,375 expected each (σ ≈ 183): ±5 % is 9 σ.
    const expected = (draws * RANDOM_LENGTH) / 64;
    for (const count of counts.values()) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.05);
  });

  it('returns a fresh buffer each call', () => {
    const a = randomString();
    const copy = Buffer.from(a);
    randomString();
    expect(a).toEqual(copy);
  });

  it('draws its bits from crypto.randomFillSync, 6 bits per symbol, and wipes what it used', async () => {
    vi.resetModules();
    const fill = vi.mocked(crypto.randomFillSync);
    let pool: Buffer | undefined;
    fill.mockImplementationOnce(((buf: Buffer) => {
      pool = buf;
      for (let i = 0; i < buf.length; i++) buf[i] = i & 0xff;
      return buf;
    }) as typeof crypto.randomFillSync);
    const fresh = await import('../../src/protocol/random.js');
    const first = fresh.randomString().toString('latin1');
    expect(fill).toHaveBeenCalled();
    expect(first).toBe(ALPHABET.slice(0, 22));
    expect(fresh.randomString().toString('latin1')).toBe(ALPHABET.slice(22, 44));
    // Bytes 44..65: the top two bits are masked off (64 → 'A').
    expect(fresh.randomString().toString('latin1')).toBe(ALPHABET.slice(44, 64) + 'AB');
    expect(pool).toBeDefined();
    expect(pool!.subarray(0, 66).every((b) => b === 0)).toBe(true);
    expect(pool![66]).toBe(66);
  });
});
