/**
 * The `cluster` server option: its defaults, and a coded configuration
 * error naming the field for a value that cannot work. A server without it
 * has no bus and no cluster.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { NekoError } from '../../src/errors.js';
import { resolveServerOptions, type ClusterOptions } from '../../src/server/options.js';
import { createServer } from '../../src/server/server.js';

const resolveCluster = (cluster: unknown) =>
  resolveServerOptions({ secret: 's', cluster: cluster as ClusterOptions }).cluster;

function refusal(cluster: unknown): NekoError {
  try {
    resolveCluster(cluster);
  } catch (err) {
    expect(err).toBeInstanceOf(NekoError);
    return err as NekoError;
  }
  throw new Error('accepted');
}

describe('the cluster option', () => {
  it('fills in the name, heartbeat TTL and sendTo timeout', () => {
    expect(resolveCluster({ redis: 'redis://127.0.0.1:6379' })).toEqual({
      redis: 'redis://127.0.0.1:6379',
      name: 'default',
      heartbeatTtlMs: 5_000,
      sendToTimeoutMs: 2_000,
    });
    expect(resolveServerOptions({ secret: 's' }).cluster).toBeUndefined();
  });

  it.each([
    [{}, 'cluster.redis'],
    [{ redis: '' }, 'cluster.redis'],
    [{ redis: 'redis://h', name: 'two words' }, 'cluster.name'],
    [{ redis: 'redis://h', name: 'x'.repeat(65) }, 'cluster.name'],
    [{ redis: 'redis://h', heartbeatTtlMs: 10 }, 'cluster.heartbeatTtlMs'],
    [{ redis: 'redis://h', heartbeatTtlMs: 1.5e3 + 0.5 }, 'cluster.heartbeatTtlMs'],
    [{ redis: 'redis://h', sendToTimeoutMs: 0 }, 'cluster.sendToTimeoutMs'],
  ])('refuses %j with NEKO_ERR_CONFIG_INVALID naming %s', (cluster, field) => {
    const err = refusal(cluster);
    expect(err.code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect(err.message).toContain(field);
  });

  it('refuses a URL that is not redis:// when the server is created, without its password', () => {
    let caught: unknown;
    try {
      createServer({ secret: 's', cluster: { redis: 'http://:hunter2@host:6379' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NekoError);
    expect((caught as NekoError).code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect((caught as NekoError).message).not.toContain('hunter2');
  });

  it('gives a server on its own a process id and no cluster or bus', () => {
    const server = createServer({ secret: 's', storage: { backend: 'memory' } });
    expect(server.processId).toMatch(/^[0-9a-f]{16}$/);
    expect(server.cluster).toBeUndefined();
    expect(server.bus).toBeUndefined();
  });

  it('fails the start with NEKO_ERR_CLUSTER_UNREACHABLE when Redis cannot be reached, naming host and port but not the password', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const server = createServer({
      secret: 's',
      port: 0,
      storage: { backend: 'memory' },
      cluster: { redis: `redis://:hunter2@127.0.0.1:${port}` },
    });
    const err = await server.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    await server.close();
    expect(err).toBeInstanceOf(NekoError);
    expect((err as NekoError).code).toBe('NEKO_ERR_CLUSTER_UNREACHABLE');
    expect((err as NekoError).message).toContain(`127.0.0.1:${port}`);
    expect((err as NekoError).message).not.toContain('hunter2');
    expect(server.address()).toBeUndefined();
  });
});
