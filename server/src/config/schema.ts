/**
 * What a config file may hold: the keys, their types and ranges. The checks
 * collect every problem, each with the key path it is about, so that one run
 * reports them all.
 */
import { editDistance } from '../edit-distance.js';
import { listWords } from '../format.js';
import {
  LIMIT_KEYS,
  LIMIT_RANGES,
  PORT_RANGE,
  inRange,
  type IntRange,
  type Limits,
} from '../server/limits.js';
import { SECRET_ENV } from './secret.js';
import { shownUrl } from '../shown-url.js';
import { LOG_FORMATS } from '../logging/json.js';
import { LOG_LEVELS } from '../logging/logger.js';

/** The keys of a config file, in the order the docs list them. */
export const CONFIG_KEYS = [
  'port',
  'host',
  'plugins',
  'dataDir',
  'storage',
  'cacheDir',
  'limits',
  'tls',
  'dashboard',
  'websocket',
  'requirePlugins',
  'log',
  'metrics',
  'cluster',
  'workers',
] as const;

const TLS_KEYS = ['key', 'cert'] as const;
const DASHBOARD_KEYS = ['port', 'host', 'open', 'tokenFile'] as const;
const METRICS_KEYS = ['port', 'host'] as const;
const WEBSOCKET_KEYS = ['port', 'host', 'path', 'origins'] as const;
const LOG_KEYS = ['format', 'level'] as const;
const STORAGE_KEYS = ['backend', 'url', 'dir'] as const;
const CLUSTER_KEYS = ['redis', 'name', 'heartbeatTtlMs', 'sendToTimeoutMs'] as const;
/** A cluster's name, as it goes into Redis keys (`nc:<name>:`). */
export const CLUSTER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Names people are likely to try, and the key they mean. */
const ALIASES: Readonly<Record<string, string>> = {
  tlsKey: 'tls.key',
  tlsCert: 'tls.cert',
  pluginsDir: 'plugins',
  pluginDir: 'plugins',
  hostname: 'host',
  address: 'host',
  dashboardPort: 'dashboard.port',
  dashboardHost: 'dashboard.host',
  dashboardOpen: 'dashboard.open',
  dashboardTokenFile: 'dashboard.tokenFile',
  tokenFile: 'dashboard.tokenFile',
  metricsPort: 'metrics.port',
  metricsHost: 'metrics.host',
  wsPort: 'websocket.port',
  logFormat: 'log.format',
  logLevel: 'log.level',
  ws: 'websocket',
  databaseUrl: 'storage.url',
  storageUrl: 'storage.url',
  redis: 'cluster.redis',
  redisUrl: 'cluster.redis',
  clusterName: 'cluster.name',
  heartbeatTtlMs: 'cluster.heartbeatTtlMs',
  webSocket: 'websocket',
};

/** One thing wrong with a config. */
export interface ConfigIssue {
  /** The key path, e.g. `['limits', 'maxPacketBytes']`; empty for the config as a whole. */
  path: string[];
  /** Whether the key itself is wrong (unknown, not allowed) or its value. */
  at: 'key' | 'value';
  /** What is wrong and what is allowed, naming the key path. */
  message: string;
  /** Set for a secret written into the config: its value must not be shown (no code frame). */
  secret?: true;
}

/**
 * Checks a config object (the default export of a config module, or a
 * parsed JSON config). A key whose value is `undefined` counts as absent.
 *
 * @returns every problem found; none means `value` is a valid `NekoConfig`.
 */
