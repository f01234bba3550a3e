import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { Bus, GoneSession } from '../cluster/bus.js';
import { ipcEndpoint } from '../cluster/ipc-channel.js';
import { IpcBus } from '../cluster/ipc-bus.js';
import { IpcPresenceStore } from '../cluster/ipc-presence.js';
import { MemoryPresenceStore } from '../cluster/memory-presence.js';
import type { PresenceCounters, PresenceStore } from '../cluster/presence.js';
import { RedisBus } from '../cluster/redis-bus.js';
import { RedisPresenceStore } from '../cluster/redis-presence.js';
import { NekoError } from '../errors.js';
import { errorMessage } from '../format.js';
import { Logger } from '../logging/logger.js';
import {
  PluginRegistry,
  type PluginReload,
  type PluginStatus,
  type PluginsReport,
} from '../plugins/registry.js';
import type { PluginHost, ServedPlugin } from '../plugins/host.js';
import { Router, type GreeterRoute } from '../plugins/router.js';
import type { PluginDatabase } from '../storage/database.js';
import { TimedStorage, type StorageTimings } from '../plugins/timed-storage.js';
import { selectStorageBackend } from '../storage/select.js';
import { Hasher } from '../protocol/hash.js';
import { Status } from '../protocol/status.js';
import type { SessionState } from '../session/session.js';
import type { Transport } from '../session/transport.js';
import { Connection, type ConnectionContext, type ServerConnection } from './connection.js';
import {
  resolveServerOptions,
  type ResolvedServerOptions,
  type ResolvedWebSocketOptions,
  type ServerOptions,
  type TlsOptions,
} from './options.js';
import { LIMIT_KEYS, LIMIT_RANGES, inRange, type Limits } from './limits.js';
import { closedWhileStarting, listenOrThrow } from './listen.js';
import { TcpTransport } from './tcp-transport.js';
import { WebSocketListener } from './websocket.js';
import type { SessionLink } from './link.js';
import { Resumption } from './resumption.js';
import { encodeHandover, type SessionHandover } from './handover.js';

/** One connection as {@link NekoServer.sessions} lists it. */
export interface SessionSummary {
  readonly id: string;
  readonly remoteAddress: string;
  /** When the connection was accepted, in ms since the epoch. */
  readonly connectedAt: number;
  /** What carries it: `tcp`, `tls`, `ws`, `wss`, `memory` (the test harness), `custom`. */
  readonly transport: string;
  /** The user of a client that authenticated with a per-user token (protocol §15). */
  readonly user?: string;
  /**
   * `handshake`, `open`, `closed`; or `detached`: its connection dropped and
   * it waits for its client to resume it (protocol §14).
   */
  readonly state: SessionState | 'detached';
  /** The greeters of the plugins the session has talked to. */
  readonly plugins: readonly string[];
  /** Authentic packets received from the client. */
  readonly packetsIn: number;
  /** Packets sent to the client (replies, pushes and statuses) on its current connection. */
  readonly packetsOut: number;
  /** For a detached session: the packets kept for its client until it resumes, and their size in bytes. */
  readonly kept?: { readonly packets: number; readonly bytes: number };
}

/** A handler still running when the shutdown stopped waiting (`limits.shutdownTimeoutMs`). */
export interface CutHandler {
  /** The plugin's greeter; undefined for a run that went on alone after its `recv()` timed out. */
  readonly plugin: string | undefined;
  /** The op of the packet it was handling. */
  readonly op: number | undefined;
  readonly session: string;
}

/** The cluster a server is one process of ({@link NekoServer.cluster}). */
export interface ClusterSummary {
  /** The cluster's name (`cluster.name`). */
  readonly name: string;
  /** This process's random id, chosen at start. */
  readonly processId: string;
  readonly hostname: string;
  /** What carries the bus: `Redis at host:port`, or `IPC through the primary`. */
  readonly via: string;
  /** The Redis URL, its password shown as `***`; undefined when the bus is not on Redis. */
  readonly redis: string | undefined;
}

/** What {@link NekoServer.readiness} says. */
export interface Readiness {
  readonly ready: boolean;
  /** Why not, one phrase each (`loading plugins`, `shutting down`…); empty when ready. */
  readonly reasons: readonly string[];
}

/**
 * A NekoConnect server: the TCP (or TLS) listener, the plugin router and
 * every client connection. Create it with {@link createServer}.
 */
