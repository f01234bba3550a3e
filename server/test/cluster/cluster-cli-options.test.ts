/**
 * Which cluster a start joins: `--cluster`, `NEKOCONNECT_REDIS_URL` and the
 * config's `cluster`, in that order; the name; the config's checks; the
 * warning of a cluster on nedb files; the environment a reload gets back.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterEnv, resolveCluster, type ClusterSources } from '../../src/config/cluster-options.js';
import { checkConfig } from '../../src/config/schema.js';
import { resolveStartOptions } from '../../src/config/start-options.js';
import { reloadEnv, restartSettings } from '../../src/cli/reload.js';
import { NekoError } from '../../src/errors.js';
import { tempDir } from '../config/cli-in-dir.js';

const FLAG = 'redis://:pw-of-the-flag@redis-a:6380';
const ENV = 'redis://:pw-of-the-env@redis-b:6381';
const CONFIG = 'rediss://user:pw-of-the-config@redis-c';

function resolve(sources: Partial<ClusterSources>): ReturnType<typeof resolveCluster> {
  return resolveCluster({ env: {}, ...sources });
}

function thrown(run: () => unknown): NekoError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(NekoError);
    return err as NekoError;
  }
  throw new Error('expected an error');
}

describe('resolveCluster', () => {
  it('is off without a flag, the environment or the config', () => {
    expect(resolve({})).toBeUndefined();
    expect(resolve({ env: { NEKOCONNECT_REDIS_URL: '' } })).toBeUndefined();
  });

  it('takes --cluster over NEKOCONNECT_REDIS_URL over the config, and shows each without its password', () => {
    const all = { cluster: FLAG, env: { NEKOCONNECT_REDIS_URL: ENV }, config: { redis: CONFIG } };
    expect(resolve(all)).toEqual({
      options: { redis: FLAG, name: 'default' },
      name: 'default',
      shown: 'redis://:***@redis-a:6380',
      source: '--cluster',
    });
    const env = resolve({ env: { NEKOCONNECT_REDIS_URL: ENV }, config: { redis: CONFIG } });
    expect([env?.options.redis, env?.shown, env?.source]).toEqual([
      ENV,
      'redis://:***@redis-b:6381',
      'NEKOCONNECT_REDIS_URL',
    ]);
    const config = resolve({ config: { redis: CONFIG }, configFile: 'neko.json' });
    expect([config?.options.redis, config?.shown, config?.source]).toEqual([
      CONFIG,
      'rediss://user:***@redis-c',
      'cluster in neko.json',
    ]);
  });

  it('takes the URL from the environment and the rest from a config cluster without redis, and refuses one with no URL anywhere', () => {
    const config = { name: 'lobby', heartbeatTtlMs: 1000 };
    expect(resolve({ env: { NEKOCONNECT_REDIS_URL: ENV }, config })?.options).toEqual({
      redis: ENV,
      name: 'lobby',
      heartbeatTtlMs: 1000,
    });
    const none = thrown(() => resolve({ config, configFile: 'neko.json' }));
    expect(none.code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect(none.message).toBe(
      'cluster in neko.json names no redis, and neither --cluster nor NEKOCONNECT_REDIS_URL gives the Redis URL',
    );
  });

  it('names the cluster by --cluster-name, else the config, else default; the timings come from the config', () => {
    const config = { redis: CONFIG, name: 'lobby', heartbeatTtlMs: 1000, sendToTimeoutMs: 500 };
    expect(resolve({ cluster: FLAG, config })?.options).toEqual({
      redis: FLAG,
      name: 'lobby',
      heartbeatTtlMs: 1000,
      sendToTimeoutMs: 500,
    });
    expect(resolve({ cluster: FLAG, clusterName: 'arena', config })?.name).toBe('arena');
    expect(resolve({ cluster: FLAG })?.name).toBe('default');
  });

  it('removes NEKOCONNECT_REDIS_URL from the environment it reads, and gives it back for a reload', () => {
    const env: NodeJS.ProcessEnv = { NEKOCONNECT_REDIS_URL: ENV, OTHER: 'x' };
    const cluster = resolveCluster({ env });
    expect(env).toEqual({ OTHER: 'x' });
    expect(clusterEnv(cluster)).toEqual({ NEKOCONNECT_REDIS_URL: ENV });
    // Read but beaten by the flag: gone all the same, and not given back.
    const beaten: NodeJS.ProcessEnv = { NEKOCONNECT_REDIS_URL: ENV };
    expect(clusterEnv(resolveCluster({ cluster: FLAG, env: beaten }))).toEqual({});
    expect(beaten).toEqual({});
    expect(clusterEnv(undefined)).toEqual({});
  });

  it('refuses an empty --cluster, a bad --cluster-name, --cluster-name alone and a URL that is not Redis, never showing the password', () => {
    expect(thrown(() => resolve({ cluster: '' })).code).toBe('NEKO_ERR_CLI_USAGE');
    const alone = thrown(() => resolve({ clusterName: 'lobby' }));
    expect([alone.code, alone.message]).toEqual([
      'NEKO_ERR_CLI_USAGE',
      '--cluster-name names a cluster, but no cluster is given',
    ]);
    expect(thrown(() => resolve({ cluster: FLAG, clusterName: 'a b' })).message).toMatch(
      /^--cluster-name must be 1 to 64 letters/,
    );
    const wrong = thrown(() => resolve({ cluster: 'http://:pw-of-the-flag@redis-a:6380' }));
    expect(wrong.code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect(wrong.message).toBe(
      'the Redis URL http://:***@redis-a:6380 has the scheme http, not redis or rediss (from --cluster)',
    );
    const env = thrown(() => resolve({ env: { NEKOCONNECT_REDIS_URL: 'redis://:pw-of-the-env@' } }));
    expect(env.message).toContain('(from NEKOCONNECT_REDIS_URL)');
    expect(env.message).not.toContain('pw-of-the-env');
  });
});

describe('the config key cluster', () => {
  it('takes redis, name, heartbeatTtlMs and sendToTimeoutMs, each checked', () => {
    expect(checkConfig({ cluster: { redis: CONFIG, name: 'a.b-c_1', heartbeatTtlMs: 1000 } })).toEqual([]);
    const issues = checkConfig({
      cluster: {
        redis: 'http://:pw-of-the-config@x',
        name: 'no spaces',
        heartbeatTtlMs: 5,
        sendToTimeoutMs: 'x',
        ttl: 1,
      },
    });
    expect(issues.map((i) => i.path.join('.'))).toEqual([
      'cluster.ttl',
      'cluster.redis',
      'cluster.name',
      'cluster.heartbeatTtlMs',
      'cluster.sendToTimeoutMs',
    ]);
    // The password is masked in the message, and no code frame may show its line.
    expect(issues.map((i) => i.message).join('\n')).not.toContain('pw-of-the-config');
    expect(issues.every((i) => i.secret === true)).toBe(true);
    // redis may be left to --cluster or NEKOCONNECT_REDIS_URL: resolveCluster refuses a cluster that has none.
    expect(checkConfig({ cluster: { name: 'lobby', heartbeatTtlMs: 1000 } })).toEqual([]);
    expect(checkConfig({ redisUrl: FLAG })[0]?.message).toMatch(/did you mean "cluster.redis"/);
  });
});

describe('resolveStartOptions with a cluster', () => {
  it('maps the cluster to serverOptions.cluster, and warns that nedb data is this process’s own', async () => {
    const dir = await tempDir();
    const config = path.join(dir, 'nekoconnect.config.json');
    await writeFile(
      config,
      JSON.stringify({ cluster: { redis: CONFIG, name: 'lobby', heartbeatTtlMs: 1000 } }),
    );
    const env: NodeJS.ProcessEnv = { NEKOCONNECT_SECRET: 's', NEKOCONNECT_REDIS_URL: ENV };
    const started = await resolveStartOptions(dir, { config, dataDir: 'data' }, env);
    expect(started.serverOptions.cluster).toEqual({ redis: ENV, name: 'lobby', heartbeatTtlMs: 1000 });
    expect(started.cluster?.source).toBe('NEKOCONNECT_REDIS_URL');
    expect(env.NEKOCONNECT_REDIS_URL).toBeUndefined();
    const warning = started.warnings.find((w) => w.code === 'NEKO_ERR_CLUSTER_LOCAL_DATA');
    expect(warning?.message).toBe(
      'this process joins cluster lobby, but keeps plugin data in nedb files in data, its own: ' +
        "the cluster's other processes do not see it",
    );
    expect(warning?.hint).toMatch(/--storage postgres:\/\//);

    // A reload resolves the same cluster from the URL given back: nothing needs a restart.
    const again = await resolveStartOptions(dir, { config, dataDir: 'data' }, reloadEnv({}, started));
    expect(again.serverOptions.cluster).toEqual(started.serverOptions.cluster);
    expect(restartSettings(started, again, true)).toEqual([]);
    // Another cluster name needs one, named once.
    const renamed = await resolveStartOptions(
      dir,
      { config, dataDir: 'data', clusterName: 'arena' },
      reloadEnv({}, started),
    );
    expect(restartSettings(started, renamed, true)).toEqual(['cluster']);
  });

  it('on PostgreSQL or alone, there is no warning, and alone no cluster at all', async () => {
    const dir = await tempDir();
    const env = { NEKOCONNECT_SECRET: 's' };
    const shared = await resolveStartOptions(
      dir,
      { noConfig: true, cluster: FLAG, storage: 'postgres://neko:pw@db/neko' },
      { ...env },
    );
    expect(shared.warnings).toEqual([]);
    expect(shared.serverOptions.cluster?.redis).toBe(FLAG);
    const alone = await resolveStartOptions(dir, { noConfig: true }, { ...env });
    expect([alone.cluster, 'cluster' in alone.serverOptions]).toEqual([undefined, false]);
  });
});