export function checkConfig(value: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!isPlainObject(value)) {
    issues.push({
      path: [],
      at: 'value',
      message: `the config must be an object such as { port: 10390 }, got ${describeValue(value)}`,
    });
    return issues;
  }
  for (const key of Object.keys(value)) {
    if (isSecretKey(key)) {
      issues.push({
        path: [key],
        at: 'key',
        secret: true,
        message:
          `"${key}" is not allowed in a config file: the shared secret comes only from the ${SECRET_ENV} ` +
          'environment variable or --secret-file, never from a config file that may be committed',
      });
    } else if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      const candidates = [
        ...CONFIG_KEYS.map((k) => ({ name: k, path: k })),
        ...LIMIT_KEYS.map((k) => ({ name: k, path: `limits.${k}` })),
        ...Object.entries(ALIASES).map(([name, path]) => ({ name, path })),
      ];
      issues.push({
        path: [key],
        at: 'key',
        message: `unknown key "${key}"${didYouMean(key, candidates)}; the keys are ${listWords(CONFIG_KEYS)}`,
      });
    }
  }
  const has = (key: string): boolean => value[key] !== undefined;
  if (has('port')) checkInt(issues, ['port'], value.port, PORT_RANGE);
  if (has('host')) {
    checkString(issues, ['host'], value.host, 'an interface such as "127.0.0.1" or "0.0.0.0"');
  }
  if (has('plugins')) {
    checkString(issues, ['plugins'], value.plugins, "a path, relative to the config file's folder");
  }
  if (has('dataDir')) {
    checkString(issues, ['dataDir'], value.dataDir, "a path, relative to the config file's folder");
  }
  if (has('cacheDir')) {
    checkString(issues, ['cacheDir'], value.cacheDir, "a path, relative to the config file's folder");
  }
  if (has('storage')) checkStorage(issues, value.storage, has('dataDir'));
  if (has('limits')) checkLimits(issues, value.limits);
  if (has('tls')) checkTls(issues, value.tls);
  if (has('dashboard')) checkDashboard(issues, value.dashboard);
  if (has('metrics')) checkMetrics(issues, value.metrics);
  if (has('websocket')) checkWebSocket(issues, value.websocket);
  if (has('log')) checkLog(issues, value.log);
  if (has('cluster')) checkCluster(issues, value.cluster);
  if (has('workers') && value.workers !== 'auto' && !inRange(value.workers, { min: 1, max: 256 })) {
    issues.push({
      path: ['workers'],
      at: 'value',
      message: `workers must be a whole number from 1 to 256, or 'auto' (one per core), got ${describeValue(value.workers)}`,
    });
  }
  if (has('requirePlugins')) {
    checkBoolean(
      issues,
      ['requirePlugins'],
      value.requirePlugins,
      'true stops the start when a plugin fails to load',
    );
  }
  // A code frame of any issue could show the line of a storage URL with its password.
  if (hasUrlPassword(value.storage) || hasRedisPassword(value.cluster)) {
    for (const issue of issues) issue.secret = true;
  }
  return issues;
}

function checkStorage(issues: ConfigIssue[], storage: unknown, hasDataDir: boolean): void {
  const shape = "{ backend: 'postgres', url } or { backend: 'nedb', dir }";
  if (!checkSection(issues, 'storage', storage, STORAGE_KEYS, shape)) return;
  const { backend, url, dir } = storage;
  if (backend === 'postgres') {
    if (typeof url !== 'string' || !/^postgres(ql)?:\/\//i.test(url)) {
      issues.push({
        path: ['storage', 'url'],
        at: 'value',
        message: `storage.url must be a postgres:// or postgresql:// URL such as "postgres://user:password@host:5432/database", got ${typeof url === 'string' ? shownUrl(url) : describeValue(url)}`,
      });
    }
    if (dir !== undefined) {
      issues.push({
        path: ['storage', 'dir'],
        at: 'key',
        message: "storage.dir is for { backend: 'nedb' }; on PostgreSQL, dataDir only holds the cache",
      });
    }
  } else if (backend === 'nedb') {
    if (url !== undefined) {
      issues.push({
        path: ['storage', 'url'],
        at: 'key',
        message: "storage.url is for { backend: 'postgres' }; nedb takes storage.dir",
      });
    }
    if (dir !== undefined) {
      checkString(issues, ['storage', 'dir'], dir, "a path, relative to the config file's folder");
      if (hasDataDir) {
        issues.push({
          path: ['storage', 'dir'],
          at: 'key',
          message: 'storage.dir and dataDir both name the nedb data directory: keep one of them',
        });
      }
    }
  } else {
    issues.push({
      path: ['storage', 'backend'],
      at: backend === undefined ? 'key' : 'value',
      message: `storage.backend must be "postgres" or "nedb", got ${describeValue(backend)}`,
    });
  }
}

/** Whether the config's storage holds a URL with a password in it. */
function hasUrlPassword(storage: unknown): boolean {
  if (!isPlainObject(storage) || typeof storage.url !== 'string') return false;
  return shownUrl(storage.url) !== storage.url;
}

