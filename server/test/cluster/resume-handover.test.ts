/**
 * A resume landing on another process of the cluster than the one that held
 * the session (two servers of one cluster in this test process, each with
 * its own bus, on a real redis-server), spoken by hand over real TCP: the
 * session moves with its id, state, groups and the packets kept during the
 * gap; a state that cannot be copied keeps it where it was.
 */
import { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET } from '../helpers/server.js';
import { clusterServer, freshCluster } from './bus-support.js';
import { connect, type ClientPacket } from '../../src/client/client.js';
import { ask, gamePlugins, resumablePeer, resume, shape, text } from './handover-support.js';
import { startRelay } from '../helpers/proxy.js';

let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  await redis?.stop();
});

async function twoProcesses(graceS = 5) {
  const name = freshCluster();
  const cluster = { redis: redis.url, name };
  const a = { ...(await gamePlugins(graceS)) };
  const b = { ...(await gamePlugins(graceS)) };
  const serverA = await clusterServer(a.plugins, cluster);
  const serverB = await clusterServer(b.plugins, cluster);
  const raw = new Redis(redis.url);
  onTestFinished(() => raw.quit().then(() => undefined));
  return { a: { ...serverA, events: a.events }, b: { ...serverB, events: b.events }, name, raw };
}

const hash = (token: string): string => createHash('sha256').update(token, 'latin1').digest('hex');

