import { PluginHost } from '../../src/plugins/host.js';
import type { ManagedDatabase } from '../../src/storage/database.js';
import { describe, it, expect, vi, onTestFinished } from 'vitest';
import type { Context, Logic, Packet, SendData, SessionInfo } from '../../src/context/context.js';
import { NekoError, isNekoError } from '../../src/errors.js';
import { Logger, type LogRecord } from '../../src/logging/logger.js';
import type { LoadedPlugin } from '../../src/plugins/loader.js';
import { Router } from '../../src/plugins/router.js';
import type { PluginSpec } from '../../src/plugins/spec.js';
import type { Frame } from '../../src/protocol/frame.js';
import { Dispatcher, type DispatchTarget } from '../../src/server/dispatcher.js';

interface Sent {
  greeter: string;
  op: number;
  data: string;
}

/** A session as the dispatcher sees it: records what is sent, can be closed. */
class FakeTarget implements DispatchTarget {
  readonly info: SessionInfo = {
    id: 's-9',
    remoteAddress: '198.51.100.4',
    connectedAt: 1234,
    transport: 'tcp',
  };
  isOpen = true;
  readonly connected = true;
  readonly sent: Sent[] = [];
  closes = 0;
  /** What the session's owner does when it closes: tell the dispatcher, as Connection does. */
  onClose: (() => void) | undefined;

  get sentCount(): number {
    return this.sent.length;
  }

  send(greeter: string, op: number, data: SendData): boolean {
    if (!this.isOpen) return false;
    const s = { greeter, op, data: Buffer.from(data).toString('utf8') };
    this.sent.push(s);
    return true;
  }

  sendStatus(code: number): boolean {
    return this.send('nekoconnect-server', code, String(code));
  }

  close(): void {
    if (!this.isOpen) return;
    this.closes++;
    this.isOpen = false;
    this.onClose?.();
  }

  /** The sent packets as compact strings: `greeter:op:data`, statuses as their code. */
  get log(): string[] {
    return this.sent.map((s) =>
      s.greeter === 'nekoconnect-server' ? String(s.op) : `${s.greeter}:${s.op}:${s.data}`,
    );
  }
}

/** Dispatcher tests use no database: any call fails loudly. */
const NO_DB = new Proxy({} as ManagedDatabase, {
  get: (_target, key) =>
    key === 'location' ? 'none' : () => Promise.reject(new Error(`db.${String(key)} in a dispatcher test`)),
});

function plugin(greeter: string, logic: Logic, name = `Plugin ${greeter}`): LoadedPlugin {
  return {
    dir: `/plugins/${greeter}`,
    spec: { name, greeter, logic: 'logic', version: '1.0.0' } as PluginSpec,
    logicFile: `/plugins/${greeter}/logic.js`,
    logic,
    loadedAt: 0,
  };
}

function frame(greeter: string, data: string | Buffer = '', op = 0): Frame {
  return {
    greeter,
    op,
    random: Buffer.from('client-random'),
    data: Buffer.from(data),
    hash: Buffer.from('h'),
  };
}

interface Harness {
  dispatcher: Dispatcher;
  target: FakeTarget;
  router: Router;
  logs: LogRecord[];
  /** Mounts a plugin. */
  mount(greeter: string, logic: Logic, name?: string): void;
  /** Enqueues a packet and waits until the dispatcher is idle again. */
  deliver(greeter: string, data?: string, op?: number): Promise<void>;
}

function makeDispatcher(recvTimeoutMs = 30_000): Harness {
  const target = new FakeTarget();
  const router = new Router();
  const logger = new Logger();
  const logs: LogRecord[] = [];
  logger.subscribe((r) => logs.push(r));
  const dispatcher = new Dispatcher(target, router, logger, { recvTimeoutMs });
  target.onClose = () => dispatcher.sessionClosed();
  onTestFinished(() => target.close());
  return {
    dispatcher,
    target,
    router,
    logs,
    mount: (greeter, logic, name) =>
      router.mount(new PluginHost(plugin(greeter, logic, name), NO_DB, logger)),
    deliver: async (greeter, data = '', op = 0) => {
      dispatcher.enqueue(frame(greeter, data, op));
      await dispatcher.whenIdle();
    },
  };
}

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued promise job run (the dispatcher works in microtasks). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
}

const echo: Logic = {
  recv(ctx) {
    ctx.send(ctx.data, { op: ctx.op });
  },
};

