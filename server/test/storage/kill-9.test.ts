/**
 * Durability against a crash: a child process writes through the built
 * storage module and is SIGKILLed mid-stream; every write whose promise had
 * resolved must be there when the database is opened again.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NedbStorage, type StorageWarning } from '../../src/storage/nedb/storage.js';
import { tempDir } from './helpers.js';

const SERVER = path.join(import.meta.dirname, '..', '..');
const BUILT = path.join(SERVER, 'dist', 'storage', 'nedb', 'storage.js');
const SOURCES = path.join(SERVER, 'src', 'storage');
const CHILD = path.join(import.meta.dirname, 'fixtures', 'write-until-killed.mjs');

/** How many acknowledged inserts to wait for before the kill, in each round. */
const ACKS_BEFORE_KILL = 200;
const ROUNDS = 3;

/** What a child acknowledged before it died. */
interface Acks {
  docs: string[];
  /** The last acknowledged value of each cell. */
  cells: Map<string, number>;
}

/** Fails unless the built module exists and is not older than its sources. */
function checkBuilt(): void {
  if (!existsSync(BUILT)) {
    throw new Error(
      `${BUILT} is missing: run \`npm run build\` first (the root \`npm test\` builds before vitest)`,
    );
  }
  const built = statSync(BUILT).mtimeMs;
  const newer = readdirSync(SOURCES, { recursive: true, encoding: 'utf8' }).filter((name) => {
    const stats = statSync(path.join(SOURCES, name));
    return stats.isFile() && stats.mtimeMs > built;
  });
  if (newer.length > 0) {
    throw new Error(`${BUILT} is older than src/storage/${newer.join(', ')}: run \`npm run build\` first`);
  }
}

/** Runs the child against `dataDir` until it has acknowledged enough inserts, then kills it with SIGKILL. */
function writeUntilKilled(dataDir: string): Promise<Acks> {
  const acks: Acks = { docs: [], cells: new Map() };
  const child = spawn(process.execPath, [CHILD, pathToFileURL(BUILT).href, dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let pending = '';
  let stderr = '';
  let killed = false;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    // A line without its newline is not an acknowledgement yet.
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, a, b] = line.split(' ');
      if (kind === 'doc' && a !== undefined) acks.docs.push(a);
      else if (kind === 'cell' && a !== undefined) acks.cells.set(a, Number(b));
      else throw new Error(`the child printed ${JSON.stringify(line)}`);
    }
    if (!killed && acks.docs.length >= ACKS_BEFORE_KILL) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killed) resolve(acks);
      else reject(new Error(`the child exited (code ${code}, signal ${signal}) before the kill:\n${stderr}`));
    });
  });
}

describe('durability against kill -9', () => {
  it(
    'keeps every write whose promise resolved before the process was killed',
    { timeout: 60_000 },
    async () => {
      checkBuilt();
      const dataDir = path.join(await tempDir('neko-kill-'), 'data');
      const acknowledged = new Set<string>();
      const warnings: StorageWarning[] = [];

      for (let round = 1; round <= ROUNDS; round++) {
        const acks = await writeUntilKilled(dataDir);
        expect(acks.docs.length).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);
        for (const id of acks.docs) acknowledged.add(id);

        const storage = new NedbStorage({
          dataDir,
          compactionIntervalMs: 0,
          onWarning: (w) => warnings.push(w),
        });
        const db = await storage.open('crash');
        try {
          const ids = [...acknowledged];
          const found = await db.find({ _id: { $in: ids } }, { projection: { _id: 1 } });
          const missing = ids.filter((id) => !found.some((doc) => doc._id === id));
          expect(missing, `round ${round}: acknowledged inserts lost`).toEqual([]);
          for (const [cell, value] of acks.cells) {
            // The last acknowledged value, or one written after it whose promise the kill cut short.
            expect(await db.get<number>(cell), `round ${round}: cell ${cell}`).toBeGreaterThanOrEqual(value);
          }
        } finally {
          await db.close();
        }
      }
      // A torn tail, when a kill cut an append, was cut with a backup kept: nothing silently.
      for (const warning of warnings) {
        expect(warning.backup === undefined || existsSync(warning.backup)).toBe(true);
      }
    },
  );
});
