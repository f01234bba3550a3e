/**
 * A resume across two `nekoconnect start` processes of one cluster, on a
 * real Redis and a real PostgreSQL: an SDK client with `reconnect`, behind a
 * relay that sends its next connection to the other process, gets its
 * session back there (id, state, group, the direct message sent to it
 * during the gap), and a group broadcast from the first process reaches it.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { connect, type ClientPacket } from '../../src/client/client.js';
import { assertBuilt } from '../cli/run-cli.js';
import { freshDatabase } from '../storage/postgres-processes.js';
import { clusterName, SECRET, startNode, type NodeOptions } from './cluster-processes.js';
import { gamePlugins } from './handover-support.js';
import { startRelay } from '../helpers/proxy.js';

let redis: RunningRedis;
let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

describe('two processes started by the CLI', () => {
  it('an SDK client that reconnects through the other process resumes its session there', async () => {
    const options: NodeOptions = {
      redis: redis.url,
      database: await freshDatabase(postgres, 'resume'),
      plugins: (await gamePlugins()).plugins,
      name: clusterName(),
    };
    const [a, b] = await Promise.all([startNode(options), startNode(options)]);
    const relay = await startRelay(a.port);
    const client = await connect({
      secret: SECRET,
      port: relay.port,
      reconnect: { backoff: { initialMs: 50, maxMs: 100 } },
    });
    onTestFinished(() => client.close());
    const said: string[] = [];
    client.on('reconnected', ({ resumed }) => said.push(`reconnected resumed=${resumed}`));
    const pushes: string[] = [];
    client.on('packet', (p: ClientPacket) => pushes.push(`${p.op} ${p.text()}`));
    const ask = async (text: string): Promise<string> =>
      (await client.request('game', text, { op: 1, replyOp: 1 })).text();

    const id = await ask('me');
    expect(await ask('set cat')).toBe('ok');
    expect(await ask('join')).toBe('true');
    // A second client, on the first process, in the same group.
    const other = await connect({ secret: SECRET, port: a.port });
    onTestFinished(() => other.close());
    const tell = async (text: string): Promise<string> =>
      (await other.request('game', text, { op: 1, replyOp: 1 })).text();
    expect(await tell('join')).toBe('true');

    // The connection drops; while the client cannot get back, a direct message is kept for it.
    relay.refuse(true);
    relay.cut();
    await expect.poll(() => client.state).toBe('reconnecting');
    await expect.poll(() => tell(`dm ${id} psst`)).toBe('queued');
    relay.target = b.port;
    relay.refuse(false);

    await expect.poll(() => said, { timeout: 10_000 }).toEqual(['reconnected resumed=true']);
    expect(JSON.parse(await ask('get'))).toEqual({
      id,
      v: 'cat',
      seen: '1970-01-02T00:00:00.000Z',
      bytes: [1, 2, 3],
    });
    expect(pushes).toEqual(['6 while away', '9 psst', '7 welcome back']);
    // Its group followed it: a broadcast from the first process reaches it on the second.
    expect(await tell('room meow')).toBe('0');
    await expect.poll(() => pushes).toContain('8 meow');
    expect(await tell(`dm ${id} again`)).toBe('delivered');
    await expect.poll(() => pushes).toContain('9 again');
    await b.cli.waitFor(new RegExp(`session ${id} resumed from .*moved from process ${a.processId}`), 5_000);
    await a.cli.waitFor(new RegExp(`session ${id} handed over to another process`), 5_000);
  });
});
