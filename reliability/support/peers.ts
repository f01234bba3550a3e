// Shared helpers of the fuzz, slow-peer and flood tests: a seeded PRNG, an
// independent frame encoder and reference decoder written from
// docs/protocol.md (not the server's own codec), a model of what the server
// answers to a byte stream, frame mutators, raw TCP peers and latency figures.
import { createHmac } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';

// --- a deterministic PRNG ---------------------------------------------------------------------------

/** splitmix32: spreads a 32-bit seed (or a seed mixed with an index) over all bits. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A seed for item `index` of a run seeded with `seed`: items do not depend on one another. */
export function deriveSeed(seed: number, index: number): number {
  return splitmix32(splitmix32(seed) ^ Math.imul(index + 1, 0x27d4eb2d));
}

/**
 * The seed of a run: the environment variable `name` when set (to replay a
 * failure), a fresh random one otherwise.
 */
export function seedFromEnv(name: string): { seed: number; fromEnv: boolean } {
  const text = process.env[name];
  if (text !== undefined && text.trim() !== '') {
    const seed = Number(text);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new Error(`${name} must be an integer from 0 to 4294967295, got ${JSON.stringify(text)}`);
    }
    return { seed, fromEnv: true };
  }
  return { seed: Math.floor(Math.random() * 0x1_0000_0000), fromEnv: false };
}

/** sfc32, a small fast PRNG with a 128-bit state: the same seed gives the same sequence. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = splitmix32(seed);
    this.#b = splitmix32(this.#a);
    this.#c = splitmix32(this.#b);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform unsigned 32-bit integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi], both included. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** One of `entries`, each with its weight. */
  weighted<T>(entries: readonly (readonly [number, T])[]): T {
    const total = entries.reduce((sum, [w]) => sum + w, 0);
    let x = this.float() * total;
    for (const [w, value] of entries) {
      if (x < w) return value;
      x -= w;
    }
    return entries[entries.length - 1]![1];
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** `n` bytes of printable ASCII (0x21–0x7E). */
  printable(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = 0x21 + this.int(94);
    return out;
  }

  /** A byte outside printable ASCII: 0x00–0x20 or 0x7F–0xFF. */
  nonPrintableByte(): number {
    const b = this.int(33 + 129);
    return b < 33 ? b : 0x7f + (b - 33);
  }
}

// --- the hash and frames, written from docs/protocol.md -------------------------------------------

export const HEADER_LENGTH = 12;
/** 12 header bytes and one byte each of greeter, op, random and hash. */
export const MIN_FRAME_LENGTH = 16;
/**
 * The largest first packet (protocol §10): `auth`, a three-digit op, the data
 * of a per-user token's first packet (a token id of up to 77 bytes, §15) and
 * a random and hash of 255 bytes: 606.
 */
export const MAX_AUTH_FRAME_LENGTH = HEADER_LENGTH + 4 + 3 + 255 + 77 + 255;
export const MAX_OP = 0xffff_ffff;
export const SERVER_GREETER = 'nekoconnect-server';
/** The hash of every closing status (protocol §10). */
export const UNAUTHENTICATED_HASH = 'server';
/** Statuses after which the server closes the connection. */
export const CLOSING_STATUSES: readonly number[] = [400, 408, 413, 422];
/** What a random sent by this server looks like (protocol §10). */
export const SERVER_RANDOM = /^[A-Za-z0-9_-]{22}$/;

/** `H(s)` (protocol §3) as the 64 ASCII bytes of a hash field. */
export function hashOf(secret: string, random: Uint8Array | string): Buffer {
  return Buffer.from(createHmac('sha256', secret).update(random).digest('hex'), 'latin1');
}

/** The five body fields as bytes. */
export interface FrameParts {
  greeter: Buffer;
  op: Buffer;
  random: Buffer;
  data: Buffer;
  hash: Buffer;
}

type Field = string | number | Uint8Array;

function fieldBytes(value: Field): Buffer {
  if (typeof value === 'number') return Buffer.from(String(value), 'latin1');
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value);
}

/** Frame parts from text (latin1, one byte per char), numbers (ops) or bytes. */
export function parts(fields: {
  greeter: Field;
  op: Field;
  random: Field;
  data: Field;
  hash: Field;
}): FrameParts {
  return {
    greeter: fieldBytes(fields.greeter),
    op: fieldBytes(fields.op),
    random: fieldBytes(fields.random),
    data: fieldBytes(fields.data),
    hash: fieldBytes(fields.hash),
  };
}

