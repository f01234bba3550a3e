import type { ServerResponse } from 'node:http';
import { EventStream } from './event-stream.js';
import { matches, type LogBuffer, type LogFilter } from './log-buffer.js';

/**
 * One server-sent event stream of log lines: `hello`, then every kept line
 * after `after`, then live lines, in `seq` order (each line's `seq` is its
 * event id, so a reader that reconnects resumes with `Last-Event-ID`).
 * Replay and subscription happen in one step, so no line is lost or sent
 * twice between them.
 */
export class LogEventStream {
  readonly #stream: EventStream;

  constructor(res: ServerResponse, logs: LogBuffer, after: number, filter: LogFilter, onEnd: () => void) {
    let unsubscribe = (): void => {};
    this.#stream = new EventStream(res, { last: logs.last }, () => {
      unsubscribe();
      onEnd();
    });
    for (const entry of logs.entries(after, filter)) this.#stream.send('log', entry, entry.seq);
    // A reader too slow for the replay was dropped already.
    if (this.#stream.ended) return;
    unsubscribe = logs.subscribe((entry) => {
      if (matches(entry, filter)) this.#stream.send('log', entry, entry.seq);
    });
  }

  /** Ends the stream (the dashboard is closing). */
  end(): void {
    this.#stream.end();
  }
}
