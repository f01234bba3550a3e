import { mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensurePrivateTempDir } from '../build/bundle.js';
import type { Bus } from '../cluster/bus.js';
import type { PresenceStore } from '../cluster/presence.js';
import { NekoError, isNekoError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { ManagedDatabase, StorageBackend } from '../storage/database.js';
import { PluginHost, type ServedPlugin } from './host.js';
import {
  hasPluginSpec,
  loadPluginWithSpec,
  loadPluginsDir,
  readPluginSpec,
  type LoadOptions,
  type LoadedPlugin,
  type PluginLoadFailure,
} from './loader.js';
import type { Router } from './router.js';
import type { PluginSpec } from './spec.js';

/** What loading a plugins directory did. */
export interface PluginsReport {
  readonly loaded: readonly LoadedPlugin[];
  readonly failed: readonly PluginLoadFailure[];
}

/**
 * What {@link PluginRegistry.reload} did with one plugin folder:
 * - `loaded`: the folder's plugin serves its greeter now, as version `version`
 *   (`added` when the greeter had no plugin before; `renamedFrom` when the
 *   folder served another greeter before, which now answers 404);
 * - `failed`: nothing changed for clients: the version that served before
 *   (number `serving`) still does; without one, the greeter answers 503
 *   (unless another folder serves it);
 * - `removed`: the folder has no spec.conf any more; the greeter it served
 *   answers 404, its `onUnload` ran and its database is closed;
 * - `none`: the folder has no spec.conf and served nothing.
 */
export type PluginReload =
  | {
      readonly kind: 'loaded';
      readonly dir: string;
      readonly plugin: LoadedPlugin;
      readonly version: number;
      readonly added: boolean;
      readonly renamedFrom?: string;
    }
  | {
      readonly kind: 'failed';
      readonly dir: string;
      readonly spec?: PluginSpec;
      readonly error: NekoError;
      readonly serving?: number;
    }
  | { readonly kind: 'removed'; readonly dir: string; readonly greeter: string }
  | { readonly kind: 'none'; readonly dir: string };

/** How a plugin folder stands, as the dashboard lists it. */
export interface PluginStatus {
  /** The greeter it serves or claims; undefined when its spec.conf cannot be read. */
  readonly greeter: string | undefined;
  /** The plugin folder, absolute. */
  readonly dir: string;
  /**
   * `loaded`: a version of the folder serves the greeter; `failed`: none
   * does (clients get 503, or the plugin of another folder that serves the
   * greeter, or nothing routes to a folder without a readable spec.conf);
   * `reloading`: a new version is being loaded while the old one serves.
   */
  readonly status: 'loaded' | 'failed' | 'reloading';
  /** The spec.conf of the version serving, else of the last attempt, when it was read. */
  readonly spec: PluginSpec | undefined;
  /** The plugin serving the greeter, when one does. */
  readonly host: ServedPlugin | undefined;
  /** The last load failure of the folder, until a load of it succeeds. */
  readonly problem: PluginProblem | undefined;
}

/** A load or reload of a plugin folder that failed. */
export interface PluginProblem {
  readonly error: NekoError;
  /** When it failed, in ms since the epoch. */
  readonly time: number;
}

/** Waits for a piece of shutdown work, at most some time; the server supplies it. */
export type Bounded = (work: Promise<unknown>, what: string) => Promise<void>;

/**
 * Puts loaded plugins behind their greeters: opens each plugin's database,
 * runs its `onLoad`, mounts its host on the router (or swaps a new version
 * into the host already there), and takes them down again at shutdown.
 */
export class PluginRegistry {
  readonly #router: Router;
  readonly #storage: StorageBackend;
  readonly #logger: Logger;
  /** The highest version number given to each greeter, so numbers keep rising across removals. */
  readonly #versions = new Map<string, number>();
  /** The greeter each plugin folder (absolute) serves or claims (503), as last loaded. */
  readonly #claims = new Map<string, string>();
  /** The last load failure of each plugin folder (absolute), until a load of it succeeds. */
  readonly #problems = new Map<string, PluginProblem & { spec: PluginSpec | undefined }>();
  /** Plugin folders (absolute) being reloaded now. */
  readonly #reloading = new Set<string>();
  /** How plugins are loaded: where their bundles go. */
  readonly #loadOptions: LoadOptions;
  /** The cluster bus the plugin hosts reach other processes through, when the server is in a cluster. */
  readonly #cluster: Bus | undefined;
  /** The server's presence store, handed to every plugin host (`ctx.presence`). */
  readonly #presence: PresenceStore | undefined;
  /** Without a cache dir: this registry's own temporary one, made at the first load, removed by {@link unloadAll}. */
  #tempCache: Promise<string> | undefined;
  /** Set once {@link unloadAll} began (the shutdown): nothing is mounted or swapped in after. */
  #closed = false;

  /**
   * @param loadOptions where bundles go; without a `cacheDir`, a folder of
   *   this registry's own in this user's temporary folder
   *   (`<temp dir>/nekoconnect-<uid>/cache-XXXXXX`), removed when the
   *   plugins are unloaded at shutdown: a test server leaves nothing behind
   */
  constructor(
    router: Router,
    storage: StorageBackend,
    logger: Logger,
    loadOptions: LoadOptions = {},
    cluster?: Bus,
    presence?: PresenceStore,
  ) {
    this.#cluster = cluster;
    this.#presence = presence;
    this.#router = router;
    this.#storage = storage;
    this.#logger = logger;
    this.#loadOptions = loadOptions;
  }

  /**
   * Loads every plugin of a plugins directory (or the one plugin of a folder
   * holding a spec.conf) and routes their greeters. A plugin that fails is
   * logged and reported in `failed`, and is the folder's problem until it
   * loads; the others load. For each folder's greeter:
   * - not served yet: the plugin's database opens, its `onLoad` runs and it
   *   serves; when it fails, the greeter answers 503;
   * - served by the same folder (loaded before): the new version is swapped
   *   in place (sessions, their state and the database stay); when it fails,
   *   the version serving keeps serving;
   * - served by another folder: refused with
   *   `NEKO_ERR_PLUGIN_DUPLICATE_GREETER` naming both folders, before its
   *   logic is imported; the plugin serving is untouched.
   */
  async load(dir: string): Promise<PluginsReport> {
    const refuse = (folder: string, spec: PluginSpec): NekoError | undefined => this.#clash(folder, spec);
    const { plugins, failures } = (await hasPluginSpec(dir))
      ? await loadOne(dir, refuse, await this.#options())
      : await loadPluginsDir(dir, refuse, await this.#options());
    const loaded: LoadedPlugin[] = [];
    for (const plugin of plugins) {
      try {
        await this.#install(plugin);
      } catch (err) {
        if (!(err instanceof NekoError)) throw err;
        failures.push({ dir: plugin.dir, spec: plugin.spec, error: err });
        continue;
      }
      loaded.push(plugin);
      this.#logger.info(
        `loaded ${plugin.spec.name} v${plugin.spec.version} (greeter "${plugin.spec.greeter}")`,
        { plugin: plugin.spec.greeter },
      );
    }
    for (const failure of failures) this.#loadFailed(failure);
    return { loaded, failed: failures };
  }

  /**
   * Puts a plugin that {@link load} loaded behind its greeter: swaps it into
   * the host serving its folder's version, or opens its database and mounts
   * a new host.
   *
   * @throws NekoError `NEKO_ERR_PLUGIN_DUPLICATE_GREETER` when another
   *   folder's plugin serves the greeter; `NEKO_ERR_STORAGE_*` when its
   *   database cannot be opened. Nothing changed then.
   */
  async #install(plugin: LoadedPlugin): Promise<void> {
    const { greeter } = plugin.spec;
    const clash = this.#clash(plugin.dir, plugin.spec);
    if (clash !== undefined) throw clash;
    this.#refuseIfClosed(plugin.spec);
    const current = this.#router.resolve(greeter);
    if (current.kind === 'plugin') {
      await current.host.replace(plugin, this.#nextVersion(greeter));
    } else {
      await this.#mount(plugin, await this.#storage.open(greeter), this.#nextVersion(greeter));
    }
    this.#claims.set(resolve(plugin.dir), greeter);
    this.#problems.delete(resolve(plugin.dir));
  }

  /**
   * Mounts a new host for a plugin whose greeter nothing serves: its
   * `onLoad` runs, then it serves. When the shutdown began unloading while
   * `onLoad` ran, it is unloaded at once instead.
   *
   * @throws NekoError `NEKO_ERR_PLUGIN_SHUTDOWN` then
   */
  async #mount(plugin: LoadedPlugin, db: ManagedDatabase, version: number): Promise<void> {
    const host = new PluginHost(plugin, db, this.#logger, version, this.#cluster, this.#presence);
    await host.load();
    if (this.#closed) {
      await host.unload();
      await this.#closeDb(host);
      throw shuttingDown(plugin.spec);
    }
    this.#router.mount(host);
  }

  /** @throws NekoError `NEKO_ERR_PLUGIN_SHUTDOWN` once {@link unloadAll} began */
  #refuseIfClosed(spec: PluginSpec): void {
    if (this.#closed) throw shuttingDown(spec);
  }

  /**
   * A folder that {@link load} could not load: the failure becomes its
   * problem and is logged. A version serving its greeter (its own, or
   * another folder's) keeps serving; a greeter nothing serves answers 503.
   */
  #loadFailed({ dir, spec, error }: PluginLoadFailure): void {
    const route = spec === undefined ? undefined : this.#router.resolve(spec.greeter);
    const serving = route?.kind === 'plugin' ? route.host : undefined;
    this.#noteProblem(dir, spec ?? this.#hostOf(resolve(dir))?.plugin.spec, error);
    if (spec !== undefined && serving === undefined) {
      this.#router.markUnavailable(spec.greeter, error);
      this.#claims.set(resolve(dir), spec.greeter);
    }
    const still =
      serving === undefined ? '' : ` (v${serving.version} of ${serving.plugin.dir} keeps serving)`;
    this.#logger.error(`plugin ${dir} failed to load: ${error.message}${still}`, {
      plugin: spec?.greeter,
      code: error.code,
      error,
    });
  }

  /**
   * Brings the server in line with one plugin folder, as the dev watcher
   * needs after a change: loads the folder's plugin and swaps it in (or
   * mounts it, for a greeter not served yet); takes its greeter down when
   * the folder lost its spec.conf. A plugin that fails to load leaves the
   * version that served before serving. Reports nothing itself: see
   * {@link PluginReload} for what the caller gets to report.
   */
  async reload(dir: string): Promise<PluginReload> {
    const abs = resolve(dir);
    this.#reloading.add(abs);
    try {
      const outcome = await this.#reload(dir, abs);
      if (outcome.kind !== 'failed') this.#problems.delete(abs);
      return outcome;
    } finally {
      this.#reloading.delete(abs);
    }
  }

  async #reload(dir: string, abs: string): Promise<PluginReload> {
    const previous = this.#hostOf(abs);
    if (!(await hasPluginSpec(dir))) {
      const greeter = this.#claims.get(abs);
      if (greeter === undefined) return { kind: 'none', dir };
      await this.#release(greeter, abs);
      return { kind: 'removed', dir, greeter };
    }

    // 1. spec.conf, and whether another folder serves its greeter already.
    let spec: PluginSpec;
    try {
      spec = await readPluginSpec(dir);
    } catch (err) {
      if (!(err instanceof NekoError)) throw err;
      return this.#reloadFailed(dir, undefined, err, previous);
    }
    const { greeter } = spec;
    const duplicate = this.#clash(dir, spec);
    if (duplicate !== undefined) return this.#reloadFailed(dir, spec, duplicate, previous);
    const owner = this.#router.resolve(greeter);

    // 2. The new version, loaded beside the one serving.
    let plugin: LoadedPlugin;
    let db: ManagedDatabase | undefined;
    try {
      plugin = await loadPluginWithSpec(dir, spec, await this.#options());
      if (owner.kind !== 'plugin') db = await this.#storage.open(greeter);
    } catch (err) {
      if (!(err instanceof NekoError)) throw err;
      return this.#reloadFailed(dir, spec, err, previous);
    }

    // 3. The swap: one step for the router; the old version's onUnload, then the new one's onLoad.
    if (this.#closed) {
      if (db !== undefined) await db.close().catch(() => undefined);
      return this.#reloadFailed(dir, spec, shuttingDown(spec), previous);
    }
    const claimed = this.#claims.get(abs);
    const renamedFrom = claimed !== undefined && claimed !== greeter ? claimed : undefined;
    if (renamedFrom !== undefined) await this.#release(renamedFrom, abs);
    const version = this.#nextVersion(greeter);
    if (owner.kind === 'plugin') {
      await owner.host.replace(plugin, version);
    } else {
      try {
        await this.#mount(plugin, db!, version);
      } catch (err) {
        if (!(err instanceof NekoError)) throw err;
        return this.#reloadFailed(dir, spec, err, previous);
      }
    }
    this.#claims.set(abs, greeter);
    return {
      kind: 'loaded',
      dir,
      plugin,
      version,
      added: owner.kind !== 'plugin',
      ...(renamedFrom === undefined ? {} : { renamedFrom }),
    };
  }

  /**
   * Takes a greeter's plugin down: the greeter answers 404 at once, then the
   * plugin's `onUnload` runs and its database is closed. Handler runs still
   * going finish on their version. A greeter marked unavailable (503) just
   * answers 404 again.
   *
   * @returns false when nothing answered to the greeter
   */
  async unload(greeter: string): Promise<boolean> {
    const route = this.#router.resolve(greeter);
    if (route.kind === 'missing') return false;
    this.#router.unmount(greeter);
    for (const [dir, claimed] of this.#claims) {
      if (claimed !== greeter) continue;
      this.#claims.delete(dir);
      this.#problems.delete(dir);
    }
    if (route.kind === 'plugin') await this.#retire(route.host);
    return true;
  }

  /**
   * Unloads every plugin (`onUnload`, bounded by the caller) and closes its
   * database; then has the storage backend close whatever
   * it still has open (a database opened by a load under way), bounded too.
   */
  async unloadAll(bounded: Bounded): Promise<void> {
    this.#closed = true;
    for (const host of this.#router.hosts()) {
      await bounded(host.unload(), `${host.greeter}: onUnload`);
      this.#router.unmount(host.greeter);
      await this.#closeDb(host);
    }
    await bounded(this.#closeStorage(), 'closing the plugin databases');
    const tempCache = this.#tempCache;
    this.#tempCache = undefined;
    if (tempCache !== undefined) {
      await tempCache.then((dir) => rm(dir, { recursive: true, force: true })).catch(() => undefined);
    }
  }

  /**
   * The load options: the cache dir given, else this registry's temporary
   * one. When that cannot be made, none: the loader's own default then
   * reports why, for each TypeScript plugin.
   */
  async #options(): Promise<LoadOptions> {
    if (this.#loadOptions.cacheDir !== undefined) return this.#loadOptions;
    this.#tempCache ??= ensurePrivateTempDir('NEKO_ERR_PLUGIN_TRANSPILE').then((dir) =>
      mkdtemp(join(dir, 'cache-')),
    );
    try {
      return { ...this.#loadOptions, cacheDir: await this.#tempCache };
    } catch {
      this.#tempCache = undefined;
      return this.#loadOptions;
    }
  }

  /**
   * Every plugin folder the registry knows: those serving a greeter, those
   * whose plugin failed to load (with the error), those being reloaded.
   * Ordered by greeter; folders without a readable spec.conf come last.
   */
  statuses(): PluginStatus[] {
    const out: PluginStatus[] = [];
    const seen = new Set<string>();
    for (const [greeter, route] of this.#router.routes()) {
      if (route.kind === 'missing') continue;
      const dir =
        route.kind === 'plugin'
          ? resolve(route.host.plugin.dir)
          : ([...this.#claims].find(([, claimed]) => claimed === greeter)?.[0] ?? '');
      seen.add(dir);
      const problem = this.#problems.get(dir);
      const host = route.kind === 'plugin' ? route.host : undefined;
      out.push({
        greeter,
        dir,
        status: this.#reloading.has(dir) ? 'reloading' : host ? 'loaded' : 'failed',
        spec: host?.plugin.spec ?? problem?.spec,
        host,
        problem: problem ?? (route.kind === 'unavailable' ? { error: route.error, time: 0 } : undefined),
      });
    }
    out.sort((a, b) => (a.greeter ?? '').localeCompare(b.greeter ?? ''));
    for (const [dir, problem] of this.#problems) {
      if (seen.has(dir)) continue;
      out.push({
        greeter: problem.spec?.greeter,
        dir,
        status: this.#reloading.has(dir) ? 'reloading' : 'failed',
        spec: problem.spec,
        host: undefined,
        problem,
      });
    }
    return out;
  }

  #noteProblem(dir: string, spec: PluginSpec | undefined, error: NekoError): void {
    this.#problems.set(resolve(dir), { error, time: Date.now(), spec });
  }

  /** The next version number of a greeter. */
  #nextVersion(greeter: string): number {
    const version = (this.#versions.get(greeter) ?? 0) + 1;
    this.#versions.set(greeter, version);
    return version;
  }

  /**
   * The error of folder `dir` declaring a greeter that another folder's
   * plugin serves: `NEKO_ERR_PLUGIN_DUPLICATE_GREETER`, naming both folders
   * and which one keeps serving, located at its `$greet`. Undefined when no
   * other folder serves it.
   */
  #clash(dir: string, spec: PluginSpec): NekoError | undefined {
    const route = this.#router.resolve(spec.greeter);
    if (route.kind !== 'plugin' || resolve(route.host.plugin.dir) === resolve(dir)) return undefined;
    const serving = route.host.plugin.dir;
    return new NekoError(
      'NEKO_ERR_PLUGIN_DUPLICATE_GREETER',
      `greeter ${JSON.stringify(spec.greeter)} is declared by ${dir} and by ${serving}: ` +
        `${serving} keeps serving it, ${dir} is refused`,
      {
        location: spec.entries.get('greet')?.valueLocation,
        hint: 'give this plugin its own $greet, or remove one of the two folders: the refused one loads once the other is gone',
      },
    );
  }

  /** The host serving the plugin of folder `abs`, if one does. */
  #hostOf(abs: string): PluginHost | undefined {
    return this.#router.hosts().find((host) => resolve(host.plugin.dir) === abs);
  }

  /**
   * Folder `abs` no longer claims `greeter`: takes the greeter down when the
   * folder's plugin serves it, or when it is marked unavailable and no other
   * folder claims it. A greeter another folder serves stays.
   */
  async #release(greeter: string, abs: string): Promise<void> {
    this.#claims.delete(abs);
    const route = this.#router.resolve(greeter);
    if (route.kind === 'plugin') {
      if (resolve(route.host.plugin.dir) !== abs) return;
      this.#router.unmount(greeter);
      await this.#retire(route.host);
    } else if (route.kind === 'unavailable' && ![...this.#claims.values()].includes(greeter)) {
      this.#router.unmount(greeter);
    }
  }

  /** A host taken off the router for good: `onUnload`, then its database closes. */
  async #retire(host: PluginHost): Promise<void> {
    await host.retire();
    await this.#closeDb(host);
  }

  /** A reload that failed: the version serving keeps serving; without one, the greeter answers 503. */
  #reloadFailed(
    dir: string,
    spec: PluginSpec | undefined,
    error: NekoError,
    previous: PluginHost | undefined,
  ): PluginReload {
    this.#noteProblem(dir, spec ?? previous?.plugin.spec, error);
    if (previous !== undefined) return { kind: 'failed', dir, spec, error, serving: previous.version };
    if (spec !== undefined && this.#router.resolve(spec.greeter).kind !== 'plugin') {
      this.#router.markUnavailable(spec.greeter, error);
      this.#claims.set(resolve(dir), spec.greeter);
    }
    return { kind: 'failed', dir, ...(spec === undefined ? {} : { spec }), error };
  }

  /** Closes every database the storage backend still has open; a failure is logged. */
  async #closeStorage(): Promise<void> {
    try {
      await this.#storage.closeAll();
    } catch (err) {
      this.#logger.error(`closing the plugin databases failed: ${(err as Error).message}`, {
        code: isNekoError(err) ? err.code : undefined,
        error: err,
      });
    }
  }

  async #closeDb(host: PluginHost): Promise<void> {
    try {
      await host.db.close();
    } catch (err) {
      this.#logger.error(`${host.greeter}: closing its database failed: ${(err as Error).message}`, {
        plugin: host.greeter,
        code: isNekoError(err) ? err.code : undefined,
        error: err,
      });
    }
  }
}