const concat: Logic = {
  async recv(ctx) {
    const a = ctx.text();
    const next = await ctx.recv();
    ctx.send(a + next.text());
  },
};

describe('Dispatcher: routing and statuses', () => {
  it('routes a packet to the plugin of its greeter; the reply carries that greeter and no status follows', async () => {
    const d = makeDispatcher();
    d.mount('echo', echo);
    await d.deliver('echo', 'hello', 7);
    expect(d.target.log).toEqual(['echo:7:hello']);
  });

  it('answers 404 for a greeter no plugin answers to', async () => {
    const d = makeDispatcher();
    d.mount('echo', echo);
    await d.deliver('nope', 'x');
    await d.deliver('Echo', 'x');
    expect(d.target.log).toEqual(['404', '404']);
  });

  it('answers 503 for a plugin that is not loaded, and serves it once mounted', async () => {
    const d = makeDispatcher();
    d.router.markUnavailable('echo', new NekoError('NEKO_ERR_PLUGIN_IMPORT', 'import failed'));
    await d.deliver('echo', 'x');
    d.mount('echo', echo);
    await d.deliver('echo', 'y');
    d.router.unmount('echo');
    await d.deliver('echo', 'z');
    expect(d.target.log).toEqual(['503', 'echo:0:y', '404']);
  });

  it('answers 200 when a synchronous handler sends nothing', async () => {
    const d = makeDispatcher();
    d.mount('silent', { recv() {} });
    await d.deliver('silent');
    expect(d.target.log).toEqual(['200']);
  });

  it('answers 200 when an asynchronous handler settles without sending, and not before', async () => {
    const d = makeDispatcher();
    const gate = deferred();
    d.mount('later', {
      async recv() {
        await gate.promise;
      },
    });
    d.dispatcher.enqueue(frame('later'));
    await flush();
    expect(d.target.log).toEqual([]);
    expect(d.dispatcher.activeRuns).toBe(1);
    gate.resolve();
    await d.dispatcher.whenIdle();
    expect(d.target.log).toEqual(['200']);
    expect(d.dispatcher.activeRuns).toBe(0);
  });

  it('sends no status when the handler sent several packets', async () => {
    const d = makeDispatcher();
    d.mount('burst', {
      async recv(ctx) {
        ctx.send('1');
        await null;
        ctx.send('2', { op: 9 });
      },
    });
    await d.deliver('burst', '', 3);
    expect(d.target.log).toEqual(['burst:3:1', 'burst:9:2']);
  });

  it('gives the handler the packet: op, data, len, text(), json(), greeter, session', async () => {
    const d = makeDispatcher();
    let seen: Record<string, unknown> | undefined;
    d.mount('inspect', {
      recv(ctx) {
        seen = {
          op: ctx.op,
          data: Buffer.from(ctx.data),
          len: ctx.len,
          text: ctx.text(),
          json: ctx.json(),
          greeter: ctx.greeter,
          session: ctx.session,
        };
      },
    });
    await d.deliver('inspect', '{"a":[1,"é"]}', 42);
    expect(seen).toEqual({
      op: 42,
      data: Buffer.from('{"a":[1,"é"]}'),
      len: Buffer.byteLength('{"a":[1,"é"]}'),
      text: '{"a":[1,"é"]}',
      json: { a: [1, 'é'] },
      greeter: 'inspect',
      session: { id: 's-9', remoteAddress: '198.51.100.4', connectedAt: 1234, transport: 'tcp' },
    });
  });

  it('ctx.json() on data that is not JSON throws NEKO_ERR_CONTEXT_JSON (and the handler fails: 500)', async () => {
    const d = makeDispatcher();
    let code: string | undefined;
    d.mount('json', {
      recv(ctx) {
        try {
          ctx.json();
        } catch (err) {
          code = (err as NekoError).code;
          throw err;
        }
      },
    });
    await d.deliver('json', '{nope');
    expect(code).toBe('NEKO_ERR_CONTEXT_JSON');
    expect(d.target.log).toEqual(['500']);
  });

  it('ctx.send() refuses an op that cannot travel with NEKO_ERR_CONTEXT_BAD_OP, sending nothing', async () => {
    const d = makeDispatcher();
    const codes: string[] = [];
    d.mount('badop', {
      recv(ctx) {
        for (const op of [-1, 1.5, 2 ** 32, Number.NaN]) {
          try {
            ctx.send('x', { op });
          } catch (err) {
            codes.push((err as NekoError).code);
          }
        }
      },
    });
    await d.deliver('badop');
    expect(codes).toEqual(Array(4).fill('NEKO_ERR_CONTEXT_BAD_OP'));
    expect(d.target.log).toEqual(['200']);
  });

  it('ctx.log/warn/error write to the logger, tagged with the plugin and the session', async () => {
    const d = makeDispatcher();
    d.mount('chatty', {
      recv(ctx) {
        ctx.log('i');
        ctx.warn('w');
        ctx.error('e');
      },
    });
    await d.deliver('chatty');
    expect(d.logs.map((r) => [r.level, r.message, r.plugin, r.session])).toEqual([
      ['info', 'i', 'chatty', 's-9'],
      ['warn', 'w', 'chatty', 's-9'],
      ['error', 'e', 'chatty', 's-9'],
    ]);
  });

  it('ctx.close() closes the session; the 200 that would follow is not sent', async () => {
    const d = makeDispatcher();
    d.mount('closer', {
      recv(ctx) {
        ctx.send('bye');
        ctx.close();
        expect(ctx.send('after')).toBe(false);
      },
    });
    await d.deliver('closer');
    d.dispatcher.enqueue(frame('closer'));
    await flush();
    expect(d.target.closes).toBe(1);
    expect(d.target.log).toEqual(['closer:0:bye']);
  });
});

