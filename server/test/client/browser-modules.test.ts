import { EventEmitter as NodeEventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Buffer as BrowserBuffer, Bytes } from '../../src/client/browser/buffer.js';
import { EventEmitter as BrowserEventEmitter } from '../../src/client/browser/events.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import type { Frame, FrameFields } from '../../src/protocol/frame.js';
import { Hasher } from '../../src/protocol/hash.js';
import { buildWithBrowserModules, importBundle } from './browser-build.js';

// The browser build's stand-ins for Node-only modules (src/client/browser/), against the Node modules they replace.

/** The protocol modules as the browser build bundles them: on the browser hasher, random and Buffer. */
interface BrowserProtocol {
  encodeFrame: typeof encodeFrame;
  FrameDecoder: typeof FrameDecoder;
  Hasher: {
    new (secret: string): { hex(r: string | Uint8Array): string; bytes(r: string | Uint8Array): Uint8Array };
  };
  hashEquals(a: Uint8Array, b: Uint8Array): boolean;
  randomString(): string;
  RANDOM_LENGTH: number;
  Bytes: typeof Bytes;
}

const protocol = buildWithBrowserModules(`
  export { encodeFrame } from './protocol/encoder.js';
  export { FrameDecoder } from './protocol/decoder.js';
  export { Hasher, hashEquals } from './protocol/hash.js';
  export { RANDOM_LENGTH, randomString } from './protocol/random.js';
  export { Bytes } from './client/browser/buffer.js';
`).then((code) => {
  // The stand-ins must be what got bundled: no node:crypto, no Node Buffer.
  expect(code).not.toContain('node:');
  return importBundle<BrowserProtocol>(code);
});

const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const field = (maxLength = 255) => fc.string({ unit: printable, minLength: 1, maxLength });
/** Any UTF-16 string, lone surrogates included. */
const anyString = (maxLength = 80) =>
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength }).map((codes) => String.fromCharCode(...codes));

const frameFields: fc.Arbitrary<FrameFields> = fc.record({
  greeter: field(),
  op: fc.integer({ min: 0, max: 0xffff_ffff }),
  random: fc.oneof(
    field(),
    field().map((s) => Buffer.from(s, 'latin1')),
  ),
  data: fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.uint8Array({ maxLength: 300 })),
  hash: field(),
});

/** Decodes `bytes` pushed in pieces cut at `cuts`. */
function decodeInPieces(Decoder: typeof FrameDecoder, bytes: Uint8Array, cuts: number[]): Frame[] {
  const frames: Frame[] = [];
  const decoder = new Decoder({ maxPacket: 1 << 20 }, (f) => frames.push(f));
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const point of [...points, bytes.length]) {
    decoder.push(bytes.subarray(at, point));
    at = point;
  }
  return frames;
}

function plain(frame: Frame) {
  return {
    greeter: frame.greeter,
    op: frame.op,
    random: [...frame.random],
    data: [...frame.data],
    hash: [...frame.hash],
  };
}

