/**
 * Shared helpers of the fault, durability and soak tests: temporary plugin
 * folders, a server with its dashboard in a child process, client loops that
 * check every reply, a seeded PRNG, and a reader of data files.
 */
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { connect, isNekoError, type NekoClient } from 'nekoconnect/client';
import {
  EXAMPLE_PLUGINS,
  startServerProcess,
  type ChildLogRecord,
  type ServerProcess,
  type ServerProcessOptions,
} from './server-process.js';

/** This suite's plugin fixtures (one folder each). */
export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

/** A fixture plugin folder, by name. */
export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** An example plugin folder of the repository (echo, chat, todo). */
export function example(name: string): string {
  return path.join(EXAMPLE_PLUGINS, name);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A temporary folder, removed when the test ends. */
export async function tempDir(prefix = 'neko-reliability-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A temporary plugins directory holding exactly the given plugin folders
 * (as symbolic links, named after each folder), with a `package.json` of
 * `"type": "module"` so that `.js` logic is ESM. Removed when the test ends.
 */
export async function pluginsDir(folders: readonly string[]): Promise<string> {
  const dir = await tempDir('neko-plugins-');
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const folder of folders) await symlink(folder, path.join(dir, path.basename(folder)), 'dir');
  return dir;
}

/** A connected client, closed when the test ends. */
export async function client(port: number, secret: string): Promise<NekoClient> {
  const c = await connect({ secret, port, requestTimeoutMs: 15_000 });
  onTestFinished(() => c.close());
  return c;
}

/** Resolves with true when `promise` settles within `ms`, false otherwise (it is left running). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = promise.then(
    () => true,
    () => true,
  );
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([settled, expired]);
  clearTimeout(timer);
  return result;
}

/** Polls `check` until it returns true; throws naming `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** mulberry32: a small seeded PRNG; each call returns a float in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** True for the error a request gets when the connection is cut under it. */
export function isClosedError(err: unknown): boolean {
  return isNekoError(err, 'NEKO_ERR_CLIENT_CLOSED');
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`;
  }
  return String(err);
}

/* ------------------------------------------------------------------------ */
/* Loops of requests that check every reply                                 */
/* ------------------------------------------------------------------------ */

/** What a load loop did. */
export interface LoopReport {
  /** Iterations that completed and whose replies were all right. */
  ok: number;
  /** What went wrong, one line per failure (a wrong reply, an error). */
  failures: string[];
}

export interface Loop {
  /** Asks the loop to stop after its current iteration; resolves with its report. */
  stop(): Promise<LoopReport>;
  readonly report: LoopReport;
}

/**
 * Runs `step(i)` again and again (with `pauseMs` between iterations) until
 * stopped. A step that throws is recorded as a failure (with its message) and
 * the loop goes on, unless `stopOnError`.
 */
export function loop(
  name: string,
  step: (i: number) => Promise<void>,
  { pauseMs = 0, stopOnError = false }: { pauseMs?: number; stopOnError?: boolean } = {},
): Loop {
  const report: LoopReport = { ok: 0, failures: [] };
  let stopping = false;
  const done = (async () => {
    for (let i = 0; !stopping; i++) {
      try {
        await step(i);
        report.ok++;
      } catch (err) {
        report.failures.push(`${name} #${i}: ${describeError(err)}`);
        if (stopOnError) return;
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  })();
  return {
    report,
    async stop() {
      stopping = true;
      await done;
      return report;
    },
  };
}

/**
 * Echo round trips on one client: each request carries a unique payload and
 * op, and the reply must be exactly that op and payload from `greeter`.
 */
