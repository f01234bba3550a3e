/**
 * The contract between the server and a plugin.
 *
 * A plugin's `Logic.recv(ctx)` receives a {@link Context} for every packet
 * that starts a new handler run. Everything a plugin can do with its client
 * goes through this object. `nekoconnect validate` checks `Logic.recv` against
 * this type, so it lives in this one file, with the two views it shares with
 * lower layers re-exported here: `Packet` (protocol/packet.ts, also the base
 * of the client SDK's packets) and `SessionInfo` (session/info.ts).
 */

import type { Packet } from '../protocol/packet.js';
import type { SessionInfo } from '../session/info.js';
import type { PluginDatabase } from '../storage/database.js';
import type {
  JsonValue,
  Presence,
  PresenceHandler,
  PresenceOwnerOptions,
  PresenceSetOptions,
} from '../cluster/presence.js';

export type {
  Packet,
  SessionInfo,
  JsonValue,
  Presence,
  PresenceHandler,
  PresenceOwnerOptions,
  PresenceSetOptions,
};

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

/** Options of {@link PluginContext.broadcast}. */
export interface BroadcastOptions {
  /** The op code of the packets sent. Defaults to the op of the packet being handled, or 0 outside a packet. */
  op?: number;
  /** Session ids to leave out, e.g. `ctx.session.id` to reach everyone else. */
  except?: string | readonly string[];
}

/** Options of {@link PluginContext.sendTo}. */
export interface SendToOptions {
  /** The op code of the packet sent. Defaults to the op of the packet being handled, or 0 outside a packet. */
  op?: number;
}

/**
 * What became of a direct message ({@link PluginContext.sendTo}):
 * `'delivered'` it was sent to the session's connection; `'queued'` the
 * session's connection dropped and it waits for its client to resume it
 * (its grace period, see {@link Logic.onDisconnect}): the packet is kept and
 * sent first thing on resume; `'gone'` the session is not (or no longer)
 * one of this plugin's.
 */
export type SendToResult = 'delivered' | 'queued' | 'gone';

/**
 * A named set of this plugin's sessions (a room), from
 * {@link PluginContext.group}. Groups belong to the plugin: they outlive a
 * reload, and a session leaves every group when it leaves the plugin (before
 * `onLeave` runs). `add`, `remove` and `members` return promises so that a
 * clustered server can keep them elsewhere without changing plugins: in a
 * cluster the membership lives in Redis, a session of any process can be
 * added, and `members()` lists them all; those calls reject with
 * `NEKO_ERR_CLUSTER_UNREACHABLE` while Redis does not answer (adding or
 * removing a session of this process still works, and reaches Redis when
 * it is back).
 */
export interface Group {
  /** The group's name. */
  readonly name: string;
  /**
   * Puts a session of this plugin in the group.
   * @returns true when it is in the group now (also when it already was);
   *   false when no such session of this plugin is connected (nothing changes).
   */
  add(sessionId: string): Promise<boolean>;
  /** Takes a session out of the group. @returns whether it was in it. */
  remove(sessionId: string): Promise<boolean>;
  /** The ids of the sessions in the group, in the order they were added. */
  members(): Promise<string[]>;
  /**
   * Sends a packet under the plugin's greeter to every session of the group
   * on this server (minus `except`), like {@link PluginContext.broadcast};
   * in a cluster, to its members on every process.
   * @returns how many local sessions it was sent to.
   */
  broadcast(data: SendData, options?: BroadcastOptions): number;
}

/**
 * Per-session data a plugin keeps for one client: anything you like, e.g.
 * `ctx.state.nick = 'mimi'`. The server owns it, one object per session and
 * plugin, so it outlives a plugin reload; it is gone when the session ends.
 *
 * Keep it JSON-serialisable (plain objects, arrays, strings, finite numbers,
 * booleans, null): a later clustered server moves it between processes, and
 * functions, class instances, Maps, Sets, Dates or cycles would not survive.
 * {@link Context} takes a type for it.
 */
export type SessionState = Record<string, unknown>;

