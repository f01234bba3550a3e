import { describe, expect, it, vi } from 'vitest';
import { MemoryPipe } from '../src/links.js';

function endpoints() {
  const pipe = new MemoryPipe('198.51.100.4');
  const log: string[] = [];
  pipe.attachServer({
    receive: (chunk) => log.push(`server got ${Buffer.from(chunk).toString()}`),
    transportClosed: () => log.push('server closed'),
  });
  pipe.attachClient({
    receive: (chunk) => log.push(`client got ${chunk.toString()}`),
    closed: () => log.push('client closed'),
  });
  return { pipe, log };
}

describe('MemoryPipe', () => {
  it('delivers bytes in order, never synchronously, as copies', async () => {
    const { pipe, log } = endpoints();
    expect(pipe.transport.remoteAddress).toBe('198.51.100.4');
    const bytes = Buffer.from('one');
    pipe.link.write(bytes);
    pipe.transport.write(Buffer.from('two'));
    pipe.link.write(Buffer.from('three'));
    bytes.write('XXX');
    expect(log).toEqual([]);
    await Promise.resolve();
    expect(log).toEqual(['server got one', 'client got two', 'server got three']);
  });

  it('closes both sides after the bytes already written, and delivers nothing after', async () => {
    const { pipe, log } = endpoints();
    pipe.transport.write(Buffer.from('last words'));
    pipe.transport.end();
    pipe.transport.write(Buffer.from('too late'));
    pipe.link.write(Buffer.from('too late'));
    expect(pipe.isOpen).toBe(false);
    await Promise.resolve();
    expect(log).toEqual(['client got last words', 'server closed', 'client closed']);
    pipe.link.end();
    await Promise.resolve();
    expect(log).toHaveLength(3);
  });

  it('is not held back by fake timers, even ones that fake queueMicrotask', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate', 'queueMicrotask'] });
    try {
      const { pipe, log } = endpoints();
      pipe.link.write(Buffer.from('ping'));
      await new Promise<void>((resolve) => Promise.resolve().then(() => resolve()));
      expect(log).toEqual(['server got ping']);
    } finally {
      vi.useRealTimers();
    }
  });
});
