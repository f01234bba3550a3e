import type { Context, Packet, RecvOptions, SendData, SendOptions, SessionInfo } from './context.js';
import { ReceivedPacket } from './packet.js';

/** What a context needs from the run of the handler it belongs to. */
export interface ContextHost {
  readonly greeter: string;
  readonly session: SessionInfo;
  recv(options?: RecvOptions): Promise<Packet>;
  send(data: SendData, op: number): boolean;
  close(): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

/** The {@link Context} handed to `Logic.recv`. */
export class PluginContext extends ReceivedPacket implements Context {
  readonly #host: ContextHost;

  constructor(host: ContextHost, op: number, data: Buffer) {
    super(op, data);
    this.#host = host;
  }

  get greeter(): string {
    return this.#host.greeter;
  }

  get session(): SessionInfo {
    return this.#host.session;
  }

  recv(options?: RecvOptions): Promise<Packet> {
    return this.#host.recv(options);
  }

  send(data: SendData, options?: SendOptions): boolean {
    return this.#host.send(data, options?.op ?? this.op);
  }

  close(): void {
    this.#host.close();
  }

  log(message: string): void {
    this.#host.log('info', message);
  }

  warn(message: string): void {
    this.#host.log('warn', message);
  }

  error(message: string): void {
    this.#host.log('error', message);
  }
}
