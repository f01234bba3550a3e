import type { ServerResponse } from 'node:http';
import { matches, type LogBuffer, type LogEntry, type LogFilter } from './log-buffer.js';

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/** A reader that does not keep up: its stream is dropped past this much unsent data. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

/**
 * One server-sent event stream of log lines: `hello`, then every kept line
 * after `after`, then live lines, in `seq` order. Replay and subscription
 * happen in one step, so no line is lost or sent twice between them.
 */
export class LogEventStream {
  readonly #res: ServerResponse;
  readonly #filter: LogFilter;
  readonly #unsubscribe: () => void;
  readonly #heartbeat: NodeJS.Timeout;
  #ended = false;

  constructor(res: ServerResponse, logs: LogBuffer, after: number, filter: LogFilter, onEnd: () => void) {
    this.#res = res;
    this.#filter = filter;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ last: logs.last })}\n\n`);
    for (const entry of logs.entries(after, filter)) this.#send(entry);
    this.#unsubscribe = logs.subscribe((entry) => {
      if (matches(entry, this.#filter)) this.#send(entry);
    });
    this.#heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.#heartbeat.unref();
    res.on('close', () => {
      this.#stop();
      onEnd();
    });
  }

  /** Ends the stream (the dashboard is closing). */
  end(): void {
    this.#stop();
    this.#res.end();
  }

  #send(entry: LogEntry): void {
    if (this.#ended) return;
    this.#res.write(`id: ${entry.seq}\nevent: log\ndata: ${JSON.stringify(entry)}\n\n`);
    if (this.#res.writableLength > MAX_BACKLOG_BYTES) {
      // The reader stalled: drop it rather than hold the server's memory; it reconnects with Last-Event-ID.
      this.#stop();
      this.#res.destroy();
    }
  }

  #stop(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#heartbeat);
    this.#unsubscribe();
  }
}
