import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import type { Limits, LogRecord } from 'nekoconnect';

const SERVE = path.join(import.meta.dirname, 'serve.mjs');

/** The repository's example plugins (echo, chat, todo). */
export const EXAMPLE_PLUGINS = path.join(import.meta.dirname, '..', '..', 'plugins');

export interface ServerProcessOptions {
  secret: string;
  /** A plugins directory, or one plugin folder. */
  plugins: string;
  /** Where plugin data goes; default: in memory. */
  dataDir?: string;
  limits?: Partial<Limits>;
  /** Extra `node` flags for the server process. */
  execArgv?: string[];
}

/** A log record as it crossed the process boundary (no error objects). */
export type ChildLogRecord = Omit<LogRecord, 'error'>;

export interface ServerProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** Every log record the server wrote so far. */
  readonly logs: ChildLogRecord[];
  /** Resolves when the process exits, with how. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True while the process runs. */
  isAlive(): boolean;
  /** `process.memoryUsage()` of the server after a full GC, and its connection count. */
  memory(): Promise<{ usage: NodeJS.MemoryUsage; connections: number }>;
  /** Clean shutdown (`server.close()`), then the process exits. */
  close(): Promise<void>;
  /** Kills the process with a signal (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a NekoConnect server (the built `nekoconnect` package) in a child
 * process on 127.0.0.1 and a free port. Killed when the test ends.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = fork(SERVE, [JSON.stringify(options)], {
    execArgv: ['--expose-gc', ...(options.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const logs: ChildLogRecord[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let nextId = 1;
  const waiting = new Map<number, (reply: { usage: NodeJS.MemoryUsage; connections: number }) => void>();
  const port = await new Promise<number>((resolve, reject) => {
    child.on(
      'message',
      (
        message: { type: string; port?: number; record?: ChildLogRecord; id?: number } & Record<
          string,
          unknown
        >,
      ) => {
        if (message.type === 'listening') resolve(message.port!);
        else if (message.type === 'log') logs.push(message.record!);
        else if (message.type === 'memory') {
          waiting.get(message.id!)?.(
            message as unknown as { usage: NodeJS.MemoryUsage; connections: number },
          );
          waiting.delete(message.id!);
        }
      },
    );
    void exited.then(({ code, signal }) =>
      reject(new Error(`the server process exited before listening (code ${code}, signal ${signal})`)),
    );
  });
  const isAlive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    port,
    child,
    logs,
    exited,
    isAlive,
    memory() {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        child.send({ type: 'memory', id });
      });
    },
    async close() {
      if (!isAlive()) return;
      child.send({ type: 'close' });
      await exited;
    },
    async kill(signal = 'SIGKILL') {
      if (!isAlive()) return;
      child.kill(signal);
      await exited;
    },
  };
}
