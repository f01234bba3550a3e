/**
 * A worker killed (SIGKILL, the OOM killer) is still listed until node:cluster
 * sees its exit: a question the primary's dashboard sends it meanwhile fails
 * to write (EPIPE). That failure must fail the question, not end the primary:
 * node:cluster emits it as an 'error' on the worker when `send` has no callback.
 */
import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startPrimaryDashboard, type WorkerPool } from '../../src/workers/primary-dashboard.js';
import { DASHBOARD_MESSAGES } from '../../src/workers/worker-report.js';

/** A worker whose process is gone though its exit has not been seen: sends fail as node:child_process fails them. */
class DeadWorker extends EventEmitter {
  readonly id = 1;
  readonly process = { pid: 4242 };
  sends = 0;
  isConnected(): boolean {
    return true;
  }
  isDead(): boolean {
    return false;
  }
  send(_message: unknown, callback?: (error: Error | null) => void): boolean {
    this.sends++;
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32 });
    // As node's child_process does: to the callback when there is one, else an 'error' event.
    if (typeof callback === 'function') process.nextTick(callback, epipe);
    else process.nextTick(() => this.emit('error', epipe));
    return false;
  }
}

describe("the primary's dashboard asking a worker that died unseen", () => {
  it('fails the question at once (not after the ask timeout) and keeps the primary running', async () => {
    const worker = new DeadWorker();
    const events = new EventEmitter();
    const pool: WorkerPool = { workers: () => [worker as unknown as Worker], events };
    const primary = await startPrimaryDashboard(
      {
        facts: {
          mode: 'start',
          version: 'test',
          plugins: 'plugins',
          dataDir: undefined,
          configFile: undefined,
        },
        workers: 1,
        askTimeoutMs: 60_000,
      },
      pool,
    );
    onTestFinished(() => primary.close());
    // It said hello before it died: the dashboard asks it.
    events.emit('message', worker, {
      nc: DASHBOARD_MESSAGES.hello,
      worker: { id: 1, pid: 4242, processId: 'p-1' },
    });

    const readiness = await primary.readiness();
    expect(readiness).toEqual({ ready: false, reasons: ['worker 1 (pid 4242): not answering'] });
    // The probe at start and the readiness question were both sent, and both failed through their callback.
    expect(worker.sends).toBe(2);
    expect(worker.listenerCount('error')).toBe(0);
  });
});