/**
 * Loads the one plugin of a folder, as a report. `refuse` checks its spec
 * before its logic is imported, as for {@link loadPluginsDir}.
 */
async function loadOne(
  dir: string,
  refuse: (dir: string, spec: PluginSpec) => NekoError | undefined,
  options: LoadOptions,
): Promise<{ plugins: LoadedPlugin[]; failures: PluginLoadFailure[] }> {
  let spec: PluginSpec;
  try {
    spec = await readPluginSpec(dir);
  } catch (err) {
    if (!(err instanceof NekoError)) throw err;
    return { plugins: [], failures: [{ dir, error: err }] };
  }
  const refused = refuse(dir, spec);
  if (refused !== undefined) return { plugins: [], failures: [{ dir, spec, error: refused }] };
  try {
    return { plugins: [await loadPluginWithSpec(dir, spec, options)], failures: [] };
  } catch (err) {
    if (!(err instanceof NekoError)) throw err;
    return { plugins: [], failures: [{ dir, spec, error: err }] };
  }
}

/** A plugin whose load ended after the shutdown began unloading: it is not mounted. */
function shuttingDown(spec: PluginSpec): NekoError {
  return new NekoError(
    'NEKO_ERR_PLUGIN_SHUTDOWN',
    `${spec.name} (greeter "${spec.greeter}") was not mounted: the server began shutting down while it loaded`,
    { hint: 'Nothing to fix: the server is stopping. Start it again to serve the plugin.' },
  );
}
