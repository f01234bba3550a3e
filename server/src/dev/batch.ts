import { performance } from 'node:perf_hooks';

/**
 * How late a quiet-time timer may fire before the batch waits once more:
 * a late timer means the event loop was busy (the validator type-checking),
 * and file events that arrived meanwhile are still queued behind it.
 */
const LATE_MS = 25;

/**
 * How long a late timer waits again: enough for the file events queued
 * behind the busy loop to come through (each one starts the full quiet time
 * again), short enough not to slow a reload down.
 */
const SETTLE_MS = 15;

/** How many times in a row a late timer waits again before the batch is handed over anyway. */
const MAX_WAITS = 5;

/**
 * A trailing debounce over changed paths: a burst of saves becomes one
 * batch, handed over once no change came for `delayMs`. Each path keeps the
 * last value recorded with it.
 */
export class ChangeBatch<T> {
  readonly #delayMs: number;
  readonly #onBatch: (changes: Map<string, T>) => void;
  readonly #now: () => number;
  #changes = new Map<string, T>();
  #timer: NodeJS.Timeout | undefined;
  /** When the running timer should fire, by `#now`. */
  #due = 0;
  /** Late timers in a row. */
  #waits = 0;

  /** @param now the clock that tells a late timer (tests pass their own) */
  constructor(delayMs: number, onBatch: (changes: Map<string, T>) => void, now = () => performance.now()) {
    this.#delayMs = delayMs;
    this.#onBatch = onBatch;
    this.#now = now;
  }

  /** True while changes wait for the quiet time to pass. */
  get pending(): boolean {
    return this.#changes.size > 0;
  }

  /** Records a changed path and starts the quiet time again. */
  add(file: string, value: T): void {
    this.#changes.set(file, value);
    this.#waits = 0;
    this.#arm(this.#delayMs);
  }

  /** Hands the waiting changes over now (nothing when none wait). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#changes.size === 0) return;
    const changes = this.#changes;
    this.#changes = new Map();
    this.#onBatch(changes);
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#due = this.#now() + ms;
    this.#timer = setTimeout(() => this.#quiet(), ms);
  }

  /**
   * The quiet time passed, by the clock. When the timer fired late, timers
   * ran before the file events queued meanwhile: wait a moment more so that
   * they are seen, and a burst stays one batch.
   */
  #quiet(): void {
    if (this.#now() - this.#due > LATE_MS && this.#waits < MAX_WAITS) {
      this.#waits++;
      this.#arm(SETTLE_MS);
      return;
    }
    this.flush();
  }

  /** Forgets the waiting changes. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#changes.clear();
  }
}
