import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import type { DevEvent } from '../../src/dev/events.js';
import { watchPlugins, type PluginWatcher, type WatchPluginsOptions } from '../../src/dev/watch.js';
import type { NekoServer } from '../../src/server/server.js';
import { REPO_ROOT } from '../cli/run-cli.js';
import { specConf } from '../helpers/plugins.js';

/** The events a watcher reported, and a way to wait for the next one that matches. */
export interface EventLog {
  readonly events: DevEvent[];
  onEvent(event: DevEvent): void;
  /**
   * Resolves with the first matching event reported after this call; rejects
   * after `timeoutMs`, listing what was reported. Call it before the edit.
   */
  next<T extends DevEvent['type']>(
    type: T,
    match?: (event: Extract<DevEvent, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<DevEvent, { type: T }>>;
  /** The events of a type reported so far. */
  of<T extends DevEvent['type']>(type: T): Extract<DevEvent, { type: T }>[];
}

export function eventLog(): EventLog {
  const events: DevEvent[] = [];
  const listeners = new Set<() => void>();
  return {
    events,
    onEvent(event) {
      events.push(event);
      for (const listener of [...listeners]) listener();
    },
    next(type, match = () => true, timeoutMs = 10_000) {
      const from = events.length;
      type E = Extract<DevEvent, { type: typeof type }>;
      return new Promise<E>((resolve, reject) => {
        const check = (): void => {
          const found = events.slice(from).find((e): e is E => e.type === type && match(e as E));
          if (found === undefined) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no "${type}" event within ${timeoutMs} ms; got ${describe(events.slice(from))}`));
        }, timeoutMs);
        listeners.add(check);
      });
    },
    of(type) {
      return events.filter((e) => e.type === type) as never;
    },
  };
}

function describe(events: readonly DevEvent[]): string {
  if (events.length === 0) return 'none';
  return events
    .map((e) =>
      e.type === 'rejected' || e.type === 'checked'
        ? `${e.type} ${e.errors.map((x) => `${x.code}: ${x.message}`).join('; ')}`
        : e.type === 'error'
          ? `error ${e.error.code}: ${e.error.message}`
          : e.type,
    )
    .join(', ');
}

/** Starts a watcher on `dir`, reporting to `log`; closes it when the test finishes. */
export async function watch(
  server: NekoServer,
  dir: string,
  log: EventLog,
  options: WatchPluginsOptions = {},
): Promise<PluginWatcher> {
  const watcher = await watchPlugins(server, dir, { validate: false, ...options, onEvent: log.onEvent });
  onTestFinished(() => watcher.close());
  return watcher;
}

/** Adds a plugin folder with a spec.conf and a logic file to a plugins directory. */
export async function addPlugin(
  pluginsDir: string,
  greeter: string,
  logic: string,
  file = 'logic.js',
): Promise<string> {
  const dir = path.join(pluginsDir, greeter);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, file), logic);
  await writeFile(path.join(dir, 'spec.conf'), specConf(greeter, greeter, file.replace(/\.[^.]+$/, '')));
  return dir;
}

/** Links `<dir>/node_modules/nekoconnect` to this repository's server, as an installed package would be. */
export async function linkNekoconnect(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'node_modules'), { recursive: true });
  const type = process.platform === 'win32' ? 'junction' : 'dir';
  await symlink(path.join(REPO_ROOT, 'server'), path.join(dir, 'node_modules', 'nekoconnect'), type);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A JS logic that answers `<tag> count=<n> seen=<n>` and counts in
 * `ctx.state` and the database (op 1), so a test sees which version
 * answered and that state carried over.
 */
export function counterLogic(tag: string): string {
  return `export class Logic {
  async recv(ctx) {
    if (ctx.op === 1) {
      ctx.state.count = (ctx.state.count ?? 0) + 1;
      await ctx.dbStore('seen', ctx.state.count);
    }
    ctx.send('${tag} count=' + (ctx.state.count ?? 0) + ' seen=' + (await ctx.dbGet('seen')));
  }
}
`;
}
