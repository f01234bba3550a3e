/**
 * Whether a start joins a cluster, and on which Redis, from the command
 * line, the environment and the config file:
 *
 * 1. `--cluster <redis-url>`;
 * 2. `NEKOCONNECT_REDIS_URL`;
 * 3. the config's `cluster: { redis?, name?, heartbeatTtlMs?, sendToTimeoutMs? }` (its `redis`
 *    may be left out when 1 or 2 gives the URL, so that the file holds no password).
 *
 * The cluster's name is `--cluster-name`, else the config's `cluster.name`,
 * else `default`. The config's timings apply whichever source gave the URL.
 * Without any of them the server is one process on its own, and nothing of
 * the cluster (not even the Redis client) is loaded.
 */
import { NekoError } from '../errors.js';
import { redisPlace } from '../cluster/redis.js';
import type { ClusterOptions } from '../server/options.js';
import type { NekoClusterConfig } from './define-config.js';
import { CLUSTER_NAME } from './schema.js';

/** The environment variable that gives the cluster's Redis URL as `--cluster` does. */
export const REDIS_URL_ENV = 'NEKOCONNECT_REDIS_URL';

/** The cluster's name when none is given. */
export const DEFAULT_CLUSTER_NAME = 'default';

/** What the cluster is resolved from. */
export interface ClusterSources {
  /** `--cluster <redis-url>`. */
  cluster?: string;
  /** `--cluster-name <name>`. */
  clusterName?: string;
  env: NodeJS.ProcessEnv;
  /** The config's `cluster`, when there is a config. */
  config?: NekoClusterConfig;
  /** The config file as messages name it. */
  configFile?: string;
}

/** The cluster a start joins. */
export interface ResolvedCluster {
  /** For `createServer({ cluster })`. */
  options: ClusterOptions;
  /** The cluster's name (`default` when none is given). */
  name: string;
  /** The Redis URL, safe to print: its password as `***`. */
  shown: string;
  /** What chose the URL, for messages: `--cluster`, `NEKOCONNECT_REDIS_URL`, `cluster in <file>`. */
  source: string;
}

/**
 * Decides the cluster (see the module comment for the order); undefined
 * when the server runs alone. `NEKOCONNECT_REDIS_URL` is removed from
 * `sources.env` as it is read (whether it wins or not), so that plugins and
 * the processes they spawn do not get the URL's password; {@link clusterEnv}
 * gives it back for a reload.
 * @throws NekoError `NEKO_ERR_CLI_USAGE` for an empty `--cluster`, or
 *   `--cluster-name` without a cluster; `NEKO_ERR_CONFIG_INVALID` for a URL
 *   that is not `redis://` or `rediss://` (shown without its password), or a
 *   config `cluster` without `redis` when no flag or environment gives one
 */
export function resolveCluster(sources: ClusterSources): ResolvedCluster | undefined {
  const fromEnv = sources.env[REDIS_URL_ENV];
  // Read once, then gone, as the secret is.
  delete sources.env[REDIS_URL_ENV];
  const config = sources.config;
  const inConfig = `cluster in ${sources.configFile ?? 'the config'}`;

  let url: string;
  let source: string;
  if (sources.cluster !== undefined) {
    if (sources.cluster === '') {
      throw new NekoError('NEKO_ERR_CLI_USAGE', '--cluster needs the Redis URL of the cluster', {
        hint: 'Give --cluster redis://:password@host:6379 (or set NEKOCONNECT_REDIS_URL).',
      });
    }
    url = sources.cluster;
    source = '--cluster';
  } else if (fromEnv !== undefined && fromEnv !== '') {
    url = fromEnv;
    source = REDIS_URL_ENV;
  } else if (config?.redis !== undefined) {
    url = config.redis;
    source = inConfig;
  } else if (config !== undefined) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_INVALID',
      `${inConfig} names no redis, and neither --cluster nor ${REDIS_URL_ENV} gives the Redis URL`,
      {
        hint: `Set ${REDIS_URL_ENV}=redis://:password@host:6379 (or give --cluster), or add cluster.redis to the config.`,
      },
    );
  } else {
    if (sources.clusterName !== undefined) {
      throw new NekoError('NEKO_ERR_CLI_USAGE', '--cluster-name names a cluster, but no cluster is given', {
        hint: 'Add --cluster redis://:password@host:6379 (or set NEKOCONNECT_REDIS_URL), or drop --cluster-name.',
      });
    }
    return undefined;
  }

  if (sources.clusterName !== undefined && !CLUSTER_NAME.test(sources.clusterName)) {
    throw new NekoError(
      'NEKO_ERR_CLI_USAGE',
      `--cluster-name must be 1 to 64 letters, digits, "_", "." or "-", got ${JSON.stringify(sources.clusterName)}`,
    );
  }
  let shown: string;
  try {
    shown = redisPlace(url).shown;
  } catch (err) {
    if (!(err instanceof NekoError)) throw err;
    throw new NekoError(err.code, `${err.message} (from ${source})`, {
      ...(err.hint === undefined ? {} : { hint: err.hint }),
    });
  }
  const name = sources.clusterName ?? config?.name ?? DEFAULT_CLUSTER_NAME;
  const options: ClusterOptions = {
    redis: url,
    name,
    ...(config?.heartbeatTtlMs === undefined ? {} : { heartbeatTtlMs: config.heartbeatTtlMs }),
    ...(config?.sendToTimeoutMs === undefined ? {} : { sendToTimeoutMs: config.sendToTimeoutMs }),
  };
  return { options, name, shown, source };
}

/** The environment that resolves to `cluster` again: `NEKOCONNECT_REDIS_URL` when it chose it. */
export function clusterEnv(cluster: ResolvedCluster | undefined): NodeJS.ProcessEnv {
  if (cluster?.source !== REDIS_URL_ENV) return {};
  return { [REDIS_URL_ENV]: cluster.options.redis };
}

/**
 * The warning of a cluster whose plugin data stays in this process's own
 * nedb files: the other processes neither see nor share it.
 */
export function nedbInClusterWarning(cluster: ResolvedCluster, dataDir: string): NekoError {
  return new NekoError(
    'NEKO_ERR_CLUSTER_LOCAL_DATA',
    `this process joins cluster ${cluster.name}, but keeps plugin data in nedb files in ${dataDir}, ` +
      "its own: the cluster's other processes do not see it",
    {
      hint: 'Keep plugin data in one PostgreSQL database for every process: --storage postgres://user:password@host:5432/database (docs/cluster.md).',
    },
  );
}
