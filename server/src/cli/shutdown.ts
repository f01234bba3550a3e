/**
 * How a server the CLI runs stops: the first request (a signal, or `q` in
 * dev) shuts it down cleanly; a second one exits at once without waiting.
 * A drain (`SIGUSR2`) first lets conversations end, then shuts down the
 * same way.
 */
export class Shutdown {
  /**
   * Resolves with the exit code: 0 after a clean shutdown, 1 when handlers
   * were cut at `limits.shutdownTimeoutMs`, when the shutdown failed, or
   * after a second request.
   */
  readonly exit: Promise<number>;
  readonly #out: (line: string) => void;
  readonly #err: (line: string) => void;
  readonly #close: () => Promise<number | void>;
  readonly #openConnections: () => number;
  #resolve!: (code: number) => void;
  #stopping = false;
  #draining = false;

  /**
   * @param close stops everything (watcher, server, dashboard), in order;
   *   resolves with how many handlers the server cut, if any
   * @param openConnections how many connections are open, for the message
   */
  constructor(
    io: { out: (line: string) => void; err: (line: string) => void },
    close: () => Promise<number | void>,
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

  /** True once a drain or a shutdown was asked for: the server no longer takes new work. */
  get winding(): boolean {
    return this.#stopping || this.#draining;
  }

  /**
   * Asks for a drain, then the shutdown: `drain` stops accepting and
   * resolves once the conversations ended (or its bound passed). A drain or
   * shutdown already under way is not started again. `reason` names what
   * asked (`SIGUSR2`).
   */
  drain(reason: string, drain: () => Promise<void>): void {
    if (this.winding) {
      this.#out(`${reason}: ${this.#stopping ? 'already shutting down' : 'already draining'}`);
      return;
    }
    this.#draining = true;
    this.#out(
      `${reason}: draining (${this.#openConnections()} connection(s) open): no new connections, then shutting down`,
    );
    // A SIGINT or SIGTERM meanwhile started the shutdown already: the drain just ends.
    drain().then(
      () => {
        if (!this.#stopping) this.request('drained');
      },
      (err: unknown) => {
        this.#err(`drain failed: ${String(err)}`);
        if (!this.#stopping) this.request('drain failed');
      },
    );
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
      (cut) => {
        if (typeof cut === 'number' && cut > 0) {
          this.#err(`stopped; ${cut} handler(s) cut at limits.shutdownTimeoutMs (exit code 1)`);
          this.#resolve(1);
          return;
        }
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
