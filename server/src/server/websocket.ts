import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { HEADER_LENGTH } from '../protocol/constants.js';
import type { Transport } from '../session/transport.js';
import type { ServerConnection } from './connection.js';
import { listenOrThrow } from './listen.js';
import type { ResolvedWebSocketOptions, TlsOptions } from './options.js';

/** After `end()`, how long a peer that does not answer the close keeps the socket. */
const END_GRACE_MS = 2_000;

/** What the WebSocket listener asks of the server. */
export interface WebSocketHost {
  /** Whether one more connection fits (`limits.maxConnections`, counted across transports). */
  admits(): boolean;
  /** Serves a connection over `transport`; the handshake deadline counts from `connectedAt`. */
  serve(transport: Transport, connectedAt: number): ServerConnection;
  /** A connection refused before it became a session (wrong path or origin, too many, no upgrade in time). */
  refused(remoteAddress: string, why: string, code: string): void;
}

/** The limits the listener enforces before a session exists. */
export interface WebSocketLimits {
  readonly maxPacketBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly maxConnections: number;
}

/**
 * The WebSocket side of a server (protocol §1): an HTTP(S) listener that
 * upgrades requests on one path to WebSocket connections, each an ordinary
 * session. One binary message carries exactly one frame; anything else (a
 * text message, several frames, part of one) is answered 422 and closed,
 * and a message above the packet limit is refused by the WebSocket layer
 * before it is read (close code 1009). The handshake budget counts from the
 * TCP accept, so a client slow in its HTTP upgrade has less left for the
 * NekoConnect handshake, as with TLS.
 */
export class WebSocketListener {
  readonly #options: ResolvedWebSocketOptions;
  readonly #limits: WebSocketLimits;
  readonly #host: WebSocketHost;
  readonly #http: HttpServer;
  readonly #wss: WebSocketServer;
  readonly #kind: 'ws' | 'wss';
  /** Every socket of the HTTP listener, upgraded or not, with when it was accepted. */
  readonly #sockets = new Map<Socket, number>();
  /** Sockets not upgraded yet: no session counts them. */
  readonly #pending = new Set<Socket>();

