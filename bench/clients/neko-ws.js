/**
 * Client of the neko-ws target: NekoConnect over WebSocket. The client SDK
 * speaks TCP only, so this client runs the protocol itself on a `ws`
 * WebSocket, with the SDK's own building blocks from `nekoconnect/protocol`:
 * a `ClientChain` (the client side of the hash chain), a `Hasher` and a
 * `FrameDecoder`. Each frame travels as exactly one binary message
 * (protocol §1): the auth packet first, then, per round trip, one request to
 * `echo` with the run's op, hashed with the server random of the previous
 * answer (lockstep, as the SDK does it over TCP). Every answer is checked as
 * the SDK checks it: its hash must be `H` of a random this client sent, and
 * it must be the echo plugin's answer to the request in flight. No
 * compression.
 */
import WebSocket from 'ws';
import {
  AUTH_PACKET,
  ClientChain,
  FrameDecoder,
  Hasher,
  SERVER_GREETER,
  STATUS_TEXT,
  Status,
} from '../../server/dist/protocol/index.js';
import { BENCH_SECRET, ECHO_GREETER, HOST } from '../lib/common.js';

/** How long the connection, the WebSocket upgrade and the NekoConnect handshake may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The largest frame accepted from the server (the SDK's default `maxPacketBytes`). */
const MAX_PACKET_BYTES = 16 * 1024 * 1024;

/** One hasher for every connection of the load generator, as one SDK client per connection would hold. */
let hasher;

/**
 * @param {import('./index.js').ClientConfig} config
 * @returns {Promise<import('./index.js').BenchClient>}
 */
export function open(config) {
  hasher ??= new Hasher(BENCH_SECRET);
  const url = `ws://${HOST}:${config.port}/`;
  const chain = new ClientChain(hasher);
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: CONNECT_TIMEOUT_MS });
    socket.binaryType = 'nodebuffer';
    let authenticated = false;
    /** @type {Error | undefined} why the connection is being closed */
    let failure;
    /** @type {{ packet: object, resolve: (frame: unknown) => void, reject: (err: Error) => void } | undefined} */
    let waiting;
    /** @type {import('../../server/dist/protocol/index.js').Frame[]} frames of the message being read */
    const frames = [];
    const decoder = new FrameDecoder({ maxPacket: MAX_PACKET_BYTES }, (frame) => frames.push(frame));
    const timer = setTimeout(
      () => fail(new Error(`no NekoConnect handshake over ${url} within ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );

    /** @param {Error} err */
    function fail(err) {
      failure ??= err;
      clearTimeout(timer);
      const done = waiting;
      waiting = undefined;
      done?.reject(failure);
      if (!authenticated) reject(failure);
      socket.terminate();
    }

    /** The one frame of a binary message (protocol §1), or undefined after failing the connection. */
    function frameOf(/** @type {Buffer} */ data, /** @type {boolean} */ isBinary) {
      if (!isBinary) return void fail(new Error('NekoConnect sent a text WebSocket message'));
      frames.length = 0;
      try {
        decoder.push(data);
      } catch (err) {
        return void fail(new Error(`NekoConnect sent a bad frame: ${err.message}`));
      }
      if (frames.length !== 1 || decoder.buffered !== 0) {
        return void fail(
          new Error(
            `a WebSocket message of ${data.length} bytes held ${frames.length} whole frame(s) and ${decoder.buffered} bytes more, not one frame`,
          ),
        );
      }
      return frames[0];
    }

    socket.on('message', (/** @type {Buffer} */ data, isBinary) => {
      if (failure) return;
      const frame = frameOf(data, isBinary);
      if (!frame) return;
      if (!authenticated) {
        // The handshake answer: 200 with H(our random), or a status with hash "server".
        if (frame.greeter !== SERVER_GREETER || frame.op !== Status.Ok) {
          fail(
            new Error(
              `NekoConnect refused the handshake with status ${frame.op} (${STATUS_TEXT[frame.op] ?? 'unknown'})`,
            ),
          );
          return;
        }
        if (chain.receive(frame).kind === 'forged') {
          fail(new Error('the handshake answer does not carry H of the random this client sent'));
          return;
        }
        authenticated = true;
        clearTimeout(timer);
        resolve(client);
        return;
      }
      const arrival = chain.receive(frame);
      if (arrival.kind === 'forged') {
        fail(new Error(`a packet from "${frame.greeter}" does not carry H of any random this client sent`));
        return;
      }
      const done = waiting;
      if (arrival.status !== undefined) {
        fail(
          new Error(`NekoConnect answered with status ${arrival.status} (${STATUS_TEXT[arrival.status]})`),
        );
        return;
      }
      if (!done || arrival.answers !== done.packet) {
        fail(
          new Error(`a packet from "${frame.greeter}" (op ${frame.op}) that answers no request in flight`),
        );
        return;
      }
      waiting = undefined;
      done.resolve(frame);
    });
    socket.on('close', () => fail(new Error(`the WebSocket to ${url} closed`)));
    socket.on('error', (err) => fail(err));
    socket.once('open', () => {
      // The chain's first write: the auth packet, hashed with its own random.
      chain.enqueue({ ...AUTH_PACKET });
      const auth = chain.nextWrite();
      if (!auth?.frame) fail(new Error(`the auth packet cannot be written: ${auth?.error?.message}`));
      else socket.send(auth.frame, { binary: true });
    });

    /** @type {import('./index.js').BenchClient} */
    const client = {
      roundTrip(payload) {
        if (failure) return Promise.reject(failure);
        const packet = { greeter: ECHO_GREETER, op: config.op, data: payload };
        chain.enqueue(packet);
        const next = chain.nextWrite();
        if (!next || next.packet !== packet) {
          chain.forget(packet);
          return Promise.reject(new Error('no fresh server random to hash: a round trip is still in flight'));
        }
        if (next.error) return Promise.reject(next.error);
        return new Promise((res, rej) => {
          waiting = { packet, resolve: res, reject: rej };
          socket.send(next.frame, { binary: true });
        });
      },
      check(/** @type {any} */ reply) {
        if (
          reply.greeter !== ECHO_GREETER ||
          reply.op !== config.op ||
          reply.data.length !== config.payloadBytes
        ) {
          throw new Error(
            `unexpected reply: greeter ${reply.greeter}, op ${reply.op}, ${reply.data.length} bytes`,
          );
        }
      },
      close() {
        failure ??= new Error('closed by the load generator');
        chain.drop();
        if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
        return new Promise((res) => {
          const cut = setTimeout(() => socket.terminate(), 2_000);
          socket.once('close', () => {
            clearTimeout(cut);
            res();
          });
          socket.close();
        });
      },
    };
  });
}
