/**
 * Presence of a worker under --workers without Redis: the conformance
 * suite on the IPC store, this test process being the worker and the
 * primary's hub running in a forked process; two stores as two workers of
 * one primary; the primary gone.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ipcEndpoint } from '../../src/cluster/ipc-channel.js';
import { IpcPresenceStore } from '../../src/cluster/ipc-presence.js';
import type { JsonValue } from '../../src/cluster/presence.js';
import { NekoError } from '../../src/errors.js';
import { bundleFixtures, forkFixture, killFixture } from './ipc-support.js';
import { eventually, presenceConformance, rejectsWithCode } from './presence-conformance.js';

let hub: ChildProcess;
let remove: (() => Promise<void>) | undefined;
let hubFile: string;

beforeAll(async () => {
  const bundled = await bundleFixtures(['ipc-hub-process']);
  remove = bundled.remove;
  hubFile = bundled.paths['ipc-hub-process']!;
  hub = (await forkFixture(hubFile)).child;
}, 60_000);

afterAll(async () => {
  if (hub) await killFixture(hub);
  await remove?.();
});

function store(processId = randomBytes(8).toString('hex')): IpcPresenceStore {
  const made = new IpcPresenceStore({ endpoint: ipcEndpoint(hub), processId });
  onTestFinished(() => made.close());
  return made;
}

presenceConformance(
  'ipc through the primary',
  () => new IpcPresenceStore({ endpoint: ipcEndpoint(hub), processId: randomBytes(8).toString('hex') }),
);

describe('IpcPresenceStore', () => {
  it('two workers of one primary share keys, claims and published values; a drop names whose session', async () => {
    const a = store('worker-a');
    const b = store('worker-b');
    const chatA = a.forPlugin('ipc-chat', 's-1');
    const chatB = b.forPlugin('ipc-chat', 's-1');
    expect(await chatA.hsetnx('nicks', 'mimi', 'on a', { owner: 'session' })).toBe(true);
    expect(await chatB.hsetnx('nicks', 'mimi', 'on b', { owner: 'session' })).toBe(false);
    expect(await chatB.hgetall('nicks')).toEqual({ mimi: 'on a' });

    const gotA: JsonValue[] = [];
    const gotB: JsonValue[] = [];
    await chatA.subscribe('room', (v) => void gotA.push(v));
    await chatB.subscribe('room', (v) => void gotB.push(v));
    await b.forPlugin('ipc-chat').subscribe('room', (v) => void gotB.push(v));
    // Two processes have subscribers (b two of them): publish counts processes, as on Redis.
    expect(await chatA.publish('room', { say: 'hi' })).toBe(2);
    for (let i = 0; i < 20; i++) await chatB.publish('room', i);
    await eventually(() => expect(gotB).toHaveLength(42));
    await eventually(() => expect(gotA).toHaveLength(21));
    expect(gotA).toEqual([{ say: 'hi' }, ...Array.from({ length: 20 }, (_, i) => i)]);
    expect(a.counters()).toMatchObject({ published: 1, delivered: 21 });

    // Session s-1 of worker b owns nothing: dropping it leaves a's claim alone.
    await b.dropSession('s-1');
    expect(await chatB.hget('nicks', 'mimi')).toBe('on a');
    // A drop of worker a's session (what a survivor does for a dead worker): a's claim goes.
    await b.dropSession('s-1', { processId: 'worker-a' });
    expect(await chatB.hget('nicks', 'mimi')).toBeUndefined();
  });

  it('a session that moved to another worker (a resume) owns its entries there, and only there', async () => {
    const a = store('move-a');
    const b = store('move-b');
    const onA = a.forPlugin('ipc-move', 's-9');
    const onB = b.forPlugin('ipc-move', 's-9');
    expect(await onA.hsetnx('nicks', 'mimi', 'me', { owner: 'session' })).toBe(true);
    await onA.set('seat', 3, { owner: 'session' });
    await onA.sadd('here', 's-9', { owner: 'session' });
    await a.moveSession('s-9', 'move-a'); // the worker it left: nothing to do
    await b.moveSession('s-9', 'move-a');
    // Worker a is gone now: a drop of its session s-9 (what a survivor does) leaves the moved entries.
    await b.dropSession('s-9', { processId: 'move-a' });
    expect([await onB.hget('nicks', 'mimi'), await onB.get('seat'), await onB.smembers('here')]).toEqual([
      'me',
      3,
      ['s-9'],
    ]);
    // The session leaves on worker b: they go.
    await b.dropSession('s-9');
    expect([await onB.hget('nicks', 'mimi'), await onB.get('seat'), await onB.smembers('here')]).toEqual([
      undefined,
      undefined,
      [],
    ]);
  });

  it('coded errors come back with their code, message and hint', async () => {
    const p = store().forPlugin('ipc-errors');
    await p.set('v', 1);
    const err = await rejectsWithCode(p.hget('v', 'f'), 'NEKO_ERR_PRESENCE_TYPE');
    expect(err.message).toBe(
      'presence hget("v"): the key "v" holds another kind of entry (a value, a hash or a set; each key holds one)',
    );
    expect(err.hint).toBe('Use another key, or del() it first.');
    const ttl = await rejectsWithCode(p.expire('v', 0), 'NEKO_ERR_PRESENCE_TTL');
    expect(ttl.hint).toContain('milliseconds');
  });

  it('rejects with NEKO_ERR_CLUSTER_UNREACHABLE once the primary is gone, naming it', async () => {
    const { child } = await forkFixture(hubFile);
    onTestFinished(() => killFixture(child));
    const lonely = new IpcPresenceStore({ endpoint: ipcEndpoint(child), processId: 'w', callTimeoutMs: 500 });
    onTestFinished(() => lonely.close());
    const p = lonely.forPlugin('ipc-gone');
    await p.set('k', 1);
    await killFixture(child);
    const err = await rejectsWithCode(p.get('k'), 'NEKO_ERR_CLUSTER_UNREACHABLE');
    expect(err).toBeInstanceOf(NekoError);
    expect(err.message).toContain('the primary process');
    expect(lonely.counters().failures).toBe(1);
  });
});
