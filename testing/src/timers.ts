/**
 * The harness's own clock: the timer functions as they were when this
 * module was first imported, before a test could install vitest's fake
 * timers (which replace the globals and `node:timers`). A harness timeout
 * therefore runs in real time even while a test drives a plugin's timers
 * with `vi.advanceTimersByTime()`, and advancing fake time never fires one.
 */
const real = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  queueMicrotask: globalThis.queueMicrotask,
};

/** A real-time timer. Every wait clears its timer when it ends, so none outlives its use. */
export function startTimer(ms: number, callback: () => void): NodeJS.Timeout {
  return real.setTimeout(callback, ms);
}

export function stopTimer(timer: NodeJS.Timeout | undefined): void {
  if (timer !== undefined) real.clearTimeout(timer);
}

/** Runs `callback` as a microtask: after the current code, before any timer or I/O. */
export function microtask(callback: () => void): void {
  real.queueMicrotask(callback);
}