/** Header values that replace the computed ones, to build malformed frames. */
export interface HeaderOverrides {
  packetLength?: number;
  opLength?: number;
  greeterLength?: number;
  dataLength?: number;
  hashLength?: number;
  randomLength?: number;
}

/**
 * Encodes a frame by hand: header `packet_len, op_len, greeter_len, data_len,
 * hash_len, random_len`, body `greeter, op, random, data, hash`. Header
 * values may be overridden; `headerOrderBody` writes the body in the header's
 * order instead (the classic client bug).
 */
export function buildFrame(p: FrameParts, header: HeaderOverrides = {}, headerOrderBody = false): Buffer {
  const total =
    HEADER_LENGTH + p.greeter.length + p.op.length + p.random.length + p.data.length + p.hash.length;
  const head = Buffer.alloc(HEADER_LENGTH);
  head.writeUInt32BE((header.packetLength ?? total) >>> 0, 0);
  head[4] = header.opLength ?? p.op.length;
  head[5] = header.greeterLength ?? p.greeter.length;
  head.writeUInt32BE((header.dataLength ?? p.data.length) >>> 0, 6);
  head[10] = header.hashLength ?? p.hash.length;
  head[11] = header.randomLength ?? p.random.length;
  const body = headerOrderBody
    ? [p.op, p.greeter, p.data, p.hash, p.random]
    : [p.greeter, p.op, p.random, p.data, p.hash];
  return Buffer.concat([head, ...body]);
}

/** A frame decoded by {@link parseOne}: its raw fields and the op's value. */
export interface ParsedFrame extends FrameParts {
  opValue: number;
  /** Bytes the frame took. */
  length: number;
}

export type ParseStep =
  | { kind: 'frame'; frame: ParsedFrame }
  | { kind: 'too-large'; packetLength: number }
  | { kind: 'malformed'; reason: string }
  | { kind: 'incomplete' };

function isPrintable(buf: Buffer): boolean {
  for (const b of buf) if (b < 0x21 || b > 0x7e) return false;
  return true;
}

/**
 * Reads the frame at `offset` of a stream the way protocol.md §2 says a
 * server must: `packet_len` above the limit is "too large" as soon as its 4
 * bytes are in; the header sum and empty fields are checked once the 12
 * header bytes are in; the body once it is whole. `incomplete` means the
 * reader waits for more bytes.
 */
export function parseOne(buf: Buffer, offset: number, maxPacket: number): ParseStep {
  const left = buf.length - offset;
  if (left < 4) return { kind: 'incomplete' };
  const packetLength = buf.readUInt32BE(offset);
  if (packetLength > maxPacket) return { kind: 'too-large', packetLength };
  if (packetLength < MIN_FRAME_LENGTH)
    return { kind: 'malformed', reason: `packet_len ${packetLength} < 16` };
  if (left < HEADER_LENGTH) return { kind: 'incomplete' };
  const opLength = buf[offset + 4]!;
  const greeterLength = buf[offset + 5]!;
  const dataLength = buf.readUInt32BE(offset + 6);
  const hashLength = buf[offset + 10]!;
  const randomLength = buf[offset + 11]!;
  const sum = HEADER_LENGTH + greeterLength + opLength + randomLength + dataLength + hashLength;
  if (sum !== packetLength) return { kind: 'malformed', reason: `field lengths add up to ${sum}` };
  if (greeterLength === 0 || opLength === 0 || randomLength === 0 || hashLength === 0) {
    return { kind: 'malformed', reason: 'empty field' };
  }
  if (left < packetLength) return { kind: 'incomplete' };
  let at = offset + HEADER_LENGTH;
  const take = (n: number): Buffer => {
    const out = buf.subarray(at, at + n);
    at += n;
    return out;
  };
  const greeter = take(greeterLength);
  const op = take(opLength);
  const random = take(randomLength);
  const data = take(dataLength);
  const hash = take(hashLength);
  if (!isPrintable(greeter) || !isPrintable(random) || !isPrintable(hash)) {
    return { kind: 'malformed', reason: 'not printable' };
  }
  if (opLength > 10) return { kind: 'malformed', reason: 'op over 10 digits' };
  let opValue = 0;
  for (const b of op) {
    if (b < 0x30 || b > 0x39) return { kind: 'malformed', reason: 'op not digits' };
    opValue = opValue * 10 + (b - 0x30);
  }
  if (opValue > MAX_OP) return { kind: 'malformed', reason: 'op above 4294967295' };
  return { kind: 'frame', frame: { greeter, op, random, data, hash, opValue, length: packetLength } };
}

