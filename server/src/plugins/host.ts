import type { Bus, GoneSession } from '../cluster/bus.js';
import { MemoryPresenceStore } from '../cluster/memory-presence.js';
import type { Presence, PresenceStore } from '../cluster/presence.js';
import type { Logic, PluginContext, PluginSession, SendData, SendToResult } from '../context/context.js';
import {
  MemberScope,
  PluginScope,
  type Member,
  type MemberTarget,
  type PluginHostView,
} from '../context/scopes.js';
import type { LogLevel, Logger } from '../logging/logger.js';
import type { ManagedDatabase } from '../storage/database.js';
import type { LoadedPlugin } from './loader.js';
import { PluginStats } from './stats.js';

type HookName =
  'onLoad' | 'onUnload' | 'onJoin' | 'onLeave' | 'onDisconnect' | 'onReconnect' | 'onSessionGone';

/**
 * A plugin serving its greeter, as the server lists it (`server.plugins()`,
 * `server.route()`, `server.pluginStatuses()`): a live view, which follows
 * reloads (the same object, with a new `version` and `plugin`).
 */
export interface ServedPlugin {
  readonly greeter: string;
  /** The version that new handler runs use: its folder, spec.conf and logic. */
  readonly plugin: LoadedPlugin;
  /** Its number: 1 for the first, one more per reload. */
  readonly version: number;
  /** The plugin's database (`ctx.db`), for reading: the server opens and closes it. */
  readonly db: Omit<ManagedDatabase, 'close'>;
  /** Packets, failures and latency since the server started; they carry over across reloads. */
  readonly stats: PluginStats;
  /** How many sessions have talked to the plugin and are still connected. */
  readonly sessionCount: number;
  /** Those sessions, each with the plugin's `ctx.state` for it. */
  sessions(): PluginSession[];
  /** The plugin's groups (`ctx.group(name)`) that have members, each with its session ids in the order added. */
  groups(): { readonly name: string; readonly members: readonly string[] }[];
}

/**
 * The server's side of one plugin, by greeter: the version loaded now, its
 * database, and the sessions that have talked to it (with their state).
 * All of it except the version outlives a reload, so `ctx.state` and the
 * database carry over when a new version is swapped in. Each version has a
 * number (1 for the first, one more for each reload), so logs can say which
 * code answered.
 */
export class PluginHost implements PluginHostView, ServedPlugin {
  readonly greeter: string;
  readonly db: ManagedDatabase;
  /** The plugin-wide context handed to `onLoad`/`onUnload`. */
  readonly context: PluginContext;
  /** Packets, failures and latency since the server started; they carry over across reloads. */
  readonly stats = new PluginStats();
  readonly #logger: Logger;
  readonly #members = new Map<string, Member>();
  /** The plugin's groups (`ctx.group(name)`), by name: member session ids in the order added. */
  readonly #groups = new Map<string, Set<string>>();
  /** The cluster bus, when the server is one process of a cluster: sessions of other processes are reached through it. */
  readonly #cluster: Bus | undefined;
  /** The server's presence store (`ctx.presence`); a store of its own for a host made without one (tests). */
  readonly #presence: PresenceStore;
  #plugin: LoadedPlugin;
  #version: number;

  constructor(
    plugin: LoadedPlugin,
    db: ManagedDatabase,
    logger: Logger,
    version = 1,
    cluster?: Bus,
    presence: PresenceStore = new MemoryPresenceStore(),
  ) {
    this.greeter = plugin.spec.greeter;
    this.#presence = presence;
    this.#cluster = cluster;
    this.db = db;
    this.#plugin = plugin;
    this.#version = version;
    this.#logger = logger;
    this.context = new PluginScope(this);
    this.stats.declare(plugin.ops ?? []);
  }

  /** The plugin version that new handler runs use. */
  get plugin(): LoadedPlugin {
    return this.#plugin;
  }

  /** The number of the version that new handler runs use: 1 for the first, one more per reload. */
  get version(): number {
    return this.#version;
  }

  /** How many sessions have talked to the plugin and are still connected. */
  get sessionCount(): number {
    return this.#members.size;
  }

