import type { Logic } from '../../src/context/context.js';
import { Logger } from '../../src/logging/logger.js';
import { PluginHost } from '../../src/plugins/host.js';
import type { LoadedPlugin } from '../../src/plugins/loader.js';
import type { PluginSpec } from '../../src/plugins/spec.js';
import { NedbStorage } from '../../src/storage/nedb/storage.js';

/** A loaded-plugin record for a logic object, as the loader would make it. */
export function loadedPlugin(greeter: string, logic: Logic, name = greeter): LoadedPlugin {
  return {
    dir: `/plugins/${greeter}`,
    spec: {
      name,
      greeter,
      logic: 'logic',
      version: '1.0.0',
      file: `/plugins/${greeter}/spec.conf`,
    } as PluginSpec,
    logicFile: `/plugins/${greeter}/logic.js`,
    logic,
    loadedAt: 0,
  };
}

/** A plugin host over an in-memory database, ready to mount on a router. */
export async function memoryHost(plugin: LoadedPlugin, logger = new Logger()): Promise<PluginHost> {
  const db = await new NedbStorage({ inMemory: true }).open(plugin.spec.greeter);
  return new PluginHost(plugin, db, logger);
}
