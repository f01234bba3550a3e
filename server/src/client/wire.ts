import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';

/** What a wire tells the client, whatever carries the bytes. */
export interface WireEvents {
  /** Connected: the first packet may be written. */
  open(): void;
  /** Bytes from the server: a TCP chunk, or one WebSocket message (one frame). */
  data(chunk: Buffer): void;
  /** Something failed; `close` follows. */
  error(err: Error & { code?: string }): void;
  /** The connection is gone; called once. */
  close(): void;
}

/** The client's end of one connection: TCP (or TLS), or a WebSocket. */
export interface Wire {
  write(bytes: Uint8Array): void;
  /** Closes after what was written. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
}

/** A connection over TCP, or TLS when `tls` is set. */
export function tcpWire(
  target: { host: string; port: number; tls: boolean | TlsConnectionOptions | undefined },
  events: WireEvents,
): Wire {
  const { host, port, tls } = target;
  const socket = tls
    ? tlsConnect({ host, port, ...(tls === true ? {} : tls) })
    : netConnect({ host, port, noDelay: true });
  socket.setNoDelay(true);
  socket.once(tls ? 'secureConnect' : 'connect', () => events.open());
  socket.on('data', (chunk: Buffer) => events.data(chunk));
  socket.on('error', (err: NodeJS.ErrnoException) => events.error(err));
  socket.once('close', () => events.close());
  return {
    write: (bytes) => void socket.write(bytes),
    end: () => void socket.end(),
    destroy: () => void socket.destroy(),
  };
}

/**
 * A WebSocket connection to `url` (`ws://` or `wss://`, protocol §1): each
 * frame is one binary message. `tls` options (e.g. `ca`) apply to `wss://`.
 * The WebSocket client is loaded only when a client connects this way.
 */
export async function webSocketWire(
  url: string,
  tls: boolean | TlsConnectionOptions | undefined,
  events: WireEvents,
): Promise<Wire> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(url, { perMessageDeflate: false, ...(typeof tls === 'object' ? tls : {}) });
  ws.binaryType = 'nodebuffer';
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    events.close();
  };
  ws.on('open', () => events.open());
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) events.data(data);
    else events.error(Object.assign(new Error('the server sent a text message'), { code: 'TEXT_MESSAGE' }));
  });
  ws.on('unexpected-response', (_req, res) => {
    events.error(Object.assign(new Error(`HTTP ${res.statusCode}`), { code: `HTTP ${res.statusCode}` }));
    ws.terminate();
  });
  ws.on('error', (err: Error & { code?: string }) => events.error(err));
  ws.on('close', close);
  return {
    write: (bytes) => {
      if (ws.readyState === ws.OPEN) ws.send(bytes, { binary: true });
    },
    end: () => ws.close(1000),
    destroy: () => ws.terminate(),
  };
}
