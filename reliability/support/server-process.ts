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
  /** Also serve the dashboard (127.0.0.1, a free port), for its per-plugin counters. */
  dashboard?: boolean;
  /** Serve TLS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** Extra `node` flags for the server process. */
  execArgv?: string[];
}

/** A log record as it crossed the process boundary: no error object, but the error's code. */
export type ChildLogRecord = Omit<LogRecord, 'error'> & {
  /** The code of the error behind the line, when it has one (it may differ from `code`). */
  errorCode?: string;
};

type Exit = { code: number | null; signal: NodeJS.Signals | null };

export interface ServerProcess {
  readonly port: number;
  /** The dashboard's port, when it was asked for. */
  readonly dashboardPort: number | undefined;
  /** The access token its requests carry, when it was asked for. */
  readonly dashboardToken: string | undefined;
  readonly child: ChildProcess;
  /** Every log record the server wrote so far. */
  readonly logs: ChildLogRecord[];
  /** Resolves when the process exits, with how. */
  readonly exited: Promise<Exit>;
  /** True while the process runs. */
  isAlive(): boolean;
  /** `process.memoryUsage()` of the server after a full GC, and its connection count. */
  memory(): Promise<{ usage: NodeJS.MemoryUsage; connections: number }>;
  /**
   * Clean shutdown (`server.close()`), then the process exits. Resolves with
   * how long `server.close()` took in the server, and how the process exited.
   */
  close(): Promise<{ closeMs: number } & Exit>;
  /** Kills the process with a signal (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a NekoConnect server (the built `nekoconnect` package) in a child
 * process on 127.0.0.1 and a free port. Killed when the test ends.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const { execArgv = [], ...serveOptions } = options;
  const child = fork(SERVE, [JSON.stringify(serveOptions)], {
    execArgv: ['--expose-gc', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const logs: ChildLogRecord[] = [];
  const exited = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let nextId = 1;
  let closeMs: number | undefined;
  const waiting = new Map<number, (reply: { usage: NodeJS.MemoryUsage; connections: number }) => void>();
  const ports = await new Promise<{
    port: number;
    dashboardPort: number | undefined;
    dashboardToken: string | undefined;
  }>((resolve, reject) => {
    child.on('message', (message: { type: string } & Record<string, unknown>) => {
      if (message.type === 'listening') {
        resolve({
          port: message.port as number,
          dashboardPort: message.dashboardPort as number | undefined,
          dashboardToken: message.dashboardToken as string | undefined,
        });
      } else if (message.type === 'log') logs.push(message.record as ChildLogRecord);
      else if (message.type === 'closed') closeMs = message.ms as number;
      else if (message.type === 'memory') {
        const id = message.id as number;
        waiting.get(id)?.(message as unknown as { usage: NodeJS.MemoryUsage; connections: number });
        waiting.delete(id);
      }
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`the server process exited before listening (code ${code}, signal ${signal})`)),
    );
  });
  const isAlive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    ...ports,
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
      if (isAlive()) child.send({ type: 'close' });
      const how = await exited;
      if (closeMs === undefined)
        throw new Error(`the server exited without closing (${JSON.stringify(how)})`);
      return { closeMs, ...how };
    },
    async kill(signal = 'SIGKILL') {
      if (!isAlive()) return;
      child.kill(signal);
      await exited;
    },
  };
}
