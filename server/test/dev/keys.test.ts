import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { listenForKeys, type KeyInput } from '../../src/dev/keys.js';

class FakeTerminal extends EventEmitter implements KeyInput {
  raw = false;
  flowing = false;
  constructor(readonly isTTY: boolean) {
    super();
  }
  setRawMode(mode: boolean): this {
    this.raw = mode;
    return this;
  }
  setEncoding(): this {
    return this;
  }
  resume(): this {
    this.flowing = true;
    return this;
  }
  pause(): this {
    this.flowing = false;
    return this;
  }
}

function actions(): { calls: string[]; reload(): void; clear(): void; quit(): void; interrupt(): void } {
  const calls: string[] = [];
  return {
    calls,
    reload: () => calls.push('reload'),
    clear: () => calls.push('clear'),
    quit: () => calls.push('quit'),
    interrupt: () => calls.push('interrupt'),
  };
}

describe('the keys of nekoconnect dev', () => {
  it('r reloads, c clears, q and Ctrl+D quit, Ctrl+C interrupts; other keys do nothing', () => {
    const terminal = new FakeTerminal(true);
    const keys = actions();
    const stop = listenForKeys(terminal, keys);
    expect([terminal.raw, terminal.flowing]).toEqual([true, true]);
    terminal.emit('data', 'r');
    terminal.emit('data', 'xC');
    terminal.emit('data', Buffer.from('q'));
    terminal.emit('data', '\u0004\u0003');
    expect(keys.calls).toEqual(['reload', 'clear', 'quit', 'quit', 'interrupt']);
    stop();
    expect([terminal.raw, terminal.flowing]).toEqual([false, false]);
    terminal.emit('data', 'r');
    expect(keys.calls).toHaveLength(5);
  });

  it('does nothing when the input is not a terminal', () => {
    const input = new FakeTerminal(false);
    const keys = actions();
    const stop = listenForKeys(input, keys);
    input.emit('data', 'r');
    stop();
    expect(keys.calls).toEqual([]);
    expect([input.raw, input.flowing]).toEqual([false, false]);
  });
});
