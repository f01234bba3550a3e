/**
 * The worked examples of protocol.md §7 (secret `neko`), byte for byte:
 * first computed with Hasher and encodeFrame, then produced by a real server
 * session whose random strings are pinned to the examples' values.
 */
import { describe, it, expect, vi, beforeEach } from 'vitest';
import { decodeFrame } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { Hasher } from '../../src/protocol/hash.js';
import { randomString } from '../../src/protocol/random.js';
import { LOGIC, makePluginsDir } from '../helpers/plugins.js';
import { createServer } from '../../src/server/server.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { hex } from '../helpers/frames.js';

vi.mock('../../src/protocol/random.js', () => ({ RANDOM_LENGTH: 22, randomString: vi.fn() }));

const H = new Hasher('neko');

const CLIENT_RANDOM = 'c1i3nt-r4nd0m';
const CLIENT_RANDOM_2 = 'c1i3nt-r4nd0m-2';
const SERVER_RANDOM_1 = 'Sv3rN0nce-AAAA01';
const SERVER_RANDOM_2 = 'Sv3rN0nce-AAAA02';

const H_CLIENT = 'f3a7d733793b933500a55b3a02200bbc09b0f4a13bb3f951869304717f43aacc';
const H_SERVER_1 = '83b6ed5427b85e0190bdb50978f3aef23da0d16eb77af493db23dbd93640f1a0';
const H_CLIENT_2 = '80cf08473d40a5cfc3a3392b96232a8dde287d50db15244aa9e147d76992095c';

/** The example frames, written out from protocol.md §7. */
const CLIENT_AUTH = Buffer.concat([
  hex('00000063 03 04 00000003 40 0d'),
  Buffer.from('auth' + '200' + CLIENT_RANDOM + '200' + H_CLIENT, 'latin1'),
]);
const SERVER_AUTH_OK = Buffer.concat([
  hex('00000074 03 12 00000003 40 10'),
  Buffer.from('nekoconnect-server' + '200' + SERVER_RANDOM_1 + '200' + H_CLIENT, 'latin1'),
]);
const CLIENT_TO_ECHO = Buffer.concat([
  hex('00000065 01 04 00000005 40 0f'),
  Buffer.from('echo' + '7' + CLIENT_RANDOM_2 + 'hello' + H_SERVER_1, 'latin1'),
]);
const ECHO_REPLY = Buffer.concat([
  hex('00000066 01 04 00000005 40 10'),
  Buffer.from('echo' + '7' + SERVER_RANDOM_2 + 'hello' + H_CLIENT_2, 'latin1'),
]);
const AUTH_FAILURE = Buffer.concat([
  hex('0000003a 03 12 00000003 06 10'),
  Buffer.from('nekoconnect-server' + '400' + SERVER_RANDOM_1 + '400' + 'server', 'latin1'),
]);

