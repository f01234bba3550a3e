/**
 * The metrics of one server in the Prometheus text format (docs/metrics.md
 * lists them): a prom-client registry of its own per server (several
 * servers may run in one process), whose values are read from the server's
 * own counters when scraped: the packet path only adds to counters (the
 * ones the dashboard shows, and packets sent per op), with no labels to
 * look up and nothing allocated. Process and Node.js figures (event-loop
 * lag, memory, CPU, GC) are prom-client's default metrics, on the same registry.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { LatencyHistogram } from '../plugins/stats.js';
import type { NekoServer } from '../server/server.js';
import { LATENCY_BUCKETS_MS as BUS_LATENCY_BUCKETS_MS, type Bus } from '../cluster/bus.js';

/** The prefix of every metric of NekoConnect's own (prom-client's default metrics keep their names). */
export const METRIC_PREFIX = 'nekoconnect_';

/**
 * The upper bounds of the latency histograms' buckets, in seconds: the
 * powers of 4 of 1 µs up to about 16.8 s. Each is an edge of the servers'
 * log-scale histograms, so the counts are exact.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Array.from({ length: 13 }, (_, k) => 4 ** k / 1e6);
const LATENCY_BUCKETS_MS = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);

/** The metrics of one server, and what answers a scrape. */
export class ServerMetrics {
  readonly registry = new Registry();

  constructor(server: NekoServer) {
    const registers = [this.registry];
    const name = (suffix: string): string => `${METRIC_PREFIX}${suffix}`;

    new Gauge({
      name: name('connections'),
      help: 'Client connections open now, by transport (tcp, tls, ws, wss).',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        for (const [transport, count] of Object.entries(server.openCounts().transports)) {
          this.set({ transport }, count);
        }
      },
    });
    new Gauge({
      name: name('sessions'),
      help: 'Sessions now: in their handshake, open (authenticated), detached (waiting for their client to resume them).',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = server.openCounts();
        this.set({ state: 'handshake' }, counts.handshake);
        this.set({ state: 'open' }, counts.open);
        this.set({ state: 'detached' }, counts.detached);
      },
    });
    new Counter({
      name: name('handshakes_total'),
      help: 'Handshakes that succeeded (the client authenticated).',
      registers,
      collect() {
        this.reset();
        this.inc(server.handshakes().ok);
      },
    });
    new Counter({
      name: name('handshake_failures_total'),
      help: 'Handshakes that failed, by reason: the error code, or closed for a connection that closed first.',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of Object.entries(server.handshakes().failed)) this.inc({ reason }, count);
      },
    });
    new Counter({
      name: name('fault_closes_total'),
      help: 'Sessions the server closed for a fault of the client, by error code (NEKO_ERR_SESSION_SLOW_READER for slow readers).',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, count] of Object.entries(server.faultCloses())) this.inc({ code }, count);
      },
    });
    new Gauge({
      name: name('plugins'),
      help: 'Plugin folders by state: loaded, failed, reloading.',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = { loaded: 0, failed: 0, reloading: 0 };
        for (const { status } of server.pluginStatuses()) counts[status]++;
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    });
    const packetCounters = [
      ['packets_in_total', "Packets handed to a plugin's handler, by plugin (greeter) and op.", 'packets'],
      [
        'packets_out_total',
        'Packets plugins sent to clients (one per client reached), by plugin (greeter) and op.',
        'sent',
      ],
    ] as const;
    for (const [metric, help, field] of packetCounters) {
      new Counter({
        name: name(metric),
        help,
        labelNames: ['plugin', 'op'],
        registers,
        collect() {
          this.reset();
          for (const plugin of server.plugins()) {
            for (const op of plugin.stats.ops()) {
              if (op[field] > 0) this.inc({ plugin: plugin.greeter, op: String(op.op) }, op[field]);
            }
          }
        },
      });
    }
    new Counter({
      name: name('handler_errors_total'),
      help: 'Handler runs that threw or rejected, by plugin (greeter).',
      labelNames: ['plugin'],
      registers,
      collect() {
        this.reset();
        for (const plugin of server.plugins()) this.inc({ plugin: plugin.greeter }, plugin.stats.errors);
      },
    });
    this.#register(
      new ReadHistogram(
        name('handler_duration_seconds'),
        'Handler time per packet, by plugin (greeter) and op: from its arrival at the handler until the handler finished or waited again.',
        () =>
          server.plugins().flatMap((plugin) =>
            plugin.stats
              .ops()
              .filter((op) => op.packets > 0)
              .map((op) => ({
                labels: { plugin: plugin.greeter, op: String(op.op) },
                histogram: op.latency,
              })),
          ),
      ),
    );
    this.#register(
      new ReadHistogram(
        name('storage_operation_duration_seconds'),
        'Plugin database operations, by plugin (greeter), storage backend and operation (find, insert, get, set…), failed ones too.',
        () => {
          const { backend, plugins } = server.storageTimings();
          return plugins.flatMap(({ greeter, operations }) =>
            [...operations]
              .filter(([, histogram]) => histogram.count > 0)
              .map(([operation, histogram]) => ({
                labels: { plugin: greeter, backend, operation },
                histogram,
              })),
          );
        },
      ),
    );
    this.#presence(server, name);
    const bus = server.bus;
    if (bus !== undefined) this.#cluster(bus, name);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Presence (`ctx.presence`) figures, in memory or on Redis, read from its counters when scraped. */
  #presence(server: NekoServer, name: (suffix: string) => string): void {
    const registers = [this.registry];
    const counters = [
      [
        'presence_published_total',
        'Values plugins of this process published on presence channels.',
        'published',
      ],
      [
        'presence_delivered_total',
        "Presence values handed to this process's subscribers (one per subscriber).",
        'delivered',
      ],
      [
        'presence_failures_total',
        'Presence calls and session drops that failed for Redis (always 0 in memory).',
        'failures',
      ],
    ] as const;
    for (const [metric, help, field] of counters) {
      new Counter({
        name: name(metric),
        help,
        registers,
        collect() {
          this.reset();
          this.inc(server.presenceCounters()[field]);
        },
      });
    }
    new Gauge({
      name: name('presence_pending_drops'),
      help: 'Sessions whose owned presence entries wait to be removed until Redis is back.',
      registers,
      collect() {
        this.set(server.presenceCounters().pendingDrops);
      },
    });
  }

  /** The cluster bus's figures (only for a server in a cluster), read from its counters when scraped. */
  #cluster(bus: Bus, name: (suffix: string) => string): void {
    const registers = [this.registry];
    new Gauge({
      name: name('cluster_processes'),
      help: 'Processes of the cluster alive at the last check of heartbeats, this one included.',
      // Under --workers the primary adds up its workers' metrics: each worker sees the same processes.
      aggregator: 'max',
      registers,
      collect() {
        this.set(bus.counters().processes);
      },
    });
    new Gauge({
      name: name('cluster_redis_up'),
      help: "1 while the cluster's Redis answers, 0 during an outage.",
      aggregator: 'min',
      registers,
      collect() {
        this.set(bus.status().reachable ? 1 : 0);
      },
    });
    const counters = [
      [
        'cluster_messages_published_total',
        'Messages this process published on the cluster bus: broadcasts, group broadcasts, direct messages, group changes.',
        'published',
      ],
      ['cluster_messages_received_total', 'Broadcasts of other processes this process received.', 'received'],
      [
        'cluster_packets_delivered_total',
        "Packets delivered to this process's sessions from other processes' messages.",
        'delivered',
      ],
      ['cluster_redis_failures_total', 'Redis calls of the bus that failed (Redis unreachable).', 'failures'],
      [
        'cluster_redis_reconnects_total',
        'Times a Redis connection of the bus came back after it broke.',
        'reconnects',
      ],
      [
        'cluster_processes_swept_total',
        'Dead processes of the cluster this process cleaned up after.',
        'swept',
      ],
    ] as const;
    for (const [metric, help, field] of counters) {
      new Counter({
        name: name(metric),
        help,
        registers,
        collect() {
          this.reset();
          this.inc(bus.counters()[field]);
        },
      });
    }
    this.registry.registerMetric(
      new BusLatencyHistogram(bus, name('cluster_latency_seconds')) as unknown as Metric,
    );
  }

  /** The content type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric, in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  #register(metric: ReadHistogram): void {
    this.registry.registerMetric(metric as unknown as Metric);
  }
}

/** One labelled series of a {@link ReadHistogram}. */
interface Series {
  readonly labels: Record<string, string>;
  readonly histogram: LatencyHistogram;
}