export class NekoServer {
  readonly options: ResolvedServerOptions;
  readonly logger = new Logger();
  /** When the server was created, in ms since the epoch. */
  readonly startedAt = Date.now();
  readonly #router = new Router();
  readonly #context: ConnectionContext;
  readonly #connections = new Set<Connection>();
  readonly #sockets = new Set<Socket>();
  /** TLS sockets whose TLS handshake is not done: no session yet. */
  readonly #handshaking = new Set<TLSSocket>();
  readonly #leaving = new Set<Promise<void>>();
  /** Sessions the server closed for a fault of the client, by error code. */
  readonly #faultCloses = new Map<string, number>();
  readonly #connectionListeners = new Set<(connection: ServerConnection) => void>();
  readonly #resumption: Resumption;
  readonly #plugins: PluginRegistry;
  readonly #storage: TimedStorage;
  /** Handshakes that succeeded, and those that failed by error code (for the metrics). */
  readonly #handshakes = { ok: 0, failed: new Map<string, number>() };
  /** The storage backend's `prepare()`, once asked (before the first database opens). */
  #storagePrepared: Promise<void> | undefined;
  /** First loads of plugins under way: the server is not ready while there are any. */
  #loads = 0;
  /** Set once a load of plugins ended: later loads are reloads, during which the server stays ready. */
  #loadedOnce = false;
  /** Loads and reloads of plugins under way: the shutdown waits for them before it unloads. */
  readonly #pluginWork = new Set<Promise<unknown>>();
  #listener: NetServer | undefined;
  #websocket: WebSocketListener | undefined;
  #nextSessionId = 1;
  #closing: Promise<void> | undefined;
  /** The handlers the shutdown cut. */
  #cut: readonly CutHandler[] = [];
  /** The TLS certificate and key the TCP listener serves: swapped by {@link setTls}. */
  #secureContext: SecureContext | undefined;
  /** Set once a drain began ({@link drain}). */
  #draining: Promise<void> | undefined;
  /** The listeners' close, once asked (by a drain or the shutdown). */
  #stopped: { stopped?: Promise<void>; websocketStopped?: Promise<void> } | undefined;
  /** Called when the last connection closes (a drain waits for it). */
  #onEmpty: (() => void) | undefined;
  /** The cluster bus (option `cluster`); undefined for a server on its own. */
  readonly #bus: Bus | undefined;
  /** The bus's start, once asked (before the first plugin loads). */
  #busStarted: Promise<void> | undefined;
  /** This process's id: random, chosen at start (what other processes of a cluster know it by). */
  readonly processId: string;
  /** The plugins' presence (`ctx.presence`): in memory, or in Redis in a cluster. */
  readonly #presence: PresenceStore;

