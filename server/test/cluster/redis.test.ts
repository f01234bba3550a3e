/**
 * The cluster's Redis connection against a real redis-server (Debian's
 * `redis-server` package), started by the test on a free port.
 */
import { createServer, type AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRedisServer, startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { connectRedis, redisPlace } from '../../src/cluster/redis.js';
import { NekoError } from '../../src/errors.js';

let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  await redis?.stop();
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<NekoError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NekoError);
  return err as NekoError;
}

describe('startRedis (test support)', () => {
  it('fails saying how to install Redis when there is no redis-server', () => {
    expect(() => findRedisServer('/nonexistent', ['/nonexistent/redis-server'])).toThrow(
      'Redis is not installed: apt-get install -y redis-server',
    );
  });

  it('runs a server that wants its password, and removes its directory at stop', async () => {
    const other = await startRedis();
    const client = await connectRedis(other.url);
    expect(await client.set('k', 'v')).toBe('OK');
    expect(await client.get('k')).toBe('v');
    client.disconnect();
    const noPassword = await failure(
      connectRedis(`redis://${other.host}:${other.port}`, { timeoutMs: 2_000 }),
    );
    expect(noPassword.code).toBe('NEKO_ERR_CLUSTER_UNREACHABLE');
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
  }, 30_000);
});

describe('connectRedis', () => {
  it('connects, names the connection, and answers', async () => {
    const client = await connectRedis(redis.url, { name: 'nekoconnect-test' });
    try {
      expect(await client.ping()).toBe('PONG');
      expect(await client.client('GETNAME')).toBe('nekoconnect-test');
    } finally {
      client.disconnect();
    }
  });

  it('names host and port, never the password, when the password is wrong', async () => {
    const url = `redis://:not-the-password-${redis.password.slice(0, 4)}x@${redis.host}:${redis.port}`;
    const err = await failure(connectRedis(url, { timeoutMs: 2_000 }));
    expect(err.code).toBe('NEKO_ERR_CLUSTER_UNREACHABLE');
    expect(err.message).toContain(`${redis.host}:${redis.port}`);
    expect(err.message).toContain('redis://:***@');
    expect(err.message).not.toContain('not-the-password');
    expect(err.hint).toContain('password');
  });

  it('names host and port when nothing listens there', async () => {
    const port = await closedPort();
    const err = await failure(connectRedis(`redis://:secret-pw@127.0.0.1:${port}`, { timeoutMs: 2_000 }));
    expect(err.code).toBe('NEKO_ERR_CLUSTER_UNREACHABLE');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).not.toContain('secret-pw');
  });

  it('refuses a URL that is not redis:// or rediss://, without showing its password', async () => {
    const err = await failure(connectRedis('http://user:hidden-pw@host:6379'));
    expect(err.code).toBe('NEKO_ERR_CONFIG_INVALID');
    expect(err.message).not.toContain('hidden-pw');
    expect(redisPlace('rediss://:pw@cache.internal').port).toBe(6379);
    expect(redisPlace('redis://[::1]:7000')).toMatchObject({ host: '::1', port: 7000 });
  });

  it('fails a command at once while Redis is down, then works again once it is back', async () => {
    const other = await startRedis();
    try {
      const client = await connectRedis(other.url);
      try {
        await other.restart(async () => {
          const err = await client.get('k').then(
            () => undefined,
            (e: unknown) => e as Error,
          );
          expect(err).toBeInstanceOf(Error);
        });
        let answer: string | undefined;
        for (let i = 0; i < 100 && answer === undefined; i++) {
          answer = await client.ping().catch(async () => {
            await new Promise((resolve) => setTimeout(resolve, 50));
            return undefined;
          });
        }
        expect(answer).toBe('PONG');
      } finally {
        client.disconnect();
      }
    } finally {
      await other.stop();
    }
  }, 30_000);
});
