/**
 * The keys of `nekoconnect dev` when its terminal is interactive: `r`
 * reloads every plugin, `c` clears the screen, `q` quits. In raw mode the
 * terminal sends Ctrl+C as a key, not as SIGINT, so it is handled here too.
 */

/** What the keys do. */
export interface KeyActions {
  /** `r`. */
  reload(): void;
  /** `c`. */
  clear(): void;
  /** `q` or Ctrl+D. */
  quit(): void;
  /** Ctrl+C, which raw mode turns into a key. */
  interrupt(): void;
}

/** The part of `process.stdin` the keys need. */
export interface KeyInput {
  readonly isTTY?: boolean;
  setRawMode(mode: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  resume(): unknown;
  pause(): unknown;
  on(event: 'data', listener: (chunk: string | Buffer) => void): unknown;
  off(event: 'data', listener: (chunk: string | Buffer) => void): unknown;
}

/**
 * Listens for the keys on `input` when it is a TTY; does nothing otherwise.
 *
 * @returns a function that stops listening and gives the terminal back
 */
export function listenForKeys(input: KeyInput, actions: KeyActions): () => void {
  if (input.isTTY !== true) return () => {};
  const onData = (chunk: string | Buffer): void => {
    for (const key of chunk.toString()) {
      switch (key.toLowerCase()) {
        case 'r':
          actions.reload();
          break;
        case 'c':
          actions.clear();
          break;
        case 'q':
        case '\u0004':
          actions.quit();
          break;
        case '\u0003':
          actions.interrupt();
          break;
      }
    }
  };
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.on('data', onData);
  input.resume();
  return () => {
    input.off('data', onData);
    input.setRawMode(false);
    input.pause();
  };
}