function checkCluster(issues: ConfigIssue[], cluster: unknown): void {
  const shape = "{ redis: 'redis://:password@host:6379', name? }";
  if (!checkSection(issues, 'cluster', cluster, CLUSTER_KEYS, shape)) return;
  const { redis, name, heartbeatTtlMs, sendToTimeoutMs } = cluster;
  // Without redis, --cluster or NEKOCONNECT_REDIS_URL must give the URL (resolveCluster says so when none does).
  if (redis !== undefined && (typeof redis !== 'string' || !/^rediss?:\/\/./i.test(redis))) {
    issues.push({
      path: ['cluster', 'redis'],
      at: 'value',
      message: `cluster.redis must be a redis:// or rediss:// URL such as "redis://:password@host:6379", got ${typeof redis === 'string' ? JSON.stringify(shownUrl(redis)) : describeValue(redis)}`,
    });
  }
  if (name !== undefined && (typeof name !== 'string' || !CLUSTER_NAME.test(name))) {
    issues.push({
      path: ['cluster', 'name'],
      at: 'value',
      message: `cluster.name must be 1 to 64 letters, digits, "_", "." or "-", got ${describeValue(name)}`,
    });
  }
  if (heartbeatTtlMs !== undefined) {
    checkInt(issues, ['cluster', 'heartbeatTtlMs'], heartbeatTtlMs, { min: 300, max: 600_000 });
  }
  if (sendToTimeoutMs !== undefined) {
    checkInt(issues, ['cluster', 'sendToTimeoutMs'], sendToTimeoutMs, { min: 10, max: 600_000 });
  }
}

/** Whether the config's cluster holds a Redis URL with a password in it. */
function hasRedisPassword(cluster: unknown): boolean {
  if (!isPlainObject(cluster) || typeof cluster.redis !== 'string') return false;
  return shownUrl(cluster.redis) !== cluster.redis;
}

function checkWebSocket(issues: ConfigIssue[], websocket: unknown): void {
  if (!checkSection(issues, 'websocket', websocket, WEBSOCKET_KEYS, '{ port, host, path, origins }')) return;
  if (websocket.port === undefined) {
    issues.push({
      path: ['websocket', 'port'],
      at: 'key',
      message: 'websocket needs a port, e.g. { port: 10392 }',
    });
  } else checkInt(issues, ['websocket', 'port'], websocket.port, PORT_RANGE);
  if (websocket.host !== undefined) {
    checkString(issues, ['websocket', 'host'], websocket.host, 'an interface such as "0.0.0.0"');
  }
  if (websocket.path !== undefined) {
    if (typeof websocket.path !== 'string' || !websocket.path.startsWith('/')) {
      issues.push({
        path: ['websocket', 'path'],
        at: 'value',
        message: `websocket.path must be a URL path starting with "/", got ${describeValue(websocket.path)}`,
      });
    }
  }
  const origins = websocket.origins;
  if (origins !== undefined && (!Array.isArray(origins) || !origins.every((o) => typeof o === 'string'))) {
    issues.push({
      path: ['websocket', 'origins'],
      at: 'value',
      message: `websocket.origins must be a list of origins such as ["https://game.example"], got ${describeValue(origins)}`,
    });
  }
}

function checkLog(issues: ConfigIssue[], log: unknown): void {
  if (!checkSection(issues, 'log', log, LOG_KEYS, '{ format, level }')) return;
  const choices = [
    ['format', LOG_FORMATS],
    ['level', LOG_LEVELS],
  ] as const;
  for (const [key, allowed] of choices) {
    const given = log[key];
    if (given === undefined || (allowed as readonly unknown[]).includes(given)) continue;
    issues.push({
      path: ['log', key],
      at: 'value',
      message: `log.${key} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(given)}`,
    });
  }
}

function checkDashboard(issues: ConfigIssue[], dashboard: unknown): void {
  if (dashboard === false) return;
  if (
    !checkSection(issues, 'dashboard', dashboard, DASHBOARD_KEYS, '{ port, host, open, tokenFile } or false')
  )
    return;
  if (dashboard.port !== undefined) checkInt(issues, ['dashboard', 'port'], dashboard.port, PORT_RANGE);
  if (dashboard.host !== undefined) {
    checkString(issues, ['dashboard', 'host'], dashboard.host, 'an interface such as "127.0.0.1"');
  }
  if (dashboard.open !== undefined) {
    checkBoolean(issues, ['dashboard', 'open'], dashboard.open, 'true serves it without the access token');
  }
  if (dashboard.tokenFile !== undefined) {
    checkString(issues, ['dashboard', 'tokenFile'], dashboard.tokenFile, 'a file holding the access token');
  }
}

function checkMetrics(issues: ConfigIssue[], metrics: unknown): void {
  if (!checkSection(issues, 'metrics', metrics, METRICS_KEYS, '{ port, host }')) return;
  if (metrics.port === undefined) {
    issues.push({ path: ['metrics'], at: 'value', message: 'metrics needs a port, e.g. { port: 9464 }' });
  } else {
    checkInt(issues, ['metrics', 'port'], metrics.port, PORT_RANGE);
  }
  if (metrics.host !== undefined) {
    checkString(issues, ['metrics', 'host'], metrics.host, 'an interface such as "127.0.0.1"');
  }
}