/** Reassembles the frames a server sends; anything malformed is a protocol error. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);
  error: string | undefined;

  constructor(readonly maxPacket = 16 * 1024 * 1024) {}

  push(chunk: Buffer): ParsedFrame[] {
    if (this.error) return [];
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: ParsedFrame[] = [];
    let offset = 0;
    for (;;) {
      const step = parseOne(this.#pending, offset, this.maxPacket);
      if (step.kind === 'incomplete') break;
      if (step.kind !== 'frame') {
        this.error = step.kind === 'too-large' ? `frame of ${step.packetLength} bytes` : step.reason;
        break;
      }
      // Copy: the frame must not pin (or change with) the receive buffer.
      const f = step.frame;
      out.push({
        greeter: Buffer.from(f.greeter),
        op: Buffer.from(f.op),
        random: Buffer.from(f.random),
        data: Buffer.from(f.data),
        hash: Buffer.from(f.hash),
        opValue: f.opValue,
        length: f.length,
      });
      offset += f.length;
    }
    this.#pending = this.#pending.subarray(offset);
    return out;
  }

  /** Bytes of an unfinished frame. */
  get buffered(): number {
    return this.#pending.length;
  }
}

// --- what the server answers: a model of protocol §4 and §10 --------------------------------------

/** A normal (non-closing) answer the model expects. */
export type ExpectedAnswer =
  | { kind: 'auth-ok'; clientRandom: Buffer }
  | { kind: 'echo'; op: number; data: Buffer; clientRandom: Buffer }
  | { kind: 'not-found'; clientRandom: Buffer };

export type Terminal =
  /** Every byte made whole frames; the connection stays open. */
  | { kind: 'open' }
  /** A frame is unfinished: the server waits for more bytes. */
  | { kind: 'incomplete' }
  /**
   * The server answers this closing status and closes. Its hash is `server`
   * before authentication and on a 400, else H of the newest client random
   * the server verified (hex).
   */
  | { kind: 'close'; status: number; reason: string; hash: string };

export interface Prediction {
  /**
   * Answers to the frames accepted before the terminal, in order. When the
   * terminal is not `open`, only the `required` ones must arrive: a plugin's
   * answer may be dropped once the session ends behind it.
   */
  answers: (ExpectedAnswer & { required: boolean })[];
  terminal: Terminal;
  /** Whole frames the server parsed. */
  parsed: number;
}

export interface ModelOptions {
  secret: string;
  maxPacketBytes: number;
  /** Greeters served by the echo plugin; every other greeter is answered 404. */
  echoGreeter: string;
}

/**
 * Predicts, from protocol.md alone, what the server answers to the bytes a
 * peer writes: the expected answers, then whether the connection stays open,
 * waits for the rest of a frame, or is closed with which status.
 *
 * It knows the server randoms the peer has received ({@link received}); a
 * hash the peer builds can only match one of those, never a random the server
 * sends while the bytes are on their way.
 */
export class SessionModel {
  state: 'handshake' | 'open' | 'closed' = 'handshake';
  /** Server randoms received and not used up, oldest first (at most 64, as the server's window). */
  readonly window: Buffer[] = [];
  /** Server randoms used up or dropped (a hash of them is a replay). */
  readonly spent: Buffer[] = [];
  #pending: Buffer = Buffer.alloc(0);
  /** The random of the newest client packet whose hash verified (the auth packet's, at first). */
  #verified: Buffer | undefined;
  readonly #options: ModelOptions;
  readonly #expectedHashes = new Map<Buffer, Buffer>();

  constructor(options: ModelOptions) {
    this.#options = options;
  }

  /** A random the server sent in a normal packet. */
  received(random: Buffer): void {
    this.window.push(random);
    if (this.window.length > 64) this.spent.push(this.window.shift()!);
  }

  /** The newest unused server random: the one a client hashes next. */
  get newest(): Buffer | undefined {
    return this.window.at(-1);
  }

