/**
 * A small request/answer and push channel over a Node.js IPC endpoint: the
 * `process` of a worker, or a `cluster` Worker (or a child process) in the
 * primary. The processes are forked with `serialization: 'advanced'`, so
 * Buffers cross as they are.
 *
 * Every NekoConnect message on the pipe is an object `{ nc: '<kind>', … }`:
 * `nc: 'req'` (a request, answered once), `nc: 'ans'` (its answer) and
 * `nc: 'push'` (no answer). Other modules use the same pipe (the primary's
 * dashboard, prom-client's AggregatorRegistry), so a listener ignores every
 * message that is not one of these three, and every answer that is not for
 * one of its own requests (several channels may share one endpoint).
 */
import { randomBytes } from 'node:crypto';
import { NekoError, isNekoError, type NekoErrorCode } from '../errors.js';

/** The side of an IPC pipe a channel talks through. */
export interface IpcEndpoint {
  send(message: unknown, callback: (error: Error | null) => void): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  off(event: 'message', listener: (message: unknown) => void): void;
}

/** Something Node gives an IPC pipe to: `process` in a forked process, a ChildProcess or a cluster Worker. */
interface NodeIpc {
  send?: (...args: never[]) => boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * The endpoint of `process` (in a forked process), of a ChildProcess or of a
 * cluster Worker. A message that cannot be sent (the other side is gone)
 * fails its callback instead of throwing.
 */
export function ipcEndpoint(target: NodeIpc): IpcEndpoint {
  return {
    send(message, callback) {
      const send = target.send as
        | ((message: unknown, handle: undefined, options: object, cb: (e: Error | null) => void) => boolean)
        | undefined;
      if (send === undefined) {
        callback(new Error('this process has no IPC channel (it was not forked)'));
        return;
      }
      try {
        send.call(target, message, undefined, {}, callback);
      } catch (err) {
        callback(err instanceof Error ? err : new Error(String(err)));
      }
    },
    on: (event, listener) => void target.on(event, listener),
    off: (event, listener) => void target.off(event, listener),
  };
}

/** A coded error as it crosses the pipe. */
interface ShippedError {
  code?: string;
  message: string;
  hint?: string;
}

interface Request {
  nc: 'req';
  /** The channel that asks (its answers carry it back). */
  c: string;
  i: number;
  k: string;
  b: unknown;
}

interface Answer {
  nc: 'ans';
  c: string;
  i: number;
  ok: boolean;
  v?: unknown;
  e?: ShippedError;
}

interface Push {
  nc: 'push';
  k: string;
  b: unknown;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  kind: string;
}

/**
 * Answers a request of the other side. Returns `undefined` for a request
 * that is not this channel's to answer (another channel on the same endpoint
 * answers it); a rejection is sent back as the error (coded errors keep their
 * code, message and hint).
 */
export type RequestHandler = (kind: string, body: unknown) => Promise<unknown> | undefined;
/** Takes a push of the other side. */
export type PushHandler = (kind: string, body: unknown) => void;

export interface IpcChannelOptions {
  onRequest?: RequestHandler;
  onPush?: PushHandler;
  /** Says who is on the other side, in errors: `the primary process`, `worker 2`. */
  peer: string;
}

/** One side's channel on an IPC endpoint. */
export class IpcChannel {
  readonly #endpoint: IpcEndpoint;
  readonly #id = randomBytes(6).toString('hex');
  readonly #pending = new Map<number, Pending>();
  readonly #onRequest: RequestHandler | undefined;
  readonly #onPush: PushHandler | undefined;
  readonly #peer: string;
  readonly #listener = (message: unknown): void => this.#receive(message);
  #next = 1;
  #closed: string | undefined;

