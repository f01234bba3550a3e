import { useEffect, useRef, useState } from 'preact/hooks';

/** A value the page's parts share: set it, and every component reading it renders again. */
export class Store<T> {
  #value: T;
  readonly #listeners = new Set<() => void>();

  constructor(value: T) {
    this.#value = value;
  }

  get value(): T {
    return this.#value;
  }

  set(value: T): void {
    if (Object.is(value, this.#value)) return;
    this.#value = value;
    for (const listener of [...this.#listeners]) listener();
  }

  /** Sets some fields of an object value (a new object, so readers see the change). */
  update(patch: Partial<T>): void {
    this.set({ ...this.#value, ...patch });
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** The store's value, rendering the component again whenever it changes. */
export function useStore<T>(store: Store<T>): T {
  const [, setTick] = useState(0);
  const value = store.value;
  const rendered = useRef(value);
  rendered.current = value;
  useEffect(() => {
    const listener = (): void => setTick((n) => n + 1);
    const stop = store.subscribe(listener);
    // A change between the render and this effect would be missed: render once more then.
    if (store.value !== rendered.current) listener();
    return stop;
  }, [store]);
  return value;
}
