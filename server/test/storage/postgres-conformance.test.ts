/**
 * The storage conformance suite on the PostgreSQL backend, against a real
 * PostgreSQL server started for this file (so its greeters meet no data of
 * another run).
 */
import { afterAll, beforeAll, onTestFinished } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { PostgresStorage } from '../../src/storage/postgres/storage.js';
import { storageConformance } from './conformance.js';

let server: RunningPostgres;

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

storageConformance(
  'postgres',
  () => {
    const storage = new PostgresStorage({ url: server.url });
    onTestFinished(() => storage.closeAll().catch(() => undefined));
    return storage;
  },
  { persistent: true },
);
