import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ENCODED_LENGTH, dataFileName, encodeGreeter } from '../../src/storage/nedb/file-name.js';

const printableChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
/** Greeters as the spec allows them: 1 to 255 printable ASCII characters, no space. */
const greeter = fc.oneof(
  fc.string({ unit: printableChar, minLength: 1, maxLength: 12 }),
  fc.string({ unit: printableChar, minLength: 1, maxLength: 255 }),
);

/** Characters that are safe in a file name on Linux, macOS and Windows alike. */
const SAFE_NAME = /^[a-z0-9_.%^A-F-]+$/;

describe('data file names', () => {
  it('keeps plain lower-case greeters as they are', () => {
    expect(dataFileName('chat')).toBe('chat.db');
    expect(dataFileName('todo-list_v2.1')).toBe('todo-list_v2.1.db');
  });

  it('encodes characters that are unsafe in file names, upper case, a leading dot and Windows device names', () => {
    expect(encodeGreeter('a/b\\c:d*e?f"g<h>i|j')).toBe('a%2Fb%5Cc%3Ad%2Ae%3Ff%22g%3Ch%3Ei%7Cj');
    expect(encodeGreeter('100%^x')).toBe('100%25%5Ex');
    expect(encodeGreeter('.env')).toBe('%2Eenv');
    expect(encodeGreeter('..')).toBe('%2E.');
    expect(encodeGreeter('a.')).toBe('a.');
    expect(encodeGreeter('Chat')).toBe('^chat');
    expect(encodeGreeter('CHAT')).toBe('^c^h^a^t');
    expect(encodeGreeter('con')).toBe('%63on');
    expect(encodeGreeter('nul.x')).toBe('%6Eul.x');
    expect(encodeGreeter('com1')).toBe('%63om1');
    expect(encodeGreeter('CON')).toBe('^c^o^n');
    expect(encodeGreeter('console')).toBe('console');
    expect(encodeGreeter('é')).toBe('%C3%A9');
  });

  it('gives every greeter a safe name, different from every other greeter even ignoring case', () => {
    fc.assert(
      fc.property(greeter, greeter, (a, b) => {
        const [x, y] = [encodeGreeter(a), encodeGreeter(b)];
        expect(x).toMatch(SAFE_NAME);
        expect(x.startsWith('.')).toBe(false);
        expect(x.length).toBeLessThanOrEqual(MAX_ENCODED_LENGTH);
        if (a !== b) expect(x.toLowerCase()).not.toBe(y.toLowerCase());
      }),
      { numRuns: 2000 },
    );
  });

  it('tells apart every pair of one- and two-character greeters, ignoring case', () => {
    const chars = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i));
    const seen = new Map<string, string>();
    for (const a of chars) {
      for (const b of ['', ...chars]) {
        const name = encodeGreeter(a + b).toLowerCase();
        expect(seen.get(name), `${a + b} and ${seen.get(name)} share ${name}`).toBeUndefined();
        seen.set(name, a + b);
      }
    }
  });

  it('cuts long names and ends them with a hash of the whole greeter', () => {
    const long = 'A'.repeat(255);
    const name = encodeGreeter(long);
    expect(name.length).toBeLessThanOrEqual(MAX_ENCODED_LENGTH);
    expect(name).toMatch(/^(\^a)+\^_[0-9a-f]{16}$/);
    expect(encodeGreeter(`${'A'.repeat(254)}B`)).not.toBe(name);
    // Cut between escapes, never inside one.
    expect(encodeGreeter('/'.repeat(100))).toMatch(/^(%2F)+\^_[0-9a-f]{16}$/);
    expect(encodeGreeter('a'.repeat(MAX_ENCODED_LENGTH))).toBe('a'.repeat(MAX_ENCODED_LENGTH));
  });
});