describe('a resume on another process', () => {
  it('moves the session there: same id, state and groups, the gap’s packets first in order, onReconnect there and no onLeave where it was', async () => {
    const { a, b, name, raw } = await twoProcesses();
    const { peer: first, token } = await resumablePeer(a.port);
    const id = text(await ask(first, 'game', 'me'));
    expect(text(await ask(first, 'game', 'set cat'))).toBe('ok');
    expect(text(await ask(first, 'game', 'join'))).toBe('true');
    // The cluster knows which process holds the token's session, by a hash of the token only.
    expect(await raw.get(`nc:${name}:token:${hash(token)}`)).toBe(`${a.server.processId} ${id}`);
    expect(JSON.stringify(await raw.keys(`nc:${name}:*`))).not.toContain(token);
    const other = await RawPeer.connect(a.port);
    await other.handshake(SECRET);
    expect(text(await ask(other, 'game', 'join'))).toBe('true');

    first.socket.destroy();
    await expect.poll(() => a.events).toEqual([`disconnect ${id} true`]);
    // During the gap, from a third client: a direct message is queued, a group broadcast is kept.
    expect(text(await ask(other, 'game', `dm ${id} psst`))).toBe('queued');
    expect(text(await ask(other, 'game', 'room meow'))).toBe('1');

    const { peer: second, answer } = await resume(b.port, token);
    const [outcome, nextToken] = text(answer).split(' ');
    expect([answer.greeter, answer.op, outcome]).toEqual(['nekoconnect-server', 202, '200']);
    expect(nextToken).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // What was kept during the gap, in order, then onReconnect's packet from the new process.
    expect(shape(await second.next())).toEqual(['game', 6, 'while away']);
    expect(shape(await second.next())).toEqual(['game', 9, 'psst']);
    expect(shape(await second.next())).toEqual(['game', 8, 'meow']);
    expect(shape(await second.next())).toEqual(['game', 7, 'welcome back']);
    // Same session, same state (a Map holding a Date, a Uint8Array: a structured clone).
    expect(JSON.parse(text(await ask(second, 'game', 'get')))).toEqual({
      id,
      v: 'cat',
      seen: '1970-01-02T00:00:00.000Z',
      bytes: [1, 2, 3],
    });
    expect(b.events).toEqual([`reconnect ${id} cat`]);
    expect(a.events).toEqual([`disconnect ${id} true`]);

    // It is a member of its group there: a group broadcast from the first process reaches it.
    expect(text(await ask(other, 'game', 'who'))).toBe(JSON.stringify([id, await idOf(other)]));
    expect(text(await ask(other, 'game', 'room purr'))).toBe('0');
    expect(shape(await second.next())).toEqual(['game', 8, 'purr']);
    // Direct messages are routed to its new process.
    expect(text(await ask(other, 'game', `dm ${id} again`))).toBe('delivered');
    expect(shape(await second.next())).toEqual(['game', 9, 'again']);
    expect(await raw.hget(`nc:${name}:sessions`, id)).toBe(b.server.processId);
    expect(await raw.sismember(`nc:${name}:psess:${a.server.processId}:game`, id)).toBe(0);
    expect(await raw.sismember(`nc:${name}:psess:${b.server.processId}:game`, id)).toBe(1);
    // The used token is out of the cluster's record; the new one names the new process.
    expect(await raw.exists(`nc:${name}:token:${hash(token)}`)).toBe(0);
    expect(await raw.get(`nc:${name}:token:${hash(nextToken!)}`)).toBe(`${b.server.processId} ${id}`);

    expect(a.server.sessions().map((s) => s.id)).not.toContain(id);
    expect(b.server.sessions().find((s) => s.id === id)?.state).toBe('open');
    expect(
      a.server
        .plugins()[0]!
        .sessions()
        .map((s) => s.id),
    ).not.toContain(id);
    await a.waitForLog((r) => r.message.includes(`session ${id} handed over to another process`));
    await b.waitForLog((r) => r.message.includes(`moved from process ${a.server.processId}`));

    // And back: it drops on the second process and resumes on the first.
    second.socket.destroy();
    await expect.poll(() => b.events).toContain(`disconnect ${id} true`);
    const { peer: third, answer: again } = await resume(a.port, nextToken!);
    expect(text(again).split(' ')[0]).toBe('200');
    expect(shape(await third.next())).toEqual(['game', 6, 'while away']);
    expect(shape(await third.next())).toEqual(['game', 7, 'welcome back']);
    expect(JSON.parse(text(await ask(third, 'game', 'get')))).toMatchObject({ id, v: 'cat' });
    expect(a.events).toEqual([`disconnect ${id} true`, `reconnect ${id} cat`]);
    expect([...a.events, ...b.events].filter((e) => e.startsWith('leave'))).toEqual([]);
    expect(text(await ask(other, 'game', `dm ${id} home`))).toBe('delivered');
    expect(shape(await third.next())).toEqual(['game', 9, 'home']);
  });

  it('handles the client’s next packet after the kept packets and onReconnect, as on one process', async () => {
    const { a, b } = await twoProcesses();
    const { peer: first, token } = await resumablePeer(a.port);
    const id = text(await ask(first, 'game', 'me'));
    expect(text(await ask(first, 'game', 'set cat'))).toBe('ok');
    first.socket.destroy();
    await expect.poll(() => a.events).toEqual([`disconnect ${id} true`]);
    const { peer: second, answer } = await resume(b.port, token);
    expect(text(answer).split(' ')[0]).toBe('200');
    // Sent at once, on the answer's random: handled only once the session is in and onReconnect ran.
    await second.packet('game', 'get', { op: 1, serverRandom: answer.random });
    expect(shape(await second.next())).toEqual(['game', 6, 'while away']);
    expect(shape(await second.next())).toEqual(['game', 7, 'welcome back']);
    expect(JSON.parse(text(await second.next()))).toMatchObject({ id, v: 'cat' });
  });

  it('takes the session from a connection its process still thinks alive: closed there as a drop, then moved', async () => {
    const { a, b } = await twoProcesses();
    const { peer: first, token } = await resumablePeer(a.port);
    const id = text(await ask(first, 'game', 'me'));
    expect(text(await ask(first, 'game', 'set cat'))).toBe('ok');
    // The first connection is still open when the client comes back through the other process.
    const { peer: second, answer } = await resume(b.port, token);
    expect(text(answer).split(' ')[0]).toBe('200');
    await first.closed();
    expect(shape(await second.next())).toEqual(['game', 6, 'while away']);
    expect(shape(await second.next())).toEqual(['game', 7, 'welcome back']);
    expect(JSON.parse(text(await ask(second, 'game', 'get')))).toMatchObject({ id, v: 'cat' });
    expect(a.events).toEqual([`disconnect ${id} true`]);
    expect(b.events).toEqual([`reconnect ${id} cat`]);
  });

  it('works for the SDK with reconnect: it resumes through another process, says so, and what it asked meanwhile is answered there', async () => {
    const { a, b } = await twoProcesses();
    const relay = await startRelay(a.port);
    const client = await connect({
      secret: SECRET,
      port: relay.port,
      reconnect: { backoff: { initialMs: 50, maxMs: 100 } },
    });
    onTestFinished(() => client.close());
    const said: string[] = [];
    client.on('resumed', () => said.push('resumed'));
    client.on('reconnected', ({ resumed }) => said.push(`reconnected resumed=${resumed}`));
    const pushes: string[] = [];
    client.on('packet', (p: ClientPacket) => pushes.push(`${p.op} ${p.text()}`));
    const id = (await client.request('game', 'me')).text();
    expect((await client.request('game', 'set cat')).text()).toBe('ok');

    relay.target = b.port;
    relay.cut();
    await expect.poll(() => a.events).toEqual([`disconnect ${id} true`]);
    // Asked while reconnecting: sent once the session is back, on the other process.
    const answer = await client.request('game', 'get', { op: 1, replyOp: 1 });
    expect(JSON.parse(answer.text())).toMatchObject({ id, v: 'cat' });
    expect(said).toEqual(['resumed', 'reconnected resumed=true']);
    expect(pushes).toEqual(['6 while away', '7 welcome back']);
    expect(b.events).toEqual([`reconnect ${id} cat`]);
    expect(b.server.sessions().map((s) => s.id)).toEqual([id]);
  });

  it('passes what the session owns in presence to its new process: it goes when the session leaves there', async () => {
    const { a, b, raw, name } = await twoProcesses();
    const { peer: first, token } = await resumablePeer(a.port);
    const id = text(await ask(first, 'game', 'me'));
    expect(text(await ask(first, 'game', 'own mimi'))).toBe('ok');
    first.socket.destroy();
    await expect.poll(() => a.events).toEqual([`disconnect ${id} true`]);
    const { peer: second, answer } = await resume(b.port, token);
    expect(text(answer).split(' ')[0]).toBe('200');
    expect(shape(await second.next())).toEqual(['game', 6, 'while away']);
    expect(shape(await second.next())).toEqual(['game', 7, 'welcome back']);
    expect(b.events).toEqual([`reconnect ${id} -`]);
    expect(text(await ask(second, 'game', `peek ${id}`))).toBe('"mimi"');
    const owned = (processId: string): string => `nc:${name}:owned:${processId}/${encodeURIComponent(id)}`;
    expect(await raw.exists(owned(a.server.processId))).toBe(0);
    expect(await raw.scard(owned(b.server.processId))).toBe(1);

    // The session ends on its new process: what it owned goes with it.
    const watcher = await RawPeer.connect(a.port);
    await watcher.handshake(SECRET);
    expect(b.server.closeSession(id)).toBe(true);
    await expect.poll(() => b.events).toEqual([`reconnect ${id} -`, `leave ${id}`]);
    await expect.poll(async () => text(await ask(watcher, 'game', `peek ${id}`))).toBe('null');
    expect(a.events).toEqual([`disconnect ${id} true`]);
  });

  it('refuses a token no process holds with 410, and the connection goes on as a new session', async () => {
    const { b } = await twoProcesses();
    const { peer, answer } = await resume(b.port, 'nobody-holds-this-token');
    expect(shape(answer)).toEqual(['nekoconnect-server', 202, '410']);
    expect(text(await ask(peer, 'game', 'get'))).toMatch(/"v":null/);
    const logged = await b.waitForLog((r) => r.code === 'NEKO_ERR_SESSION_RESUME_GONE');
    expect(logged.message).toContain('no session of the cluster waits for that token');
  });

  it('refuses at once with 410 a token whose process’s heartbeat expired, logging the dead process with a code', async () => {
    const { b, name, raw } = await twoProcesses();
    // What a process that died (its heartbeat key expired, not swept yet) left behind.
    await raw.hset(
      `nc:${name}:procs`,
      'deadbeefdeadbeef',
      JSON.stringify({ hostname: 'web-9', pid: 1, startedAt: 0 }),
    );
    await raw.set(`nc:${name}:token:${hash('token-of-a-dead-process')}`, 'deadbeefdeadbeef s-gone');
    const started = Date.now();
    const { answer } = await resume(b.port, 'token-of-a-dead-process');
    expect(shape(answer)).toEqual(['nekoconnect-server', 202, '410']);
    expect(Date.now() - started).toBeLessThan(1_000);
    const logged = await b.waitForLog((r) => r.code === 'NEKO_ERR_SESSION_RESUME_HOLDER_GONE');
    expect(logged.message).toContain('(deadbeefdeadbeef on web-9) is gone');
    // Used up: the record is gone.
    expect(await raw.exists(`nc:${name}:token:${hash('token-of-a-dead-process')}`)).toBe(0);
  });

  it('refuses with 410 and a coded log while Redis is away, without crashing; after it is back, sessions resume across processes again', async () => {
    const { a, b } = await twoProcesses();
    const { peer: first, token } = await resumablePeer(a.port);
    expect(text(await ask(first, 'game', 'set cat'))).toBe('ok');
    first.socket.destroy();
    await expect.poll(() => a.server.sessions().map((s) => s.state)).toEqual(['detached']);
    const answer = await redis.restart(async () => (await resume(b.port, token)).answer);
    expect(shape(answer!)).toEqual(['nekoconnect-server', 202, '410']);
    const logged = await b.waitForLog(
      (r) => r.code === 'NEKO_ERR_CLUSTER_UNREACHABLE' && r.message.includes('resume refused'),
    );
    expect(logged.message).not.toContain(redis.password);
    // One line says why: no second refusal reason.
    expect(b.logs.filter((r) => r.code === 'NEKO_ERR_SESSION_RESUME_GONE')).toEqual([]);
    await expect.poll(() => b.server.bus!.status().reachable, { timeout: 10_000 }).toBe(true);
    await expect.poll(() => a.server.bus!.status().reachable, { timeout: 10_000 }).toBe(true);

    // Redis came back empty: a token issued since is recorded again, and a resume across processes works.
    const { peer: again, token: fresh } = await resumablePeer(a.port);
    const id = text(await ask(again, 'game', 'me'));
    again.socket.destroy();
    await expect.poll(() => a.events).toContain(`disconnect ${id} true`);
    const { answer: resumed } = await resume(b.port, fresh);
    expect(text(resumed).split(' ')[0]).toBe('200');
  });

  it('keeps the session where it was when a plugin’s state cannot be copied: coded error there naming the plugin, 410 here, onLeave when its grace ends', async () => {
    const { a, b } = await twoProcesses(1);
    const { peer: first, token } = await resumablePeer(a.port);
    const id = text(await ask(first, 'game', 'me'));
    expect(text(await ask(first, 'game', 'set cat'))).toBe('ok');
    expect(text(await ask(first, 'game', 'player'))).toBe('ok');
    first.socket.destroy();
    await expect.poll(() => a.events).toEqual([`disconnect ${id} true`]);

    const { peer: second, answer } = await resume(b.port, token);
    expect(shape(answer)).toEqual(['nekoconnect-server', 202, '410']);
    const refused = await a.waitForLog((r) => r.code === 'NEKO_ERR_SESSION_HANDOVER_STATE');
    expect(refused.level).toBe('error');
    expect(refused.plugin).toBe('game');
    expect(refused.session).toBe(id);
    expect(refused.message).toContain('plugin game');
    expect(refused.message).toContain('ctx.state.player: an instance of class Player');
    const kept = await b.waitForLog((r) => r.code === 'NEKO_ERR_SESSION_RESUME_GONE');
    expect(kept.message).toContain(`process ${a.server.processId}, which held it, did not hand it over`);
    // The connection goes on as a new session here.
    expect(JSON.parse(text(await ask(second, 'game', 'get')))).toMatchObject({ v: null });
    expect(b.events).toEqual([]);
    // The session stayed where it was, waiting, until its grace ends: then onLeave there.
    expect(a.server.sessions().find((s) => s.id === id)?.state).toBe('detached');
    await expect.poll(() => a.events, { timeout: 3_000 }).toEqual([`disconnect ${id} true`, `leave ${id}`]);
  });

  it('refuses a function in the state too, naming where it is', async () => {
    const { a, b } = await twoProcesses();
    const { peer: first, token } = await resumablePeer(a.port);
    expect(text(await ask(first, 'game', 'fn'))).toBe('ok');
    first.socket.destroy();
    await expect.poll(() => a.events.length).toBe(1);
    const { answer } = await resume(b.port, token);
    expect(text(answer)).toBe('410');
    const refused = await a.waitForLog((r) => r.code === 'NEKO_ERR_SESSION_HANDOVER_STATE');
    expect(refused.message).toContain('ctx.state.later: a function');
  });
});

async function idOf(peer: RawPeer): Promise<string> {
  return text(await ask(peer, 'game', 'me'));
}
