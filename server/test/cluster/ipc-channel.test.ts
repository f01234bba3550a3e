/**
 * The IPC channel on its own, over a pair of in-memory endpoints that copy
 * each message as the advanced serialization does (node:v8): requests and answers,
 * pushes, coded errors, timeouts, the close, and the messages of others
 * on the same pipe left alone.
 */
import { EventEmitter } from 'node:events';
import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { IpcChannel, type IpcEndpoint } from '../../src/cluster/ipc-channel.js';
import { NekoError } from '../../src/errors.js';
import { rejectsWithCode } from './presence-conformance.js';

/** Two ends of one pipe; each message crosses as a structured clone, on a later turn. */
type End = EventEmitter & IpcEndpoint & { sent: unknown[]; other?: EventEmitter };

function pipe(): [End, End, { broken: boolean }] {
  const state = { broken: false };
  const make = (): End => {
    const end = new EventEmitter() as End;
    end.sent = [];
    end.send = (message, callback) => {
      if (state.broken) return void setImmediate(() => callback(new Error('channel closed')));
      end.sent.push(message);
      const copy: unknown = deserialize(serialize(message));
      setImmediate(() => {
        end.other!.emit('message', copy);
        callback(null);
      });
    };
    return end;
  };
  const a = make();
  const b = make();
  a.other = b;
  b.other = a;
  return [a, b, state];
}

describe('IpcChannel', () => {
  it('answers requests (Buffers as they are), carries pushes, and leaves other messages on the pipe alone', async () => {
    const [a, b] = pipe();
    const pushes: unknown[] = [];
    new IpcChannel(b, {
      peer: 'a',
      onRequest: (kind, body) =>
        kind === 'echo'
          ? Promise.resolve({ got: body })
          : kind === 'not-mine'
            ? undefined
            : Promise.reject(new Error('no')),
      onPush: (kind, body) => pushes.push([kind, body]),
    });
    const asker = new IpcChannel(a, { peer: 'the primary process' });
    expect(await asker.request('echo', { data: Buffer.from('hi') })).toEqual({
      got: { data: Buffer.from('hi') },
    });
    asker.push('note', 1);
    // Messages of other modules on the same pipe (the dashboard's, prom-client's) are not this channel's.
    b.emit('message', { nc: 'dashboard:ask', id: 1 });
    b.emit('message', 'text');
    b.emit('message', null);
    a.emit('message', { nc: 'ans', c: 'another channel', i: 1, ok: true, v: 'not for you' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pushes).toEqual([['note', 1]]);
    // A request no handler takes gets no answer: another channel on the endpoint may answer it.
    await rejectsWithCode(asker.request('not-mine', {}, 50), 'NEKO_ERR_CLUSTER_UNREACHABLE');
    const failed = await asker.request('other', {}).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toBe('no');
  });

  it('brings coded errors back with their code, message and hint', async () => {
    const [a, b] = pipe();
    new IpcChannel(b, {
      peer: 'a',
      onRequest: () => Promise.reject(new NekoError('NEKO_ERR_PRESENCE_TTL', 'bad ttl', { hint: 'in ms' })),
    });
    const err = await rejectsWithCode(
      new IpcChannel(a, { peer: 'b' }).request('x', {}),
      'NEKO_ERR_PRESENCE_TTL',
    );
    expect([err.message, err.hint]).toEqual(['bad ttl', 'in ms']);
  });

  it('times out, fails when the pipe is broken, and rejects what waits when closed, naming the peer', async () => {
    const [a] = pipe();
    const channel = new IpcChannel(a, { peer: 'the primary process' });
    const timedOut = await rejectsWithCode(channel.request('x', {}, 30), 'NEKO_ERR_CLUSTER_UNREACHABLE');
    expect(timedOut.message).toBe('the primary process did not answer (x): no answer within 30 ms');
    const waiting = channel.request('y', {});
    channel.close('the server shut down');
    expect((await rejectsWithCode(waiting, 'NEKO_ERR_CLUSTER_UNREACHABLE')).message).toContain(
      'the server shut down',
    );
    await rejectsWithCode(channel.request('z', {}), 'NEKO_ERR_CLUSTER_UNREACHABLE');
    expect(channel.push('p', 1)).toBe(false);
    const [d, , broken] = pipe();
    broken.broken = true;
    const err = await rejectsWithCode(
      new IpcChannel(d, { peer: 'worker 2' }).request('q', {}),
      'NEKO_ERR_CLUSTER_UNREACHABLE',
    );
    expect(err.message).toBe('worker 2 did not answer (q): channel closed');
  });
});