  constructor(options: ServerOptions) {
    this.options = resolveServerOptions(options);
    const selected = selectStorageBackend(options.storage, (warning) =>
      this.logger.warn(warning.message, {
        plugin: warning.greeter,
        code: warning.error?.code,
        error: warning.error,
      }),
    );
    // Every database operation timed, for the metrics.
    const backend = new TimedStorage(selected, storageBackendName(options.storage));
    this.#storage = backend;
    const cluster = this.options.cluster;
    // Under --workers without Redis, the bus and presence are the primary's, over IPC.
    const ipc = cluster !== undefined && 'ipc' in cluster ? ipcEndpoint(process) : undefined;
    this.#bus =
      cluster &&
      ('ipc' in cluster
        ? new IpcBus({
            endpoint: ipc!,
            name: cluster.name,
            logger: this.logger,
            onDisconnect: (listener) => process.once('disconnect', listener),
          })
        : new RedisBus({ ...cluster, logger: this.logger }));
    this.processId = this.#bus?.processId ?? randomBytes(8).toString('hex');
    // In a cluster, each token's holder is recorded (as a hash) for resumes landing on other processes.
    this.#resumption = new Resumption(this.#bus);
    // ctx.presence: in this process's memory, or in the cluster's Redis (connected at its first use).
    const onHandlerError = (greeter: string, channel: string, err: unknown): void =>
      this.logger.error(`presence: a subscriber of channel "${channel}" failed: ${errorMessage(err)}`, {
        plugin: greeter,
        code: 'NEKO_ERR_PLUGIN_HOOK',
        error: err,
      });
    this.#presence = !cluster
      ? new MemoryPresenceStore({ processId: this.processId, onHandlerError })
      : 'ipc' in cluster
        ? new IpcPresenceStore({ endpoint: ipc!, processId: this.processId, onHandlerError })
        : new RedisPresenceStore({ ...cluster, processId: this.processId, onHandlerError });
    this.#bus?.setLocal({
      deliver: (greeter, op, data, except, group) => {
        const route = this.#router.resolve(greeter);
        return route.kind === 'plugin' ? route.host.deliverFromCluster(op, data, except, group) : 0;
      },
      sendTo: (greeter, sessionId, op, data) => {
        const route = this.#router.resolve(greeter);
        return route.kind === 'plugin' ? route.host.sendToFromCluster(sessionId, op, data) : 'gone';
      },
      group: async (greeter, action, group, sessionId) => {
        const route = this.#router.resolve(greeter);
        return route.kind === 'plugin' ? route.host.groupFromCluster(action, group, sessionId) : false;
      },
      sessionGone: (gone) => this.#sessionGone(gone),
      handOver: (token) => this.#handOver(token),
    });
    this.#plugins = new PluginRegistry(
      this.#router,
      backend,
      this.logger,
      { cacheDir: this.options.cacheDir },
      this.#bus,
      this.#presence,
    );
    // One object for the server's life: sessions and listeners read it, setLimits() updates it in place.
    const limits = this.options.limits;
    this.#context = {
      hasher: new Hasher(this.options.secret),
      limits: this.options.limits,
      router: this.#router,
      logger: this.logger,
      resumption: this.#resumption,
      link: {
        router: this.#router,
        logger: this.logger,
        // Read at each use: setLimits() changes them live.
        dispatch: {
          get recvTimeoutMs() {
            return limits.recvTimeoutMs;
          },
        },
        get maxKeptBytes() {
          return limits.maxPendingBytes;
        },
        endDetached: (link, error) => this.#endDetached(link, error),
      },
      track: (hooks) => this.#track(hooks),
      handshakeEnded: (failure) => this.#handshakeEnded(failure),
      cluster: this.#bus && {
        resumeRemote: (token) => this.#bus!.resumeRemote(token),
        moveIn: (link, handover, from) => this.#moveIn(link, handover, from),
      },
    };
  }

  /** What the plugins' presence (`ctx.presence`) has done since the server started, for the metrics. */
  presenceCounters(): PresenceCounters {
    return this.#presence.counters();
  }

  /** The cluster this server is one process of (option `cluster`); undefined when it is on its own. */
  get cluster(): ClusterSummary | undefined {
    const bus = this.#bus;
    if (!bus) return undefined;
    return {
      name: bus.name,
      processId: bus.processId,
      hostname: bus.hostname,
      via: bus.via,
      redis: bus.redis,
    };
  }

  /** The cluster bus, for its status and counters (`/readyz`, `/metrics`); undefined when not in a cluster. */
  get bus(): Bus | undefined {
    return this.#bus;
  }

  /**
   * Joins the cluster (option `cluster`): connects to Redis, registers this
   * process and starts its heartbeat. {@link loadPlugins} and {@link listen}
   * call it; asking again gives the same promise. Does nothing for a server
   * on its own.
   *
   * @throws NekoError `NEKO_ERR_CLUSTER_UNREACHABLE` when Redis cannot be reached
   */
  joinCluster(): Promise<void> {
    this.#busStarted ??= this.#bus?.start() ?? Promise.resolve();
    return this.#busStarted;
  }

  /**
   * A session of a dead process of the cluster (the bus's sweep, on one
   * surviving process): each plugin it joined runs `onSessionGone`, then
   * what it owned in presence is removed.
   */
  async #sessionGone(gone: GoneSession): Promise<void> {
    for (const greeter of gone.greeters) {
      const route = this.#router.resolve(greeter);
      if (route.kind === 'plugin') await route.host.sessionGone(gone);
    }
    await this.#dropPresenceOfGone(gone);
  }

  /**
   * Another process of the cluster asks for the session of a token (its
   * client resumes there): when it waits here in its grace period, it is
   * packaged (state, groups, the packets kept for it) and let go of without
   * `onLeave`. A state that cannot be copied keeps it here until its grace ends.
   */
  async #handOver(token: string): Promise<Buffer | undefined> {
    const link = this.#resumption.take(token);
    // Its connection may still look alive (a drop not noticed yet): it closes now, as a drop.
    link?.owner?.supersede();
    if (link === undefined || link.connected) return undefined;
    const hosts = link.dispatcher.joinedHosts();
    const encoded = encodeHandover({
      sessionId: link.id,
      graceLeftMs: this.#resumption.graceLeft(link),
      plugins: hosts.flatMap((host) => {
        const kept = host.keptFor(link.id);
        return kept ? [{ greeter: host.greeter, ...kept }] : [];
      }),
      kept: link.keptPackets(),
    });
    if (!('bytes' in encoded)) {
      const { error, greeter } = encoded;
      this.logger.error(`${error.message}; it stays here until its grace period ends`, {
        session: link.id,
        plugin: greeter,
        code: error.code,
        error,
      });
      return undefined;
    }
    this.#resumption.forget(link);
    link.end();
    for (const host of hosts) host.moveOut(link.id);
    // What it owns in presence passes to its new process, which takes it over.
    void this.#presence.moveSession?.(link.id, this.processId, []);
    this.logger.info(
      `session ${link.id} handed over to another process of the cluster, where its client resumed it`,
      { session: link.id },
    );
    return encoded.bytes;
  }

  /**
   * A session moved here from another process of the cluster: each plugin
   * it joined there takes it in with its state and groups (a plugin not
   * served here drops its part, logged), and what it owns in presence
   * passes to this process. It is a member at once; resolves once the
   * cluster routes to this process.
   */
  #moveIn(link: SessionLink, handover: SessionHandover, from: string): Promise<void> {
    const hosts: PluginHost[] = [];
    const moving: Promise<void>[] = [];
    for (const plugin of handover.plugins) {
      const route = this.#router.resolve(plugin.greeter);
      if (route.kind !== 'plugin') {
        this.logger.warn(
          `session ${link.id} moved here without plugin ${plugin.greeter}, which this process does not serve: its state there is dropped`,
          { session: link.id, plugin: plugin.greeter, code: 'NEKO_ERR_SESSION_HANDOVER' },
        );
        continue;
      }
      hosts.push(route.host);
      moving.push(route.host.moveIn(link, plugin.state, plugin.groups));
    }
    link.dispatcher.movedIn(hosts);
    const owned = this.#presence
      .moveSession?.(
        link.id,
        from,
        hosts.map((host) => host.greeter),
      )
      .catch((err: unknown) => {
        this.logger.warn(
          `session ${link.id}: what it owns in presence stays with process ${from}: ${errorMessage(err)}`,
          { session: link.id, code: (err as NekoError).code, error: err },
        );
      });
    return Promise.all([...moving, owned]).then(() => undefined);
  }

  /** Removes what a session of a dead process owned in presence (PresenceStore.dropSession). */
  async #dropPresenceOfGone(gone: GoneSession): Promise<void> {
    await this.#presence.dropSession(gone.sessionId, { processId: gone.processId });
  }

  /** Connected clients. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Every connection not yet closed, oldest first, with its counters; then
   * the sessions waiting for their client to resume them (`detached`).
   */
  sessions(): SessionSummary[] {
    const connected = [...this.#connections].map(({ session, link }): SessionSummary => ({
      ...link.info,
      state: session.state,
      plugins: link.dispatcher.joinedGreeters(),
      packetsIn: session.receivedCount,
      packetsOut: session.sentCount,
    }));
    const waiting = this.#resumption.waiting().map((link): SessionSummary => ({
      ...link.info,
      state: 'detached',
      plugins: link.dispatcher.joinedGreeters(),
      packetsIn: 0,
      packetsOut: 0,
      kept: link.kept,
    }));
    return [...connected, ...waiting];
  }

  /**
   * Closes one connection, as if the server shut down for it: the client's
   * socket closes and its plugins' `onLeave` hooks run.
   *
   * A session waiting for its client to resume it ends at once.
   *
   * @returns false when no open connection or waiting session has this id
   */
  closeSession(id: string): boolean {
    for (const connection of this.#connections) {
      if (connection.link.id !== id) continue;
      connection.session.close();
      return true;
    }
    const waiting = this.#resumption.waiting().find((link) => link.id === id);
    if (waiting === undefined) return false;
    this.#endDetached(waiting);
    return true;
  }

  /**
   * How many sessions the server has closed for a fault of the client, by
   * error code: `NEKO_ERR_SESSION_SLOW_READER` for clients that stopped
   * reading, `NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT`, `NEKO_ERR_AUTH_BAD_HASH`…
   */
  faultCloses(): Record<string, number> {
    return Object.fromEntries(this.#faultCloses);
  }

  /**
   * Handshakes since the server started: `ok`, and `failed` by error code
   * (`NEKO_ERR_AUTH_BAD_HASH`, `NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT`…;
   * `closed` for a connection that closed before its client authenticated).
   */
  handshakes(): { ok: number; failed: Record<string, number> } {
    return { ok: this.#handshakes.ok, failed: Object.fromEntries(this.#handshakes.failed) };
  }

  /**
   * What is open now, counted without listing it: connections by transport
   * (`tcp`, `tls`, `ws`, `wss`, `memory`, `custom`), sessions still in their
   * handshake, open, and detached (waiting for their client to resume them).
   */
  openCounts(): { transports: Record<string, number>; handshake: number; open: number; detached: number } {
    const transports: Record<string, number> = {};
    let handshake = 0;
    let open = 0;
    for (const connection of this.#connections) {
      const transport = connection.link.info.transport;
      transports[transport] = (transports[transport] ?? 0) + 1;
      if (connection.session.state === 'handshake') handshake++;
      else if (connection.session.state === 'open') open++;
    }
    return { transports, handshake, open, detached: this.#resumption.waiting().length };
  }

  /** The storage backend's name (`nedb`, `memory`, `custom`) and how long each plugin's database operations took. */
  storageTimings(): { backend: string; plugins: StorageTimings[] } {
    return { backend: this.#storage.name, plugins: this.#storage.timings() };
  }

  #handshakeEnded(failure: string | undefined): void {
    if (failure === undefined) this.#handshakes.ok++;
    else this.#handshakes.failed.set(failure, (this.#handshakes.failed.get(failure) ?? 0) + 1);
  }

  /** Every plugin folder loaded or tried: serving, failed (with the error) or reloading. */
  pluginStatuses(): PluginStatus[] {
    return this.#plugins.statuses();
  }

  /** The plugins serving a greeter now, one per greeter: live views, which follow reloads. */
  plugins(): ServedPlugin[] {
    return this.#router.hosts();
  }

  /**
   * Where `greeter` leads now: to the plugin serving it, to a plugin that
   * failed to load (clients get 503), or nowhere (404).
   */
  route(greeter: string): GreeterRoute {
    return this.#router.resolve(greeter);
  }

  /** The database of the plugin serving `greeter`, if one does (for reading: it is the plugin's own). */
  pluginDatabase(greeter: string): PluginDatabase | undefined {
    const route = this.#router.resolve(greeter);
    return route.kind === 'plugin' ? route.host.db : undefined;
  }

  /** The address listened on, once {@link listen} resolved. */
  address(): AddressInfo | undefined {
    const address = this.#listener?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /** The address of the WebSocket listener (option `websocket`), once {@link listen} resolved. */
  websocketAddress(): AddressInfo | undefined {
    return this.#websocket?.address();
  }

  /**
   * Loads every plugin of a plugins directory (or the one plugin of a folder
   * holding a spec.conf) and routes their greeters. A plugin that fails is
   * logged, reported in `failed` and shown as its folder's problem; the
   * others load. A greeter nothing serves answers 503 while its plugin
   * fails. A folder loaded again gets its new version swapped in place
   * (sessions, `ctx.state` and the database stay); when the new version
   * fails, the version serving keeps serving. A folder whose greeter
   * another folder's plugin serves is refused
   * (`NEKO_ERR_PLUGIN_DUPLICATE_GREETER`, naming both folders) and that
   * plugin keeps serving, untouched.
   *
   * Until the first load ends, the server is not ready ({@link readiness})
   * and a greeter not served yet answers 503 rather than 404: it may be
   * among those loading. A later load (a reload) changes neither: the
   * plugins serving keep serving meanwhile.
   */
  loadPlugins(dir: string): Promise<PluginsReport> {
    return this.#whilePluginWork(this.#loadPlugins(dir));
  }

  async #loadPlugins(dir: string): Promise<PluginsReport> {
    const first = !this.#loadedOnce;
    if (first) this.#loads++;
    const loaded = first ? this.#router.whileLoading() : undefined;
    try {
      await this.prepareStorage();
      await this.joinCluster();
      return await this.#plugins.load(dir);
    } finally {
      loaded?.();
      if (first) this.#loads--;
      this.#loadedOnce = true;
    }
  }

  /**
   * Readies the storage backend before any plugin database opens: the nedb
   * backend takes its data directory's lock here (`<data-dir>/nekoconnect.lock`),
   * so a second server on the same directory fails before it touches a data
   * file. {@link loadPlugins} and {@link reloadPlugin} call it; call it
   * yourself to fail early. Asking again gives the same promise.
   *
   * @throws NekoError `NEKO_ERR_STORAGE_LOCKED` naming the server that holds the data directory
   */
  prepareStorage(): Promise<void> {
    this.#storagePrepared ??= this.#storage.prepare?.() ?? Promise.resolve();
    return this.#storagePrepared;
  }

  /**
   * Whether the server is ready to serve (what `GET /readyz` answers): not
   * while plugins load, while it shuts down, when the storage backend
   * cannot be reached, or, in a cluster, while Redis cannot be reached. `reasons` says why not (empty when ready).
   */
  async readiness(): Promise<Readiness> {
    const reasons: string[] = [];
    if (this.#closing) reasons.push('shutting down');
    else if (this.#draining) reasons.push('draining');
    if (this.#loads > 0) reasons.push('loading plugins');
    if (this.#storage.ping) {
      try {
        await this.#storage.ping();
      } catch (err) {
        reasons.push(`storage unreachable: ${errorMessage(err)}`);
      }
    }
    const bus = this.#bus;
    if (bus !== undefined) {
      const status = bus.status();
      if (this.#busStarted === undefined) reasons.push('joining the cluster');
      else if (!status.reachable) {
        reasons.push(
          `cluster bus unreachable: ${bus.via} (cluster ${bus.name}) since ${new Date(status.since).toISOString()}`,
        );
      }
    }
    return { ready: reasons.length === 0, reasons };
  }

  /**
   * Brings the server in line with one plugin folder after it changed (what
   * `nekoconnect dev` calls): loads its plugin and swaps the new version in
   * place (old `onUnload`, new `onLoad`; sessions, `ctx.state` and the
   * database stay; running handlers finish on their version), or mounts it
   * when its greeter was not served. When loading fails, the version that
   * served keeps serving. When the folder lost its spec.conf, its greeter
   * answers 404. Logs nothing: the result says what happened.
   */
  reloadPlugin(dir: string): Promise<PluginReload> {
    return this.#whilePluginWork(this.prepareStorage().then(() => this.#plugins.reload(dir)));
  }

  /** Counts `work` among the loads under way until it settles (the shutdown waits for them). */
  #whilePluginWork<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#pluginWork.add(settled);
    void settled.then(() => this.#pluginWork.delete(settled));
    return work;
  }

  /**
   * Takes down the plugin serving `greeter`: it answers 404 from now on, its
   * `onUnload` runs and its database closes. Resolves with false when
   * nothing answered to the greeter.
   */
  unloadPlugin(greeter: string): Promise<boolean> {
    return this.#plugins.unload(greeter);
  }

  /** Loads the configured plugins directory (if any), then listens. Resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    if (this.#listener) throw new NekoError('NEKO_ERR_SERVER_LISTEN', 'the server is already listening');
    // A listener made after the shutdown stopped accepting would never be closed.
    if (this.#closing) throw closedWhileStarting();
    await this.joinCluster();
    if (this.options.plugins !== undefined) await this.loadPlugins(this.options.plugins);
    if (this.#closing) throw closedWhileStarting();
    const { tls, host, port, limits } = this.options;
    this.#secureContext = tls ? tlsContext(tls) : undefined;
    // One plain listener for both: TLS is layered on each socket here, so the
    // handshake limit and the shutdown reach a socket from its accept on.
    const listener = createNetServer({ noDelay: true }, (socket) => {
      // The listener counts its own sockets; this counts the WebSocket ones too.
      if (!this.#admits(0)) {
        this.#refusedFull(socket.remoteAddress);
        socket.destroy();
        return;
      }
      // Read at each accept: setTls() swaps it (certificate rotation).
      const secureContext = this.#secureContext;
      if (secureContext) this.#onTlsSocket(socket, secureContext);
      else this.#serve(socket, Date.now());
    });
    // Counts sockets still in their TLS handshake too. Node closes the sockets over it itself.
    listener.maxConnections = limits.maxConnections;
    listener.on('drop', (dropped?: { remoteAddress?: string }) => this.#refusedFull(dropped?.remoteAddress));
    this.#listener = listener;
    try {
      await listenOrThrow(listener, port, host, {
        code: 'NEKO_ERR_SERVER_LISTEN',
        what: 'cannot listen on',
        inUse: 'Another process uses this port; pick another with --port.',
      });
    } catch (err) {
      this.#listener = undefined;
      throw err;
    }
    if (this.options.websocket) await this.#listenWebSocket(this.options.websocket);
    return this.address()!;
  }

  /** Starts the WebSocket listener; when it cannot listen, the TCP one stops too. */
  async #listenWebSocket(options: ResolvedWebSocketOptions): Promise<void> {
    const { limits, tls } = this.options;
    const websocket = new WebSocketListener(options, tls, limits, {
      admits: () => this.#admits(1), // the upgrading socket is one of the listener's
      serve: (transport, connectedAt) => this.#accept(transport, connectedAt).handle,
      refused: (address, why, code) => {
        this.#countFault(code);
        this.logger.warn(`WebSocket connection from ${address} refused: ${why}`, { code, remote: address });
      },
    });
    this.#websocket = websocket;
    try {
      await websocket.listen();
    } catch (err) {
      this.#websocket = undefined;
      await new Promise<void>((resolve) => this.#listener?.close(() => resolve()));
      this.#listener = undefined;
      throw err;
    }
  }

  /**
   * Whether a new connection fits under `limits.maxConnections`, counted
   * across TCP and WebSocket (sessions, and sockets still in a TLS or
   * WebSocket handshake). `self`: 1 when the connection asking is already
   * among those counted (a WebSocket upgrade), 0 when not (a TCP accept).
   */
  #admits(self: number): boolean {
    const open = this.#connections.size + this.#handshaking.size + (this.#websocket?.pendingCount ?? 0);
    return open - self < this.options.limits.maxConnections;
  }

  /**
   * Serves one client over any duplex transport (what the TCP listener does
   * with each socket; the testing package does it in memory): the session
   * writes to `transport`, and the caller feeds the bytes it receives to the
   * returned connection's `receive()` and calls its `transportClosed()` when
   * it closes.
   *
   * @param connectedAt when the client connected, in ms since the epoch:
   *   the handshake deadline counts from it. Default now.
   */
  accept(transport: Transport, connectedAt = Date.now()): ServerConnection {
    return this.#accept(transport, connectedAt).handle;
  }

  /**
   * Calls `listener` with each connection accepted from now on, by the TCP
   * listener or by {@link accept}.
   *
   * @returns a function that stops the calls
   */
  onConnection(listener: (connection: ServerConnection) => void): () => void {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  #accept(transport: Transport, connectedAt: number): Connection {
    // In a cluster, session ids are random (128 bits) so that they are unique across processes.
    const id = this.#bus ? `s-${randomBytes(16).toString('base64url')}` : `s-${this.#nextSessionId++}`;
    const connection = new Connection(
      id,
      transport,
      this.#context,
      (c, leaving, reason) => {
        this.#connections.delete(c);
        if (this.#connections.size === 0) this.#onEmpty?.();
        if (reason.error) this.#countFault(reason.error.code);
        this.#track(leaving);
      },
      connectedAt,
    );
    this.#connections.add(connection);
    // Built only when asked for: this runs for every connection.
    if (this.logger.enabled('debug')) {
      const remote = transport.remoteAddress;
      this.logger.debug(`connection ${id} accepted over ${transport.kind ?? 'custom'} from ${remote}`, {
        session: id,
        remote,
      });
    }
    // Accepted while draining (a socket that was in its TLS or WebSocket handshake when the drain began).
    if (this.#draining && !this.#closing) queueMicrotask(() => this.#closeWhenDone(connection));
    for (const listener of [...this.#connectionListeners]) {
      try {
        listener(connection.handle);
      } catch (err) {
        // A failing listener must not fail the accept.
        this.logger.error(`a connection listener failed: ${(err as Error).message}`, { error: err });
      }
    }
    return connection;
  }

  /** Plugin hooks still running after a session changed (onLeave…): shutdown waits for them before onUnload. */
  #track(hooks: Promise<void>): void {
    this.#leaving.add(hooks);
    void hooks.finally(() => this.#leaving.delete(hooks));
  }

  /**
   * Ends a session that waits for its client: its grace period ran out,
   * too much was kept for it (`error`), a plugin or the dashboard closed it,
   * or the server shuts down. Its plugins' `onLeave` hooks run.
   */
  #endDetached(link: SessionLink, error?: NekoError): void {
    if (link.ended) return;
    this.#resumption.forget(link);
    link.end();
    if (error) {
      this.#countFault(error.code);
      this.logger.warn(`session ${link.id} ended while it waited to be resumed: ${error.message}`, {
        session: link.id,
        code: error.code,
      });
    } else {
      this.logger.info(`session ${link.id} ended without being resumed`, { session: link.id });
    }
    this.#track(link.dispatcher.sessionClosed());
  }

  /**
   * Replaces the limits while the server runs (a reload): each is checked
   * as `createServer` checks it, then all apply together. `maxPendingBytes`,
   * `recvTimeoutMs`, `maxConnections`, `shutdownTimeoutMs` and
   * `drainTimeoutMs` apply at once, `idleTimeoutMs` from each client's next
   * byte; `maxPacketBytes`, `handshakeTimeoutMs` and `nonceWindow` to
   * connections accepted from then on.
   *
   * @returns the names of the limits that changed
   * @throws NekoError `NEKO_ERR_CONFIG_INVALID` for a value out of range (nothing changes then)
   */
  setLimits(next: Partial<Limits>): (keyof Limits)[] {
    const limits = this.options.limits;
    const changed: (keyof Limits)[] = [];
    for (const key of LIMIT_KEYS) {
      const value = next[key];
      if (value === undefined || value === limits[key]) continue;
      const range = LIMIT_RANGES[key];
      if (!inRange(value, range)) {
        throw new NekoError(
          'NEKO_ERR_CONFIG_INVALID',
          `limits.${key} must be a whole number from ${range.min} to ${range.max}, got ${String(value)}`,
        );
      }
      changed.push(key);
    }
    for (const key of changed) limits[key] = next[key]!;
    if (this.#listener) this.#listener.maxConnections = limits.maxConnections;
    this.#websocket?.applyLimits();
    return changed;
  }

  /**
   * Serves another TLS certificate and key (rotation): connections accepted
   * from now on, over TCP and WebSocket, get them; open ones keep theirs.
   * Only a server started with TLS can rotate it (plain TCP cannot turn
   * into TLS without a restart).
   *
   * @throws NekoError `NEKO_ERR_CONFIG_TLS` when the key and certificate cannot be used (the old ones stay),
   *   `NEKO_ERR_SERVER_LISTEN` when the server was started without TLS
   */
  setTls(tls: TlsOptions): void {
    if (this.options.tls === undefined) {
      throw new NekoError(
        'NEKO_ERR_SERVER_LISTEN',
        'the server was started without TLS: restart it to serve TLS',
      );
    }
    const context = tlsContext(tls);
    this.#websocket?.setSecureContext(tls);
    this.options.tls = tls;
    if (this.#secureContext) this.#secureContext = context;
  }

  /** True once a drain began ({@link drain}). */
  get draining(): boolean {
    return this.#draining !== undefined;
  }

  /**
   * Drains the server before a shutdown (lame duck, for rolling deploys):
   * stops accepting (the TCP and WebSocket listeners close; readiness turns
   * false), and tells each client the server goes away (a 503 closing
   * status, protocol §10) once its conversation is over: no packet queued,
   * no handler running or waiting in `ctx.recv()`. Resolves when every
   * connection has closed, or after `limits.drainTimeoutMs`; then call
   * {@link close}, which gives handlers still running up to
   * `limits.shutdownTimeoutMs` more.
   */
  drain(): Promise<void> {
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  async #drain(): Promise<void> {
    const ms = this.options.limits.drainTimeoutMs;
    this.logger.info(
      `draining: no new connections; ${this.#connections.size} connection(s) get 503 as their conversations end (at most ${ms} ms)`,
    );
    this.#stopAccepting();
    for (const connection of this.#connections) this.#closeWhenDone(connection);
    if (this.#connections.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const empty = new Promise<void>((resolve) => (this.#onEmpty = resolve));
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
    const timedOut = await Promise.race([empty.then(() => false), timeout]);
    clearTimeout(timer);
    this.#onEmpty = undefined;
    if (timedOut) {
      this.logger.warn(
        `drain: ${this.#connections.size} connection(s) still in a conversation after ${ms} ms (limits.drainTimeoutMs); shutting down`,
      );
    } else {
      this.logger.info('drain: every connection closed');
    }
  }

  /**
   * Closes a connection with the 503 notice once its conversation is over;
   * at once for a client still in its handshake (it has no conversation).
   */
  #closeWhenDone(connection: Connection): void {
    const session = connection.session;
    if (session.state !== 'open') {
      session.close();
      return;
    }
    const check = (): void => {
      const dispatcher = connection.dispatcher;
      void dispatcher.whenDone().then(() => {
        if (session.isClosed) return;
        // A resume swapped in another session's dispatcher meanwhile: wait for its conversation too.
        if (connection.dispatcher !== dispatcher) check();
        else session.close(Status.Unavailable);
      });
    };
    check();
  }

  /**
   * Shuts down: stops accepting, lets running handlers finish (up to
   * `limits.shutdownTimeoutMs`; those still running then are cut, logged
   * as `NEKO_ERR_SERVER_HANDLER_CUT` and reported), tells every
   * authenticated client the server goes away (a 503 closing status,
   * protocol §10) and closes its connection (the plugins' `onLeave` hooks
   * run), waits for a load of plugins under way (bounded the same way: a
   * plugin still loading then is not mounted, `NEKO_ERR_PLUGIN_SHUTDOWN`),
   * then unloads every plugin (`onUnload`) and closes its database
   * (which compacts its data file); last, closes any database the storage
   * backend still has open. {@link cutHandlers} then lists the handlers cut.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /**
   * The handlers the shutdown cut at `limits.shutdownTimeoutMs` (still
   * running then, not waiting in `ctx.recv()`): empty before {@link close}
   * and after a shutdown that cut none.
   */
  cutHandlers(): readonly CutHandler[] {
    return this.#cut;
  }

  /** The handlers running now (not waiting in `ctx.recv()`), with their session. */
  #busyHandlers(): CutHandler[] {
    const busy: CutHandler[] = [];
    for (const { dispatcher, link } of this.#connections) {
      const { current, others } = dispatcher.busyRuns();
      if (current) busy.push({ plugin: current.greeter, op: current.op, session: link.id });
      for (let i = 0; i < others; i++) busy.push({ plugin: undefined, op: undefined, session: link.id });
    }
    return busy;
  }

  /**
   * Closes the TCP and WebSocket listeners (once: a drain does it before the
   * shutdown). Their promises resolve when every connection they accepted is gone.
   */
  #stopAccepting(): { stopped?: Promise<void>; websocketStopped?: Promise<void> } {
    if (this.#stopped) return this.#stopped;
    const listener = this.#listener;
    this.#stopped = {
      stopped: listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : undefined,
      websocketStopped: this.#websocket?.close(),
    };
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    const { stopped, websocketStopped } = this.#stopAccepting();
    const idle = Promise.all([...this.#connections].map((c) => c.dispatcher.whenIdle()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.limits.shutdownTimeoutMs);
    });
    // A socket still in its TLS handshake has no session to wait for.
    for (const socket of this.#handshaking) socket.destroy();
    const websocket = this.#websocket;
    const timedOut = await Promise.race([idle.then(() => false), timeout.then(() => true)]);
    clearTimeout(timer);
    const cut = timedOut ? this.#busyHandlers() : [];
    this.#cut = cut;
    for (const handler of cut) {
      const what =
        handler.plugin === undefined
          ? 'a handler that went on after its ctx.recv() timed out'
          : `the ${handler.plugin} handler of op ${handler.op}`;
      this.logger.warn(
        `shutdown: cut ${what} (session ${handler.session}): still running after ${this.options.limits.shutdownTimeoutMs} ms (limits.shutdownTimeoutMs)`,
        { plugin: handler.plugin, session: handler.session, code: 'NEKO_ERR_SERVER_HANDLER_CUT' },
      );
    }
    // The shutdown notice: an authenticated client gets 503 as a closing status before the close.
    for (const connection of this.#connections) connection.session.close(Status.Unavailable);
    for (const link of this.#resumption.waiting()) this.#endDetached(link);
    // Give closing sockets a moment to flush, then cut what is left.
    for (const socket of this.#sockets) if (!socket.destroyed) socket.destroySoon();
    if (stopped || websocketStopped) {
      const cut = setTimeout(() => {
        for (const socket of this.#sockets) socket.destroy();
        websocket?.destroyAll();
      }, 1_000);
      await Promise.all([stopped, websocketStopped]);
      clearTimeout(cut);
    }
    // Closing the sessions started their onLeave hooks; they run before onUnload.
    // A hook that hangs must not hold the shutdown forever.
    const hookLimit = this.options.limits.shutdownTimeoutMs;
    await this.#bounded(Promise.all(this.#leaving), hookLimit, 'onLeave hooks');
    // A load that began before the shutdown (a signal while the plugins load) ends first: what it
    // mounts is unloaded with the rest; past the bound, the registry mounts nothing more.
    await this.#bounded(Promise.all(this.#pluginWork), hookLimit, 'plugin loads under way');
    await this.#plugins.unloadAll((work, what) => this.#bounded(work, hookLimit, what));
    await this.#presence.close();
    // Every local session has left: this process's entries leave Redis, and the bus disconnects.
    const bus = this.#bus;
    if (bus && this.#busStarted)
      await this.#busStarted.then(
        () => bus.close(),
        () => bus.close(),
      );
  }

  /** Waits for `work`, at most `ms`; past that, logs what it gave up on and goes on. */
  async #bounded(work: Promise<unknown>, ms: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), ms);
    });
    const timedOut = await Promise.race([work.then(() => false), expired]);
    clearTimeout(timer);
    if (timedOut) this.logger.warn(`shutdown: ${what} still running after ${ms} ms; going on without them`);
  }

  /**
   * A TCP connection to a TLS server: its TLS handshake must be done within
   * `limits.handshakeTimeoutMs` of the accept, and the session's handshake
   * gets what is left of that budget.
   */
  #onTlsSocket(raw: Socket, secureContext: SecureContext): void {
    const acceptedAt = Date.now();
    // Read now: a socket reset by its client no longer knows its address.
    const remote = raw.remoteAddress ?? 'unknown';
    raw.setNoDelay(true);
    const socket = new TLSSocket(raw, { isServer: true, secureContext });
    this.#handshaking.add(socket);
    this.#sockets.add(socket);
    const { handshakeTimeoutMs } = this.options.limits;
    const timer = setTimeout(() => {
      this.#countFault(HANDSHAKE_TIMEOUT);
      this.#handshakeEnded(HANDSHAKE_TIMEOUT);
      this.logger.warn(
        `connection from ${remote} closed: TLS handshake not done within ${handshakeTimeoutMs} ms`,
        { code: HANDSHAKE_TIMEOUT, remote },
      );
      socket.destroy();
    }, handshakeTimeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset once secure is the session's business; 'close' follows either way.
      if (!this.#handshaking.has(socket)) return;
      if (err.code !== undefined && NETWORK_ERRORS.has(err.code)) {
        // Gone before any TLS was spoken (a port probe, a client that gave up): not a TLS failure.
        if (this.logger.enabled('debug')) {
          this.logger.debug(`connection from ${remote} closed during its TLS handshake (${err.code})`, {
            remote,
          });
        }
        return;
      }
      this.#handshakeEnded(TLS_HANDSHAKE_FAILED);
      this.logger.warn(`connection from ${remote} closed: TLS handshake failed: ${tlsFailure(err)}`, {
        code: TLS_HANDSHAKE_FAILED,
        remote,
      });
    });
    socket.once('close', () => {
      clearTimeout(timer);
      this.#handshaking.delete(socket);
      this.#sockets.delete(socket);
    });
    socket.once('secure', () => {
      clearTimeout(timer);
      this.#handshaking.delete(socket);
      this.#serve(socket, acceptedAt);
    });
  }

  /** A connection refused for `limits.maxConnections`, by this server or by Node's own count. */
  #refusedFull(remoteAddress: string | undefined): void {
    const remote = remoteAddress ?? 'unknown';
    this.#countFault(SERVER_FULL);
    this.logger.warn(
      `connection from ${remote} refused: over limits.maxConnections (${this.options.limits.maxConnections})`,
      { code: SERVER_FULL, remote },
    );
  }

  #countFault(code: string): void {
    this.#faultCloses.set(code, (this.#faultCloses.get(code) ?? 0) + 1);
  }

  /** Serves a client over a connected socket (plain, or TLS once its TLS handshake is done). */
  #serve(socket: Socket, connectedAt: number): void {
    socket.setNoDelay(true);
    this.#sockets.add(socket);
    const transport = new TcpTransport(socket, this.options.tls ? 'tls' : 'tcp');
    const connection = this.#accept(transport, connectedAt);
    socket.on('data', (chunk: Buffer) => connection.receive(chunk));
    socket.on('error', () => {
      // A reset or broken pipe: 'close' follows and ends the session.
    });
    socket.on('close', () => {
      this.#sockets.delete(socket);
      connection.transportClosed();
    });
    if (this.#closing) connection.session.close();
  }
}

const HANDSHAKE_TIMEOUT = 'NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT';
const SERVER_FULL = 'NEKO_ERR_SERVER_FULL';
const TLS_HANDSHAKE_FAILED = 'NEKO_ERR_TLS_HANDSHAKE';
/** Errors of the network, not of TLS: the client went away. */
const NETWORK_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** Why a TLS handshake failed, in a few words: OpenSSL's reason (`wrong version number`), else the message. */
function tlsFailure(err: NodeJS.ErrnoException & { reason?: string }): string {
  return err.reason ?? (err.code === undefined ? err.message : `${err.code}: ${err.message}`);
}

/** The name of the storage backend the options select, for the metrics. */
function storageBackendName(storage: ServerOptions['storage']): string {
  const backend: unknown = storage?.backend;
  return backend === undefined ? 'nedb' : typeof backend === 'string' ? backend : 'custom';
}

/** The TLS context of a server's certificate and key. */
function tlsContext(tls: TlsOptions): SecureContext {
  try {
    return createSecureContext({ key: tls.key, cert: tls.cert });
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_TLS',
      `the TLS key or certificate cannot be used: ${(err as Error).message}`,
      { cause: err, hint: 'Give a PEM private key and the PEM certificate made for it.' },
    );
  }
}

/** Creates a server. Call `listen()` to load its plugins and start accepting clients. */
export function createServer(options: ServerOptions): NekoServer {
  return new NekoServer(options);
}