describe('Dispatcher: handler failures', () => {
  it('answers 500 to a handler that throws, and logs the plugin name and stack', async () => {
    const d = makeDispatcher();
    d.mount(
      'thrower',
      {
        recv() {
          throw new Error('sync boom');
        },
      },
      'Thrower Plugin',
    );
    await d.deliver('thrower');
    expect(d.target.log).toEqual(['500']);
    const record = d.logs.find((r) => r.level === 'error')!;
    expect(record.message).toMatch(/^Thrower Plugin: recv failed: Error: sync boom\n\s+at /);
    expect(record.code).toBe('NEKO_ERR_PLUGIN_HANDLER');
    expect(record.plugin).toBe('thrower');
    expect(record.session).toBe('s-9');
    expect((record.error as Error).message).toBe('sync boom');
  });

  it("names a coded error's code in the failure line, as Node names its own", async () => {
    const d = makeDispatcher();
    d.mount(
      'coded',
      {
        recv() {
          throw new NekoError('NEKO_ERR_STORAGE_UNREACHABLE', 'insert: cannot reach PostgreSQL at db:5432');
        },
      },
      'Coded Plugin',
    );
    await d.deliver('coded');
    expect(d.target.log).toEqual(['500']);
    const record = d.logs.find((r) => r.level === 'error')!;
    expect(record.message).toMatch(
      /^Coded Plugin: recv failed: NekoError \[NEKO_ERR_STORAGE_UNREACHABLE\]: insert: cannot reach PostgreSQL at db:5432\n\s+at /,
    );
    expect(record.code).toBe('NEKO_ERR_PLUGIN_HANDLER');
  });

  it('answers 500 to a handler that rejects, even with no reason, and keeps serving', async () => {
    const d = makeDispatcher();
    d.mount('rejects', {
      async recv(ctx) {
        await null;
        if (ctx.text() === 'undefined') return Promise.reject(undefined);
        throw new Error('async boom');
      },
    });
    d.mount('echo', echo);
    await d.deliver('rejects', 'x');
    await d.deliver('rejects', 'undefined');
    await d.deliver('echo', 'still here');
    expect(d.target.log).toEqual(['500', '500', 'echo:0:still here']);
    const errors = d.logs.filter((r) => r.level === 'error').map((r) => r.message);
    expect(errors[0]).toContain('async boom');
    expect(errors[1]).toContain('handler rejected with no reason');
  });

  it('answers 500 after a reply when the handler throws after sending', async () => {
    const d = makeDispatcher();
    d.mount('half', {
      recv(ctx) {
        ctx.send('partial');
        throw new Error('then boom');
      },
    });
    await d.deliver('half');
    expect(d.target.log).toEqual(['half:0:partial', '500']);
  });

  it('reports a non-Error thrown value', async () => {
    const d = makeDispatcher();
    d.mount('str', {
      recv() {
        throw 'a string';
      },
    });
    await d.deliver('str');
    expect(d.target.log).toEqual(['500']);
    expect(d.logs.find((r) => r.level === 'error')!.message).toBe('Plugin str: recv failed: a string');
  });
});

