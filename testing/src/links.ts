import type { Socket } from 'node:net';
import type { Transport } from 'nekoconnect';
import { microtask, startTimer, stopTimer } from './timers.js';

/** The fake client's end of a connection: it writes bytes and ends it. */
export interface ClientLink {
  /** Queues bytes for the server. Nothing is sent once the link is closed. */
  write(bytes: Uint8Array): void;
  /** Closes the connection after the bytes written so far. */
  end(): void;
}

/** What a link reports to the fake client. */
export interface ClientSide {
  /** Bytes from the server. */
  receive(chunk: Buffer): void;
  /** The connection is closed (by either side); called once. */
  closed(): void;
}

/** What an in-memory pipe reports to the server's connection. */
export interface ServerSide {
  receive(chunk: Uint8Array): void;
  transportClosed(): void;
}

/**
 * An in-memory connection between the server and a fake client.
 *
 * `transport` is the server's end (the {@link Transport} a session writes
 * to), `link` the client's. Bytes are copied and delivered in a microtask,
 * in order: never synchronously, so neither side re-enters the other, and
 * never on a timer, so vitest's fake timers cannot hold them back. Either
 * end's `end()` closes both, after the bytes already written.
 */
export class MemoryPipe {
  readonly transport: Transport;
  readonly link: ClientLink;
  #server: ServerSide | undefined;
  #client: ClientSide | undefined;
  #open = true;

  constructor(remoteAddress: string) {
    this.transport = {
      remoteAddress,
      kind: 'memory',
      // Bytes are handed over in a microtask: nothing waits on a slow reader.
      pendingBytes: 0,
      write: (bytes) => this.#toClient(bytes),
      end: () => this.#close(),
      destroy: () => this.#close(),
    };
    this.link = {
      write: (bytes) => this.#toServer(bytes),
      end: () => this.#close(),
    };
  }

  /** True until either end has closed the pipe. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Connects the server's connection (it exists only once `transport` is accepted). */
  attachServer(server: ServerSide): void {
    this.#server = server;
  }

  attachClient(client: ClientSide): void {
    this.#client = client;
  }

  #toClient(bytes: Uint8Array): void {
    if (!this.#open) return;
    const copy = Buffer.from(bytes);
    microtask(() => this.#client?.receive(copy));
  }

  #toServer(bytes: Uint8Array): void {
    if (!this.#open) return;
    const copy = Buffer.from(bytes);
    microtask(() => this.#server?.receive(copy));
  }

  #close(): void {
    if (!this.#open) return;
    this.#open = false;
    // Queued after every write made so far: both sides see those bytes first.
    microtask(() => {
      this.#server?.transportClosed();
      this.#client?.closed();
    });
  }
}

/** How long a closed TCP link waits for the server to close its side before cutting it. */
const TCP_END_GRACE_MS = 1_000;

/** A {@link ClientLink} over a connected TCP socket. */
export function tcpLink(socket: Socket, client: ClientSide): ClientLink {
  let cut: NodeJS.Timeout | undefined;
  socket.on('data', (chunk: Buffer) => client.receive(chunk));
  socket.on('error', () => {
    // A reset: 'close' follows and reports it.
  });
  socket.once('close', () => {
    stopTimer(cut);
    client.closed();
  });
  return {
    write(bytes) {
      if (socket.writable) socket.write(bytes);
    },
    end() {
      if (socket.destroyed) return;
      socket.end();
      cut = startTimer(TCP_END_GRACE_MS, () => socket.destroy());
    },
  };
}