function checkLimits(issues: ConfigIssue[], limits: unknown): void {
  if (!isPlainObject(limits)) {
    issues.push({
      path: ['limits'],
      at: 'value',
      message: `limits must be an object such as { maxPacketBytes: 65536 }, got ${describeValue(limits)}`,
    });
    return;
  }
  for (const [key, v] of Object.entries(limits)) {
    const range = Object.hasOwn(LIMIT_RANGES, key) ? LIMIT_RANGES[key as keyof Limits] : undefined;
    if (range === undefined) {
      const candidates = LIMIT_KEYS.map((k) => ({ name: k, path: `limits.${k}` }));
      issues.push({
        path: ['limits', key],
        at: 'key',
        message: `unknown limit "limits.${key}"${didYouMean(key, candidates)}; the limits are ${listWords(LIMIT_KEYS)}`,
      });
    } else if (v !== undefined) {
      checkInt(issues, ['limits', key], v, range);
    }
  }
}

function checkTls(issues: ConfigIssue[], tls: unknown): void {
  if (!checkSection(issues, 'tls', tls, TLS_KEYS, '{ key, cert } of PEM file paths')) return;
  for (const key of TLS_KEYS) {
    if (tls[key] === undefined) {
      issues.push({
        path: ['tls'],
        at: 'value',
        message: `tls.${key} is missing: tls needs both key and cert (PEM file paths)`,
      });
    } else {
      checkString(issues, ['tls', key], tls[key], "a PEM file path, relative to the config file's folder");
    }
  }
}

/**
 * Checks that a section of the config is an object holding only `keys`
 * (each unknown one an issue, with a suggestion); false when it is not an
 * object at all (an issue naming its `shape`), so its keys cannot be checked.
 */
function checkSection(
  issues: ConfigIssue[],
  name: string,
  value: unknown,
  keys: readonly string[],
  shape: string,
): value is Record<string, unknown> {
  if (!isPlainObject(value)) {
    issues.push({
      path: [name],
      at: 'value',
      message: `${name} must be an object ${shape}, got ${describeValue(value)}`,
    });
    return false;
  }
  for (const key of Object.keys(value)) {
    if (keys.includes(key)) continue;
    const candidates = keys.map((k) => ({ name: k, path: `${name}.${k}` }));
    issues.push({
      path: [name, key],
      at: 'key',
      message: `unknown key "${name}.${key}"${didYouMean(key, candidates)}; ${name} takes ${listWords(keys)}`,
    });
  }
  return true;
}

function checkInt(issues: ConfigIssue[], path: string[], value: unknown, range: IntRange): void {
  if (inRange(value, range)) return;
  issues.push({
    path,
    at: 'value',
    message: `${path.join('.')} must be a whole number from ${range.min} to ${range.max}, got ${describeValue(value)}`,
  });
}

function checkString(issues: ConfigIssue[], path: string[], value: unknown, what: string): void {
  if (typeof value === 'string' && value.length > 0) return;
  issues.push({
    path,
    at: 'value',
    message: `${path.join('.')} must be a non-empty string (${what}), got ${describeValue(value)}`,
  });
}

function checkBoolean(issues: ConfigIssue[], path: string[], value: unknown, what: string): void {
  if (typeof value === 'boolean') return;
  issues.push({
    path,
    at: 'value',
    message: `${path.join('.')} must be true or false (${what}), got ${describeValue(value)}`,
  });
}

/** `secret`, `secretFile` and their spellings (`secret_file`, `SECRET`, …). */
function isSecretKey(key: string): boolean {
  const n = normalize(key);
  return n === 'secret' || n === 'secretfile';
}

/**
 * ` (did you mean "x"?)` for the candidate nearest to `key`, when it is at
 * most 2 edits away (a swap of two neighbours counts as one, case and `-`/`_`
 * are ignored) and the candidate is not too short for that; else empty.
 */
export function didYouMean(key: string, candidates: readonly { name: string; path: string }[]): string {
  const k = normalize(key);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const c = normalize(candidate.name);
    const d = editDistance(k, c);
    if (d <= 2 && d <= Math.floor(c.length / 2) && d < bestDistance) {
      best = candidate.path;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function normalize(key: string): string {
  return key.toLowerCase().replace(/[-_\s]/g, '');
}

/** A value as a message shows it: strings quoted (and cut when long), kinds for the rest. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default: {
      if (isPlainObject(value)) return 'an object';
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
