/**
 * The contract between the server and a plugin.
 *
 * A plugin's `Logic.recv(ctx)` receives a {@link Context} for every packet
 * that starts a new handler run. Everything a plugin can do with its client
 * goes through this object. `nekoconnect validate` checks `Logic.recv` against
 * this type, so it lives in this one file.
 */

/** One packet as a plugin sees it: the op code and the data bytes. */
export interface Packet {
  /** The packet's op code, an integer from 0 to 4294967295. Its meaning is the plugin's to define. */
  readonly op: number;
  /** The packet's data bytes (may be empty). */
  readonly data: Buffer;
  /** `data.length`, kept from the original `ctx.len`. */
  readonly len: number;
  /** The data decoded as UTF-8. */
  text(): string;
  /**
   * The data parsed as JSON.
   * @throws NekoError `NEKO_ERR_CONTEXT_JSON` when the data is not valid JSON.
   */
  json<T = unknown>(): T;
}

/** Who is on the other end of the connection. */
export interface SessionInfo {
  /** A server-unique id for the connection, e.g. `s-42`. */
  readonly id: string;
  /** The client's IP address as the socket reports it. */
  readonly remoteAddress: string;
  /** When the connection was accepted, in ms since the epoch. */
  readonly connectedAt: number;
}

/** Options of {@link Context.send}. */
export interface SendOptions {
  /** The op code of the packet sent. Defaults to the op of the packet being handled. */
  op?: number;
}

/** Options of {@link Context.recv}. */
export interface RecvOptions {
  /** How long to wait in ms. Defaults to the server's `recvTimeoutMs` (30 s). */
  timeoutMs?: number;
}

/** Data a plugin may send: bytes, or a string sent as UTF-8. */
export type SendData = Uint8Array | string;

/**
 * What `Logic.recv(ctx)` receives. The packet fields (`op`, `data`, `len`,
 * `text()`, `json()`) describe the packet that started this run.
 */
export interface Context extends Packet {
  /** The greeter of the plugin handling this packet. */
  readonly greeter: string;
  /** The connection this packet came from. */
  readonly session: SessionInfo;
  /**
   * Waits for the next packet this client sends to this plugin. While the
   * plugin waits the server tells the client to continue (status 100).
   * @throws NekoError `NEKO_ERR_CONTEXT_RECV_TIMEOUT` after the timeout,
   *   `NEKO_ERR_CONTEXT_CLOSED` when the connection closes first.
   */
  recv(options?: RecvOptions): Promise<Packet>;
  /**
   * Sends a packet to this client under the plugin's greeter.
   * @returns false when the connection is already closed (nothing is sent); true otherwise.
   */
  send(data: SendData, options?: SendOptions): boolean;
  /** Closes the connection once what was sent has been written. */
  close(): void;
  /** Writes an info line to the server log, tagged with the plugin and session. */
  log(message: string): void;
  /** Writes a warning to the server log. */
  warn(message: string): void;
  /** Writes an error to the server log. */
  error(message: string): void;
}

/**
 * The shape of a plugin's logic class. The loader constructs it once per
 * loaded plugin version with no arguments.
 */
export interface Logic {
  /** Called with a fresh context for each packet that is not taken by a waiting `ctx.recv()`. */
  recv(ctx: Context): void | Promise<void>;
}

/** The constructor a logic module must export under the name `Logic`. */
export type LogicClass = new () => Logic;
