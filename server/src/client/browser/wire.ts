/**
 * The browser build's wire (`client/wire.ts` with the same exports): a
 * WebSocket from the browser itself. Each frame the client writes is one
 * binary message, and each message the server sends is one frame
 * (protocol §1), so nothing is split or joined here. A browser cannot open
 * TCP connections: `connect()` without a `url` fails with
 * `NEKO_ERR_CLIENT_CONNECT`, saying so.
 */
import { NekoError } from '../../errors.js';
import { Buffer } from './buffer.js';

/** What a wire tells the client, whatever carries the bytes. */
export interface WireEvents {
  open(): void;
  /** One WebSocket message: one frame. */
  data(chunk: Buffer): void;
  error(err: Error & { code?: string }): void;
  /** The connection is gone; called once. */
  close(): void;
}

/** The client's end of one connection. */
export interface Wire {
  write(bytes: Uint8Array): void;
  /** Closes after what was written. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
}

/** TCP is out of a browser's reach: always throws, and `connect()` reports it. */
export function tcpWire(): Wire {
  throw new NekoError(
    'NEKO_ERR_CLIENT_CONNECT',
    'a browser cannot open TCP connections: give connect() the url of the server’s WebSocket listener (ws:// or wss://)',
  );
}

/**
 * A WebSocket connection to `url` (`ws://` or `wss://`): one binary message
 * per frame. TLS options do not apply: the browser checks the certificate.
 */
export function webSocketWire(url: string, _tls: unknown, events: WireEvents): Promise<Wire> {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  let opened = false;
  let closed = false;
  ws.onopen = () => {
    opened = true;
    events.open();
  };
  ws.onmessage = (event: { data: unknown }) => {
    if (event.data instanceof ArrayBuffer) events.data(Buffer.from(event.data));
    else events.error(Object.assign(new Error('the server sent a text message'), { code: 'TEXT_MESSAGE' }));
  };
  // A browser tells a page nothing about why a WebSocket failed (the console has the details).
  ws.onerror = () =>
    events.error(
      new Error(
        opened
          ? 'the WebSocket failed'
          : 'the WebSocket did not open (no server there, a refused origin or path, or a certificate the browser does not trust; the browser console says which)',
      ),
    );
  ws.onclose = () => {
    if (closed) return;
    closed = true;
    events.close();
  };
  return Promise.resolve({
    write: (bytes) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
    },
    end: () => ws.close(1000),
    destroy: () => ws.close(),
  });
}
