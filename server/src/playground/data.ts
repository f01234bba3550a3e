/**
 * A packet's data as the Playground's page types it (text, JSON or hex) and
 * shows it (always the hex, and the text and JSON when the bytes are that).
 */
import { NekoError } from '../errors.js';
import type { PlaygroundData, PlaygroundDataKind } from './wire.js';

const KINDS: readonly PlaygroundDataKind[] = ['text', 'json', 'hex'];

/**
 * The bytes of what the page typed: text as UTF-8, JSON checked and sent as
 * typed (its text, not re-serialised), hex as its bytes (spaces, `:` and a
 * leading `0x` allowed between bytes).
 *
 * @throws NekoError `NEKO_ERR_PLAYGROUND_DATA` for an unknown kind, JSON that
 *   does not parse, or hex that is not pairs of hex digits
 */
export function decodeData(kind: unknown, value: unknown): Buffer {
  if (!KINDS.includes(kind as PlaygroundDataKind)) {
    throw new NekoError(
      'NEKO_ERR_PLAYGROUND_DATA',
      `data.kind must be ${KINDS.join(', ')}; got ${JSON.stringify(kind) ?? 'nothing'}`,
    );
  }
  if (typeof value !== 'string') {
    throw new NekoError('NEKO_ERR_PLAYGROUND_DATA', `data.value must be a string; got ${typeOf(value)}`);
  }
  if (kind === 'text') return Buffer.from(value, 'utf8');
  if (kind === 'json') {
    if (value.trim() === '') return Buffer.alloc(0);
    try {
      JSON.parse(value);
    } catch (err) {
      throw new NekoError('NEKO_ERR_PLAYGROUND_DATA', `the data is not JSON: ${(err as Error).message}`, {
        hint: 'Write a JSON value, e.g. {"text": "hi"}, or send it as text.',
      });
    }
    return Buffer.from(value, 'utf8');
  }
  const digits = value.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  const bad = /[^0-9a-f]/i.exec(digits);
  if (bad !== null) {
    throw new NekoError(
      'NEKO_ERR_PLAYGROUND_DATA',
      `the data is not hex: "${bad[0]}" at character ${bad.index + 1} of the digits`,
      { hint: 'Write bytes as pairs of hex digits, e.g. 68 69 or 0x6869.' },
    );
  }
  if (digits.length % 2 !== 0) {
    throw new NekoError(
      'NEKO_ERR_PLAYGROUND_DATA',
      `the data is not hex: ${digits.length} digits, an odd number (each byte is two)`,
      { hint: 'Write bytes as pairs of hex digits, e.g. 0a rather than a.' },
    );
  }
  return Buffer.from(digits, 'hex');
}

/** A packet's data as the page shows it. */
export function showData(bytes: Uint8Array): PlaygroundData {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shown: { bytes: number; hex: string; text?: string; json?: unknown } = {
    bytes: buffer.length,
    hex: buffer.toString('hex'),
  };
  const text = utf8(buffer);
  if (text !== undefined) {
    shown.text = text;
    if (text.trim() !== '') {
      try {
        shown.json = JSON.parse(text) as unknown;
      } catch {
        // Not JSON: the text and the hex show it.
      }
    }
  }
  return shown;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text when they are valid UTF-8. */
function utf8(bytes: Buffer): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