/**
 * A Prometheus histogram read at scrape time from the server's own
 * log-scale histograms (in ms), with {@link LATENCY_BUCKETS_SECONDS}:
 * prom-client's own would take a labelled observation per packet.
 */
class ReadHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #series: () => Series[];

  constructor(name: string, help: string, series: () => Series[]) {
    this.name = name;
    this.help = help;
    this.#series = series;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: unknown[] }> {
    const values: unknown[] = [];
    for (const { labels, histogram } of this.#series()) {
      const counts = histogram.countsUpTo(LATENCY_BUCKETS_MS);
      LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: counts[i] });
      });
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { ...labels, le: '+Inf' },
        value: histogram.count,
      });
      values.push({ metricName: `${this.name}_sum`, labels, value: histogram.sum / 1000 });
      values.push({ metricName: `${this.name}_count`, labels, value: histogram.count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }
}

/**
 * The bus's cross-process latency, from publish on another process to
 * delivery here, as a Prometheus histogram read from the bus's counters
 * (buckets of `LATENCY_BUCKETS_MS` in cluster/bus.ts).
 */
class BusLatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly help =
    'Cross-process delivery on the cluster bus: from a message published on another process to its delivery here.';
  readonly #bus: Bus;

  constructor(
    bus: Bus,
    readonly name: string,
  ) {
    this.#bus = bus;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: unknown[] }> {
    const { latency } = this.#bus.counters();
    const values: unknown[] = [];
    let cumulative = 0;
    BUS_LATENCY_BUCKETS_MS.forEach((bound, i) => {
      cumulative += latency.buckets[i] ?? 0;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: bound / 1000 }, value: cumulative });
    });
    values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: latency.count });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: latency.sum / 1000 });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: latency.count });
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }
}

const metricsByServer = new WeakMap<NekoServer, ServerMetrics>();

/**
 * The metrics of a server: made on first use (the dashboard and the
 * metrics port share them), then the same object.
 */
export function metricsOf(server: NekoServer): ServerMetrics {
  let metrics = metricsByServer.get(server);
  if (metrics === undefined) {
    metrics = new ServerMetrics(server);
    metricsByServer.set(server, metrics);
  }
  return metrics;
}
