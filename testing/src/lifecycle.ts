import { onTestFinished } from 'vitest';

/**
 * Runs `cleanup` when the vitest test that is running now finishes, pass
 * or fail. Returns false, registering nothing, when no test is running (in
 * a `beforeAll` hook or a `describe` body): then the caller cleans up.
 */
export function cleanupAfterTest(cleanup: () => Promise<void>): boolean {
  try {
    onTestFinished(cleanup);
    return true;
  } catch {
    // "onTestFinished() can only be called inside a test".
    return false;
  }
}
