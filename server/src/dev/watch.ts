/**
 * The watcher of `nekoconnect dev`, shaped after unjs/c12's `watchConfig`:
 * it ignores what exists when it starts, debounces changes, keeps the last
 * good version of each plugin serving, and returns `close()`.
 *
 * 1. chokidar watches the plugin folders (spec.conf and source files; see
 *    `paths.ts` for what it never looks at);
 * 2. changes are collected until none came for `debounceMs`; the batch
 *    names the plugin folders to reload (a file directly in the plugins
 *    directory names them all);
 * 3. batches run one after the other; each folder is validated, loaded and
 *    swapped in by `reloader.ts`, which reports a {@link DevEvent}.
 *
 * Start-up validates every plugin once in the background, which warms the
 * validator up (ts-morph loads then) and reports plugins with problems.
 * Every session's `ctx.state` is checked for what JSON cannot carry after
 * each batch and on a timer (`state-watch.ts`).
 */
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { NekoError } from '../errors.js';
import { isFile } from '../files.js';
import { errorMessage } from '../format.js';
import type { NekoServer } from '../server/server.js';
import { ChangeBatch } from './batch.js';
import type { DevEvent } from './events.js';
import { isIgnored, isSourceFile, listPluginFolders, pluginFolderOf, type WatchScope } from './paths.js';
import { PluginReloader } from './reloader.js';
import { DEFAULT_STATE_CHECK_MS, checkSessionStates, type StateCheck } from './state-watch.js';
import { LazyValidator, type DevValidator } from './validation.js';

/**
 * The default quiet time. chokidar drops a file's further change events for
 * 50 ms after it reports one, so a shorter quiet time could reload before
 * the last save of a burst is on disk.
 */
export const DEFAULT_DEBOUNCE_MS = 60;

/** Options of {@link watchPlugins}. */
export interface WatchPluginsOptions {
  /** Quiet time after the last change before reloading, in ms. Default {@link DEFAULT_DEBOUNCE_MS}. */
  debounceMs?: number;
  /** The server's data directory: never watched, so a plugin's own writes never reload it. */
  dataDir?: string;
  /** The server's cache dir, where TypeScript plugins are bundled to: never watched either. */
  cacheDir?: string;
  /**
   * Validate each change before loading it: `true` (default) with a warm
   * validator created on first use, `false` to load changes unchecked, or a
   * validator of your own (the watcher does not dispose it).
   */
  validate?: boolean | DevValidator;
  /** Receives what the watcher does: reloads, rejections, removals, problems, its own errors. */
  onEvent?: (event: DevEvent) => void;
  /**
   * How often every session's `ctx.state` is checked for values JSON cannot
   * carry (a `state` event), in ms; it is also checked after each reload.
   * Default {@link DEFAULT_STATE_CHECK_MS}; 0 turns the check off.
   */
  stateCheckMs?: number;
}

/** A running watcher. */
export interface PluginWatcher {
  /** The folder watched, absolute: a plugins directory or one plugin folder. */
  readonly root: string;
  /** Reloads every plugin now, as if each had changed; resolves once done. */
  reloadAll(): Promise<void>;
  /** Resolves once no change waits and no reload runs. */
  idle(): Promise<void>;
  /** Stops watching, lets a running reload finish, and lets go of the validator. Idempotent. */
  close(): Promise<void>;
}

/**
 * Watches the plugins of `dir` (a plugins directory, or one plugin folder)
 * and hot-reloads each one that changes into `server`: validated, loaded,
 * swapped in place. Open connections stay open; `ctx.state` and the
 * database carry over; a change that fails keeps the last good version
 * serving. Load the plugins first (`server.loadPlugins(dir)`); the watcher
 * ignores the files that exist when it starts.
 *
 * @returns once chokidar watches every folder: a change made after that is seen
 */
export async function watchPlugins(
  server: NekoServer,
  dir: string,
  options: WatchPluginsOptions = {},
): Promise<PluginWatcher> {
  const root = path.resolve(dir);
  const scope: WatchScope = {
    root,
    single: await isFile(path.join(root, 'spec.conf')),
    ...(options.dataDir === undefined ? {} : { dataDir: path.resolve(options.dataDir) }),
    ...(options.cacheDir === undefined ? {} : { cacheDir: path.resolve(options.cacheDir) }),
  };
  const watcher = new DevWatcher(server, scope, options);
  await watcher.start();
  return watcher;
}

/** What a changed path asks for: its plugin folder, or `null` for every plugin. */
type Target = string | null;

class DevWatcher implements PluginWatcher {
  readonly root: string;
  readonly #server: NekoServer;
  readonly #scope: WatchScope;
  readonly #validator: DevValidator | undefined;
  /** The validator this watcher created, and so disposes. */
  readonly #ownValidator: DevValidator | undefined;
  readonly #emit: (event: DevEvent) => void;
  readonly #reloader: PluginReloader;
  readonly #batch: ChangeBatch<Target>;
  readonly #stateCheckMs: number;
  #stateCheck: StateCheck | undefined;
  #chokidar: FSWatcher | undefined;
  /** The tail of the task chain: tasks run one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  /** Tasks queued or running. */
  #busy = 0;
  #idleWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;

