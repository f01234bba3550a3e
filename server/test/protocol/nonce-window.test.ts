import * as crypto from 'node:crypto';
import { describe, it, expect, vi } from 'vitest';
import { Hasher } from '../../src/protocol/hash.js';
import { NonceWindow } from '../../src/protocol/nonce-window.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const hasher = new Hasher('neko');
const R = (i: number): Buffer => Buffer.from(`random-${i}`, 'latin1');
const H = (i: number): Buffer => hasher.bytes(R(i));

/** A window holding randoms 1..`count`, added in that order. */
function windowOf(count: number, capacity = 64): NonceWindow {
  const w = new NonceWindow(hasher, capacity);
  for (let i = 1; i <= count; i++) w.add(R(i));
  return w;
}

describe('NonceWindow', () => {
  it('holds 64 randoms by default', () => {
    expect(new NonceWindow(hasher).capacity).toBe(64);
    expect(windowOf(100).size).toBe(64);
  });

  it('accepts H of a held random, and only once (a replay fails)', () => {
    const w = windowOf(1);
    expect(w.consume(H(1))).toBe(true);
    expect(w.size).toBe(0);
    expect(w.consume(H(1))).toBe(false);
  });

  it('recognize() keeps the matched random for later checks and drops only the older ones', () => {
    const w = windowOf(3);
    expect(w.recognize(H(2))).toBe(true);
    expect(w.size).toBe(2);
    expect(w.recognize(H(2))).toBe(true);
    expect(w.recognize(H(1))).toBe(false);
    expect(w.recognize(H(3))).toBe(true);
    expect(w.size).toBe(1);
    expect(w.recognize(Buffer.from('server'))).toBe(false);
    expect(w.size).toBe(1);
  });

  it('refuses a hash of a random it never held, changing nothing', () => {
    const w = windowOf(3);
    expect(w.consume(H(99))).toBe(false);
    expect(w.consume(Buffer.from('server'))).toBe(false);
    expect(w.consume(new Hasher('other').bytes(R(2)))).toBe(false);
    expect(w.size).toBe(3);
  });

  it('refuses the random itself or an uppercase hash in place of H', () => {
    const w = windowOf(1);
    expect(w.consume(R(1))).toBe(false);
    expect(w.consume(Buffer.from(H(1).toString('latin1').toUpperCase(), 'latin1'))).toBe(false);
    expect(w.consume(H(1))).toBe(true);
  });

  it('consuming the n-th random uses up it and every older one, and keeps the newer ones', () => {
    const w = windowOf(5);
    expect(w.consume(H(3))).toBe(true);
    expect(w.size).toBe(2);
    expect(w.consume(H(1))).toBe(false);
    expect(w.consume(H(2))).toBe(false);
    expect(w.consume(H(3))).toBe(false);
    expect(w.consume(H(4))).toBe(true);
    expect(w.consume(H(5))).toBe(true);
    expect(w.size).toBe(0);
  });

  it('consuming the newest uses up all of them', () => {
    const w = windowOf(5);
    expect(w.consume(H(5))).toBe(true);
    for (let i = 1; i <= 5; i++) expect(w.consume(H(i))).toBe(false);
  });

  it('drops the oldest past its capacity', () => {
    const w = windowOf(3, 2);
    expect(w.size).toBe(2);
    expect(w.consume(H(1))).toBe(false);
    expect(w.consume(H(2))).toBe(true);
    expect(w.consume(H(3))).toBe(true);
  });

  it('keeps exactly 64: the 65th-newest is refused, the 64th-newest accepted', () => {
    const w = windowOf(65);
    expect(w.consume(H(1))).toBe(false);
    expect(w.consume(H(2))).toBe(true);
    expect(w.size).toBe(63);
  });

  it('computes H lazily: only when a hash is checked', () => {
    const spy = vi.spyOn(hasher, 'bytes');
    try {
      const w = windowOf(10);
      expect(spy).not.toHaveBeenCalled();
      w.consume(Buffer.from('not-a-hash'));
      expect(spy).toHaveBeenCalledTimes(10);
      spy.mockClear();
      w.consume(Buffer.from('again'));
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('compares hashes in constant time (crypto.timingSafeEqual)', () => {
    const safe = vi.mocked(crypto.timingSafeEqual);
    const w = windowOf(2);
    safe.mockClear();
    expect(w.consume(H(2))).toBe(true);
    expect(safe).toHaveBeenCalled();
    const [x, y] = safe.mock.calls[0]!;
    expect(Buffer.from(x as Uint8Array)).toEqual(H(2));
    expect(Buffer.from(y as Uint8Array)).toEqual(H(2));
  });
});
