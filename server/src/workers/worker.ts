/**
 * A worker's side of `nekoconnect start --workers`: what a worker process
 * (forked by the primary with `node:cluster`, running the CLI's `start`)
 * gets from its primary and tells it. The CLI's `start` builds the worker's
 * server from it (cli/start.ts).
 *
 * - The worker says `worker:hello` once it listens to its pipe; the primary
 *   answers `worker:start` with the start flags, its number and the
 *   variables that hold secrets (the shared secret, the database and Redis
 *   URLs): these cross the IPC pipe, never the environment, so the worker's
 *   `process.env` holds none of them.
 * - The worker takes its signals from the primary (`worker:signal`); one
 *   sent to the worker itself goes to the primary (`worker:relay`), which
 *   acts for every worker (a Ctrl+C, sent to the whole process group, thus
 *   counts once).
 * - Once it listens, the worker tells the primary where (`worker:listening`).
 */
import type { StartFlags } from '../config/start-options.js';
import type { AddressInfo } from 'node:net';

/** The kinds of the messages between the primary and a worker about the worker's life. */
export const WORKER_MESSAGES = {
  /** worker → primary: ready for its start. */
  hello: 'worker:hello',
  /** primary → worker: {@link WorkerStart}. */
  start: 'worker:start',
  /** worker → primary: it listens (`{ address, port, websocketPort? }`). */
  listening: 'worker:listening',
  /** primary → worker: a signal forwarded (`{ signal }`). */
  signal: 'worker:signal',
  /** worker → primary: a signal this worker got from the system, for the primary to act on (`{ signal }`). */
  relay: 'worker:relay',
} as const;

/** What the primary hands a worker at fork. */
export interface WorkerStart {
  /** The worker's number: 1 to n; a restarted worker keeps the number of the one it replaces. */
  index: number;
  /** How many workers the primary runs. */
  of: number;
  /** The start flags, as the primary got them (without `--workers`, and without `--secret-file`: the secret comes in `env`). */
  flags: StartFlags;
  /** The working directory of the command. */
  cwd: string;
  /** Variables the options are read from in the worker's memory: the secret, database and Redis URLs, dashboard token. */
  env: Record<string, string>;
}

/** Where a worker listens, as it tells the primary. */
export interface WorkerListening {
  address: string;
  port: number;
  websocketPort?: number;
}

/** The signals a worker takes from its primary. */
export type ForwardedSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGUSR2';

/**
 * Waits for the primary's `worker:start` (after saying hello).
 * @throws Error when this process has no IPC channel (it was not forked by a primary)
 */
export function waitForStart(): Promise<WorkerStart> {
  const send = process.send?.bind(process);
  if (send === undefined) return Promise.reject(new Error('a worker needs the IPC channel of its primary'));
  listenToPrimary();
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      const m = message as { nc?: unknown; start?: WorkerStart };
      if (m?.nc !== WORKER_MESSAGES.start || m.start === undefined) return;
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      resolve(m.start);
    };
    const onDisconnect = (): void => reject(new Error('the primary went away before starting this worker'));
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
    send({ nc: WORKER_MESSAGES.hello });
  });
}

/**
 * Takes the signals of this worker from the primary: `handler` gets each
 * one of `kinds` it forwards, those that came before (while the worker was
 * starting) first. A signal sent to this process itself (`nekoconnect
 * reload` or `drain` find a worker's pid in the data directory's lock; a
 * Ctrl+C reaches every process of the group) is passed on to the primary,
 * which acts for every worker; without a primary any more, it is this
 * worker's own.
 * @returns a function that stops listening
 */
export function signalsFromPrimary(
  kinds: readonly ForwardedSignal[],
  handler: (signal: ForwardedSignal) => void,
): () => void {
  listenToPrimary();
  const mine = { kinds, handler };
  handlers.add(mine);
  for (const signal of pending.filter((s) => kinds.includes(s))) {
    pending.splice(pending.indexOf(signal), 1);
    handler(signal);
  }
  return () => void handlers.delete(mine);
}

const SIGNALS: readonly ForwardedSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2'];
const handlers = new Set<{ kinds: readonly ForwardedSignal[]; handler: (signal: ForwardedSignal) => void }>();
/** Signals that came before anything took them (the worker was starting). */
const pending: ForwardedSignal[] = [];
let listening = false;

/** From the start of the worker on: the signals of the primary, and those of the system passed on to it. */
function listenToPrimary(): void {
  if (listening) return;
  listening = true;
  process.on('message', (message: unknown) => {
    const m = message as { nc?: unknown; signal?: ForwardedSignal };
    if (m?.nc === WORKER_MESSAGES.signal && m.signal !== undefined) deliver(m.signal);
  });
  for (const signal of SIGNALS) process.on(signal, onSystemSignal);
}

function deliver(signal: ForwardedSignal): void {
  const takers = [...handlers].filter((h) => h.kinds.includes(signal));
  if (takers.length === 0) pending.push(signal);
  for (const taker of takers) taker.handler(signal);
}

function onSystemSignal(signal: NodeJS.Signals): void {
  if (process.connected) {
    try {
      process.send?.({ nc: WORKER_MESSAGES.relay, signal });
      return;
    } catch {
      // the primary is gone: this worker acts on its own
    }
  }
  deliver(signal as ForwardedSignal);
}

/** Tells the primary where this worker listens. */
export function announceListening(address: AddressInfo, websocket: AddressInfo | undefined): void {
  const listening: WorkerListening = {
    address: address.address,
    port: address.port,
    ...(websocket === undefined ? {} : { websocketPort: websocket.port }),
  };
  try {
    process.send?.({ nc: WORKER_MESSAGES.listening, listening });
  } catch {
    // The primary is gone: this worker ends with it.
  }
}
