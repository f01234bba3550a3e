import { describe, expect, it } from 'vitest';
import { showData } from '../../src/playground/data.js';
import { testCode, varies, type RecordedClient } from '../../src/playground/test-code.js';
import type { PlaygroundEvent, PlaygroundOp } from '../../src/playground/wire.js';

/** An event as a test writes it: without its client and seq (the builder adds them). */
type Written = PlaygroundEvent extends infer E
  ? E extends PlaygroundEvent
    ? Omit<E, 'client' | 'seq'>
    : never
  : never;

/** A timeline builder: events get the client and seq 1, 2, 3…, in the order given. */
function timeline(client: string, label: string, events: readonly Written[]): RecordedClient {
  return {
    id: client,
    label,
    events: events.map((event, i) => ({ ...event, client, seq: i + 1 }) as PlaygroundEvent),
  };
}

const data = (text: string) => showData(Buffer.from(text));
const OPS = new Map<string, readonly PlaygroundOp[]>([
  [
    'hello',
    [
      { name: 'Hello', op: 1 },
      { name: 'Count', op: 2 },
      { name: 'Error', op: 9 },
    ],
  ],
]);

/** The body lines of the generated test, without the indentation. */
function body(code: string): string[] {
  const lines = code.split('\n');
  const start = lines.findIndex((line) => line.includes('createTestServer({'));
  return lines.slice(start + 1, lines.length - 3).map((line) => line.trim());
}

