/**
 * The dashboard page's own logic, without a browser: the Playground's data
 * check agrees with what the server decodes, and the Logs view folds repeats
 * and applies filters line by line.
 */
import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../src/dashboard/log-buffer.js';
import { decodeData, showData } from '../../src/playground/data.js';
import type { PlaygroundDataKind } from '../../src/playground/wire.js';
import { NO_FILTERS, place, type LogState } from '../../ui/src/log-store.js';
import { dataProblem, dataSummary } from '../../ui/src/packet-data.js';

describe("the Playground composer's data check", () => {
  const cases: [PlaygroundDataKind, string][] = [
    ['text', ''],
    ['text', 'ねこ {not json'],
    ['json', ''],
    ['json', '{"nick": "mimi"}'],
    ['json', '  [1, 2, 3] '],
    ['json', '"a string"'],
    ['json', '{"nick": mimi}'],
    ['json', '{'],
    ['json', 'undefined'],
    ['hex', ''],
    ['hex', '68 69'],
    ['hex', '0x6869'],
    ['hex', '68:69,0A'],
    ['hex', '6'],
    ['hex', '6g'],
    ['hex', 'zz'],
    ['hex', '0x 68 6'],
  ];

  it.each(cases)('agrees with the server on %s %j', (kind, value) => {
    let serverRefuses = false;
    try {
      decodeData(kind, value);
    } catch {
      serverRefuses = true;
    }
    expect(dataProblem(kind, value) !== null).toBe(serverRefuses);
  });

  it('says what is wrong, and how to write it', () => {
    expect(dataProblem('json', '{"nick": mimi}')).toMatch(/^Not JSON: .+\{"text": "hi"\}/);
    expect(dataProblem('hex', '6g')).toMatch(/^Not hex: "g" at character 2 of the digits/);
    expect(dataProblem('hex', '686')).toMatch(/^Not hex: 3 digits, an odd number/);
  });

  it('shows data as JSON, else text, else hex', () => {
    expect(dataSummary(showData(Buffer.from('{"a": 1}')))).toEqual({ shown: '{"a":1}', as: 'json' });
    expect(dataSummary(showData(Buffer.from('hi')))).toEqual({ shown: 'hi', as: 'text' });
    expect(dataSummary(showData(Buffer.from([0xff, 0x00, 0x10])))).toEqual({ shown: 'ff 00 10', as: 'hex' });
    expect(dataSummary(showData(Buffer.alloc(0)))).toEqual({ shown: '(empty)', as: 'empty' });
  });
});

/** A log line; `run` is the seq of the first line of its run. */
function line(
  seq: number,
  run: number,
  level: LogEntry['level'] = 'info',
  plugin: string | null = null,
): LogEntry {
  return { seq, time: 0, level, message: `line ${run}`, plugin, session: null, code: null, frame: null, run };
}

function state(entries: LogEntry[], patch: Partial<LogState> = {}): LogState {
  return { entries, filters: NO_FILTERS, group: true, plugins: new Set(), sessions: new Set(), ...patch };
}

describe('the Logs view placing its lines', () => {
  const entries = [
    line(1, 1),
    line(2, 1),
    line(3, 1),
    line(4, 4, 'warn'),
    line(5, 5, 'info', 'echo'),
    line(6, 5),
  ];

  it('folds a run into its first line, with the count', () => {
    const placed = place(state(entries));
    expect(placed.rows.map((r) => [r.shown, r.folded, r.count])).toEqual([
      [true, false, 3],
      [false, true, 1],
      [false, true, 1],
      [true, false, 1],
      [true, false, 2],
      [false, true, 1],
    ]);
    expect([placed.shown, placed.folded]).toEqual([3, 3]);
  });

  it('shows every line when grouping is off', () => {
    const placed = place(state(entries, { group: false }));
    expect(placed.rows.every((r) => r.shown && !r.folded && r.count === 1)).toBe(true);
  });

  it('folds only what the filters keep: a run hidden at its start shows from its first kept line', () => {
    // The same line for two sessions is one run (the server numbers it so); a session filter keeps one.
    const run = [
      { ...line(1, 1), session: 's-1' },
      { ...line(2, 1), session: 's-2' },
      { ...line(3, 1), session: 's-2' },
    ];
    const placed = place(state(run, { filters: { ...NO_FILTERS, session: 's-2' } }));
    expect(placed.rows.map((r) => [r.shown, r.folded, r.count])).toEqual([
      [false, false, 1],
      [true, false, 2],
      [false, true, 1],
    ]);
  });

  it('filters by plugin and by text, case-insensitively', () => {
    expect(
      place(state(entries, { filters: { ...NO_FILTERS, plugin: 'echo' } })).rows.map((r) => r.shown),
    ).toEqual([false, false, false, false, true, false]);
    const text = place(state(entries, { group: false, filters: { ...NO_FILTERS, text: 'line 4' } }));
    expect(text.rows.map((r) => r.shown)).toEqual([false, false, false, true, false, false]);
  });
});
