/**
 * The cluster of docs/deploy.md behind the guide's HAProxy, on real engines:
 * Redis, PostgreSQL, HAProxy (its config the guide's `haproxy.cfg`, filled in
 * by scripts/test-support/haproxy.ts with the test's ports and faster
 * checks), and two processes of the guide's template unit (see cluster.ts).
 *
 * 1. kill -9 one process under load: every client that was on it (TCP and
 *    WebSocket, SDK `reconnect`) is back through HAProxy, on the survivor,
 *    within 2 s; no acknowledged todo write is missing from PostgreSQL; the
 *    dead process's users leave chat's `who` within twice the heartbeat TTL.
 * 2. Before any check noticed the death: a new client sent to the dead
 *    process is redispatched (the guide's `retries` and `redispatch`).
 * 3. A drain (SIGUSR2): the process's `/readyz` answers 503 while a
 *    conversation keeps it running, HAProxy marks it down, new clients go
 *    to the other process, and its client finishes its request, then
 *    reconnects to the other process.
 * 4. The guide's runtime API drain (`set server … state drain`): new
 *    clients go to the other process, the one already there stays.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startHaproxy,
  type HaproxyChecks,
  type RunningHaproxy,
} from '../../../scripts/test-support/haproxy.js';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { connect, isNekoError, type NekoClient } from '../../src/client/index.js';
import { assertBuilt } from '../cli/run-cli.js';
import { directStorage, expectLossNoticed, freshDatabase, lostItems } from '../storage/postgres-processes.js';
import { installCluster, metric, startInstance, UNIT_SECRET, type Instance } from './cluster.js';
import { GUIDE, titledBlock } from './guide.js';

/** The heartbeat TTL of the guide's cluster: the default. */
const TTL_MS = 5_000;
/** HAProxy's checks, faster than the guide's 2 s so that the test is short; everything else is the guide's. */
const CHECKS: HaproxyChecks = { inter: '200ms', fastinter: '100ms', downinter: '200ms', fall: 2, rise: 1 };
const Chat = { Nick: 1, Who: 3, Error: 9 } as const;
const Todo = { Add: 1, Error: 9 } as const;

/** A plugin whose op 1 answers after the number of milliseconds it is sent: a conversation that lasts. */
const SLOW = {
  name: 'slow',
  files: {
    'spec.conf': '$name {"Slow"};\n$greet {"slow"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    'logic.js':
      'export class Logic {\n  async recv(ctx) {\n    await new Promise((r) => setTimeout(r, Number(ctx.text())));\n    ctx.send("done", { op: 1 });\n  }\n}\n',
  },
};

let redis: RunningRedis;
let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

interface Cluster {
  nodes: [Instance, Instance];
  haproxy: RunningHaproxy;
  database: string;
}

/** Two instances of the guide's template unit on fresh data, and the guide's HAProxy in front of them. */
async function cluster(label: string, checks: HaproxyChecks = CHECKS): Promise<Cluster> {
  const database = await freshDatabase(postgres, label);
  const install = await installCluster({
    redis: redis.url,
    database,
    name: `${label}${Date.now().toString(36)}`,
    extra: [SLOW],
  });
  const nodes = (await Promise.all([startInstance(install, '1'), startInstance(install, '2')])) as [
    Instance,
    Instance,
  ];
  const haproxy = await startHaproxy({
    config: titledBlock('haproxy.cfg').body,
    backends: {
      nekoconnect: nodes.map((n) => ({
        host: '127.0.0.1',
        port: n.ports.port,
        checkPort: n.ports.metricsPort,
      })),
      nekoconnect_ws: nodes.map((n) => ({
        host: '127.0.0.1',
        port: n.ports.wsPort,
        checkPort: n.ports.metricsPort,
      })),
    },
    checks,
  });
  // The guide's HAProxy, as filled in: what is kept is the guide's, the checks are the test's.
  expect(haproxy.config).toMatch(/balance leastconn/);
  expect(haproxy.config).toMatch(/http-check send meth GET uri \/readyz/);
  expect(haproxy.config).toContain(
    `server neko2 127.0.0.1:${nodes[1].ports.port} check port ${nodes[1].ports.metricsPort}`,
  );
  // Up once checked; with checks too slow to have run yet, "UP 1/2" (up, as HAProxy starts its servers) counts.
  const up = (status: Record<string, string>): Record<string, string> =>
    checks === CHECKS
      ? status
      : Object.fromEntries(Object.entries(status).map(([k, v]) => [k, v.replace(/^UP 1\/2$/, 'UP')]));
  await expect
    .poll(
      async () => [
        up(await haproxy.serverStatus('nekoconnect')),
        up(await haproxy.serverStatus('nekoconnect_ws')),
      ],
      {
        timeout: 5_000,
      },
    )
    .toEqual([
      { neko1: 'UP', neko2: 'UP' },
      { neko1: 'UP', neko2: 'UP' },
    ]);
  return { nodes, haproxy, database };
}