describe('Dispatcher: ctx.recv()', () => {
  it('answers 100 while the handler waits, and hands it the next packet to the same greeter', async () => {
    const d = makeDispatcher();
    d.mount('concat', concat);
    await d.deliver('concat', 'a');
    expect(d.target.log).toEqual(['100']);
    expect(d.dispatcher.activeRuns).toBe(1);
    await d.deliver('concat', 'b');
    expect(d.target.log).toEqual(['100', 'concat:0:ab']);
    expect(d.dispatcher.activeRuns).toBe(0);
  });

  it('gives the received packet its own op and data', async () => {
    const d = makeDispatcher();
    let got: Packet | undefined;
    d.mount('take', {
      async recv(ctx) {
        got = await ctx.recv();
      },
    });
    await d.deliver('take', 'first', 1);
    await d.deliver('take', 'second', 2);
    expect([got!.op, got!.text(), got!.len]).toEqual([2, 'second', 6]);
    expect(d.target.log).toEqual(['100', '200']);
  });

  it('routes packets to other greeters normally while one handler waits', async () => {
    const d = makeDispatcher();
    d.mount('concat', concat);
    d.mount('echo', echo);
    await d.deliver('concat', 'a');
    await d.deliver('echo', 'e');
    await d.deliver('nope');
    await d.deliver('concat', 'b');
    expect(d.target.log).toEqual(['100', 'echo:0:e', '404', 'concat:0:ab']);
  });

  it('answers 100 again for each further recv(), and starts a new run after the handler finished', async () => {
    const d = makeDispatcher();
    d.mount('three', {
      async recv(ctx) {
        const parts = [ctx.text()];
        parts.push((await ctx.recv()).text());
        parts.push((await ctx.recv()).text());
        ctx.send(parts.join('+'));
      },
    });
    for (const p of ['1', '2', '3', '4']) await d.deliver('three', p);
    expect(d.target.log).toEqual(['100', '100', 'three:0:1+2+3', '100']);
  });

  it('sends no 100 when the handler sent something before waiting', async () => {
    const d = makeDispatcher();
    d.mount('prompt', {
      async recv(ctx) {
        ctx.send('name?');
        ctx.send('hello ' + (await ctx.recv()).text());
      },
    });
    await d.deliver('prompt');
    await d.deliver('prompt', 'neko');
    expect(d.target.log).toEqual(['prompt:0:name?', 'prompt:0:hello neko']);
  });

  it('rejects a recv() with NEKO_ERR_CONTEXT_RECV_TIMEOUT after its timeout; the next packet starts a new run', async () => {
    vi.useFakeTimers();
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const d = makeDispatcher();
    const errors: unknown[] = [];
    d.mount('wait', {
      async recv(ctx) {
        try {
          await ctx.recv({ timeoutMs: 50 });
          ctx.send('got');
        } catch (err) {
          errors.push(err);
          ctx.send('timed out');
        }
      },
    });
    await d.deliver('wait', 'first');
    expect(d.target.log).toEqual(['100']);
    await vi.advanceTimersByTimeAsync(49);
    expect(errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(errors).toHaveLength(1);
    expect(isNekoError(errors[0], 'NEKO_ERR_CONTEXT_RECV_TIMEOUT')).toBe(true);
    expect(d.target.log).toEqual(['100', 'wait:0:timed out']);
    await d.deliver('wait', 'second');
    expect(d.target.log).toEqual(['100', 'wait:0:timed out', '100']);
  });

  it("uses the server's recvTimeoutMs when recv() is given none", async () => {
    vi.useFakeTimers();
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const d = makeDispatcher(1_000);
    let code: string | undefined;
    d.mount('wait', {
      async recv(ctx) {
        await ctx.recv().catch((err: NekoError) => (code = err.code));
      },
    });
    await d.deliver('wait');
    await vi.advanceTimersByTimeAsync(999);
    expect(code).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(code).toBe('NEKO_ERR_CONTEXT_RECV_TIMEOUT');
  });

  it('answers 500 when a handler lets the recv() timeout escape', async () => {
    vi.useFakeTimers();
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const d = makeDispatcher();
    d.mount('wait', {
      async recv(ctx) {
        await ctx.recv({ timeoutMs: 10 });
      },
    });
    await d.deliver('wait');
    await vi.advanceTimersByTimeAsync(10);
    expect(d.target.log).toEqual(['100', '500']);
    const record = d.logs.find((r) => r.level === 'error')!;
    expect(record.message).toContain('ctx.recv() got no packet within 10 ms');
    expect(isNekoError(record.error, 'NEKO_ERR_CONTEXT_RECV_TIMEOUT')).toBe(true);
  });

  it('rejects a second recv() while one waits', async () => {
    const d = makeDispatcher();
    let code: string | undefined;
    d.mount('twice', {
      async recv(ctx) {
        const first = ctx.recv();
        await ctx.recv().catch((err: NekoError) => (code = err.code));
        await first;
      },
    });
    await d.deliver('twice');
    expect(code).toBe('NEKO_ERR_CONTEXT_RECV_MISUSE');
  });

  it('rejects a waiting recv() with NEKO_ERR_CONTEXT_CLOSED when the session closes, without a 500', async () => {
    const d = makeDispatcher();
    const ended = deferred<unknown>();
    d.mount('wait', {
      async recv(ctx) {
        try {
          await ctx.recv();
        } catch (err) {
          ended.resolve(err);
          throw err;
        }
      },
    });
    await d.deliver('wait');
    d.target.close();
    expect(isNekoError(await ended.promise, 'NEKO_ERR_CONTEXT_CLOSED')).toBe(true);
    await d.dispatcher.whenIdle();
    expect(d.dispatcher.activeRuns).toBe(0);
    expect(d.target.log).toEqual(['100']);
    expect(d.logs.filter((r) => r.level === 'error')).toEqual([]);
    expect(d.logs.map((r) => r.message)).toContain(
      'Plugin wait: handler ended because the connection closed',
    );
  });

  it('rejects recv() at once when the session is already closed', async () => {
    const d = makeDispatcher();
    const gate = deferred();
    let code: string | undefined;
    d.mount('late', {
      async recv(ctx) {
        await gate.promise;
        await ctx.recv().catch((err: NekoError) => (code = err.code));
        expect(ctx.send('late')).toBe(false);
      },
    });
    d.dispatcher.enqueue(frame('late'));
    await flush();
    d.target.close();
    gate.resolve();
    await d.dispatcher.whenIdle();
    expect(code).toBe('NEKO_ERR_CONTEXT_CLOSED');
  });

  it('treats a handler that returns while a recv() it did not await waits as finished', async () => {
    const d = makeDispatcher();
    const codes: string[] = [];
    d.mount('forgot', {
      async recv(ctx) {
        void ctx.recv().catch((err: NekoError) => codes.push(err.code));
      },
    });
    d.mount('echo', echo);
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => {
      unhandled.push(err);
    };
    process.on('unhandledRejection', onUnhandled);
    onTestFinished(() => {
      process.off('unhandledRejection', onUnhandled);
    });
    await d.deliver('forgot', 'a');
    await d.deliver('forgot', 'b');
    await d.deliver('echo', 'e');
    await flush();
    expect(unhandled).toEqual([]);
    expect(d.target.log).toEqual(['200', '200', 'echo:0:e']);
    expect(d.dispatcher.activeRuns).toBe(0);
    // The dropped waits end with an error instead of hanging forever.
    expect(codes).toEqual(['NEKO_ERR_CONTEXT_RECV_MISUSE', 'NEKO_ERR_CONTEXT_RECV_MISUSE']);
  });

  it('lets one run wait per greeter: a newer run that would wait too is refused', async () => {
    const d = makeDispatcher();
    const timedOut = deferred();
    const gateA = deferred();
    const gateB = deferred();
    d.mount('x', {
      async recv(ctx: Context) {
        if (ctx.text() === 'a') {
          await ctx.recv({ timeoutMs: 1 }).catch(() => timedOut.resolve());
          await gateA.promise;
          const next = await ctx.recv().catch((err: NekoError) => err);
          ctx.send(next instanceof Error ? `A ${(next as NekoError).code}` : `A got ${next.text()}`);
          return;
        }
        await gateB.promise;
        const next = await ctx.recv().catch((err: NekoError) => err);
        ctx.send(next instanceof Error ? `B ${(next as NekoError).code}` : 'B got');
      },
    });
    d.dispatcher.enqueue(frame('x', 'a'));
    await timedOut.promise;
    d.dispatcher.enqueue(frame('x', 'b'));
    await flush();
    gateA.resolve();
    await flush();
    gateB.resolve();
    await flush();
    await d.deliver('x', 'c');
    expect(d.target.log).toEqual(['100', '200', 'x:0:B NEKO_ERR_CONTEXT_RECV_MISUSE', 'x:0:A got c']);
  });

  it('refuses a recv() called after the handler returned, and the session keeps flowing', async () => {
    const d = makeDispatcher();
    const later = deferred<string>();
    let stash: Context | undefined;
    d.mount('detached', {
      recv(ctx: Context) {
        stash = ctx;
      },
    });
    d.mount('echo', echo);
    await d.deliver('detached', 'a');
    stash!.recv().catch((err: NekoError) => later.resolve(err.code));
    expect(await later.promise).toBe('NEKO_ERR_CONTEXT_RECV_MISUSE');
    await d.deliver('detached', 'b');
    await d.deliver('echo', 'e');
    expect(d.target.log).toEqual(['200', '200', 'echo:0:e']);
    expect(d.dispatcher.activeRuns).toBe(0);
  });

  it('treats a synchronous handler that calls recv() without waiting as finished', async () => {
    const d = makeDispatcher();
    d.mount('sync', {
      recv(ctx: Context) {
        void ctx.recv().catch(() => {});
      },
    });
    await d.deliver('sync');
    await d.deliver('sync');
    expect(d.target.log).toEqual(['200', '200']);
  });
});

describe('Dispatcher: order and idleness', () => {
  it('dispatches packets in arrival order, one at a time', async () => {
    const d = makeDispatcher();
    const events: string[] = [];
    const gate = deferred();
    d.mount('slow', {
      async recv(ctx) {
        events.push('slow start');
        await gate.promise;
        events.push('slow end');
        ctx.send('slow');
      },
    });
    d.mount('echo', {
      recv(ctx) {
        events.push('echo ' + ctx.text());
        ctx.send(ctx.data);
      },
    });
    d.dispatcher.enqueue(frame('slow'));
    d.dispatcher.enqueue(frame('echo', '1'));
    d.dispatcher.enqueue(frame('echo', '2'));
    await flush();
    expect(events).toEqual(['slow start']);
    gate.resolve();
    await d.dispatcher.whenIdle();
    expect(events).toEqual(['slow start', 'slow end', 'echo 1', 'echo 2']);
    expect(d.target.log).toEqual(['slow:0:slow', 'echo:0:1', 'echo:0:2']);
  });

  it('keeps the order of many queued packets', async () => {
    const d = makeDispatcher();
    d.mount('echo', {
      async recv(ctx) {
        if (Number(ctx.text()) % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
        ctx.send(ctx.data);
      },
    });
    for (let i = 0; i < 30; i++) d.dispatcher.enqueue(frame('echo', String(i)));
    await d.dispatcher.whenIdle();
    expect(d.target.log).toEqual(Array.from({ length: 30 }, (_, i) => `echo:0:${i}`));
  });

  it('whenIdle() waits for running handlers but not for waiting ones', async () => {
    const d = makeDispatcher();
    const gate = deferred();
    d.mount('slow', {
      async recv() {
        await gate.promise;
      },
    });
    d.mount('concat', concat);
    await d.deliver('concat', 'a');
    await expect(d.dispatcher.whenIdle()).resolves.toBeUndefined();
    d.dispatcher.enqueue(frame('slow'));
    let idle = false;
    void d.dispatcher.whenIdle().then(() => (idle = true));
    await flush();
    expect(idle).toBe(false);
    gate.resolve();
    await flush();
    expect(idle).toBe(true);
  });

  it('drops queued packets once the session closed', async () => {
    const d = makeDispatcher();
    const gate = deferred();
    const seen: string[] = [];
    d.mount('slow', {
      async recv(ctx) {
        seen.push(ctx.text());
        await gate.promise;
      },
    });
    d.dispatcher.enqueue(frame('slow', '1'));
    d.dispatcher.enqueue(frame('slow', '2'));
    await flush();
    d.target.close();
    gate.resolve();
    await d.dispatcher.whenIdle();
    expect(seen).toEqual(['1']);
    expect(d.target.sent).toEqual([]);
  });

  it('a session closed by one packet stops the packets queued after it', async () => {
    const d = makeDispatcher();
    d.mount('closer', {
      async recv(ctx) {
        await null;
        ctx.close();
      },
    });
    d.mount('echo', echo);
    d.dispatcher.enqueue(frame('closer'));
    d.dispatcher.enqueue(frame('echo', 'never'));
    await d.dispatcher.whenIdle();
    expect(d.target.sent).toEqual([]);
  });
});
