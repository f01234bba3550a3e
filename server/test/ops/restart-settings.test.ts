/**
 * Which changed settings a reload applies live and which it reports as
 * needing a restart, from two resolutions of the same start.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { restartSettings } from '../../src/cli/reload.js';
import { resolveStartOptions } from '../../src/config/start-options.js';
import { tempDir } from '../config/cli-in-dir.js';

const ENV = { NEKOCONNECT_SECRET: 'restart-settings-secret' };

async function resolveWith(dir: string, config: object): ReturnType<typeof resolveStartOptions> {
  await writeFile(path.join(dir, 'nekoconnect.config.json'), JSON.stringify(config));
  return resolveStartOptions(dir, {}, { ...ENV });
}

describe('restartSettings', () => {
  it('lists each restart-bound setting that changed once, and none of the live ones', async () => {
    const dir = await tempDir();
    const started = await resolveWith(dir, { port: 4000, limits: { maxPacketBytes: 4096 } });
    expect(restartSettings(started, started, true)).toEqual([]);

    const next = await resolveWith(dir, {
      port: 4001,
      cacheDir: 'elsewhere',
      limits: { maxPacketBytes: 8192 },
      log: { level: 'debug' },
    });
    expect(restartSettings(started, next, true)).toEqual(['port', 'cacheDir']);
    // Without a live output, the log settings need a restart too.
    expect(restartSettings(started, next, false)).toEqual(['port', 'cacheDir', 'log']);
  });
});
