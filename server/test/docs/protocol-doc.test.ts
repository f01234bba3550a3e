/**
 * Keeps the worked examples of docs/protocol.md exact.
 *
 * Every fenced block with the info string `hex frame` is a whole frame in hex
 * (spaces and line breaks ignored). Each must decode, re-encode to the same
 * bytes, hold the fields listed below for its position, and carry the hash
 * `Hasher('neko')` computes over the random named by `hashOf` (or the literal
 * `server`). The number of blocks is fixed, so deleting an example fails too.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AUTH_GREETER, SERVER_GREETER, UNAUTHENTICATED_HASH } from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { Hasher } from '../../src/protocol/hash.js';
import { isExtensionAnswer } from '../../src/protocol/resume.js';
import { isClosingStatus } from '../../src/protocol/status.js';

const DOC_PATH = fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url));
const SECRET = 'neko';

/** What one `hex frame` block must hold. */
interface ExpectedFrame {
  /** The example's heading, for test names. */
  readonly name: string;
  /** Which connection it travels on (the 400 example is a second peer). */
  readonly connection: number;
  readonly from: 'client' | 'server';
  readonly greeter: string;
  readonly op: number;
  readonly random: string;
  /** The data, as UTF-8 text. */
  readonly data: string;
  /** The random whose `H` is the hash field, or `server` for the literal hash. */
  readonly hashOf: string;
  /** `packet_len`, the whole frame in bytes. */
  readonly length: number;
  /** The HMAC key of the hash when it is not the secret: a per-user token's key (§15). */
  readonly key?: string;
}

/** The token of §15's example: its id, and its key derived from the secret. */
const TOKEN_ID = 'mimi.4102444800';
const TOKEN_KEY = new Hasher(SECRET).hex(`nekoconnect-token:${TOKEN_ID}`);

/** The blocks of docs/protocol.md, in order. */
const EXPECTED: readonly ExpectedFrame[] = [
  {
    name: 'A: client auth',
    connection: 1,
    from: 'client',
    greeter: 'auth',
    op: 200,
    random: 'kitten-0001',
    data: '200',
    hashOf: 'kitten-0001',
    length: 97,
  },
  {
    name: 'B: server accepts',
    connection: 1,
    from: 'server',
    greeter: 'nekoconnect-server',
    op: 200,
    random: 'purr-0001',
    data: '200',
    hashOf: 'kitten-0001',
    length: 109,
  },
  {
    name: 'C: client to echo',
    connection: 1,
    from: 'client',
    greeter: 'echo',
    op: 3,
    random: 'kitten-0002',
    data: 'meow',
    hashOf: 'purr-0001',
    length: 96,
  },
  {
    name: 'D: echo reply',
    connection: 1,
    from: 'server',
    greeter: 'echo',
    op: 3,
    random: 'purr-0002',
    data: 'meow',
    hashOf: 'kitten-0002',
    length: 94,
  },
  {
    name: 'E: client to a missing greeter, empty data',
    connection: 1,
    from: 'client',
    greeter: 'woof',
    op: 1,
    random: 'kitten-0003',
    data: '',
    hashOf: 'purr-0002',
    length: 92,
  },
  {
    name: 'F: status 404',
    connection: 1,
    from: 'server',
    greeter: 'nekoconnect-server',
    op: 404,
    random: 'purr-0003',
    data: '404',
    hashOf: 'kitten-0003',
    length: 109,
  },
  {
    name: 'G: status 400 to an unauthenticated peer',
    connection: 2,
    from: 'server',
    greeter: 'nekoconnect-server',
    op: 400,
    random: 'hiss-0001',
    data: '400',
    hashOf: 'server',
    length: 51,
  },
  {
    name: 'H: client asks for a resume token',
    connection: 1,
    from: 'client',
    greeter: 'auth',
    op: 201,
    random: 'kitten-0004',
    data: '',
    hashOf: 'purr-0003',
    length: 94,
  },
  {
    name: 'I: the token',
    connection: 1,
    from: 'server',
    greeter: 'nekoconnect-server',
    op: 201,
    random: 'purr-0004',
    data: 'tok3n-P4wPrint-0001-AB',
    hashOf: 'kitten-0004',
    length: 128,
  },
  {
    name: 'J: client auth on a new connection',
    connection: 3,
    from: 'client',
    greeter: 'auth',
    op: 200,
    random: 'kitten-0101',
    data: '200',
    hashOf: 'kitten-0101',
    length: 97,
  },
  {
    name: 'K: server accepts',
    connection: 3,
    from: 'server',
    greeter: 'nekoconnect-server',
    op: 200,
    random: 'purr-0101',
    data: '200',
    hashOf: 'kitten-0101',
    length: 109,
  },
  {
    name: 'L: client resumes with the token',
    connection: 3,
    from: 'client',
    greeter: 'auth',
    op: 202,
    random: 'kitten-0102',
    data: 'tok3n-P4wPrint-0001-AB',
    hashOf: 'purr-0101',
    length: 116,
  },
  {
    name: 'M: resumed, with the next token',
    connection: 3,
    from: 'server',
    greeter: 'nekoconnect-server',
    op: 202,
    random: 'purr-0102',
    data: '200 tok3n-P4wPrint-0002-CD',
    hashOf: 'kitten-0102',
    length: 132,
  },
  {
    name: 'N: client authenticates with a token',
    connection: 4,
    from: 'client',
    greeter: 'auth',
    op: 210,
    random: 'kitten-0201',
    data: TOKEN_ID,
    hashOf: 'kitten-0201',
    length: 109,
    key: TOKEN_KEY,
  },
  {
    name: 'O: server accepts the token',
    connection: 4,
    from: 'server',
    greeter: 'nekoconnect-server',
    op: 200,
    random: 'purr-0201',
    data: '200',
    hashOf: 'kitten-0201',
    length: 109,
    key: TOKEN_KEY,
  },
];

