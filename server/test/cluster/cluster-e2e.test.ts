/**
 * Two `nekoconnect start` processes of one cluster, on a real Redis and a
 * real PostgreSQL, behave as one server: chat clients on both see each
 * other, `who` and nicknames span the cluster, `sendTo` reaches a session of
 * the other process, and the todo list is the same on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { assertBuilt } from '../cli/run-cli.js';
import { addTodo, freshDatabase, Todo, type TodoItem } from '../storage/postgres-processes.js';
import {
  Chat,
  clusterName,
  clusterPlugins,
  nick,
  peer,
  say,
  startNode,
  who,
  type NodeOptions,
} from './cluster-processes.js';

let redis: RunningRedis;
let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

async function twoNodes(): Promise<
  [Awaited<ReturnType<typeof startNode>>, Awaited<ReturnType<typeof startNode>>]
> {
  const options: NodeOptions = {
    redis: redis.url,
    database: await freshDatabase(postgres, 'cluster'),
    plugins: await clusterPlugins(),
    name: clusterName(),
  };
  const [a, b] = await Promise.all([startNode(options), startNode(options)]);
  expect(a.processId).not.toBe(b.processId);
  return [a, b];
}

describe('two processes on one Redis and one PostgreSQL', () => {
  it('chat: each side sees the other join, rename, talk and leave; who and nicknames span both', async () => {
    const [a, b] = await twoNodes();
    const mimi = await peer(a.port);
    expect(await nick(mimi, 'mimi')).toEqual({ nick: 'mimi' });
    const tama = await peer(b.port);
    expect(await nick(tama, 'tama')).toEqual({ nick: 'tama' });
    // mimi, on the other process, heard a guest join and become tama.
    const joined = await mimi.push<{ nick: string }>(Chat.Joined);
    expect(joined.nick).toMatch(/^guest-\d+$/);
    expect(await mimi.push(Chat.Renamed)).toEqual({ from: joined.nick, nick: 'tama' });

    await say(mimi, 'hello from a');
    expect(await tama.push(Chat.Say)).toEqual({ nick: 'mimi', text: 'hello from a' });
    await say(tama, 'hello from b');
    expect(await mimi.push(Chat.Say)).toEqual({ nick: 'tama', text: 'hello from b' });
    // Nobody hears their own words.
    expect(mimi.pushes.filter((p) => p.op === Chat.Say)).toEqual([]);
    expect(tama.pushes.filter((p) => p.op === Chat.Say)).toEqual([]);

    // who lists the whole cluster, asked on either process.
    expect(await who(mimi)).toEqual(['mimi', 'tama']);
    expect(await who(tama)).toEqual(['mimi', 'tama']);

    // A nickname held on one process is taken on the other; once given up, it is free there too.
    const kiki = await peer(b.port);
    expect(await nick(kiki, 'mimi')).toEqual({ error: 'the nickname mimi is taken' });
    expect(await nick(mimi, 'mimi2')).toEqual({ nick: 'mimi2' });
    expect(await nick(kiki, 'mimi')).toEqual({ nick: 'mimi' });
    expect(await who(mimi)).toEqual(['mimi', 'mimi2', 'tama']);

    // Two clients racing for one nickname on two processes: exactly one gets it.
    const x = await peer(a.port);
    const y = await peer(b.port);
    const race = await Promise.all([nick(x, 'sora'), nick(y, 'sora')]);
    expect(race.filter((r) => r.nick === 'sora')).toHaveLength(1);
    expect(race.filter((r) => r.error === 'the nickname sora is taken')).toHaveLength(1);

    // tama leaves: mimi, on the other process, is told, and who forgets tama.
    await tama.client.close();
    expect(await mimi.push(Chat.Left, (v: { nick: string }) => v.nick === 'tama')).toEqual({ nick: 'tama' });
    expect(await who(mimi)).not.toContain('tama');
  }, 60_000);

  it('sendTo reaches a session of the other process, acknowledged; an unknown session is gone', async () => {
    const [a, b] = await twoNodes();
    const sender = await peer(a.port);
    const receiver = await peer(b.port);
    const id = (await receiver.client.request('dm', '', { op: 1, replyOp: 1 })).text();
    const sent = await sender.client.request('dm', `${id} psst`, { op: 2, replyOp: 2 });
    expect(sent.text()).toBe('delivered');
    await expect
      .poll(() => receiver.pushes.map((p) => [p.greeter, p.op, p.text()]))
      .toEqual([['dm', 7, 'psst']]);
    const nobody = await sender.client.request('dm', `no-such-session nothing`, { op: 2, replyOp: 2 });
    expect(nobody.text()).toBe('gone');
    // Once the receiver left, it is gone from the other process too.
    await receiver.client.close();
    await expect
      .poll(async () => (await sender.client.request('dm', `${id} late`, { op: 2, replyOp: 2 })).text(), {
        timeout: 10_000,
      })
      .toBe('gone');
  }, 60_000);

  it('todo: an item added through one process is listed by the other (shared PostgreSQL)', async () => {
    const [a, b] = await twoNodes();
    const one = await peer(a.port);
    const two = await peer(b.port);
    const id = await addTodo(one.client, 'buy cat food');
    const listed = await two.client.request('todo', '', { op: Todo.List, replyOp: Todo.List });
    expect(listed.json<TodoItem[]>().map((item) => [item._id, item.title])).toEqual([[id, 'buy cat food']]);
  }, 60_000);
});
