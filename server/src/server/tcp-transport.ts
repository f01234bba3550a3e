import type { Socket } from 'node:net';
import type { Transport } from '../session/transport.js';

/** After `end()`, how long a peer that does not close its side keeps the socket. */
const END_GRACE_MS = 2_000;

/** A {@link Transport} over a `net.Socket` or `tls.TLSSocket`. */
export class TcpTransport implements Transport {
  readonly remoteAddress: string;
  readonly kind: 'tcp' | 'tls';
  readonly #socket: Socket;

  constructor(socket: Socket, kind: 'tcp' | 'tls') {
    this.#socket = socket;
    this.kind = kind;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
  }

  get pendingBytes(): number {
    return this.#socket.writableLength;
  }

  write(bytes: Buffer): void {
    if (!this.#socket.writable) return;
    this.#socket.write(bytes);
  }

  end(): void {
    if (this.#socket.destroyed) return;
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), END_GRACE_MS).unref();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
