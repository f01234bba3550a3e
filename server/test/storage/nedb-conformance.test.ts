import { onTestFinished } from 'vitest';
import { NedbStorage } from '../../src/storage/nedb/storage.js';
import { storageConformance } from './conformance.js';
import { fileStorage } from './helpers.js';

storageConformance('nedb on files', async () => (await fileStorage()).storage, { persistent: true });

storageConformance(
  'nedb in memory',
  () => {
    const storage = new NedbStorage({ inMemory: true, compactionIntervalMs: 0 });
    onTestFinished(() => storage.closeAll().catch(() => undefined));
    return storage;
  },
  { persistent: false },
);