/** A client through HAProxy, over TCP or WebSocket, with the SDK's default `reconnect`. */
async function viaHaproxy(haproxy: RunningHaproxy, transport: 'tcp' | 'ws'): Promise<NekoClient> {
  const client =
    transport === 'tcp'
      ? await connect({ secret: UNIT_SECRET, port: haproxy.port, reconnect: true })
      : await connect({
          secret: UNIT_SECRET,
          url: `ws://127.0.0.1:${haproxy.ports['nekoconnect_ws']}/`,
          reconnect: true,
        });
  return client;
}

/** Which of the nodes served the client's last handshake: the one whose handshake count went up. */
async function landedOn(nodes: readonly Instance[], connectOne: () => Promise<NekoClient>) {
  const before = await Promise.all(nodes.map((n) => metric(n, 'nekoconnect_handshakes_total')));
  const client = await connectOne();
  const after = await Promise.all(nodes.map((n) => metric(n, 'nekoconnect_handshakes_total')));
  const moved = nodes.filter((_n, i) => after[i]! > before[i]!);
  expect(moved).toHaveLength(1);
  return { client, node: moved[0]! };
}

describe('the guide’s cluster behind HAProxy', () => {
  it('kill -9 one process: its clients are back on the survivor within 2 s, no acknowledged write lost, its users leave who', async () => {
    const { nodes, haproxy, database } = await cluster('failover');
    const [doomed, survivor] = nodes;
    const clients: Array<{ client: NekoClient; node: Instance; nick: string; acked: string[] }> = [];
    for (let i = 0; i < 8; i++) {
      const transport = i % 4 === 3 ? 'ws' : 'tcp';
      const { client, node } = await landedOn(nodes, () => viaHaproxy(haproxy, transport));
      const nick = `neko${i}`;
      const answer = await client.request('chat', nick, { op: Chat.Nick, replyOp: [Chat.Nick, Chat.Error] });
      expect(answer.json()).toEqual({ nick });
      clients.push({ client, node, nick, acked: [] });
    }
    const onDoomed = clients.filter((c) => c.node === doomed);
    // leastconn spread them: both processes serve some, over both transports.
    expect(onDoomed.length).toBeGreaterThanOrEqual(3);
    expect(onDoomed.length).toBeLessThanOrEqual(5);
    // A client of the survivor's own, not through HAProxy, watches who.
    const watcher = await connect({ secret: UNIT_SECRET, port: survivor.ports.port });
    const who = async (): Promise<string[]> =>
      (await watcher.request('chat', '', { op: Chat.Who, replyOp: Chat.Who })).json<{ nicks: string[] }>()
        .nicks;
    await watcher.request('chat', 'watcher', { op: Chat.Nick, replyOp: Chat.Nick });
    expect((await who()).sort()).toEqual([...clients.map((c) => c.nick), 'watcher'].sort());

    // Every client writes todo items one after the other; an acknowledged one is recorded.
    const reconnected = new Map<NekoClient, number>();
    const resumed: boolean[] = [];
    const dropped = new Set<NekoClient>();
    const errors: string[] = [];
    let writing = true;
    const writers = clients.map(async (c, i) => {
      c.client.on('reconnecting', () => dropped.add(c.client));
      c.client.on('reconnected', (event) => {
        reconnected.set(c.client, Date.now());
        resumed.push(event.resumed);
      });
      for (let n = 0; writing; n++) {
        try {
          const reply = await c.client.request(
            'todo',
            { title: `c${i}-${n}` },
            {
              op: Todo.Add,
              replyOp: [Todo.Add, Todo.Error],
            },
          );
          if (reply.op !== Todo.Add) throw new Error(`todo answered ${reply.op}: ${reply.text()}`);
          c.acked.push(reply.json<{ _id: string }>()._id);
        } catch (err) {
          // In flight at the kill: not acknowledged, and never sent again by the SDK.
          if (!isNekoError(err, 'NEKO_ERR_CLIENT_DROPPED'))
            errors.push(`${c.nick}: ${(err as Error).message}`);
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const ackedBeforeKill = clients.map((c) => c.acked.length);
    expect(Math.min(...ackedBeforeKill)).toBeGreaterThan(0);

    const killed = Date.now();
    doomed.child.kill('SIGKILL');
    // Every client of the dead process is back within 2 s (measured from the kill to its 'reconnected').
    await expect.poll(() => reconnected.size, { timeout: 5_000, interval: 20 }).toBe(onDoomed.length);
    const delays = onDoomed.map((c) => reconnected.get(c.client)! - killed);
    console.log(`reconnected through HAProxy after kill -9, ms: ${delays.sort((a, b) => a - b).join(', ')}`);
    expect(Math.max(...delays)).toBeLessThan(2_000);
    // Only they dropped, and each came back on a new session (the dead process kept none).
    expect(dropped.size).toBe(onDoomed.length);
    expect(onDoomed.every((c) => dropped.has(c.client))).toBe(true);
    expect(resumed).toEqual(onDoomed.map(() => false));
    // ... on the survivor, where each writes again; HAProxy has marked the dead process down.
    await expect
      .poll(() => haproxy.serverStatus('nekoconnect'), { timeout: 2_000 })
      .toEqual({ neko1: 'DOWN', neko2: 'UP' });
    const counts = onDoomed.map((c) => c.acked.length);
    await expect
      .poll(() => onDoomed.every((c, i) => c.acked.length > counts[i]!), { timeout: 3_000 })
      .toBe(true);
    expect(await metric(survivor, 'nekoconnect_sessions', '{state="open"}')).toBe(clients.length + 1);
    writing = false;
    await Promise.all(writers);
    expect(errors).toEqual([]);

    // The dead process's users leave who within 2×TTL of the kill.
    const gone = new Set(onDoomed.map((c) => c.nick));
    await expect
      .poll(async () => (await who()).filter((n) => gone.has(n)), {
        timeout: 2 * TTL_MS + 1_000,
        interval: 50,
      })
      .toEqual([]);
    const left = Date.now() - killed;
    console.log(`the dead process's users left who ${left} ms after the kill (TTL ${TTL_MS} ms)`);
    expect(left).toBeLessThan(2 * TTL_MS + 500);
    expect((await who()).sort()).toEqual(
      [...clients.filter((c) => c.node === survivor).map((c) => c.nick), 'watcher'].sort(),
    );

    // No acknowledged write is missing from PostgreSQL (and the check would notice one).
    const acknowledged = clients.flatMap((c) => c.acked);
    const db = await (await directStorage(database)).open('todo');
    expect(await lostItems(db, acknowledged)).toEqual([]);
    await expectLossNoticed(db, acknowledged);
    await Promise.all([...clients.map((c) => c.client.close()), watcher.close()]);
    expect(survivor.child.exitCode).toBeNull();
    // The URLs came from the environment file: their passwords appear in no line either process printed.
    for (const node of nodes) {
      expect(node.output()).toContain(`127.0.0.1:${redis.port}`);
      expect(node.output()).not.toContain(redis.password);
      expect(node.output()).not.toContain(postgres.password);
    }
    await haproxy.stop();
  }, 60_000);

  it('drain (SIGUSR2): /readyz 503, HAProxy marks it down, new clients go to the other, its client finishes then moves', async () => {
    const { nodes, haproxy } = await cluster('drain');
    const [draining, other] = nodes;
    // A client through HAProxy on the process to drain (the first that lands there).
    let mine: NekoClient | undefined;
    const others: NekoClient[] = [];
    while (mine === undefined) {
      const { client, node } = await landedOn(nodes, () => viaHaproxy(haproxy, 'tcp'));
      if (node === draining) mine = client;
      else others.push(client);
      expect(others.length).toBeLessThan(4);
    }
    const moved = new Promise<{ resumed: boolean }>((resolve) => mine.once('reconnected', resolve));
    // A conversation that lasts 2 s keeps the draining process running meanwhile.
    const slow = mine.request('slow', '2000', { op: 1, replyOp: 1, timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const drained = Date.now();
    draining.child.kill('SIGUSR2');
    await expect
      .poll(async () => {
        const readyz = await fetch(`${draining.metrics}/readyz`);
        return `${readyz.status} ${await readyz.text()}`;
      })
      .toMatch(/^503 .*draining/);
    await expect
      .poll(
        async () => [await haproxy.serverStatus('nekoconnect'), await haproxy.serverStatus('nekoconnect_ws')],
        {
          timeout: 1_500,
          interval: 20,
        },
      )
      .toEqual([
        { neko1: 'DOWN', neko2: 'UP' },
        { neko1: 'DOWN', neko2: 'UP' },
      ]);
    console.log(`HAProxy marked the draining process down ${Date.now() - drained} ms after SIGUSR2`);
    expect(draining.child.exitCode).toBeNull(); // Down by its /readyz: it still runs, its conversation too.

    // New clients all go to the other process.
    const before = await metric(other, 'nekoconnect_handshakes_total');
    const newcomers = await Promise.all([0, 1, 2, 3].map((i) => viaHaproxy(haproxy, i === 3 ? 'ws' : 'tcp')));
    expect(await metric(other, 'nekoconnect_handshakes_total')).toBe(before + 4);
    const reply = await newcomers[0]!.request(
      'todo',
      { title: 'after the drain began' },
      { op: Todo.Add, replyOp: Todo.Add },
    );
    expect(reply.json<{ title: string }>().title).toBe('after the drain began');

    // The conversation ends with its answer; then the client gets 503 and reconnects, to the other process.
    expect((await slow).text()).toBe('done');
    expect(await moved).toEqual({ resumed: false });
    expect(await draining.exited).toBe(0);
    const answer = await mine.request('todo', { title: 'moved' }, { op: Todo.Add, replyOp: Todo.Add });
    expect(answer.json<{ title: string }>().title).toBe('moved');
    expect(await metric(other, 'nekoconnect_sessions', '{state="open"}')).toBe(others.length + 5);
    await Promise.all([mine, ...others, ...newcomers].map((c) => c.close()));
    await haproxy.stop();
  }, 60_000);

  it('a new client HAProxy sends to a dead process before its checks noticed is redispatched to the other', async () => {
    // Checks of an up server too slow to notice within the test: only retries and redispatch can save the
    // newcomers. A server found down is checked again soon, so that a first check failed on a busy machine
    // (HAProxy starts a server at its last step before down) does not leave it down for the whole test.
    const slow: HaproxyChecks = { inter: '60s', fastinter: '60s', downinter: '200ms', fall: 2, rise: 1 };
    const { nodes, haproxy } = await cluster('redispatch', slow);
    const [doomed, survivor] = nodes;
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const before = await metric(survivor, 'nekoconnect_handshakes_total');
    const started = Date.now();
    const newcomers = [];
    for (let i = 0; i < 4; i++) newcomers.push(await viaHaproxy(haproxy, i < 2 ? 'tcp' : 'ws'));
    const elapsed = Date.now() - started;
    console.log(`4 clients connected through HAProxy past a dead process in ${elapsed} ms`);
    expect(await metric(survivor, 'nekoconnect_handshakes_total')).toBe(before + 4);
    // HAProxy still counts the dead process up: no check took it out, the retries found the other process.
    expect((await haproxy.serverStatus('nekoconnect'))['neko1']).toMatch(/^UP/);
    const rows = await haproxy.stats();
    const row = (proxy: string, server: string) =>
      rows.find((r) => r['pxname'] === proxy && r['svname'] === server)!;
    // Of two clients in a row, leastconn sends one to the dead process (once the other process has one,
    // the dead one has fewer): refused, then redispatched. On each port.
    expect(Number(row('nekoconnect', 'neko1')['wredis'])).toBeGreaterThanOrEqual(1);
    expect(Number(row('nekoconnect_ws', 'neko1')['wredis'])).toBeGreaterThanOrEqual(1);
    const reply = await newcomers[0]!.request(
      'todo',
      { title: 'redispatched' },
      { op: Todo.Add, replyOp: Todo.Add },
    );
    expect(reply.json<{ title: string }>().title).toBe('redispatched');
    await Promise.all(newcomers.map((c) => c.close()));
    await haproxy.stop();
  }, 60_000);

  it('the runtime API’s drain of the guide: HAProxy sends the process no new client, and its clients stay', async () => {
    const { nodes, haproxy } = await cluster('runtime');
    const [drained, other] = nodes;
    const command = 'set server nekoconnect/neko1 state drain';
    expect(readFileSync(GUIDE, 'utf8')).toContain(
      `echo "${command}" | sudo socat stdio /run/haproxy/admin.sock`,
    );
    // A client through HAProxy on the process to take out (the first that lands there).
    let staying: NekoClient | undefined;
    const elsewhere: NekoClient[] = [];
    while (staying === undefined) {
      const { client, node } = await landedOn(nodes, () => viaHaproxy(haproxy, 'tcp'));
      if (node === drained) staying = client;
      else elsewhere.push(client);
      expect(elsewhere.length).toBeLessThan(4);
    }
    expect(await haproxy.command(command)).toBe('\n');
    expect(await haproxy.serverStatus('nekoconnect')).toEqual({ neko1: 'DRAIN', neko2: 'UP' });
    const before = await metric(other, 'nekoconnect_handshakes_total');
    const newcomers = await Promise.all([0, 1, 2].map(() => viaHaproxy(haproxy, 'tcp')));
    expect(await metric(other, 'nekoconnect_handshakes_total')).toBe(before + 3);
    // The client on the taken-out process stays, served there.
    const reply = await staying.request('todo', { title: 'still here' }, { op: Todo.Add, replyOp: Todo.Add });
    expect(reply.json<{ title: string }>().title).toBe('still here');
    expect(await metric(drained, 'nekoconnect_sessions', '{state="open"}')).toBe(1);
    // "state ready" undoes it.
    expect(await haproxy.command('set server nekoconnect/neko1 state ready')).toBe('\n');
    await expect.poll(() => haproxy.serverStatus('nekoconnect')).toEqual({ neko1: 'UP', neko2: 'UP' });
    await Promise.all([staying, ...elsewhere, ...newcomers].map((c) => c.close()));
    await haproxy.stop();
  }, 60_000);
});