  constructor(
    options: ResolvedWebSocketOptions,
    tls: TlsOptions | undefined,
    limits: WebSocketLimits,
    host: WebSocketHost,
  ) {
    this.#options = options;
    this.#limits = limits;
    this.#host = host;
    this.#kind = tls ? 'wss' : 'ws';
    this.#http = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }) : createHttpServer();
    this.#http.maxConnections = limits.maxConnections;
    this.#http.headersTimeout = limits.handshakeTimeoutMs;
    this.#http.requestTimeout = limits.handshakeTimeoutMs;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxPacketBytes,
      perMessageDeflate: false,
    });
    this.#http.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => this.#onSocket(socket));
    this.#http.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket', connection: 'close' });
      res.end('This is a NekoConnect WebSocket endpoint: connect with a WebSocket client.\n');
    });
    this.#http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#onUpgrade(req, socket as Socket, head),
    );
    this.#http.on('clientError', (_err, socket: Duplex) => socket.destroy());
    // Over limits.maxConnections, Node closes the socket itself: said like the server's own refusals.
    this.#http.on('drop', (dropped?: { remoteAddress?: string }) =>
      this.#host.refused(
        dropped?.remoteAddress ?? 'unknown',
        `over limits.maxConnections (${this.#limits.maxConnections})`,
        'NEKO_ERR_SERVER_FULL',
      ),
    );
    this.#http.on('tlsClientError', (err: NodeJS.ErrnoException & { reason?: string }, socket: Socket) => {
      // A client gone before any TLS was spoken (a port probe, a reset) is no TLS failure.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      this.#host.refused(
        socket.remoteAddress ?? 'unknown',
        `TLS handshake failed: ${err.reason ?? err.message}`,
        'NEKO_ERR_TLS_HANDSHAKE',
      );
    });
  }

  /**
   * Reads the limits again (they changed live): the connection cap, the
   * upgrade deadline and the largest message, for connections from now on.
   */
  applyLimits(): void {
    const limits = this.#limits;
    this.#http.maxConnections = limits.maxConnections;
    this.#http.headersTimeout = limits.handshakeTimeoutMs;
    this.#http.requestTimeout = limits.handshakeTimeoutMs;
    this.#wss.options.maxPayload = limits.maxPacketBytes;
  }

  /** Serves another certificate and key (`wss://` only): new connections get them, open ones keep theirs. */
  setSecureContext(tls: TlsOptions): void {
    if (this.#kind !== 'wss') return;
    (this.#http as HttpsServer).setSecureContext({ key: tls.key, cert: tls.cert });
  }

  /** Connections still in their HTTP upgrade (the upgraded ones are sessions). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Starts listening; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    await listenOrThrow(this.#http, this.#options.port, this.#options.host, {
      code: 'NEKO_ERR_SERVER_LISTEN',
      what: 'cannot listen for WebSocket on',
      inUse: 'Another process uses this port; pick another with --ws-port.',
    });
    return this.address()!;
  }

  address(): AddressInfo | undefined {
    const address = this.#http.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /** Stops accepting; sockets not yet sessions are closed at once. Resolves when the listener is closed. */
  close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    for (const socket of this.#pending) socket.destroy();
    return stopped;
  }

  /** Cuts every connection still open (the end of a shutdown). */
  destroyAll(): void {
    for (const socket of this.#sockets.keys()) socket.destroy();
  }

  #onSocket(socket: Socket): void {
    const acceptedAt = Date.now();
    this.#sockets.set(socket, acceptedAt);
    this.#pending.add(socket);
    socket.setNoDelay(true);
    // No upgrade within the handshake budget: not a client of ours.
    const timer = setTimeout(() => {
      if (!this.#pending.has(socket)) return;
      this.#host.refused(
        socket.remoteAddress ?? 'unknown',
        `no WebSocket upgrade within ${this.#limits.handshakeTimeoutMs} ms`,
        'NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT',
      );
      socket.destroy();
    }, this.#limits.handshakeTimeoutMs);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.#sockets.delete(socket);
      this.#pending.delete(socket);
    });
  }

  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const address = socket.remoteAddress ?? 'unknown';
    const refuse = (status: number, why: string, code: string): void => {
      this.#host.refused(address, why, code);
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_LINE[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      );
      setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
    };
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== this.#options.path) {
      refuse(
        404,
        `WebSocket upgrade for ${JSON.stringify(path)}, not ${this.#options.path}`,
        'NEKO_ERR_WS_PATH',
      );
      return;
    }
    const origin = req.headers.origin;
    const allowed = this.#options.origins;
    if (allowed !== undefined && origin !== undefined && !allowed.includes(origin)) {
      refuse(
        403,
        `WebSocket upgrade from the origin ${JSON.stringify(origin)}, not allowed`,
        'NEKO_ERR_WS_ORIGIN',
      );
      return;
    }
    if (!this.#host.admits()) {
      refuse(503, `over limits.maxConnections (${this.#limits.maxConnections})`, 'NEKO_ERR_SERVER_FULL');
      return;
    }
    this.#pending.delete(socket);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onWebSocket(ws, socket, address));
  }

  #onWebSocket(ws: WebSocket, socket: Socket, remoteAddress: string): void {
    const connectedAt = this.#sockets.get(socket) ?? Date.now();
    const connection = this.#host.serve(new WebSocketTransport(ws, remoteAddress, this.#kind), connectedAt);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        connection.reject('a text message: NekoConnect frames travel as binary WebSocket messages');
        return;
      }
      const bytes = toBuffer(data);
      const length = bytes.length >= HEADER_LENGTH ? bytes.readUInt32BE(0) : undefined;
      if (length === bytes.length) {
        connection.receive(bytes);
      } else if (length !== undefined && length > bytes.length && length > this.#limits.maxPacketBytes) {
        // A header above the packet limit: judged from its length field alone, as on TCP (413).
        connection.receive(bytes.subarray(0, 4));
      } else {
        connection.reject(
          `a WebSocket message of ${bytes.length} bytes whose frame says ${length ?? 'nothing (too short)'}: one message must hold exactly one frame`,
        );
      }
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // A message above maxPayload, a bad WebSocket frame: the WebSocket layer closes the connection.
      connection.reject(`WebSocket error: ${err.code ?? err.message}`);
    });
    ws.once('close', () => connection.transportClosed());
  }
}

const STATUS_LINE: Readonly<Record<number, string>> = {
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A {@link Transport} over one WebSocket connection: one frame per binary message. */
class WebSocketTransport implements Transport {
  readonly remoteAddress: string;
  readonly kind: 'ws' | 'wss';
  readonly #ws: WebSocket;

  constructor(ws: WebSocket, remoteAddress: string, kind: 'ws' | 'wss') {
    this.#ws = ws;
    this.remoteAddress = remoteAddress;
    this.kind = kind;
  }

  /** What waits to be sent: the WebSocket's own queue and its socket's. */
  get pendingBytes(): number {
    return this.#ws.bufferedAmount;
  }

  write(bytes: Buffer): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(bytes, { binary: true });
  }

  end(): void {
    if (this.#ws.readyState === this.#ws.CLOSED) return;
    this.#ws.close(1000);
    setTimeout(() => this.#ws.terminate(), END_GRACE_MS).unref();
  }

  destroy(): void {
    this.#ws.terminate();
  }
}
