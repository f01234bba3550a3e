import { describe, expect, it } from 'vitest';
import { isNekoTestingError } from '../src/errors.js';
import { TestPacket, describeData, describePacket } from '../src/packet.js';

describe('TestPacket', () => {
  it('exposes op, data, len, text() and json(); status only for server status packets', () => {
    const packet = new TestPacket('todo', 2, Buffer.from('[{"title":"milk"}]'));
    expect([packet.greeter, packet.op, packet.len, packet.status]).toEqual(['todo', 2, 18, undefined]);
    expect(packet.text()).toBe('[{"title":"milk"}]');
    expect(packet.json<{ title: string }[]>()[0]!.title).toBe('milk');
    const status = new TestPacket('nekoconnect-server', 404, Buffer.from('404'));
    expect([status.status, status.json()]).toEqual([404, 404]);
  });

  it('json() on data that is not JSON fails with NEKO_ERR_TESTING_JSON, showing the packet', () => {
    const packet = new TestPacket('todo', 9, Buffer.from('{oops'));
    let err: unknown;
    try {
      packet.json();
    } catch (e) {
      err = e;
    }
    expect(isNekoTestingError(err, 'NEKO_ERR_TESTING_JSON')).toBe(true);
    expect((err as Error).message).toMatch(
      /^the data of "todo" op 9 with 5 bytes "\{oops" is not valid JSON: .*JSON/,
    );
  });
});

describe('describePacket', () => {
  it('shows a status by code and meaning, and a plugin packet by greeter, op and data', () => {
    expect(describePacket(new TestPacket('nekoconnect-server', 500, Buffer.from('500')))).toBe(
      'status 500 (plugin handler failed)',
    );
    expect(describePacket(new TestPacket('nekoconnect-server', 299, Buffer.from('299')))).toBe(
      'status 299 (unknown status)',
    );
    expect(describePacket(new TestPacket('echo', 7, Buffer.from('hello')))).toBe(
      '"echo" op 7 with 5 bytes "hello"',
    );
    expect(String(new TestPacket('echo', 0, Buffer.alloc(0)))).toBe('"echo" op 0 with no data');
  });

  it('shows text as text, other bytes in hex, and only the first 40 bytes', () => {
    expect(describeData(Buffer.from('a'))).toBe('with 1 byte "a"');
    expect(describeData(Buffer.from('line\nnext\ttab'))).toBe('with 13 bytes "line\\nnext\\ttab"');
    expect(describeData(Buffer.from('héllo 🐱'))).toBe('with 11 bytes "héllo 🐱"');
    expect(describeData(Uint8Array.from([0, 255, 1, 128]))).toBe('with 4 bytes <00 ff 01 80>');
    expect(describeData(Buffer.from('x'.repeat(100)))).toBe(`with 100 bytes "${'x'.repeat(40)}"…`);
    expect(describeData(Buffer.alloc(50, 7))).toBe(`with 50 bytes <${'07 '.repeat(39)}07…>`);
    // A character cut by the 40-byte preview is dropped, not shown as garbage.
    expect(describeData(Buffer.from(`${'x'.repeat(39)}é`))).toBe(`with 41 bytes "${'x'.repeat(39)}"…`);
  });
});