  /** How long a dropped session of this plugin waits for its client (`$grace`), in ms; 0: it ends at the drop. */
  get graceMs(): number {
    return this.#plugin.spec.graceMs;
  }

  /** Runs the version's `onLoad` hook. */
  load(): Promise<void> {
    return this.#hook(this.#plugin.logic, 'onLoad', this.context);
  }

  /** Runs the version's `onUnload` hook, then ends the plugin's presence subscriptions (the next version subscribes anew). */
  async unload(): Promise<void> {
    await this.#hook(this.#plugin.logic, 'onUnload', this.context);
    await this.#presence.endSubscriptions(this.greeter);
  }

  /**
   * Swaps in a new version of the plugin: the old one's `onUnload` runs,
   * then the new one's `onLoad`. Members, their state and the database stay;
   * handler runs already going finish on the version they started on.
   *
   * @param version the new version's number; default one more than now
   */
  async replace(plugin: LoadedPlugin, version = this.#version + 1): Promise<void> {
    await this.unload();
    this.#plugin = plugin;
    this.#version = version;
    this.stats.declare(plugin.ops ?? []);
    await this.load();
  }

  /**
   * Takes the plugin down for good (its folder was removed): forgets its
   * members, so their `onLeave` does not run after `onUnload`, then runs
   * `onUnload`.
   */
  async retire(): Promise<void> {
    if (this.#cluster) for (const id of this.#members.keys()) await this.#cluster.left(this.greeter, id);
    for (const id of this.#members.keys()) await this.#dropOwned(id);
    this.#members.clear();
    this.#groups.clear();
    return this.unload();
  }

  /** The member record of a session, if it has talked to this plugin. */
  member(sessionId: string): Member | undefined {
    return this.#members.get(sessionId);
  }

  /** A session's first packet to this plugin: records it and runs `onJoin`. */
  async join(target: MemberTarget): Promise<Member> {
    const member: Member = { target, state: {} };
    this.#members.set(target.info.id, member);
    if (this.#cluster) await this.#cluster.joined(this.greeter, target.info.id);
    await this.#hook(this.#plugin.logic, 'onJoin', new MemberScope(this, member), target.info.id);
    return member;
  }

  /** A member's connection closed: forgets it, takes it out of its groups, then runs `onLeave`. */
  async leave(sessionId: string): Promise<void> {
    const member = this.#members.get(sessionId);
    if (!member) return;
    this.#members.delete(sessionId);
    for (const [name, group] of this.#groups) {
      if (group.delete(sessionId) && group.size === 0) this.#groups.delete(name);
    }
    if (this.#cluster) await this.#cluster.left(this.greeter, sessionId);
    await this.#hook(this.#plugin.logic, 'onLeave', new MemberScope(this, member), sessionId);
    await this.#dropOwned(sessionId);
  }

  /** Removes what the session owns in this plugin's presence (`owner: 'session'`), after `onLeave` could read it. */
  async #dropOwned(sessionId: string): Promise<void> {
    try {
      await this.#presence.dropSession(sessionId, { greeter: this.greeter });
    } catch (err) {
      this.#logger.warn(
        `presence: the entries session ${sessionId} owned could not be removed: ${err instanceof Error ? err.message : String(err)}`,
        { plugin: this.greeter, session: sessionId, code: (err as { code?: string }).code, error: err },
      );
    }
  }

  /**
   * A session of another process of the cluster is gone with its process
   * (the sweep found its heartbeat expired): runs `onSessionGone`.
   */
  sessionGone(gone: GoneSession): Promise<void> {
    return this.#hook(this.#plugin.logic, 'onSessionGone', this.context, undefined, {
      sessionId: gone.sessionId,
      processId: gone.processId,
      ...(gone.hostname === undefined ? {} : { hostname: gone.hostname }),
      reason: 'process-gone' as const,
    });
  }

