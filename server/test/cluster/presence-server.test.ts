/**
 * ctx.presence through a real server, on its own (memory) and as a process
 * of a cluster (a real redis-server): an owned nickname claim is gone when
 * its client disconnects (after onLeave could read it), owner: 'session'
 * is refused from the plugin-wide context, and a reload leaves no
 * subscription behind.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { connectRedis } from '../../src/cluster/redis.js';
import type { ServerOptions } from '../../src/server/options.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { connectClient, startServer } from '../helpers/server.js';

let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  await redis?.stop();
});

/** A chat-like plugin: `claim <nick>`, `who`, `pub <text>`; its events go to globalThis[key]. */
const NICKS = (key: string, version: string, subscribe: boolean): string => `
const events = (globalThis.${key} ??= []);
export class Logic {
  async onLoad(plugin) {
    try {
      await plugin.presence.set('x', 1, { owner: 'session' });
    } catch (err) {
      events.push('onLoad owner: ' + err.code);
    }
    ${subscribe ? `await plugin.presence.subscribe('news', (v) => events.push('${version} got ' + v));` : ''}
  }
  async onLeave(ctx) {
    events.push('onLeave reads ' + JSON.stringify(await ctx.presence.hgetall('nicks')));
  }
  async recv(ctx) {
    const [cmd, arg] = ctx.text().split(' ');
    if (cmd === 'claim') {
      try {
        ctx.send(String(await ctx.presence.hsetnx('nicks', arg, ctx.session.id, { owner: 'session' })));
      } catch (err) {
        ctx.send(err.code + ' ' + err.message);
      }
    } else if (cmd === 'who') {
      ctx.send(JSON.stringify(await ctx.presence.hgetall('nicks')));
    } else if (cmd === 'pub') {
      ctx.send(String(await ctx.presence.publish('news', arg)));
    }
  }
}
`;

const modes: [string, () => Partial<ServerOptions>][] = [
  ['one process (memory)', () => ({})],
  [
    'a cluster (Redis)',
    () => ({ cluster: { redis: redis.url, name: `presence-server-${randomBytes(4).toString('hex')}` } }),
  ],
];

let keys = 0;

describe.each(modes)('ctx.presence in %s', (mode, options) => {
  it('an owned nickname claim is gone once its client disconnects, after onLeave read it', async () => {
    const key = `__presenceNicks${++keys}`;
    const plugins = await makePluginsDir([{ greeter: 'nicks', logic: NICKS(key, 'v1', false) }]);
    const { port, server } = await startServer({ plugins, ...options() });
    const mimi = await connectClient(port);
    const tama = await connectClient(port);
    expect((await mimi.request('nicks', 'claim mimi')).text()).toBe('true');
    expect((await tama.request('nicks', 'claim mimi')).text()).toBe('false');
    expect((await tama.request('nicks', 'claim tama')).text()).toBe('true');
    const mimiId = JSON.parse((await tama.request('nicks', 'who')).text()).mimi as string;
    expect(typeof mimiId).toBe('string');
    const cluster = server.cluster;
    expect(cluster !== undefined).toBe(mode.includes('cluster'));
    if (cluster !== undefined) {
      // In a cluster the claims are in Redis, where every process sees them.
      const raw = await connectRedis(redis.url);
      try {
        expect(Object.keys(await raw.hgetall(`nc:${cluster.name}:p:nicks:nicks`)).sort()).toEqual([
          'mimi',
          'tama',
        ]);
      } finally {
        await raw.quit();
      }
    }

    await mimi.close();
    await expect
      .poll(async () => JSON.parse((await tama.request('nicks', 'who')).text()))
      .toEqual({
        tama: expect.any(String),
      });
    const events = (globalThis as Record<string, unknown>)[key] as string[];
    expect(events).toContain('onLoad owner: NEKO_ERR_PRESENCE_OWNER');
    // onLeave ran before the claim was removed, and could read it.
    expect(events.find((e) => e.startsWith('onLeave reads'))).toContain(`"mimi":"${mimiId}"`);
    // The name is free again: another client claims it.
    const kuro = await connectClient(port);
    expect((await kuro.request('nicks', 'claim mimi')).text()).toBe('true');
  });

  it('a reload ends the old version’s subscriptions: only the new version hears the channel', async () => {
    const key = `__presenceNicks${++keys}`;
    const plugins = await makePluginsDir([{ greeter: 'nicks', logic: NICKS(key, 'v1', true) }]);
    const { port, server } = await startServer({ plugins, ...options() });
    const client = await connectClient(port);
    const events = (): string[] => (globalThis as Record<string, unknown>)[key] as string[];
    expect((await client.request('nicks', 'pub one')).text()).toBe('1');
    await expect.poll(events).toContain('v1 got one');
    expect(server.presenceCounters()).toMatchObject({ published: 1, delivered: 1, failures: 0 });

    // v2 does not subscribe: nothing is left listening.
    await writeFile(join(plugins, 'nicks', 'logic.js'), NICKS(key, 'v2', false));
    expect((await server.reloadPlugin(join(plugins, 'nicks'))).kind).toBe('loaded');
    expect((await client.request('nicks', 'pub two')).text()).toBe('0');

    // v3 subscribes again: one subscription, heard once.
    await writeFile(join(plugins, 'nicks', 'logic.js'), NICKS(key, 'v3', true));
    expect((await server.reloadPlugin(join(plugins, 'nicks'))).kind).toBe('loaded');
    expect((await client.request('nicks', 'pub three')).text()).toBe('1');
    await expect.poll(events).toContain('v3 got three');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events().filter((e) => e.includes(' got '))).toEqual(['v1 got one', 'v3 got three']);
  });
});

describe('ctx.presence while the cluster’s Redis is away', () => {
  it('the handler gets NEKO_ERR_CLUSTER_UNREACHABLE without the password, the server goes on, and presence works again after', async () => {
    const key = `__presenceNicks${++keys}`;
    const plugins = await makePluginsDir([{ greeter: 'nicks', logic: NICKS(key, 'v1', false) }]);
    const { port } = await startServer({
      plugins,
      cluster: { redis: redis.url, name: `presence-outage-${randomBytes(4).toString('hex')}` },
    });
    const client = await connectClient(port);
    expect((await client.request('nicks', 'claim mimi')).text()).toBe('true');
    const during = await redis.restart(async () => (await client.request('nicks', 'claim tama')).text());
    expect(during).toMatch(/^NEKO_ERR_CLUSTER_UNREACHABLE /);
    expect(during).toContain(`127.0.0.1:${redis.port}`);
    expect(during).not.toContain(redis.password);
    // Redis came back empty: the claim can be made again once the connection is back.
    await expect
      .poll(async () => (await client.request('nicks', 'claim tama')).text(), { timeout: 10_000 })
      .toBe('true');
  }, 30_000);
});