  constructor(server: NekoServer, scope: WatchScope, options: WatchPluginsOptions) {
    this.root = scope.root;
    this.#server = server;
    this.#scope = scope;
    const { validate = true, onEvent } = options;
    this.#ownValidator = validate === true ? new LazyValidator() : undefined;
    this.#validator = validate === false ? undefined : (this.#ownValidator ?? (validate as DevValidator));
    this.#emit = (event) => {
      try {
        onEvent?.(event);
      } catch {
        // A failing listener must not stop the watcher.
      }
    };
    this.#reloader = new PluginReloader(server, scope, this.#validator, this.#emit);
    this.#stateCheckMs = options.stateCheckMs ?? DEFAULT_STATE_CHECK_MS;
    this.#batch = new ChangeBatch<Target>(options.debounceMs ?? DEFAULT_DEBOUNCE_MS, (changes) => {
      void this.#enqueue(() => this.#process(changes));
    });
  }

  async start(): Promise<void> {
    const chokidar = watch(this.root, {
      ignoreInitial: true,
      ignored: (file, stats) => isIgnored(this.#scope, file, stats),
    });
    this.#chokidar = chokidar;
    chokidar.on('all', (event, file) => this.#onChange(event, file));
    chokidar.on('error', (err) => {
      this.#emit({
        type: 'error',
        error: new NekoError('NEKO_ERR_DEV_WATCH', `watching ${this.root} failed: ${errorMessage(err)}`, {
          cause: err,
          hint: 'on Linux, ENOSPC means the limit of watched files is reached: raise fs.inotify.max_user_watches',
        }),
      });
    });
    await new Promise<void>((resolve) => chokidar.once('ready', () => resolve()));
    if (this.#stateCheckMs > 0) {
      this.#stateCheck = checkSessionStates(this.#server, this.#emit, this.#stateCheckMs);
    }
    if (this.#validator !== undefined) void this.#enqueue(() => this.#reloader.check());
  }

  reloadAll(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return this.#enqueue(async () => {
      for (const folder of await this.#allFolders()) await this.#reloader.reload(folder);
      // The new versions take over the states the old ones left.
      this.#stateCheck?.check();
    });
  }

  async idle(): Promise<void> {
    while (!this.#closing && (this.#busy > 0 || this.#batch.pending)) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#batch.cancel();
      this.#stateCheck?.close();
      await this.#chokidar?.close();
      await this.#queue;
      this.#ownValidator?.dispose();
      this.#wake();
    })();
    return this.#closing;
  }

  #onChange(event: string, file: string): void {
    if (this.#closing) return;
    const isDir = event === 'addDir' || event === 'unlinkDir';
    const folder = pluginFolderOf(this.#scope, file, isDir);
    if (isDir) {
      // A plugin folder that appears or goes; its files say the rest.
      if (folder === file) this.#batch.add(file, folder);
      return;
    }
    // chokidar does not always pass stats to `ignored`: check files here too.
    if (isSourceFile(file)) this.#batch.add(file, folder ?? null);
  }

  /** One batch: tells the validator which files changed, then reloads each folder named. */
  async #process(changes: Map<string, Target>): Promise<void> {
    for (const file of changes.keys()) this.#validator?.update(file);
    const targets = [...changes.values()];
    const folders = targets.includes(null)
      ? await this.#allFolders()
      : [...new Set(targets as string[])].sort();
    let removed = false;
    for (const folder of folders) {
      const event = await this.#reloader.reload(folder);
      if (event?.type === 'removed') removed = true;
    }
    // A folder that failed only because another one served its greeter may load now.
    if (removed) {
      for (const folder of this.#reloader.takeDuplicates()) await this.#reloader.reload(folder);
    }
    // The new versions take over the states the old ones left.
    this.#stateCheck?.check();
  }

  /** Every plugin folder now, and every folder a plugin is served from (it may have gone). */
  async #allFolders(): Promise<string[]> {
    const folders = new Set(await listPluginFolders(this.#scope));
    for (const host of this.#server.plugins()) {
      const dir = path.resolve(host.plugin.dir);
      if (pluginFolderOf(this.#scope, dir, true) === dir) folders.add(dir);
    }
    return [...folders].sort();
  }

  /** Runs `task` after the tasks before it; a task that throws is reported, never passed on. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#busy++;
    const run = this.#queue
      .then(() => (this.#closing ? undefined : task()))
      .catch((err: unknown) => {
        this.#emit({
          type: 'error',
          error: new NekoError('NEKO_ERR_DEV_RELOAD', `a reload failed unexpectedly: ${errorMessage(err)}`, {
            cause: err,
            hint: 'this is a NekoConnect bug: please report it with the stack',
          }),
        });
      })
      .finally(() => {
        this.#busy--;
        if (this.#busy === 0 && !this.#batch.pending) this.#wake();
      });
    this.#queue = run;
    return run;
  }

  #wake(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