/** A session as its plugin knows it: who it is, and the plugin's state for it (typed `State`, see {@link Context}). */
export interface PluginSession<State extends object = SessionState> extends SessionInfo {
  readonly state: State;
}

/**
 * What a plugin can do regardless of any one client: its database, pushing
 * to every session it serves, and logging. The lifecycle hooks
 * `onLoad`/`onUnload` receive this.
 */
export interface PluginContext<State extends object = SessionState> {
  /** The plugin's greeter. */
  readonly greeter: string;
  /**
   * The plugin's own database (nedb queries): `insert`, `find`, `findOne`,
   * `update`, `remove`, `count`. A write whose promise resolved is in the data file.
   */
  readonly db: PluginDatabase;
  /** The value of a key-value cell (the original `db_get`), or undefined when never stored. */
  dbGet<T = unknown>(cell: string): Promise<T | undefined>;
  /** Stores a JSON value in a key-value cell (the original `db_store`). */
  dbStore(cell: string, value: unknown): Promise<void>;
  /**
   * Adds `by` (default 1) to the number in a key-value cell, atomically,
   * and resolves with the new value; a cell never stored counts as 0.
   * Concurrent increments lose nothing, also from several servers on one
   * PostgreSQL database. A cell holding anything but a number is refused
   * (`NEKO_ERR_STORAGE_CELL`).
   */
  dbIncr(cell: string, by?: number): Promise<number>;
  /**
   * The plugin's presence: shared, short-lived state (keys with a TTL,
   * counters, hashes, sets) and publish/subscribe on the plugin's own
   * channels, every call awaitable. In memory on one process; in Redis,
   * shared by every process, in a cluster. `{ owner: 'session' }` (from a
   * context with a session) ties an entry to the session: it is removed
   * when the session leaves the plugin or its process dies.
   * See docs/plugins.md, "Presence".
   */
  readonly presence: Presence;
  /**
   * Sends a packet under the plugin's greeter to every session that has
   * talked to this plugin and is still connected (minus `except`); a
   * resumable session waiting for its client keeps it for the resume.
   * Each packet follows the protocol for its client (fresh random, `H` of
   * that client's newest verified random).
   *
   * In a cluster it reaches the plugin's sessions on every process:
   * delivered here at once, then published to the others, which deliver in
   * the order this process published (`except` counts everywhere).
   * @returns how many sessions of this process it was sent to.
   */
  broadcast(data: SendData, options?: BroadcastOptions): number;
  /**
   * Sends a packet under the plugin's greeter to one session of this plugin
   * (a direct message), by its id (`ctx.session.id`, `ctx.sessions()[i].id`).
   * In a cluster, a session of another process is reached through the
   * process that holds it, which acknowledges; without its answer within
   * `cluster.sendToTimeoutMs` (2 s) the result is `'gone'`.
   * @returns a promise of `'delivered'`; `'queued'` when that session waits
   *   for its client to resume it (the packet is kept for it); `'gone'` when
   *   it is not connected to this plugin (nothing is sent; it never rejects for that).
   * @throws (rejects) NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` in a cluster
   *   whose Redis does not answer, for a session not of this process
   */
  sendTo(sessionId: string, data: SendData, options?: SendToOptions): Promise<SendToResult>;
  /**
   * The group (room) of this plugin with that name; it exists as soon as it
   * is named, empty at first. The same name gives the same group, from any
   * context of this plugin, across reloads.
   */
  group(name: string): Group;
  /** The sessions that have talked to this plugin and are still connected, each with this plugin's state for it. */
  sessions(): PluginSession<State>[];
  /** Writes an info line to the server log, tagged with the plugin. */
  log(message: string): void;
  /** Writes a warning to the server log. */
  warn(message: string): void;
  /** Writes an error to the server log. */
  error(message: string): void;
}

/**
 * A plugin and one client: everything of {@link PluginContext}, plus who the
 * client is, its state, and sending to it. The hooks `onJoin`/`onLeave`
 * receive this.
 */
