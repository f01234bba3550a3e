/**
 * The layers of server/src as the README lists them ("Inside `server/src/`"):
 * every folder and top-level file is in the table, and no module imports one
 * of a layer above its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(import.meta.dirname, '..', '..', '..');
const SRC = path.join(ROOT, 'server', 'src');

/** Each entry of server/src (folder or file) and its layer: 0 is the top row of the README's table. */
function layersFromReadme(): Map<string, number> {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('Inside `server/src/`');
  expect(start, 'README.md has no table of the layers of server/src').toBeGreaterThan(0);
  const rows = readme
    .slice(start)
    .split('\n')
    .filter((line) => line.startsWith('| `'));
  const layers = new Map<string, number>();
  rows.forEach((row, layer) => {
    const first = row.split('|')[1]!;
    for (const [, name] of first.matchAll(/`([^`]+)`/g)) layers.set(name!.replace(/\/$/, ''), layer);
  });
  return layers;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The entry of server/src a path falls under: its first folder, or the file itself. */
function entryOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!;
}

describe('the layers of server/src', () => {
  const layers = layersFromReadme();

  it('lists every folder and top-level module of server/src in the README', () => {
    const entries = readdirSync(SRC).filter((name) => name !== 'index.ts');
    expect(entries.filter((name) => !layers.has(name))).toEqual([]);
  });

  it('has no module importing one of a layer above its own', () => {
    const upward: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = entryOf(file);
      if (from === 'index.ts') continue;
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        const target = entryOf(path.resolve(path.dirname(file), spec!.replace(/\.js$/, '.ts')));
        if (layers.get(target)! < layers.get(from)!) {
          upward.push(`${path.relative(SRC, file)} imports ${spec} (${target} is above ${from})`);
        }
      }
    }
    expect(upward).toEqual([]);
  });
});