describe('Copy as test', () => {
  it('writes a request with its answer as the expectation, with the names of the Op table', () => {
    const client = timeline('c1', 'client 1', [
      { kind: 'open', at: 1 },
      { kind: 'sent', at: 2, mode: 'request', greeter: 'hello', op: 1, data: data('Mimi') },
      { kind: 'reply', at: 3, answers: 2, latencyMs: 1, greeter: 'hello', op: 1, data: data('hello, Mimi!') },
      { kind: 'sent', at: 4, mode: 'request', greeter: 'hello', op: 2, data: data('') },
      {
        kind: 'reply',
        at: 5,
        answers: 4,
        latencyMs: 1,
        greeter: 'hello',
        op: 2,
        data: data('{"name":"Mimi","packets":2}'),
      },
      { kind: 'sent', at: 6, mode: 'request', greeter: 'hello', op: 42, data: data('x') },
      {
        kind: 'reply',
        at: 7,
        answers: 6,
        latencyMs: 1,
        greeter: 'hello',
        op: 9,
        data: data('{"error":"unknown op 42"}'),
      },
      { kind: 'sent', at: 8, mode: 'request', greeter: 'nope', op: 1, data: data('') },
      {
        kind: 'status',
        at: 9,
        answers: 8,
        latencyMs: 1,
        greeter: 'nope',
        status: 404,
        text: 'no plugin answers to that greeter',
      },
    ]);
    const test = testCode([client], OPS);
    expect(test.greeters).toEqual(['hello', 'nope']);
    expect(test.code.split('\n').slice(0, 3)).toEqual([
      "import { describe, expect, it } from 'vitest';",
      "import { createTestServer } from '@nekoconnect/testing';",
      "import { Op } from './logic.js';",
    ]);
    expect(test.code).toContain("it('replays client 1 as recorded in the Playground', async () => {");
    expect(body(test.code)).toEqual([
      "const client1 = await server.connect({ name: 'client 1' });",
      "const client1Reply1 = await client1.request('hello', 'Mimi', { op: Op.Hello });",
      "expect([client1Reply1.op, client1Reply1.text()]).toEqual([Op.Hello, 'hello, Mimi!']);",
      "const client1Reply2 = await client1.request('hello', '', { op: Op.Count });",
      "expect([client1Reply2.op, client1Reply2.json()]).toEqual([Op.Count, { name: 'Mimi', packets: 2 }]);",
      "const client1Reply3 = await client1.request('hello', 'x', { op: 42 });",
      "expect([client1Reply3.op, client1Reply3.json()]).toEqual([Op.Error, { error: 'unknown op 42' }]);",
      "expect((await client1.request('nope', '', { op: 1 })).status).toBe(404);",
    ]);
  });

  it('numbers the ops of a plugin without an Op table, and sends JSON and bytes as they were typed', () => {
    const client = timeline('c1', 'client 1', [
      { kind: 'open', at: 1 },
      { kind: 'sent', at: 2, mode: 'request', greeter: 'echo', op: 7, data: data('{"a":[1,"x"]}') },
      { kind: 'reply', at: 3, answers: 2, latencyMs: 1, greeter: 'echo', op: 7, data: data('{"a":[1,"x"]}') },
      { kind: 'sent', at: 4, mode: 'request', greeter: 'echo', op: 7, data: data('{ "spaced": true }') },
      {
        kind: 'reply',
        at: 5,
        answers: 4,
        latencyMs: 1,
        greeter: 'echo',
        op: 7,
        data: data('{ "spaced": true }'),
      },
      {
        kind: 'sent',
        at: 6,
        mode: 'request',
        greeter: 'echo',
        op: 0,
        data: showData(Buffer.from([0xff, 0, 1])),
      },
      {
        kind: 'reply',
        at: 7,
        answers: 6,
        latencyMs: 1,
        greeter: 'echo',
        op: 0,
        data: showData(Buffer.from([0xff, 0, 1])),
      },
      { kind: 'sent', at: 8, mode: 'request', greeter: 'echo', op: 0, data: data("it's") },
      { kind: 'reply', at: 9, answers: 8, latencyMs: 1, greeter: 'echo', op: 0, data: data("it's") },
    ]);
    const test = testCode([client], new Map([['echo', []]]));
    expect(test.code).not.toContain('logic.js');
    expect(body(test.code)).toEqual([
      "const client1 = await server.connect({ name: 'client 1' });",
      "const client1Reply1 = await client1.request('echo', { a: [1, 'x'] }, { op: 7 });",
      "expect([client1Reply1.op, client1Reply1.json()]).toEqual([7, { a: [1, 'x'] }]);",
      "const client1Reply2 = await client1.request('echo', '{ \"spaced\": true }', { op: 7 });",
      'expect([client1Reply2.op, client1Reply2.json()]).toEqual([7, { spaced: true }]);',
      "const client1Reply3 = await client1.request('echo', Buffer.from('ff0001', 'hex'), { op: 0 });",
      "expect([client1Reply3.op, client1Reply3.data.toString('hex')]).toEqual([0, 'ff0001']);",
      "const client1Reply4 = await client1.request('echo', 'it\\'s', { op: 0 });",
      "expect([client1Reply4.op, client1Reply4.text()]).toEqual([0, 'it\\'s']);",
    ]);
  });

  it('asserts ids and times by their shape, the rest by value', () => {
    const reply = {
      id: 'a1b2',
      userId: 7,
      createdAt: 1764921600000,
      session: 's-12',
      token: 'Zm9vYmFyYmF6cXV4MTIzNDU2',
      when: '2026-12-05T07:50:31.123Z',
      uuid: '0b7d5c1e-8f3a-4c2b-9d1e-2f3a4b5c6d7e',
      nested: { requestId: 'r-9', count: 3, big: 1764921600001 },
      list: ['cat', 'black'],
      name: 'mimi',
      n: 12,
    };
    const client = timeline('c1', 'client 1', [
      { kind: 'open', at: 1 },
      { kind: 'sent', at: 2, mode: 'request', greeter: 'g', op: 1, data: data('') },
      {
        kind: 'reply',
        at: 3,
        answers: 2,
        latencyMs: 1,
        greeter: 'g',
        op: 1,
        data: data(JSON.stringify(reply)),
      },
      { kind: 'sent', at: 4, mode: 'request', greeter: 'g', op: 1, data: data('') },
      {
        kind: 'reply',
        at: 5,
        answers: 4,
        latencyMs: 1,
        greeter: 'g',
        op: 1,
        data: data('0b7d5c1e-8f3a-4c2b-9d1e-2f3a4b5c6d7e'),
      },
    ]);
    const lines = body(testCode([client], new Map()).code);
    expect(lines[2]).toBe(
      'expect([client1Reply1.op, client1Reply1.json()]).toEqual([1, { id: expect.any(String), userId: expect.any(Number), ' +
        'createdAt: expect.any(Number), session: expect.any(String), token: expect.any(String), when: expect.any(String), ' +
        "uuid: expect.any(String), nested: { requestId: expect.any(String), count: 3, big: expect.any(Number) }, list: ['cat', 'black'], " +
        "name: 'mimi', n: 12 }]);",
    );
    expect(lines[4]).toBe(
      'expect([client1Reply2.op, client1Reply2.text()]).toEqual([1, expect.any(String)]);',
    );
    expect(varies('hello, Mimi!')).toBe(false);
    expect(varies('guest-2')).toBe(false);
    expect(varies(42)).toBe(false);
    expect(varies('2026-12-05')).toBe(true);
    expect(varies('deadbeefdeadbeef01')).toBe(true);
    expect(varies('abcdefghijklmnopqrst')).toBe(false);
    expect(varies('mimi', 'id')).toBe(true);
  });

  it('replays the steps in the order they were made across clients, and takes each arrival after what started before it', () => {
    // Mimi says something at 10; tama's push arrives at 10 too (the same ms): it comes after mimi's request.
    const mimi = timeline('c1', 'mimi', [
      { kind: 'open', at: 1 },
      { kind: 'sent', at: 10, mode: 'request', greeter: 'chat', op: 2, data: data('hi') },
      { kind: 'status', at: 10, answers: 2, latencyMs: 0.3, greeter: 'chat', status: 200, text: 'ok' },
      { kind: 'push', at: 30, greeter: 'chat', op: 5, data: data('{"nick":"tama"}') },
    ]);
    const tama = timeline('c2', 'tama', [
      { kind: 'open', at: 2 },
      { kind: 'push', at: 10, greeter: 'chat', op: 2, data: data('{"nick":"mimi","text":"hi"}') },
      { kind: 'sent', at: 20, mode: 'send', greeter: 'chat', op: 3, data: data('') },
      {
        kind: 'reply',
        at: 21,
        answers: 3,
        latencyMs: 1,
        greeter: 'chat',
        op: 3,
        data: data('{"nicks":["mimi","tama"]}'),
      },
      { kind: 'sent', at: 22, mode: 'send', greeter: 'chat', op: 2, data: data('') },
      { kind: 'status', at: 23, answers: 5, latencyMs: 1, greeter: 'chat', status: 200, text: 'ok' },
      { kind: 'wait', at: 24, greeter: 'chat', phase: 'waiting' },
      { kind: 'close', at: 25, by: 'page' },
    ]);
    const test = testCode([mimi, tama], new Map());
    expect(test.code).toContain("it('replays mimi and tama as recorded in the Playground', async () => {");
    expect(body(test.code)).toEqual([
      "const mimi = await server.connect({ name: 'mimi' });",
      "const tama = await server.connect({ name: 'tama' });",
      "expect((await mimi.request('chat', 'hi', { op: 2 })).status).toBe(200);",
      'const tamaPush1 = await tama.next();',
      "expect([tamaPush1.op, tamaPush1.json()]).toEqual([2, { nick: 'mimi', text: 'hi' }]);",
      "tama.send('chat', '', { op: 3 });",
      'const tamaReply1 = await tama.next();',
      "expect([tamaReply1.op, tamaReply1.json()]).toEqual([3, { nicks: ['mimi', 'tama'] }]);",
      "tama.send('chat', '', { op: 2 });",
      'await tama.expectStatus(200);',
      "// chat waits in ctx.recv() for tama's next packet.",
      'await tama.close();',
      'const mimiPush1 = await mimi.next();',
      "expect([mimiPush1.op, mimiPush1.json()]).toEqual([5, { nick: 'tama' }]);",
    ]);
  });

  it('expects a close by the server, notes a request left unanswered, and names clients from their labels', () => {
    const a = timeline('c1', "Mimi's phone", [
      { kind: 'open', at: 1 },
      { kind: 'sent', at: 2, mode: 'request', greeter: 'g', op: 1, data: data('') },
      {
        kind: 'error',
        at: 3,
        answers: 2,
        code: 'NEKO_ERR_CLIENT_TIMEOUT',
        message: 'no answer from "g" within 5000 ms',
      },
      { kind: 'close', at: 4, status: 413, by: 'server' },
    ]);
    const b = timeline('c2', 'new', [{ kind: 'open', at: 5 }]);
    const lines = body(testCode([a, b], new Map()).code);
    expect(lines).toEqual([
      "const mimisPhone = await server.connect({ name: 'Mimi\\'s phone' });",
      `// mimisPhone's request (op 1 to g) was not answered in the Playground (NEKO_ERR_CLIENT_TIMEOUT: no answer from "g" within 5000 ms).`,
      'expect((await mimisPhone.expectClosed()).status).toBe(413);',
      "const new2 = await server.connect({ name: 'new' });",
    ]);
  });
});