export interface SessionContext<State extends object = SessionState> extends PluginContext<State> {
  /** The connection this is about. */
  readonly session: SessionInfo;
  /** This plugin's data for this session (JSON-serialisable, see {@link SessionState}). */
  readonly state: State;
  /**
   * Sends a packet to this client under the plugin's greeter. While a
   * resumable session waits for its client (between `onDisconnect` and
   * `onReconnect`), the packet is kept and sent first thing on resume.
   * @returns false when the session is over (nothing is sent); it never throws for that.
   */
  send(data: SendData, options?: SendOptions): boolean;
  /** Closes the connection once what was sent has been written. */
  close(): void;
}

/**
 * What `Logic.recv(ctx)` receives. The packet fields (`op`, `data`, `len`,
 * `text()`, `json()`) describe the packet that started this run.
 *
 * `State` types `ctx.state` (and the states of `ctx.sessions()`), e.g.
 * `recv(ctx: Context<{ opponent?: string }>)`; without it the state is a
 * `Record<string, unknown>`. The server does not check it: the state of a
 * session starts as `{}`, so make fields that are set later optional.
 */
export interface Context<State extends object = SessionState> extends Packet, SessionContext<State> {
  /**
   * Waits for the next packet this client sends to this plugin. While the
   * plugin waits the server tells the client to continue (status 100).
   * @throws NekoError `NEKO_ERR_CONTEXT_RECV_TIMEOUT` after the timeout,
   *   `NEKO_ERR_CONTEXT_CLOSED` when the connection closes first.
   */
  recv(options?: RecvOptions): Promise<Packet>;
}

/**
 * The shape of a plugin's logic class. The loader constructs it once per
 * loaded plugin version with no arguments. Only `recv` is required; the
 * hooks are optional. A hook that throws or rejects is logged with the
 * plugin's name; the server goes on.
 */
export interface Logic {
  /** Called with a fresh context for each packet that is not taken by a waiting `ctx.recv()`. */
  recv(ctx: Context): void | Promise<void>;
  /** The plugin version was loaded, before it receives any packet (e.g. start a game tick timer). */
  onLoad?(plugin: PluginContext): void | Promise<void>;
  /** The plugin version is being unloaded: on shutdown, and before a reload replaces it (stop timers here). */
  onUnload?(plugin: PluginContext): void | Promise<void>;
  /** A session sent its first packet to this plugin; runs before that packet is handled. */
  onJoin?(ctx: SessionContext): void | Promise<void>;
  /**
   * A session that had joined is gone for good: its connection closed, or,
   * for a resumable session, its grace period ended without a resume.
   * `ctx.send` returns false by now; broadcast reaches the others.
   */
  onLeave?(ctx: SessionContext): void | Promise<void>;
  /**
   * A resumable session's connection dropped (the plugin's spec.conf has a
   * `$grace` and the client asked for a resume token): the session stays,
   * with its state and groups, and what is sent to it meanwhile is kept for
   * its client (`ctx.send` returns true, `sendTo` gives `'queued'`).
   * `onReconnect` follows if the client comes back within the grace
   * period, `onLeave` if not.
   */
  onDisconnect?(ctx: SessionContext): void | Promise<void>;
  /** A dropped session resumed on a new connection; what was kept for it was sent first. */
  onReconnect?(ctx: SessionContext): void | Promise<void>;
  /**
   * In a cluster only: a session of another process is gone because that
   * whole process died (its heartbeat expired), so its own `onLeave` never
   * ran. One surviving process runs this once per session of this plugin,
   * before the session's owned presence entries are removed (so the hook
   * can still read them), then removes them. The session is no longer
   * anyone's: `sendTo` gives `'gone'`, it is out of every group.
   * A session that ends on a process that lives gets `onLeave` there instead.
   */
  onSessionGone?(plugin: PluginContext, gone: SessionGone): void | Promise<void>;
}

/** What {@link Logic.onSessionGone} is told about a session whose process died. */
export interface SessionGone {
  readonly sessionId: string;
  /** The id of the process that held it (each process of a cluster has a random one). */
  readonly processId: string;
  /** The host that process ran on, when known. */
  readonly hostname?: string;
  readonly reason: 'process-gone';
}

/** The constructor a logic module must export under the name `Logic`. */
export type LogicClass = new () => Logic;
