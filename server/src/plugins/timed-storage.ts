/**
 * How long plugin database operations take: a storage backend wrapped so
 * that every operation of every plugin database it opens is timed, into
 * one latency histogram per plugin and operation (the metrics read them).
 */
import type { ManagedDatabase, PluginDatabase, StorageBackend } from '../storage/database.js';
import { LatencyHistogram } from './stats.js';

/** The operations of a plugin database that are timed: every one a plugin or the dashboard calls. */
export const STORAGE_OPERATIONS = [
  'insert',
  'insertMany',
  'find',
  'findOne',
  'update',
  'remove',
  'count',
  'get',
  'set',
  'incr',
  'cells',
] as const satisfies readonly (keyof PluginDatabase)[];

export type StorageOperation = (typeof STORAGE_OPERATIONS)[number];

/** The timings of one plugin's database. */
export interface StorageTimings {
  readonly greeter: string;
  /** Per operation: how long it took (failed ones too), in ms, from the call until it settled. */
  readonly operations: ReadonlyMap<StorageOperation, LatencyHistogram>;
}

/**
 * A storage backend that times what its databases do. Opening a greeter
 * open already gives the same database object, as the backend does.
 */
export class TimedStorage implements StorageBackend {
  /** The backend's name for the metrics: `nedb`, `memory`, or `custom` for one given as an object. */
  readonly name: string;
  readonly #backend: StorageBackend;
  readonly #timings = new Map<string, Map<StorageOperation, LatencyHistogram>>();
  readonly #wrapped = new WeakMap<ManagedDatabase, ManagedDatabase>();

  /** The backend's own, when it has it. */
  readonly greeters?: () => Promise<string[]>;

  constructor(backend: StorageBackend, name: string) {
    this.#backend = backend;
    this.name = name;
    if (backend.greeters !== undefined) this.greeters = () => backend.greeters!();
  }

  /** Every plugin database opened so far, with its timings (they carry over when it is opened again). */
  timings(): StorageTimings[] {
    return [...this.#timings].map(([greeter, operations]) => ({ greeter, operations }));
  }

  async open(greeter: string): Promise<ManagedDatabase> {
    const db = await this.#backend.open(greeter);
    let wrapped = this.#wrapped.get(db);
    if (wrapped === undefined) {
      let operations = this.#timings.get(greeter);
      if (operations === undefined) {
        operations = new Map(STORAGE_OPERATIONS.map((op) => [op, new LatencyHistogram()]));
        this.#timings.set(greeter, operations);
      }
      wrapped = timed(db, operations);
      this.#wrapped.set(db, wrapped);
    }
    return wrapped;
  }

  prepare(): Promise<void> {
    return this.#backend.prepare?.() ?? Promise.resolve();
  }

  ping(): Promise<void> {
    return this.#backend.ping?.() ?? Promise.resolve();
  }

  closeAll(): Promise<void> {
    return this.#backend.closeAll();
  }
}

/** `db`, with each operation timed into its histogram. */
function timed(
  db: ManagedDatabase,
  operations: ReadonlyMap<StorageOperation, LatencyHistogram>,
): ManagedDatabase {
  const wrapper: Record<string, unknown> = {
    get location(): string {
      return db.location;
    },
    close: (): Promise<void> => db.close(),
  };
  for (const op of STORAGE_OPERATIONS) {
    const histogram = operations.get(op)!;
    const call = (db[op] as (...args: unknown[]) => Promise<unknown>).bind(db);
    wrapper[op] = (...args: unknown[]): Promise<unknown> => {
      const start = performance.now();
      const done = (): void => histogram.record(performance.now() - start);
      let result: Promise<unknown>;
      try {
        result = call(...args);
      } catch (err) {
        done();
        throw err;
      }
      result.then(done, done);
      return result;
    };
  }
  return wrapper as unknown as ManagedDatabase;
}