  constructor(endpoint: IpcEndpoint, options: IpcChannelOptions) {
    this.#endpoint = endpoint;
    this.#onRequest = options.onRequest;
    this.#onPush = options.onPush;
    this.#peer = options.peer;
    endpoint.on('message', this.#listener);
  }

  /** Whether the channel was closed (the other side went away, or {@link close}). */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /**
   * Asks the other side; resolves with its answer.
   * @param timeoutMs how long to wait for the answer; none by default
   * @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` when the other side is gone or did not answer in time;
   *   the other side's error when it failed
   */
  request<T = unknown>(kind: string, body: unknown, timeoutMs?: number): Promise<T> {
    if (this.#closed !== undefined) return Promise.reject(this.#unreachable(kind, this.#closed));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        resolve: resolve as (value: unknown) => void,
        reject,
        kind,
        timer:
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                this.#pending.delete(id);
                reject(this.#unreachable(kind, `no answer within ${timeoutMs} ms`));
              }, timeoutMs),
      };
      this.#pending.set(id, pending);
      const message: Request = { nc: 'req', c: this.#id, i: id, k: kind, b: body };
      this.#endpoint.send(message, (error) => {
        if (error === null) return;
        const waiting = this.#pending.get(id);
        if (waiting === undefined) return;
        this.#pending.delete(id);
        clearTimeout(waiting.timer);
        reject(this.#unreachable(kind, error.message));
      });
    });
  }

  /** Sends a message that gets no answer; dropped (false) when the other side is gone. */
  push(kind: string, body: unknown): boolean {
    if (this.#closed !== undefined) return false;
    const message: Push = { nc: 'push', k: kind, b: body };
    this.#endpoint.send(message, () => {});
    return true;
  }

  /** Stops listening; requests still waiting reject with `NEKO_ERR_CLUSTER_UNREACHABLE` saying `why`. */
  close(why = 'the channel closed'): void {
    if (this.#closed !== undefined) return;
    this.#closed = why;
    this.#endpoint.off('message', this.#listener);
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(this.#unreachable(pending.kind, why));
    }
  }

  #unreachable(kind: string, why: string): NekoError {
    return new NekoError('NEKO_ERR_CLUSTER_UNREACHABLE', `${this.#peer} did not answer (${kind}): ${why}`, {
      hint: 'Under --workers the bus and presence run in the primary process: see its log for why it stopped.',
    });
  }

  #receive(message: unknown): void {
    if (typeof message !== 'object' || message === null) return;
    const m = message as { nc?: unknown };
    if (m.nc === 'push') {
      const push = message as Push;
      this.#onPush?.(push.k, push.b);
    } else if (m.nc === 'req') {
      this.#answer(message as Request);
    } else if (m.nc === 'ans') {
      const answer = message as Answer;
      if (answer.c !== this.#id) return;
      const pending = this.#pending.get(answer.i);
      if (pending === undefined) return;
      this.#pending.delete(answer.i);
      clearTimeout(pending.timer);
      if (answer.ok) pending.resolve(answer.v);
      else pending.reject(fromShipped(answer.e ?? { message: 'failed' }));
    }
  }

  #answer(request: Request): void {
    let running: Promise<unknown> | undefined;
    try {
      running = this.#onRequest?.(request.k, request.b);
    } catch (err) {
      running = Promise.reject(err as Error);
    }
    if (running === undefined) return;
    const reply = (answer: Omit<Answer, 'nc' | 'c' | 'i'>): void => {
      if (this.#closed !== undefined) return;
      this.#endpoint.send({ nc: 'ans', c: request.c, i: request.i, ...answer }, () => {});
    };
    running.then(
      (value) => reply({ ok: true, v: value }),
      (err: unknown) => reply({ ok: false, e: toShipped(err) }),
    );
  }
}

function toShipped(err: unknown): ShippedError {
  if (isNekoError(err)) {
    return { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

function fromShipped(shipped: ShippedError): Error {
  if (shipped.code === undefined) return new Error(shipped.message);
  return new NekoError(
    shipped.code as NekoErrorCode,
    shipped.message,
    shipped.hint === undefined ? {} : { hint: shipped.hint },
  );
}