describe('the browser Hasher', () => {
  it('gives the hashes of the protocol’s examples (§3, §13) and RFC 4231', async () => {
    const { Hasher: BrowserHasher, Bytes: BundledBytes } = await protocol;
    const neko = new BrowserHasher('neko');
    expect(neko.hex('kitten-0001')).toBe('2e78b99c6734dc7313fa7662408afa74f08be89804d8feebc00ae2dd31ca243d');
    expect(neko.hex('purr-0001')).toBe('f053a2bc948dcac2f7403243c8003d545c27ca37d426e36760bd80e5039426f9');
    expect(neko.hex('kitten-0002')).toBe('5f3ae8083e7757e99665975a440266adf54cbf985bd4d6953c9a2f24c4d71d77');
    expect(new BrowserHasher('Jefe').hex('what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    const bytes = neko.bytes(Buffer.from('kitten-0001'));
    expect(bytes).toBeInstanceOf(BundledBytes);
    expect(Buffer.from(bytes).toString('latin1')).toBe(
      '2e78b99c6734dc7313fa7662408afa74f08be89804d8feebc00ae2dd31ca243d',
    );
  });

  it('equals the Node Hasher on any secret and any random, as text or bytes', async () => {
    const { Hasher: BrowserHasher } = await protocol;
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }), anyString(), field(200)),
        fc.oneof(anyString(), field(), fc.string({ unit: 'binary', minLength: 1100, maxLength: 1300 })),
        fc.uint8Array({ maxLength: 1200 }),
        (secret, random, bytes) => {
          const node = new Hasher(secret);
          const browser = new BrowserHasher(secret);
          expect(browser.hex(random)).toBe(node.hex(random));
          expect(browser.hex(bytes)).toBe(node.hex(bytes));
          expect([...browser.bytes(random)]).toEqual([...node.bytes(random)]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('compares hash fields by their bytes', async () => {
    const { hashEquals } = await protocol;
    const a = Buffer.from('2e78b99c6734dc7313fa7662408afa74f08be89804d8feebc00ae2dd31ca243d');
    expect(hashEquals(a, Buffer.from(a))).toBe(true);
    const b = Buffer.from(a);
    b[63] = 0x30;
    expect(hashEquals(a, b)).toBe(false);
    expect(hashEquals(a, a.subarray(0, 63))).toBe(false);
    expect(hashEquals(Buffer.from('server'), Buffer.from('server'))).toBe(true);
  });
});

describe('the browser random strings', () => {
  it('are 22 characters of the protocol’s alphabet, fresh each time', async () => {
    const { randomString, RANDOM_LENGTH } = await protocol;
    expect(RANDOM_LENGTH).toBe(22);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const random = randomString();
      expect(random).toMatch(/^[A-Za-z0-9_-]{22}$/);
      seen.add(random);
    }
    expect(seen.size).toBe(1000);
  });
});

describe('the codec on the browser Buffer', () => {
  it('encodes every frame to the bytes the Node build encodes', async () => {
    const browser = await protocol;
    fc.assert(
      fc.property(frameFields, (fields) => {
        const ours = browser.encodeFrame(fields);
        expect(ours).toBeInstanceOf(browser.Bytes);
        expect(Buffer.from(ours).equals(encodeFrame(fields))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('decodes what the Node build encodes, however it is cut, into browser Buffers', async () => {
    const browser = await protocol;
    fc.assert(
      fc.property(
        fc.array(frameFields, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (list, cuts) => {
          const bytes = Buffer.concat(list.map((f) => encodeFrame(f)));
          const ours = decodeInPieces(browser.FrameDecoder, new Uint8Array(bytes), cuts);
          const theirs = decodeInPieces(FrameDecoder, bytes, cuts);
          expect(ours.map(plain)).toEqual(theirs.map(plain));
          for (const frame of ours) {
            for (const bytesField of [frame.random, frame.data, frame.hash]) {
              expect(bytesField).toBeInstanceOf(browser.Bytes);
              expect(Buffer.isBuffer(bytesField)).toBe(false);
            }
          }
          ours.forEach((frame, i) => {
            expect(frame.data.toString('utf8')).toBe(theirs[i]!.data.toString('utf8'));
            expect(frame.data.toString('latin1')).toBe(theirs[i]!.data.toString('latin1'));
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes and re-encodes the worked examples of docs/protocol.md byte for byte', async () => {
    const browser = await protocol;
    const markdown = readFileSync(
      path.join(import.meta.dirname, '..', '..', '..', 'docs', 'protocol.md'),
      'utf8',
    );
    const blocks = [...markdown.matchAll(/^```hex frame\n([\s\S]*?)^```$/gm)].map((m) =>
      m[1]!.replace(/\s+/g, ''),
    );
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const hex of blocks) {
      const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
      const [frame] = decodeInPieces(browser.FrameDecoder, bytes, []);
      expect(Buffer.from(browser.encodeFrame(frame!)).toString('hex')).toBe(hex);
    }
  });

  it('refuses what the Node build refuses, with the same codes', async () => {
    const browser = await protocol;
    const cases: FrameFields[] = [
      { greeter: '', op: 1, random: 'r', data: '', hash: 'h' },
      { greeter: 'g', op: -1, random: 'r', data: '', hash: 'h' },
      { greeter: 'g g', op: 1, random: 'r', data: '', hash: 'h' },
      { greeter: 'g', op: 1, random: 'r'.repeat(256), data: '', hash: 'h' },
    ];
    for (const fields of cases) {
      let code: unknown;
      try {
        encodeFrame(fields);
      } catch (err) {
        code = (err as { code: string }).code;
      }
      expect(code).toMatch(/^NEKO_ERR_FRAME_/);
      expect(() => browser.encodeFrame(fields)).toThrow(expect.objectContaining({ code }));
    }
    const decoder = new browser.FrameDecoder({ maxPacket: 100 }, () => {});
    expect(() => decoder.push(new Uint8Array([0, 0, 1, 0]))).toThrow(
      expect.objectContaining({ code: 'NEKO_ERR_FRAME_TOO_LARGE' }),
    );
  });
});

describe('the browser Buffer', () => {
  it('measures, encodes and decodes UTF-8 and latin1 as Node does', () => {
    fc.assert(
      fc.property(anyString(), fc.nat(), fc.nat(), (s, a, b) => {
        expect(BrowserBuffer.byteLength(s, 'utf8')).toBe(Buffer.byteLength(s, 'utf8'));
        const utf8 = BrowserBuffer.from(s, 'utf8');
        expect([...utf8]).toEqual([...Buffer.from(s, 'utf8')]);
        const latin1 = BrowserBuffer.from(s, 'latin1');
        expect([...latin1]).toEqual([...Buffer.from(s, 'latin1')]);
        const node = Buffer.from(utf8);
        const start = a % (node.length + 1);
        const end = b % (node.length + 1);
        expect(utf8.toString('utf8', start, end)).toBe(node.toString('utf8', start, end));
        expect(utf8.toString('latin1', start, end)).toBe(node.toString('latin1', start, end));
        expect(utf8.toString()).toBe(node.toString());
      }),
      { numRuns: 500 },
    );
  });

  it('writes strings into a buffer as Node does, stopping where it is full', () => {
    fc.assert(
      fc.property(
        anyString(40),
        fc.nat(60),
        fc.nat(60),
        fc.constantFrom('utf8', 'latin1'),
        (s, size, at, enc) => {
          const offset = at % (size + 1);
          const ours = BrowserBuffer.alloc(size);
          const theirs = Buffer.alloc(size);
          expect(ours.write(s, offset, enc)).toBe(theirs.write(s, offset, enc));
          expect([...ours]).toEqual([...theirs]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reads, copies, joins and compares as Node does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 5 }),
        fc.option(fc.nat(80), { nil: undefined }),
        fc.nat(),
        fc.nat(),
        (parts, total, a, b) => {
          const ours = BrowserBuffer.concat(parts, total);
          const theirs = Buffer.concat(parts, total);
          expect([...ours]).toEqual([...theirs]);
          expect(ours.equals(theirs)).toBe(true);
          expect(ours.equals(Buffer.concat([theirs, Buffer.from([1])]))).toBe(theirs.length === -1);
          if (theirs.length >= 4) {
            const at = a % (theirs.length - 3);
            expect(ours.readUInt32BE(at)).toBe(theirs.readUInt32BE(at));
          }
          const targetOurs = BrowserBuffer.alloc(10);
          const targetTheirs = Buffer.alloc(10);
          const from = a % (theirs.length + 1);
          const to = b % (theirs.length + 1);
          const at = b % 11;
          expect(ours.copy(targetOurs, at, from, to)).toBe(theirs.copy(targetTheirs, at, from, to));
          expect([...targetOurs]).toEqual([...targetTheirs]);
          expect(ours.subarray(from, to)).toBeInstanceOf(Bytes);
        },
      ),
      { numRuns: 500 },
    );
    expect(() => BrowserBuffer.alloc(3).readUInt32BE(0)).toThrow(RangeError);
    expect(BrowserBuffer.from(new Uint8Array([0xff, 0xff, 0xff, 0xff])).readUInt32BE(0)).toBe(0xffff_ffff);
  });

  it('views an ArrayBuffer without copying, copies byte arrays, and knows its own', () => {
    const memory = new ArrayBuffer(8);
    const view = BrowserBuffer.from(memory, 2, 4);
    new Uint8Array(memory)[3] = 7;
    expect(view[1]).toBe(7);
    expect(view.length).toBe(4);
    const source = new Uint8Array([1, 2, 3]);
    const copy = BrowserBuffer.from(source);
    source[0] = 9;
    expect([...copy]).toEqual([1, 2, 3]);
    expect(BrowserBuffer.isBuffer(copy)).toBe(true);
    expect(BrowserBuffer.isBuffer(source)).toBe(false);
    expect(BrowserBuffer.allocUnsafe(5)).toHaveLength(5);
    expect(() => copy.toString('hex' as 'utf8')).toThrow(/utf8 and latin1, not hex/);
  });
});

describe('the browser EventEmitter', () => {
  /** Runs the same listener script on an emitter and returns what happened, in order. */
  function script(emitter: {
    on(e: string, l: (...a: unknown[]) => void): unknown;
    once(e: string, l: (...a: unknown[]) => void): unknown;
    off(e: string, l: (...a: unknown[]) => void): unknown;
    emit(e: string, ...a: unknown[]): boolean;
    listenerCount(e: string): number;
    listeners(e: string): unknown[];
    removeAllListeners(e?: string): unknown;
  }): unknown[] {
    const log: unknown[] = [];
    const a = (...args: unknown[]) => log.push(['a', ...args]);
    const b = (...args: unknown[]) => {
      log.push(['b', ...args]);
      emitter.off('x', c);
    };
    const c = (...args: unknown[]) => log.push(['c', ...args]);
    const once = (...args: unknown[]) => log.push(['once', ...args]);
    emitter.on('x', a);
    emitter.on('x', b);
    emitter.on('x', c);
    emitter.once('x', once);
    log.push(emitter.listenerCount('x'), emitter.listeners('x').length);
    log.push(emitter.emit('x', 1, 'two'));
    log.push(emitter.emit('x', 3));
    log.push(emitter.emit('y'));
    emitter.once('z', once);
    emitter.off('z', once);
    log.push(emitter.emit('z'), emitter.listenerCount('z'));
    emitter.on('x', a);
    emitter.off('x', a);
    log.push(emitter.listenerCount('x'));
    emitter.removeAllListeners('x');
    log.push(emitter.emit('x'));
    try {
      emitter.emit('error', new Error('boom'));
    } catch (err) {
      log.push((err as Error).message);
    }
    return log;
  }

  it('calls, removes and counts listeners as node:events does', () => {
    const node = script(new NodeEventEmitter());
    expect(script(new BrowserEventEmitter())).toEqual(node);
    expect(node).toContain('boom');
  });
});
