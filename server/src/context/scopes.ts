import { NekoError } from '../errors.js';
import type { LogLevel } from '../logging/logger.js';
import { isValidOp } from '../protocol/frame.js';
import type { PluginDatabase } from '../storage/database.js';
import type { Presence } from '../cluster/presence.js';
import type {
  BroadcastOptions,
  Context,
  Group,
  Packet,
  PluginContext,
  PluginSession,
  RecvOptions,
  SendData,
  SendOptions,
  SendToOptions,
  SendToResult,
  SessionContext,
  SessionInfo,
  SessionState,
} from './context.js';
import { packetJson, packetText } from '../protocol/packet.js';

/** What the plugin-wide context needs from the server's side of a plugin. */
export interface PluginHostView {
  readonly greeter: string;
  readonly db: PluginDatabase;
  /** The plugin's presence, as the session `sessionId` writes it (owner: 'session'), or as the plugin's. */
  presence(sessionId?: string): Presence;
  broadcast(data: SendData, op: number, except: ReadonlySet<string>): number;
  /** A promise in a cluster, for a session of another process. */
  sendTo(sessionId: string, data: SendData, op: number): SendToResult | Promise<SendToResult>;
  /** Promises in a cluster, where groups live in Redis. */
  groupAdd(name: string, sessionId: string): boolean | Promise<boolean>;
  groupRemove(name: string, sessionId: string): boolean | Promise<boolean>;
  groupMembers(name: string): string[] | Promise<string[]>;
  groupBroadcast(name: string, data: SendData, op: number, except: ReadonlySet<string>): number;
  sessions(): PluginSession[];
  log(level: LogLevel, message: string, session?: string): void;
  /** Counts one packet of `op` sent to a session through its context (`ctx.send`). */
  sent(op: number): void;
}

/** A connection as a plugin's session context reaches it. */
export interface MemberTarget {
  readonly info: SessionInfo;
  /** False while the session waits for its client to resume it: what is sent to it is kept. */
  readonly connected: boolean;
  send(greeter: string, op: number, data: SendData): boolean;
  close(): void;
}

/** One session of one plugin: its connection and the plugin's state for it. */
export interface Member {
  readonly target: MemberTarget;
  readonly state: SessionState;
}

/** Refuses an op that cannot travel, in the plugin's terms. */
export function checkOp(op: number, what: string): number {
  if (!isValidOp(op)) {
    throw new NekoError(
      'NEKO_ERR_CONTEXT_BAD_OP',
      `${what}: op ${String(op)} is not an integer from 0 to 4294967295`,
    );
  }
  return op;
}

function exceptSet(except: BroadcastOptions['except']): ReadonlySet<string> {
  if (except === undefined) return EMPTY;
  return new Set(typeof except === 'string' ? [except] : except);
}

const EMPTY: ReadonlySet<string> = new Set();

/** {@link PluginContext}: the plugin-wide context of the `onLoad`/`onUnload` hooks. */
export class PluginScope implements PluginContext {
  protected readonly host: PluginHostView;
  #presence: Presence | undefined;

  constructor(host: PluginHostView) {
    this.host = host;
  }

  get greeter(): string {
    return this.host.greeter;
  }

  get db(): PluginDatabase {
    return this.host.db;
  }

  dbGet<T = unknown>(cell: string): Promise<T | undefined> {
    return this.host.db.get<T>(cell);
  }

  dbStore(cell: string, value: unknown): Promise<void> {
    return this.host.db.set(cell, value);
  }

  dbIncr(cell: string, by?: number): Promise<number> {
    return this.host.db.incr(cell, by);
  }

  get presence(): Presence {
    // Made on first use: a packet whose handler never touches presence costs nothing.
    this.#presence ??= this.host.presence(this.sessionId());
    return this.#presence;
  }

  broadcast(data: SendData, options?: BroadcastOptions): number {
    const op = checkOp(options?.op ?? this.defaultOp(), 'broadcast');
    return this.host.broadcast(data, op, exceptSet(options?.except));
  }

  sendTo(sessionId: string, data: SendData, options?: SendToOptions): Promise<SendToResult> {
    const op = checkOp(options?.op ?? this.defaultOp(), 'sendTo');
    return Promise.resolve(this.host.sendTo(sessionId, data, op));
  }

  group(name: string): Group {
    const host = this.host;
    const defaultOp = (): number => this.defaultOp();
    return {
      name,
      add: (sessionId) => Promise.resolve(host.groupAdd(name, sessionId)),
      remove: (sessionId) => Promise.resolve(host.groupRemove(name, sessionId)),
      members: () => Promise.resolve(host.groupMembers(name)),
      broadcast: (data, options) => {
        const op = checkOp(options?.op ?? defaultOp(), 'group broadcast');
        return host.groupBroadcast(name, data, op, exceptSet(options?.except));
      },
    };
  }

  sessions(): PluginSession[] {
    return this.host.sessions();
  }

  log(message: string): void {
    this.host.log('info', message, this.sessionId());
  }

  warn(message: string): void {
    this.host.log('warn', message, this.sessionId());
  }

  error(message: string): void {
    this.host.log('error', message, this.sessionId());
  }

  /** The op used when none is given. */
  protected defaultOp(): number {
    return 0;
  }

  /** The session log lines are tagged with. */
  protected sessionId(): string | undefined {
    return undefined;
  }
}

/** {@link SessionContext}: a plugin and one client, for the `onJoin`/`onLeave` hooks. */
export class MemberScope extends PluginScope implements SessionContext {
  protected readonly member: Member;

  constructor(host: PluginHostView, member: Member) {
    super(host);
    this.member = member;
  }

  get session(): SessionInfo {
    return this.member.target.info;
  }

  get state(): SessionState {
    return this.member.state;
  }

  send(data: SendData, options?: SendOptions): boolean {
    const op = checkOp(options?.op ?? this.defaultOp(), 'send');
    if (!this.member.target.send(this.host.greeter, op, data)) return false;
    this.host.sent(op);
    return true;
  }

  close(): void {
    this.member.target.close();
  }

  protected override sessionId(): string {
    return this.member.target.info.id;
  }
}

/** What a packet context needs from its handler run. */
export interface RunView {
  recv(options?: RecvOptions): Promise<Packet>;
}

/** {@link Context}: the packet that started a handler run, in its plugin and session. */
export class PacketContext extends MemberScope implements Context {
  readonly op: number;
  readonly data: Buffer;
  readonly #run: RunView;

  constructor(host: PluginHostView, member: Member, run: RunView, op: number, data: Buffer) {
    super(host, member);
    this.#run = run;
    this.op = op;
    this.data = data;
  }

  get len(): number {
    return this.data.length;
  }

  text(): string {
    return packetText(this.data);
  }

  json<T = unknown>(): T {
    return packetJson<T>(this.data);
  }

  recv(options?: RecvOptions): Promise<Packet> {
    return this.#run.recv(options);
  }

  protected override defaultOp(): number {
    return this.op;
  }
}