describe('protocol §7 worked examples, computed', () => {
  it('H values of the examples', () => {
    expect(H.hex(CLIENT_RANDOM)).toBe(H_CLIENT);
    expect(H.hex(SERVER_RANDOM_1)).toBe(H_SERVER_1);
    expect(H.hex(CLIENT_RANDOM_2)).toBe(H_CLIENT_2);
  });

  it('client auth: 99 bytes', () => {
    const frame = encodeFrame({
      greeter: 'auth',
      op: 200,
      random: CLIENT_RANDOM,
      data: '200',
      hash: H.hex(CLIENT_RANDOM),
    });
    expect(frame).toHaveLength(99);
    expect(frame.subarray(0, 12)).toEqual(hex('00000063 03 04 00000003 40 0d'));
    expect(frame).toEqual(CLIENT_AUTH);
  });

  it('server auth ok: 116 bytes, hash H(Rc0)', () => {
    const frame = encodeFrame({
      greeter: 'nekoconnect-server',
      op: 200,
      random: SERVER_RANDOM_1,
      data: '200',
      hash: H.hex(CLIENT_RANDOM),
    });
    expect(frame).toHaveLength(116);
    expect(frame.subarray(0, 12)).toEqual(hex('00000074 03 12 00000003 40 10'));
    expect(frame).toEqual(SERVER_AUTH_OK);
  });

  it('client to echo: 101 bytes, hash H(N1)', () => {
    const frame = encodeFrame({
      greeter: 'echo',
      op: 7,
      random: CLIENT_RANDOM_2,
      data: 'hello',
      hash: H.hex(SERVER_RANDOM_1),
    });
    expect(frame).toHaveLength(101);
    expect(frame.subarray(0, 12)).toEqual(hex('00000065 01 04 00000005 40 0f'));
    expect(frame).toEqual(CLIENT_TO_ECHO);
  });

  it("echo's reply: 102 bytes, hash H(Rc1)", () => {
    const frame = encodeFrame({
      greeter: 'echo',
      op: 7,
      random: SERVER_RANDOM_2,
      data: 'hello',
      hash: H.hex(CLIENT_RANDOM_2),
    });
    expect(frame).toHaveLength(102);
    expect(frame).toEqual(ECHO_REPLY);
  });

  it('auth failure to an unauthenticated peer: 58 bytes, hash "server"', () => {
    const frame = encodeFrame({
      greeter: 'nekoconnect-server',
      op: 400,
      random: SERVER_RANDOM_1,
      data: '400',
      hash: 'server',
    });
    expect(frame).toHaveLength(58);
    expect(frame.subarray(0, 12)).toEqual(hex('0000003a 03 12 00000003 06 10'));
    expect(frame).toEqual(AUTH_FAILURE);
  });

  it('each example decodes back to its fields', () => {
    expect(decodeFrame(CLIENT_AUTH)).toMatchObject({ greeter: 'auth', op: 200 });
    expect(decodeFrame(SERVER_AUTH_OK).hash.toString()).toBe(H_CLIENT);
    expect(decodeFrame(CLIENT_TO_ECHO).data.toString()).toBe('hello');
    expect(decodeFrame(ECHO_REPLY).random.toString()).toBe(SERVER_RANDOM_2);
    expect(decodeFrame(AUTH_FAILURE).hash.toString()).toBe('server');
  });
});

describe('protocol §7 worked examples, produced by a server session', () => {
  const random = vi.mocked(randomString);

  beforeEach(() => {
    random.mockReset();
    // Past the examples' two, the randoms of later frames (the shutdown notice) are not pinned.
    random
      .mockReturnValue(Buffer.alloc(22, 'z'))
      .mockReturnValueOnce(Buffer.from(SERVER_RANDOM_1, 'latin1'))
      .mockReturnValueOnce(Buffer.from(SERVER_RANDOM_2, 'latin1'));
  });

  async function echoServer(): Promise<ReturnType<typeof createServer>> {
    const server = createServer({ secret: 'neko', port: 0, storage: { backend: 'memory' } });
    const report = await server.loadPlugins(await makePluginsDir([{ greeter: 'echo', logic: LOGIC.echo }]));
    expect(report.failed).toEqual([]);
    return server;
  }

  it('answers the example auth with the example auth ok, and the example packet with the example reply', async () => {
    const server = await echoServer();
    const transport = new FakeTransport();
    const connection = server.accept(transport);
    connection.receive(CLIENT_AUTH);
    expect(transport.writes).toEqual([SERVER_AUTH_OK]);
    connection.receive(CLIENT_TO_ECHO);
    await vi.waitFor(() => expect(transport.writes).toHaveLength(2));
    expect(transport.writes).toEqual([SERVER_AUTH_OK, ECHO_REPLY]);
    expect(transport.ends).toBe(0);
    await server.close();
    // The shutdown notice: status 503 as a closing status, then the close.
    expect(transport.writes).toHaveLength(3);
    expect(decodeFrame(transport.writes[2]!)).toMatchObject({ greeter: 'nekoconnect-server', op: 503 });
    expect(transport.ends).toBe(1);
  });

  it('answers an auth with the wrong secret with the example failure, and closes', async () => {
    const server = await echoServer();
    const transport = new FakeTransport();
    const connection = server.accept(transport);
    const wrong = new Hasher('not-neko');
    connection.receive(
      encodeFrame({
        greeter: 'auth',
        op: 200,
        random: CLIENT_RANDOM,
        data: '200',
        hash: wrong.hex(CLIENT_RANDOM),
      }),
    );
    expect(transport.writes).toEqual([AUTH_FAILURE]);
    expect(transport.ends).toBe(1);
    expect(server.connectionCount).toBe(0);
    await server.close();
  });
});