  #hashOf(random: Buffer): Buffer {
    let h = this.#expectedHashes.get(random);
    if (!h) {
      h = hashOf(this.#options.secret, random);
      this.#expectedHashes.set(random, h);
    }
    return h;
  }

  /** Feeds the bytes the peer writes next; returns what the server will answer. */
  feed(bytes: Buffer): Prediction {
    const answers: Prediction['answers'] = [];
    if (this.state === 'closed') throw new Error('the model session is closed');
    const buf = this.#pending.length === 0 ? bytes : Buffer.concat([this.#pending, bytes]);
    let offset = 0;
    let parsed = 0;
    const close = (status: number, reason: string): Prediction => {
      const hash =
        this.state === 'open' && status !== 400
          ? this.#hashOf(this.#verified!).toString('latin1')
          : UNAUTHENTICATED_HASH;
      this.state = 'closed';
      this.#pending = Buffer.alloc(0);
      return { answers, terminal: { kind: 'close', status, reason, hash }, parsed };
    };
    for (;;) {
      const { maxPacketBytes } = this.#options;
      const limit =
        this.state === 'handshake' ? Math.min(MAX_AUTH_FRAME_LENGTH, maxPacketBytes) : maxPacketBytes;
      const step = parseOne(buf, offset, limit);
      if (step.kind === 'incomplete') {
        this.#pending = Buffer.from(buf.subarray(offset));
        if (this.#pending.length > 0) return { answers, terminal: { kind: 'incomplete' }, parsed };
        // The connection stays open: every answer must come.
        for (const answer of answers) answer.required = true;
        return { answers, terminal: { kind: 'open' }, parsed };
      }
      if (step.kind === 'too-large') {
        // Before the handshake, a frame within the packet limit but too big for an auth packet is a 400.
        const status = this.state === 'handshake' && step.packetLength <= maxPacketBytes ? 400 : 413;
        return close(status, `packet_len ${step.packetLength} above ${limit}`);
      }
      if (step.kind === 'malformed') return close(422, step.reason);
      const frame = step.frame;
      parsed++;
      offset += frame.length;
      if (this.state === 'handshake') {
        const isAuth =
          frame.greeter.toString('latin1') === 'auth' &&
          frame.opValue === 200 &&
          frame.data.toString('latin1') === '200';
        if (!isAuth) return close(400, 'first packet is not an auth packet');
        if (!frame.hash.equals(hashOf(this.#options.secret, frame.random))) {
          return close(400, 'auth hash is not H(random)');
        }
        this.state = 'open';
        this.#verified = Buffer.from(frame.random);
        // Sent at once, before the server reads on.
        answers.push({ kind: 'auth-ok', clientRandom: Buffer.from(frame.random), required: true });
        continue;
      }
      const index = this.window.findLastIndex((n) => this.#hashOf(n).equals(frame.hash));
      if (index < 0) return close(400, 'hash matches no unused server random');
      this.spent.push(...this.window.splice(0, index + 1));
      const clientRandom = Buffer.from(frame.random);
      this.#verified = clientRandom;
      answers.push(
        frame.greeter.toString('latin1') === this.#options.echoGreeter
          ? { kind: 'echo', op: frame.opValue, data: Buffer.from(frame.data), clientRandom, required: false }
          : { kind: 'not-found', clientRandom, required: false },
      );
    }
  }

  /** The peer closes its side: the server closes too, with no status. */
  finish(): void {
    this.state = 'closed';
  }
}

/** Checks a received frame against an expected answer; returns what is wrong, or undefined. */
export function checkAnswer(
  secret: string,
  frame: ParsedFrame,
  expected: ExpectedAnswer,
): string | undefined {
  const greeter = frame.greeter.toString('latin1');
  const problems: string[] = [];
  const want =
    expected.kind === 'echo'
      ? { greeter: 'echo', op: expected.op, data: expected.data }
      : expected.kind === 'auth-ok'
        ? { greeter: SERVER_GREETER, op: 200, data: Buffer.from('200') }
        : { greeter: SERVER_GREETER, op: 404, data: Buffer.from('404') };
  if (greeter !== want.greeter) problems.push(`greeter ${JSON.stringify(greeter)} != ${want.greeter}`);
  if (frame.opValue !== want.op) problems.push(`op ${frame.opValue} != ${want.op}`);
  if (!frame.data.equals(want.data)) problems.push(`data of ${frame.data.length} bytes differs`);
  if (!frame.hash.equals(hashOf(secret, expected.clientRandom)))
    problems.push('hash is not H(client random)');
  if (!SERVER_RANDOM.test(frame.random.toString('latin1'))) problems.push('server random is not 22 chars');
  return problems.length > 0 ? `${expected.kind}: ${problems.join('; ')}` : undefined;
}

/** Checks a closing status packet (protocol §10): hash `server`, data the status' digits. */
export function checkClosingStatus(
  frame: ParsedFrame,
  status: number,
  hash: string = UNAUTHENTICATED_HASH,
): string | undefined {
  const got = describeFrame(frame);
  if (
    frame.greeter.toString('latin1') !== SERVER_GREETER ||
    frame.opValue !== status ||
    frame.data.toString('latin1') !== String(status) ||
    frame.hash.toString('latin1') !== hash ||
    !SERVER_RANDOM.test(frame.random.toString('latin1'))
  ) {
    return `expected closing status ${status} with hash "${hash}", got ${got}`;
  }
  return undefined;
}

/** A short readable form of a frame, for failure messages. */
export function describeFrame(frame: ParsedFrame): string {
  const data = frame.data.length <= 16 ? frame.data.toString('latin1') : `<${frame.data.length} bytes>`;
  return `${frame.greeter.toString('latin1')} op ${frame.opValue} data ${JSON.stringify(data)} hash ${frame.hash.toString('latin1').slice(0, 12)}`;
}

// --- mutators -----------------------------------------------------------------------------------

export interface Mutation {
  bytes: Buffer;
  /** Frames (whole or broken) the bytes hold, for the frame count. */
  frames: number;
  name: string;
}

const BAD_OPS = [
  '-1',
  '1e3',
  '9999999999',
  '4294967296',
  '00000000001',
  '12a',
  ' 1',
  '+1',
  '0x1f',
  '1.5',
  '١',
  '77777777777777777777',
];
const ODD_VALID_OPS = ['0', '0007', '4294967295', '0000000000', '0200'];

/**
 * One random mutation of the frame `p` (bit flips, truncation, length fields
 * off by one or huge, empty fields, non-printable bytes, bad op digits,
 * oversize `packet_len`, duplicated or concatenated frames, the body in the
 * wrong order…). Some mutations leave a valid frame: the model says which.
 */
export function mutate(prng: Prng, p: FrameParts, maxPacketBytes: number, depth = 0): Mutation {
  const frame = buildFrame(p);
  const kind = prng.int(20);
  switch (kind) {
    case 0: {
      const out = Buffer.from(frame);
      const flips = prng.range(1, 3);
      for (let i = 0; i < flips; i++) out[prng.int(out.length)]! ^= 1 << prng.int(8);
      return { bytes: out, frames: 1, name: 'bit-flip' };
    }
    case 1: {
      const out = Buffer.from(frame);
      const n = prng.range(1, 4);
      for (let i = 0; i < n; i++) out[prng.int(out.length)] = prng.next() & 0xff;
      return { bytes: out, frames: 1, name: 'random-bytes-in-frame' };
    }
    case 2:
      return { bytes: frame.subarray(0, prng.range(1, frame.length - 1)), frames: 1, name: 'truncated' };
    case 3: {
      const delta = prng.pick([-1, 1, -1, 1, prng.range(-40, 40)]);
      return {
        bytes: buildFrame(p, { packetLength: (frame.length + delta) >>> 0 }),
        frames: 1,
        name: 'packet_len-off',
      };
    }
    case 4: {
      const huge = prng.pick([
        maxPacketBytes + 1,
        maxPacketBytes + prng.range(2, 1000),
        0xffff_ffff,
        prng.range(maxPacketBytes + 1, 0xffff_ffff),
        0x47455420, // "GET "
      ]);
      // Only the header and a few body bytes travel: the server must judge from the first 4.
      const head = buildFrame(p, { packetLength: huge });
      return { bytes: head.subarray(0, prng.range(4, head.length)), frames: 1, name: 'packet_len-oversize' };
    }
    case 5:
      return { bytes: buildFrame(p, { packetLength: prng.int(16) }), frames: 1, name: 'packet_len-tiny' };
    case 6: {
      const lengths = {
        opLength: p.op.length,
        greeterLength: p.greeter.length,
        hashLength: p.hash.length,
        randomLength: p.random.length,
        dataLength: p.data.length,
      };
      const field = prng.pick(Object.keys(lengths) as (keyof typeof lengths)[]);
      const base = lengths[field];
      const value =
        field === 'dataLength'
          ? prng.chance(0.3)
            ? prng.pick([0xffff_ffff, maxPacketBytes, maxPacketBytes + 1])
            : Math.max(0, base + prng.pick([-1, 1]))
          : Math.max(0, Math.min(255, base + prng.pick([-1, 1])));
      // Half the time packet_len follows the change: the header adds up, but the body is shifted.
      const compensate = prng.chance(0.5);
      const header: HeaderOverrides = { [field]: value };
      if (compensate) header.packetLength = (frame.length + value - base) >>> 0;
      return {
        bytes: buildFrame(p, header),
        frames: 1,
        name: `${field}-off${compensate ? '-compensated' : ''}`,
      };
    }
    case 7: {
      const field = prng.pick(['greeter', 'op', 'random', 'hash', 'data'] as const);
      return { bytes: buildFrame({ ...p, [field]: Buffer.alloc(0) }), frames: 1, name: `empty-${field}` };
    }
    case 8: {
      const field = prng.pick(['greeter', 'random', 'hash'] as const);
      const value = Buffer.from(p[field]);
      if (value.length === 0) return { bytes: frame, frames: 1, name: 'unchanged' };
      value[prng.int(value.length)] = prng.nonPrintableByte();
      return { bytes: buildFrame({ ...p, [field]: value }), frames: 1, name: `non-printable-${field}` };
    }
    case 9: {
      const op = prng.chance(0.75) ? prng.pick(BAD_OPS) : prng.pick(ODD_VALID_OPS);
      return { bytes: buildFrame({ ...p, op: Buffer.from(op, 'utf8') }), frames: 1, name: `op-${op}` };
    }
    case 10:
      return { bytes: Buffer.concat([frame, frame]), frames: 2, name: 'duplicated' };
    case 11: {
      if (depth > 0) return { bytes: Buffer.concat([frame, frame]), frames: 2, name: 'duplicated' };
      const other = mutate(prng, p, maxPacketBytes, depth + 1);
      return prng.chance(0.5)
        ? { bytes: Buffer.concat([frame, other.bytes]), frames: 1 + other.frames, name: `then-${other.name}` }
        : {
            bytes: Buffer.concat([other.bytes, frame]),
            frames: 1 + other.frames,
            name: `${other.name}-then-valid`,
          };
    }
    case 12: {
      const at = prng.int(frame.length + 1);
      const extra = prng.bytes(prng.range(1, 8));
      return {
        bytes: Buffer.concat([frame.subarray(0, at), extra, frame.subarray(at)]),
        frames: 1,
        name: 'inserted-bytes',
      };
    }
    case 13: {
      const at = prng.int(frame.length);
      const n = prng.range(1, 8);
      return {
        bytes: Buffer.concat([frame.subarray(0, at), frame.subarray(at + n)]),
        frames: 1,
        name: 'deleted-bytes',
      };
    }
    case 14:
      return { bytes: buildFrame(p, {}, true), frames: 1, name: 'body-in-header-order' };
    case 15:
      return {
        bytes: Buffer.concat([frame, prng.bytes(prng.range(1, 64))]),
        frames: 2,
        name: 'trailing-garbage',
      };
    case 16: {
      // Header order mixed up: lengths written in body order.
      const out = Buffer.from(frame);
      out[4] = p.greeter.length;
      out[5] = p.op.length;
      out[10] = p.data.length & 0xff;
      out[11] = p.hash.length;
      return { bytes: out, frames: 1, name: 'lengths-in-body-order' };
    }
    case 17: {
      const field = prng.pick(['greeter', 'random', 'hash'] as const);
      return {
        bytes: buildFrame({ ...p, [field]: prng.printable(prng.chance(0.5) ? 255 : prng.range(1, 255)) }),
        frames: 1,
        name: `long-${field}`,
      };
    }
    case 18: {
      // A data field that holds a whole frame: the server must not read into it.
      const inner = buildFrame(p);
      return { bytes: buildFrame({ ...p, data: inner }), frames: 1, name: 'frame-in-data' };
    }
    default: {
      // The frame written in two halves with a random byte in between.
      const at = prng.range(1, frame.length - 1);
      return {
        bytes: Buffer.concat([frame.subarray(0, at), Buffer.of(prng.next() & 0xff), frame.subarray(at)]),
        frames: 1,
        name: 'stray-byte',
      };
    }
  }
}

/** Random bytes: pure noise, or noise behind a plausible header, so that every check gets reached. */
export function randomBlob(prng: Prng): Mutation {
  const variant = prng.int(4);
  if (variant === 0) return { bytes: prng.bytes(prng.range(1, 300)), frames: 1, name: 'noise' };
  if (variant === 1) {
    // A small packet_len, then noise.
    const out = prng.bytes(prng.range(4, 300));
    out.writeUInt32BE(prng.range(0, 600), 0);
    return { bytes: out, frames: 1, name: 'noise-small-len' };
  }
  if (variant === 2) {
    // A header whose lengths add up, then a noise body (greeter/op/random/hash checks).
    const lengths = [
      prng.range(0, 12),
      prng.range(0, 12),
      prng.range(0, 40),
      prng.range(0, 12),
      prng.range(0, 12),
    ];
    const [opL, grL, daL, haL, raL] = lengths as [number, number, number, number, number];
    const total = HEADER_LENGTH + opL + grL + daL + haL + raL;
    const head = Buffer.alloc(HEADER_LENGTH);
    head.writeUInt32BE(total, 0);
    head[4] = opL;
    head[5] = grL;
    head.writeUInt32BE(daL, 6);
    head[10] = haL;
    head[11] = raL;
    const body = prng.chance(0.5) ? prng.printable(total - HEADER_LENGTH) : prng.bytes(total - HEADER_LENGTH);
    return { bytes: Buffer.concat([head, body]), frames: 1, name: 'noise-consistent-header' };
  }
  // Text a wrong client might send.
  const text = prng.pick([
    'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n',
    'SSH-2.0-OpenSSH_9.6\r\n',
    '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03',
    '{"greeter":"echo"}\n',
    '\x00\x00\x00',
    `${'\x00'.repeat(3)}\x10${'\x01'.repeat(12)}`,
  ]);
  return { bytes: Buffer.from(text, 'latin1'), frames: 1, name: 'foreign-protocol' };
}

// --- raw TCP peers ------------------------------------------------------------------------------

/** Destroys every socket it holds when the test finishes (one hook for any number of sockets). */
export class SocketTracker {
  readonly #sockets = new Set<Socket>();

  constructor() {
    onTestFinished(() => this.destroyAll());
  }

  add(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  get open(): number {
    return this.#sockets.size;
  }

  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

/**
 * A peer that writes raw bytes over TCP and reads the server's frames with
 * the reference decoder. Never throws on socket errors: they are recorded.
 */
export class FramePeer {
  readonly socket: Socket;
  readonly frames: ParsedFrame[] = [];
  /** Frames already looked at by the test. */
  consumed = 0;
  closed = false;
  /** The server's FIN arrived ('end'). */
  ended = false;
  error: NodeJS.ErrnoException | undefined;
  readonly reader = new FrameReader();
  bytesReceived = 0;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      for (const f of this.reader.push(chunk)) this.frames.push(f);
      this.#notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.#notify();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.#notify();
    });
  }

  /** Connects to 127.0.0.1:`port`; rejects with the socket error if the connection fails. */
  static connect(port: number, tracker: SocketTracker): Promise<FramePeer> {
    const socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
    tracker.add(socket);
    const peer = new FramePeer(socket);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(peer);
      });
    });
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Closes our side (FIN). */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Waits until `condition()` holds; false if `timeoutMs` passed first. */
  async until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
    return true;
  }
}

// --- latency ------------------------------------------------------------------------------------

/** The `q` quantile (0–1) of `values`, nearest rank. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  return {
    samples: values.length,
    p50: percentile(values, 0.5),
    p99: percentile(values, 0.99),
    max: Math.max(...values),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Frames of an auth packet for `secret` (protocol §4, step 1). */
export function authParts(secret: string, random: Buffer, op: string = '200'): FrameParts {
  return parts({ greeter: 'auth', op, random, data: '200', hash: hashOf(secret, random) });
}