interface HexBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly hex: string;
}

/** Every ```` ```hex frame ```` block of a Markdown text, whitespace removed. */
function hexFrameBlocks(markdown: string): HexBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: HexBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^ {0,3}```hex frame\s*$/.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^ {0,3}```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`docs/protocol.md:${start + 1}: unterminated hex frame block`);
    blocks.push({ line: start + 1, hex: body.join('').replace(/\s+/g, '') });
  }
  return blocks;
}

/** The text outside fenced blocks. */
function prose(markdown: string): string {
  return markdown.replace(/^ {0,3}```[^\n]*\n[\s\S]*?^ {0,3}```[ \t]*$/gm, '');
}

const markdown = readFileSync(DOC_PATH, 'utf8');
const blocks = hexFrameBlocks(markdown);
const hasher = new Hasher(SECRET);

function expectedHash(example: ExpectedFrame): string {
  if (example.hashOf === UNAUTHENTICATED_HASH) return UNAUTHENTICATED_HASH;
  return (example.key === undefined ? hasher : new Hasher(example.key)).hex(example.hashOf);
}

describe('docs/protocol.md worked examples', () => {
  it(`has exactly ${EXPECTED.length} hex frame blocks`, () => {
    expect(blocks.map((b) => b.line)).toHaveLength(EXPECTED.length);
  });

  describe.each(EXPECTED.map((example, index) => ({ ...example, index, number: index + 1 })))(
    'block $number ($name)',
    (example) => {
      const block = (): HexBlock => {
        const found = blocks[example.index];
        if (found === undefined)
          throw new Error(`docs/protocol.md has no hex frame block #${example.index + 1}`);
        return found;
      };
      const bytes = (): Buffer => Buffer.from(block().hex, 'hex');

      it('is whole bytes of hex', () => {
        expect(block().hex, `docs/protocol.md:${block().line}`).toMatch(/^(?:[0-9a-fA-F]{2})+$/);
      });

      it('decodes, and re-encodes byte for byte', () => {
        const frame = decodeFrame(bytes());
        const again = encodeFrame({
          greeter: frame.greeter,
          op: frame.op,
          random: frame.random,
          data: frame.data,
          hash: frame.hash,
        });
        expect(again.toString('hex')).toBe(bytes().toString('hex'));
      });

      it('holds the expected fields and length', () => {
        const frame = decodeFrame(bytes());
        expect({
          greeter: frame.greeter,
          op: frame.op,
          random: frame.random.toString('latin1'),
          data: frame.data.toString('utf8'),
          length: bytes().length,
          packetLen: bytes().readUInt32BE(0),
        }).toEqual({
          greeter: example.greeter,
          op: example.op,
          random: example.random,
          data: example.data,
          length: example.length,
          packetLen: example.length,
        });
      });

      it(`carries ${example.hashOf === UNAUTHENTICATED_HASH ? 'the literal hash "server"' : `H(${example.hashOf})`}`, () => {
        const frame = decodeFrame(bytes());
        expect(frame.hash.toString('latin1')).toBe(expectedHash(example));
      });
    },
  );

  it('the expected relations follow the hash chain of the protocol', () => {
    /** Per connection: the newest client random verified, the newest server random sent. */
    const chains = new Map<number, { client?: string; server?: string }>();
    for (const example of EXPECTED) {
      const chain = chains.get(example.connection) ?? {};
      chains.set(example.connection, chain);
      if (example.from === 'client') {
        // The extension's requests are packets of the session: they answer the newest server random.
        if (example.greeter === AUTH_GREETER && chain.server === undefined) {
          // A first packet: the auth packet of the secret, or of a token (§15); it hashes its own random.
          if (example.key === undefined)
            expect(example, 'an auth packet').toMatchObject({ op: 200, data: '200' });
          else expect(example, 'a token auth packet').toMatchObject({ op: 210, data: TOKEN_ID });
          expect(example.hashOf).toBe(example.random);
        } else {
          expect(example.hashOf, `${example.name} answers the newest server random`).toBe(chain.server);
        }
        chain.client = example.random;
      } else {
        const closing = example.greeter === SERVER_GREETER && isClosingStatus(example.op);
        if (closing || chain.client === undefined) {
          expect(example.hashOf, `${example.name} hashes nothing the peer chose`).toBe(UNAUTHENTICATED_HASH);
        } else {
          expect(example.hashOf, `${example.name} hashes the newest client random`).toBe(chain.client);
        }
        if (example.greeter === SERVER_GREETER && !isExtensionAnswer(example.greeter, example.op))
          expect(example.data).toBe(String(example.op));
        chain.server = example.random;
      }
    }
  });

  it('Hasher agrees with a plain node:crypto HMAC-SHA256 on every example random', () => {
    for (const example of EXPECTED) {
      const reference = createHmac('sha256', Buffer.from(SECRET, 'utf8'))
        .update(example.random)
        .digest('hex');
      expect(hasher.hex(example.random), example.random).toBe(reference);
    }
  });

  it('every hash quoted in the prose is H of an example random', () => {
    const known = new Map<string, string>();
    for (const example of EXPECTED) {
      known.set(hasher.hex(example.random), example.random);
      if (example.key !== undefined) known.set(new Hasher(example.key).hex(example.random), example.random);
    }
    known.set(TOKEN_KEY, `the key of ${TOKEN_ID}`);
    const quoted = prose(markdown).match(/\b[0-9a-f]{64}\b/g) ?? [];
    expect(quoted.length).toBeGreaterThan(0);
    for (const hash of quoted) expect(known.has(hash), `${hash} is H of no example random`).toBe(true);
  });
});
