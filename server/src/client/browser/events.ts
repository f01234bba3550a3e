/**
 * The part of `node:events`' EventEmitter that `NekoClient` and its users
 * call, for the browser build: on/addListener, once, off/removeListener,
 * emit, listenerCount, listeners, removeAllListeners, with Node's order and
 * semantics (listeners run in the order added, a listener removed during an
 * emit still runs for that emit, an `error` event without a listener throws).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

/** A `once` wrapper, which `off(listener)` finds by the listener it wraps. */
interface OnceWrapper extends Listener {
  readonly listener: Listener;
}

export class EventEmitter<_Events = unknown> {
  readonly #listeners = new Map<string | symbol, Listener[]>();

  on(event: string | symbol, listener: Listener): this {
    const list = this.#listeners.get(event);
    if (list) list.push(listener);
    else this.#listeners.set(event, [listener]);
    return this;
  }

  addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  /** Calls `listener` at the next `event` only. */
  once(event: string | symbol, listener: Listener): this {
    const wrapper = Object.assign(
      (...args: unknown[]): void => {
        this.off(event, wrapper);
        listener.apply(this, args);
      },
      { listener },
    );
    return this.on(event, wrapper);
  }

  /** Removes the last-added copy of `listener` (or of a `once` wrapping it). */
  off(event: string | symbol, listener: Listener): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      const l = list[i]!;
      if (l === listener || (l as Partial<OnceWrapper>).listener === listener) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  removeListener(event: string | symbol, listener: Listener): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  /** Calls the listeners of `event` with `args`; true when there was one. */
  emit(event: string | symbol, ...args: unknown[]): boolean {
    const list = this.#listeners.get(event);
    if (!list) {
      if (event === 'error')
        throw args[0] instanceof Error ? args[0] : new Error(`unhandled error: ${String(args[0])}`);
      return false;
    }
    for (const listener of [...list]) listener.apply(this, args);
    return true;
  }

  listenerCount(event: string | symbol): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** The listeners of `event` (those added with `once` unwrapped). */
  listeners(event: string | symbol): Listener[] {
    return (this.#listeners.get(event) ?? []).map((l) => (l as Partial<OnceWrapper>).listener ?? l);
  }
}
