import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMITS, LIMIT_KEYS } from '../../src/server/limits.js';

const CONFIG_DOC = path.join(import.meta.dirname, '..', '..', '..', 'docs', 'config.md');

describe('docs/config.md: the table of limits', () => {
  it('gives each limit the default, range and flag of the table the server, config and CLI read', async () => {
    const doc = await readFile(CONFIG_DOC, 'utf8');
    for (const key of LIMIT_KEYS) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${key}\``));
      expect(row, key).toBeDefined();
      const [, , defaultCell, rangeCell, , flagCell] = row!.split('|').map((cell) => cell.trim());
      const limit = LIMITS[key];
      expect(defaultCell).toMatch(new RegExp(`^\`${limit.default}\``));
      expect(rangeCell).toBe(`${limit.min}–${limit.max}`);
      expect(flagCell).toBe(limit.flag === undefined ? '—' : `\`--${limit.flag}\``);
    }
  });
});
