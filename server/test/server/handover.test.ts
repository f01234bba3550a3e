/**
 * The package a session moves in between the processes of a cluster
 * (server/handover.ts): what a structured clone carries, and what it refuses.
 */
import { serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { isNekoError } from '../../src/errors.js';
import { decodeHandover, encodeHandover, type SessionHandover } from '../../src/server/handover.js';

function handover(state: Record<string, unknown>, greeter = 'game'): SessionHandover {
  return {
    sessionId: 's-abc',
    graceLeftMs: 1234,
    plugins: [
      { greeter: 'chat', state: { nick: 'mimi' }, groups: ['lobby'] },
      { greeter, state, groups: ['room', 'table:1'] },
    ],
    kept: [
      { greeter: 'chat', op: 4, data: 'hello' },
      { greeter: 'game', op: 9, data: Uint8Array.from([0, 255, 10]) },
    ],
  };
}

function refusal(state: Record<string, unknown>): { greeter: string; message: string } {
  const encoded = encodeHandover(handover(state));
  if ('bytes' in encoded) throw new Error('the state was copied');
  expect(encoded.error.code).toBe('NEKO_ERR_SESSION_HANDOVER_STATE');
  expect(encoded.error.hint).toContain('structured-clonable');
  return { greeter: encoded.greeter, message: encoded.error.message };
}

describe('a session handover', () => {
  it('carries the id, the grace left, each plugin’s state and groups in order, and the kept packets in order', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const state = {
      v: 'cat',
      n: 3.5,
      big: 12n,
      none: null,
      list: [1, 'two', { three: 3 }],
      seen: new Map<string, unknown>([['at', new Date(86_400_000)]]),
      tags: new Set(['a', 'b']),
      bytes: Uint8Array.from([1, 2, 3]),
      buffer: Buffer.from('hi'),
      pattern: /ne+ko/gi,
      bare: Object.assign(Object.create(null) as object, { x: 1 }),
      cyclic,
    };
    const encoded = encodeHandover(handover(state));
    if (!('bytes' in encoded)) throw encoded.error;
    const back = decodeHandover(encoded.bytes);
    expect(back.sessionId).toBe('s-abc');
    expect(back.graceLeftMs).toBe(1234);
    expect(back.plugins.map((p) => [p.greeter, p.groups])).toEqual([
      ['chat', ['lobby']],
      ['game', ['room', 'table:1']],
    ]);
    const moved = back.plugins[1]!.state as typeof state;
    expect(moved).toEqual(state);
    expect(moved.seen.get('at')).toBeInstanceOf(Date);
    expect(moved.tags).toBeInstanceOf(Set);
    expect(Buffer.isBuffer(moved.buffer)).toBe(true);
    expect((moved.cyclic as { self: unknown }).self).toBe(moved.cyclic);
    expect(back.kept.map((p) => [p.greeter, p.op, Buffer.from(p.data).toString('latin1')])).toEqual([
      ['chat', 4, 'hello'],
      ['game', 9, '\u0000\u00ff\n'],
    ]);
  });

  it('refuses a state holding a class instance (it would arrive without its class), naming the plugin and the path', () => {
    class Player {
      #hp = 3;
      get hp(): number {
        return this.#hp;
      }
    }
    const { greeter, message } = refusal({ seat: { player: new Player() } });
    expect(greeter).toBe('game');
    expect(message).toBe(
      'session s-abc cannot move to another process: the state plugin game keeps for it cannot be copied (ctx.state.seat.player: an instance of class Player)',
    );
  });

  it('refuses functions, symbols and what a structured clone cannot copy, wherever they are', () => {
    expect(refusal({ later: () => 1 }).message).toContain('(ctx.state.later: a function)');
    expect(refusal({ list: [1, Symbol('s')] }).message).toContain('(ctx.state.list.1: a symbol)');
    expect(refusal({ m: new Map([['k', () => 1]]) }).message).toContain('(ctx.state.m.get(k): a function)');
    expect(refusal({ s: new Set([new (class Seat {})()]) }).message).toContain(
      '(ctx.state.s member: an instance of class Seat)',
    );
    expect(refusal({ w: new WeakMap() }).message).toContain('(ctx.state.w: an instance of class WeakMap)');
    expect(refusal({ p: Promise.resolve() }).message).toContain(
      '(ctx.state.p: an instance of class Promise)',
    );
  });

  it('refuses to read a package of another layout, or no package at all, with a coded error', () => {
    const other = serialize({ v: 99, id: 's-1', grace: 0, plugins: [], kept: [] });
    expect(() => decodeHandover(other)).toThrow(/layout version is 99, this process reads 1/);
    for (const bytes of [other, Buffer.from('not a package'), serialize({ v: 1, id: 's-1' })]) {
      let caught: unknown;
      try {
        decodeHandover(bytes);
      } catch (err) {
        caught = err;
      }
      expect(isNekoError(caught, 'NEKO_ERR_SESSION_HANDOVER')).toBe(true);
    }
  });
});
