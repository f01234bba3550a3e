import type { ServerResponse } from 'node:http';

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/** A reader that does not keep up: its stream is dropped past this much unsent data. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

/**
 * One server-sent event stream: a `hello` event, then what the owner sends,
 * with a heartbeat. A reader that stalls is dropped rather than let the
 * server's memory grow; it reconnects (the page's `EventSource` does).
 */
export class EventStream {
  readonly #res: ServerResponse;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #onStop: () => void;
  #ended = false;

  /** `onStop` runs once, when the stream ends for any reason (closed by either side, or dropped). */
  constructor(res: ServerResponse, hello: unknown, onStop: () => void) {
    this.#res = res;
    this.#onStop = onStop;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`);
    this.#heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.#heartbeat.unref();
    res.on('close', () => this.#stop());
  }

  /** True once the stream ended: nothing more is sent. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Sends one event (with its `id` when given, for `Last-Event-ID`). */
  send(event: string, data: unknown, id?: number): void {
    if (this.#ended) return;
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    this.#res.write(`${idLine}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    if (this.#res.writableLength > MAX_BACKLOG_BYTES) {
      this.#stop();
      this.#res.destroy();
    }
  }

  /** Ends the stream (the dashboard is closing). */
  end(): void {
    this.#stop();
    this.#res.end();
  }

  #stop(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#heartbeat);
    this.#onStop();
  }
}
