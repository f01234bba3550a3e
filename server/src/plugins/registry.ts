import { join } from 'node:path';
import { NekoError, isNekoError } from '../errors.js';
import { isFile } from '../files.js';
import type { Logger } from '../logging/logger.js';
import type { ManagedDatabase, StorageBackend } from '../storage/database.js';
import { PluginHost } from './host.js';
import { loadPlugin, loadPluginsDir, type LoadedPlugin, type PluginLoadFailure } from './loader.js';
import type { Router } from './router.js';
import { readSpec } from './spec.js';

/** What loading a plugins directory did. */
export interface PluginsReport {
  readonly loaded: readonly LoadedPlugin[];
  readonly failed: readonly PluginLoadFailure[];
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

  constructor(router: Router, storage: StorageBackend, logger: Logger) {
    this.#router = router;
    this.#storage = storage;
    this.#logger = logger;
  }

  /**
   * Loads every plugin of a plugins directory (or the one plugin of a folder
   * holding a spec.conf) and routes their greeters. A plugin that fails is
   * logged and its greeter answers 503; the others load. A greeter already
   * served gets the new version in place: its sessions, their state and its
   * database stay.
   */
  async load(dir: string): Promise<PluginsReport> {
    const { plugins, failures } = (await isFile(join(dir, 'spec.conf')))
      ? await loadOne(dir)
      : await loadPluginsDir(dir);
    const loaded: LoadedPlugin[] = [];
    for (const plugin of plugins) {
      const { greeter } = plugin.spec;
      let db: ManagedDatabase;
      try {
        db = await this.#storage.open(greeter);
      } catch (err) {
        if (!(err instanceof NekoError)) throw err;
        failures.push({ dir: plugin.dir, spec: plugin.spec, error: err });
        continue;
      }
      const current = this.#router.resolve(greeter);
      if (current.kind === 'plugin') {
        await current.host.replace(plugin);
      } else {
        const host = new PluginHost(plugin, db, this.#logger);
        await host.load();
        this.#router.mount(host);
      }
      loaded.push(plugin);
      this.#logger.info(`loaded ${plugin.spec.name} v${plugin.spec.version} (greeter "${greeter}")`, {
        plugin: greeter,
      });
    }
    for (const failure of failures) {
      if (failure.spec) this.#router.markUnavailable(failure.spec.greeter, failure.error);
      this.#logger.error(`plugin ${failure.dir} failed to load: ${failure.error.message}`, {
        plugin: failure.spec?.greeter,
        code: failure.error.code,
        error: failure.error,
      });
    }
    return { loaded, failed: failures };
  }

  /** Unloads every plugin (`onUnload`, bounded by the caller) and closes its database (compacting it). */
  async unloadAll(bounded: Bounded): Promise<void> {
    for (const host of this.#router.hosts()) {
      await bounded(host.unload(), `${host.greeter}: onUnload`);
      this.#router.unmount(host.greeter);
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
}

/** Loads the one plugin of a folder, as a report. */
async function loadOne(dir: string): Promise<{ plugins: LoadedPlugin[]; failures: PluginLoadFailure[] }> {
  try {
    return { plugins: [await loadPlugin(dir)], failures: [] };
  } catch (err) {
    if (!(err instanceof NekoError)) throw err;
    const spec = await readSpec(dir).catch(() => undefined);
    return { plugins: [], failures: [{ dir, spec, error: err }] };
  }
}
