/**
 * How a server the CLI runs stops: the first request (a signal, or `q` in
 * dev) shuts it down cleanly; a second one exits at once without waiting.
 */
export class Shutdown {
  /** Resolves with the exit code: 0 after a clean shutdown, 1 otherwise. */
  readonly exit: Promise<number>;
  readonly #out: (line: string) => void;
  readonly #err: (line: string) => void;
  readonly #close: () => Promise<void>;
  readonly #openConnections: () => number;
  #resolve!: (code: number) => void;
  #stopping = false;

  /**
   * @param close stops everything (watcher, server, dashboard), in order
   * @param openConnections how many connections are open, for the message
   */
  constructor(
    io: { out: (line: string) => void; err: (line: string) => void },
    close: () => Promise<void>,
    openConnections: () => number,
  ) {
    this.#out = io.out;
    this.#err = io.err;
    this.#close = close;
    this.#openConnections = openConnections;
    this.exit = new Promise<number>((resolve) => (this.#resolve = resolve));
  }

  /** True once a shutdown was asked for. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Asks for a shutdown; `reason` names what asked (`SIGINT`, `quit`). */
  request(reason: string): void {
    if (this.#stopping) {
      this.#err(`${reason} again: exiting without waiting`);
      this.#resolve(1);
      return;
    }
    this.#stopping = true;
    this.#out(`${reason}: shutting down (${this.#openConnections()} connection(s) open)...`);
    this.#close().then(
      () => {
        this.#out('stopped');
        this.#resolve(0);
      },
      (err: unknown) => {
        this.#err(`shutdown failed: ${String(err)}`);
        this.#resolve(1);
      },
    );
  }
}
