/**
 * The databases a backend has open, by greeter: the bookkeeping every
 * `StorageBackend` needs for its `open()` and `closeAll()`, in one
 * place. Opening a greeter that is open (or opening) gives the same
 * promise, so a plugin reload keeps its database; a database that closes
 * is forgotten at once, and a new open of its greeter waits for that close
 * to end before it opens the data again.
 */
import { NekoError } from '../errors.js';
import type { ManagedDatabase } from './database.js';

export class OpenDatabases<D extends ManagedDatabase> {
  readonly #create: (greeter: string) => Promise<D>;
  /** Open (or opening) databases by greeter. */
  readonly #open = new Map<string, Promise<D>>();
  /** Databases being closed by greeter: a new open of the greeter waits for it. */
  readonly #closing = new Map<string, Promise<void>>();

  /** @param create opens the greeter's database anew; the database must call {@link closing} when it starts to close */
  constructor(create: (greeter: string) => Promise<D>) {
    this.#create = create;
  }

  /**
   * The greeter's database: the one open, else a new one once a close under
   * way has ended.
   * @throws NekoError `NEKO_ERR_SPEC_BAD_GREETER` for an empty greeter; what `create` throws
   */
  open(greeter: string): Promise<D> {
    if (typeof greeter !== 'string' || greeter === '') {
      return Promise.reject(
        new NekoError('NEKO_ERR_SPEC_BAD_GREETER', 'a plugin database needs a non-empty greeter'),
      );
    }
    const open = this.#open.get(greeter);
    if (open !== undefined) return open;
    const opening = (async () => {
      await this.#closing.get(greeter)?.catch(() => undefined);
      return this.#create(greeter);
    })();
    this.#open.set(greeter, opening);
    opening.catch(() => {
      if (this.#open.get(greeter) === opening) this.#open.delete(greeter);
    });
    return opening;
  }

  /** Tells that the greeter's database started to close, with the close's outcome: it is forgotten. */
  closing(greeter: string, closed: Promise<void>): void {
    this.#open.delete(greeter);
    this.#closing.set(greeter, closed);
    const forget = (): void => {
      if (this.#closing.get(greeter) === closed) this.#closing.delete(greeter);
    };
    closed.then(forget, forget);
  }

  /** True when the greeter's database is open or opening. */
  has(greeter: string): boolean {
    return this.#open.has(greeter);
  }

  /** The greeters open (or opening), each with its database's promise. */
  entries(): [string, Promise<D>][] {
    return [...this.#open];
  }

  /** Closes every database that opened (see {@link ManagedDatabase.close}); the outcome of each close. */
  async closeEach(): Promise<PromiseSettledResult<void>[]> {
    const opened = await Promise.allSettled([...this.#open.values()]);
    return Promise.allSettled(
      opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value.close()] : [])),
    );
  }
}
