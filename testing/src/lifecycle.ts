import { expect, onTestFailed, onTestFinished } from 'vitest';

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

/**
 * When the vitest test that is running now fails, adds the error `report`
 * returns (if any) to that test's errors. Returns false, registering
 * nothing, when no test is running.
 */
export function reportIfTestFails(report: () => Error | undefined): boolean {
  try {
    onTestFailed(() => {
      const error = report();
      if (error) throw error;
    });
    return true;
  } catch {
    // "onTestFailed() can only be called inside a test".
    return false;
  }
}

/** The path of the vitest test file running now, if any. */
export function currentTestFile(): string | undefined {
  try {
    return expect.getState().testPath;
  } catch {
    return undefined;
  }
}
