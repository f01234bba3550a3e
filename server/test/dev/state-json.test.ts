import { describe, expect, it } from 'vitest';
import { checkStateJson } from '../../src/dev/state-json.js';

class Player {
  constructor(readonly name: string) {}
  greet(): string {
    return `hi ${this.name}`;
  }
}

/** `[path, what]` of each problem. */
function problems(state: unknown, maxValues?: number): [string, string][] {
  return checkStateJson(state, maxValues).map((p) => [p.path, p.what]);
}

describe('checkStateJson: what JSON cannot carry in ctx.state', () => {
  it('finds nothing in plain data: objects, arrays, strings, finite numbers, booleans, null', () => {
    const state = {
      nick: 'mimi',
      score: -1.5,
      ready: false,
      room: null,
      moves: [1, [2, { x: 3 }], 'e4'],
      nested: { deep: { deeper: [] as unknown[] } },
      bare: Object.assign(Object.create(null) as object, { ok: true }),
      // A property set to undefined is only left out by JSON.
      later: undefined,
    };
    expect(problems(state)).toEqual([]);
    // The same object twice is no cycle: JSON writes it twice.
    const shared = { id: 1 };
    expect(problems({ a: shared, b: [shared, shared] })).toEqual([]);
    expect(problems({})).toEqual([]);
  });

  it('names each kind of value, at its path, with a fix', () => {
    expect(problems({ onMove: () => 1 })).toEqual([['ctx.state.onMove', 'a function']]);
    expect(problems({ kind: Player })).toEqual([['ctx.state.kind', 'a class (Player)']]);
    expect(problems({ me: new Player('mimi') })).toEqual([['ctx.state.me', 'an instance of class Player']]);
    expect(problems({ seen: new Map([['a', 1]]) })).toEqual([['ctx.state.seen', 'a Map']]);
    expect(problems({ seen: new Set([1]) })).toEqual([['ctx.state.seen', 'a Set']]);
    expect(problems({ at: new Date(0) })).toEqual([['ctx.state.at', 'a Date']]);
    expect(problems({ big: 12n })).toEqual([['ctx.state.big', 'a bigint (12n)']]);
    expect(problems({ tag: Symbol('x') })).toEqual([['ctx.state.tag', 'a symbol']]);
    expect(problems({ avg: NaN, max: Infinity, min: -Infinity })).toEqual([
      ['ctx.state.avg', 'NaN'],
      ['ctx.state.max', 'Infinity'],
      ['ctx.state.min', '-Infinity'],
    ]);
    expect(problems({ slots: [1, undefined, 3] })).toEqual([
      ['ctx.state.slots[1]', 'undefined inside an array'],
    ]);
    // eslint-disable-next-line no-sparse-arrays
    expect(problems({ slots: [1, , 3] })).toEqual([['ctx.state.slots[1]', 'a hole in an array']]);
    expect(problems({ raw: Buffer.from('hi') })).toEqual([['ctx.state.raw', 'a Buffer']]);
    expect(problems({ raw: new Uint8Array(2) })).toEqual([['ctx.state.raw', 'a Uint8Array']]);
    expect(problems({ err: new Error('x') })).toEqual([['ctx.state.err', 'an instance of class Error']]);

    const [map] = checkStateJson({ seen: new Map() });
    expect(map).toEqual({
      key: 'seen',
      path: 'ctx.state.seen',
      what: 'a Map',
      fix: 'JSON writes it as {} and its entries are lost: store a plain object (Object.fromEntries(map)) or an array of [key, value] pairs',
    });
  });

  it('finds cycles, to the state itself or to an object that holds the value', () => {
    const state: Record<string, unknown> = {};
    state['self'] = state;
    expect(problems(state)).toEqual([['ctx.state.self', 'a cycle: it is ctx.state itself']]);
    const game: Record<string, unknown> = { players: [] };
    (game['players'] as unknown[]).push({ name: 'mimi', game });
    expect(problems({ game })).toEqual([
      ['ctx.state.game.players[0].game', 'a cycle: it is an object that holds it'],
    ]);
  });

  it('one problem per top-level key (the first, depth first), with the path to it; other keys are checked on', () => {
    const state = {
      game: {
        board: [
          [0, 1],
          [2, new Set()],
        ],
        timer: () => 0,
      },
      'two words': { at: new Date(0) },
      fine: [1, 2],
      last: NaN,
    };
    expect(checkStateJson(state).map((p) => [p.key, p.path, p.what])).toEqual([
      ['game', 'ctx.state.game.board[1][1]', 'a Set'],
      ['two words', 'ctx.state["two words"].at', 'a Date'],
      ['last', 'ctx.state.last', 'NaN'],
    ]);
  });

  it('stops after a budget of values, so that a huge state costs a bounded time', () => {
    const state = { big: Array.from({ length: 100 }, (_, i) => i), late: new Map() };
    expect(problems(state, 50)).toEqual([]);
    expect(problems(state, 1_000)).toEqual([['ctx.state.late', 'a Map']]);
  });
});