export function echoLoop(
  c: NekoClient,
  name: string,
  greeter: string,
  { pauseMs = 2, maxPad = 64 }: { pauseMs?: number; maxPad?: number } = {},
): Loop {
  return loop(
    name,
    async (i) => {
      const payload = `${name}:${i}:${'x'.repeat((i * 37) % maxPad)}`;
      const op = i % 1000;
      const reply = await c.request(greeter, payload, { op, timeoutMs: 10_000 });
      if (reply.greeter !== greeter || reply.op !== op || reply.text() !== payload) {
        throw new Error(
          `wrong echo: sent op ${op} "${payload}", got ${reply.greeter} op ${reply.op} status ${reply.status} "${reply.text()}"`,
        );
      }
    },
    { pauseMs },
  );
}

/* ------------------------------------------------------------------------ */
/* A server with its dashboard, in a child process                          */
/* ------------------------------------------------------------------------ */

/** One plugin as `/api/plugins` lists it (the fields these tests read). */
export interface PluginRow {
  greeter: string | null;
  status: string;
  sessions: number;
  packets: number;
  errors: number;
}

/** One session as `/api/sessions` lists it. */
export interface SessionRow {
  id: string;
  plugins: string[];
  packetsIn: number;
  packetsOut: number;
}

export interface DashboardServer extends ServerProcess {
  readonly dashboardPort: number;
  /** GETs a dashboard API path (e.g. `/api/plugins`) and parses the JSON answer. */
  api<T>(apiPath: string): Promise<T>;
  /** The plugins' rows of `/api/plugins`, by greeter. */
  plugins(): Promise<Map<string, PluginRow>>;
}

/**
 * Starts a server (the built `nekoconnect`) with its dashboard in a child
 * process on 127.0.0.1 (free ports); killed when the test ends.
 */
export async function startDashboardServer(
  options: Omit<ServerProcessOptions, 'dashboard'>,
): Promise<DashboardServer> {
  const server = await startServerProcess({ ...options, dashboard: true });
  const dashboardPort = server.dashboardPort!;
  const authorization = `Bearer ${server.dashboardToken!}`;
  const api = async <T>(apiPath: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${dashboardPort}${apiPath}`, { headers: { authorization } });
    if (!res.ok) throw new Error(`GET ${apiPath}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return Object.assign(server, {
    dashboardPort,
    api,
    async plugins() {
      const { plugins } = await api<{ plugins: PluginRow[] }>('/api/plugins');
      return new Map(plugins.map((p) => [p.greeter ?? '', p]));
    },
  });
}

/** The log records with a code (and optionally of one plugin). */
export function coded<T extends ChildLogRecord>(logs: readonly T[], code: string, plugin?: string): T[] {
  return logs.filter((r) => r.code === code && (plugin === undefined || r.plugin === plugin));
}

/* ------------------------------------------------------------------------ */
/* Data files                                                               */
/* ------------------------------------------------------------------------ */

/** A data file read line by line, by the rules of docs/plugins.md (storage and durability). */
export interface DataFileContents {
  /** The records of the complete lines, in file order (index lines included). */
  records: Record<string, unknown>[];
  /** The records that are documents (they have an `_id`; a removal is `{"$$deleted":true,"_id"}`). */
  documents: Record<string, unknown>[];
  /** Complete lines that are not a stored record: corruption (`NEKO_ERR_STORAGE_CORRUPT` on load). */
  bad: string[];
  /** An unterminated last line that is not a record: a torn append, cut on the next load. */
  tornTail: string | undefined;
}

export async function readDataFile(file: string): Promise<DataFileContents> {
  const text = await readFile(file, 'utf8');
  const contents: DataFileContents = { records: [], documents: [], bad: [], tornTail: undefined };
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line === '') return;
    const last = index === lines.length - 1;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      record = undefined;
    }
    const valid =
      typeof record === 'object' &&
      record !== null &&
      !Array.isArray(record) &&
      ('_id' in record || '$$indexCreated' in record || '$$indexRemoved' in record);
    if (valid) {
      const stored = record as Record<string, unknown>;
      contents.records.push(stored);
      if ('_id' in stored) contents.documents.push(stored);
    } else if (last) contents.tornTail = line;
    else contents.bad.push(`line ${index + 1}: ${line.slice(0, 120)}`);
  });
  return contents;
}