  /** What the plugin keeps for a session of this process (its `ctx.state`, its groups), for a handover to another process. */
  keptFor(sessionId: string): { state: Record<string, unknown>; groups: string[] } | undefined {
    const member = this.#members.get(sessionId);
    if (!member) return undefined;
    const groups: string[] = [];
    for (const [name, group] of this.#groups) if (group.has(sessionId)) groups.push(name);
    return { state: member.state, groups };
  }

  /**
   * The session moved to another process of the cluster (its client resumed
   * there): forgotten here without `onLeave`, and without touching its
   * entries in the cluster, which its new process takes over.
   */
  moveOut(sessionId: string): void {
    if (!this.#members.delete(sessionId)) return;
    for (const [name, group] of this.#groups) {
      if (group.delete(sessionId) && group.size === 0) this.#groups.delete(name);
    }
  }

  /**
   * A session moved here from another process of the cluster: a member
   * again with the state and groups it had there (no `onJoin`: it resumes).
   * It is a member here at once; resolves once the cluster routes to this process.
   */
  async moveIn(
    target: MemberTarget,
    state: Record<string, unknown>,
    groups: readonly string[],
  ): Promise<void> {
    const id = target.info.id;
    this.#members.set(id, { target, state });
    for (const name of groups) this.#localGroupAdd(name, id);
    if (!this.#cluster) return;
    await this.#cluster.joined(this.greeter, id);
    for (const name of groups) await this.#cluster.groupJoined(this.greeter, name, id);
  }

  /** A member's connection dropped and it waits for its client to resume it: runs `onDisconnect`. */
  async disconnect(sessionId: string): Promise<void> {
    const member = this.#members.get(sessionId);
    if (!member) return;
    await this.#hook(this.#plugin.logic, 'onDisconnect', new MemberScope(this, member), sessionId);
  }

  /** A member resumed on a new connection (what was kept for it is sent): runs `onReconnect`. */
  async reconnect(sessionId: string): Promise<void> {
    const member = this.#members.get(sessionId);
    if (!member) return;
    await this.#hook(this.#plugin.logic, 'onReconnect', new MemberScope(this, member), sessionId);
  }

  // --- PluginHostView ---

  presence(sessionId?: string): Presence {
    return this.#presence.forPlugin(this.greeter, sessionId);
  }

  broadcast(data: SendData, op: number, except: ReadonlySet<string>): number {
    let sent = 0;
    for (const [id, member] of this.#members) {
      if (except.has(id)) continue;
      if (member.target.send(this.greeter, op, data)) sent++;
    }
    this.stats.sentPackets(op, sent);
    this.#cluster?.broadcast(this.greeter, op, data, except);
    return sent;
  }

  sendTo(sessionId: string, data: SendData, op: number): SendToResult | Promise<SendToResult> {
    const member = this.#members.get(sessionId);
    if (member === undefined && this.#cluster) return this.#clusterSendTo(sessionId, data, op);
    if (!member?.target.send(this.greeter, op, data)) return 'gone';
    this.stats.sentPackets(op, 1);
    return member.target.connected ? 'delivered' : 'queued';
  }

  async #clusterSendTo(sessionId: string, data: SendData, op: number): Promise<SendToResult> {
    const result = await this.#cluster!.sendTo(this.greeter, sessionId, op, data);
    if (result !== 'gone') this.stats.sentPackets(op, 1);
    return result;
  }

  // --- what other processes of the cluster ask (through the bus) ---

  /** Delivers another process's broadcast (or group broadcast) to this process's sessions of the plugin. */
  deliverFromCluster(
    op: number,
    data: Uint8Array,
    except: ReadonlySet<string>,
    group: string | undefined,
  ): number {
    let sent = 0;
    if (group === undefined) {
      for (const [id, member] of this.#members) {
        if (!except.has(id) && member.target.send(this.greeter, op, data)) sent++;
      }
    } else {
      for (const id of this.#groups.get(group) ?? []) {
        if (!except.has(id) && this.#members.get(id)?.target.send(this.greeter, op, data)) sent++;
      }
    }
    this.stats.sentPackets(op, sent);
    return sent;
  }

  /** Another process's direct message for a session of this process. */
  sendToFromCluster(sessionId: string, op: number, data: Uint8Array): SendToResult {
    const member = this.#members.get(sessionId);
    if (!member?.target.send(this.greeter, op, data)) return 'gone';
    this.stats.sentPackets(op, 1);
    return member.target.connected ? 'delivered' : 'queued';
  }

  sent(op: number): void {
    this.stats.sentPackets(op, 1);
  }

  groupAdd(name: string, sessionId: string): boolean | Promise<boolean> {
    if (this.#cluster) return this.#clusterGroupAdd(name, sessionId);
    return this.#localGroupAdd(name, sessionId);
  }

  /** In a cluster: a session of this process joins the group here and in Redis; another's is added by its process. */
  async #clusterGroupAdd(name: string, sessionId: string): Promise<boolean> {
    if (!this.#localGroupAdd(name, sessionId)) {
      return this.#cluster!.groupRemote(this.greeter, 'add', name, sessionId);
    }
    await this.#cluster!.groupJoined(this.greeter, name, sessionId);
    return true;
  }

  /** A group change asked by another process, for a session of this one. */
  async groupFromCluster(action: 'add' | 'remove', name: string, sessionId: string): Promise<boolean> {
    if (!this.#members.has(sessionId)) return false;
    if (action === 'add') return this.#clusterGroupAdd(name, sessionId);
    this.#localGroupRemove(name, sessionId);
    return this.#cluster!.groupLeft(this.greeter, name, sessionId);
  }

  #localGroupAdd(name: string, sessionId: string): boolean {
    if (!this.#members.has(sessionId)) return false;
    let group = this.#groups.get(name);
    if (!group) {
      group = new Set();
      this.#groups.set(name, group);
    }
    group.add(sessionId);
    return true;
  }

  groupRemove(name: string, sessionId: string): boolean | Promise<boolean> {
    if (!this.#cluster) return this.#localGroupRemove(name, sessionId);
    if (!this.#members.has(sessionId))
      return this.#cluster.groupRemote(this.greeter, 'remove', name, sessionId);
    this.#localGroupRemove(name, sessionId);
    return this.#cluster.groupLeft(this.greeter, name, sessionId);
  }

  #localGroupRemove(name: string, sessionId: string): boolean {
    const group = this.#groups.get(name);
    if (!group?.delete(sessionId)) return false;
    if (group.size === 0) this.#groups.delete(name);
    return true;
  }

  groupMembers(name: string): string[] | Promise<string[]> {
    if (this.#cluster) return this.#cluster.groupMembers(this.greeter, name);
    return [...(this.#groups.get(name) ?? [])];
  }

  groupBroadcast(name: string, data: SendData, op: number, except: ReadonlySet<string>): number {
    let sent = 0;
    for (const id of this.#groups.get(name) ?? []) {
      if (except.has(id)) continue;
      if (this.#members.get(id)?.target.send(this.greeter, op, data)) sent++;
    }
    this.stats.sentPackets(op, sent);
    this.#cluster?.broadcast(this.greeter, op, data, except, name);
    return sent;
  }

  groups(): { readonly name: string; readonly members: readonly string[] }[] {
    return [...this.#groups].map(([name, members]) => ({ name, members: [...members] }));
  }

  sessions(): PluginSession[] {
    return [...this.#members.values()].map((m) => ({ ...m.target.info, state: m.state }));
  }

  log(level: LogLevel, message: string, session?: string): void {
    this.#logger[level](
      message,
      session === undefined ? { plugin: this.greeter } : { plugin: this.greeter, session },
    );
  }

  /**
   * Runs a lifecycle hook if the logic has it. A hook that throws or rejects
   * is logged with the plugin's name; it never fails the caller.
   */
  async #hook<A>(logic: Logic, name: HookName, arg: A, session?: string, second?: unknown): Promise<void> {
    const hook = (logic as unknown as Record<HookName, ((a: A, b?: unknown) => unknown) | undefined>)[name];
    if (typeof hook !== 'function') return;
    try {
      await (second === undefined ? hook.call(logic, arg) : hook.call(logic, arg, second));
    } catch (err) {
      const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
      this.#logger.error(`${this.#plugin.spec.name}: ${name} failed: ${detail}`, {
        plugin: this.greeter,
        ...(session === undefined ? {} : { session }),
        code: 'NEKO_ERR_PLUGIN_HOOK',
        error: err,
      });
    }
  }
}
