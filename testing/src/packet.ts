import { STATUS_TEXT, statusOf, type Frame } from 'nekoconnect/protocol';
import { NekoTestingError } from './errors.js';

/** How many data bytes a description shows. */
const PREVIEW_BYTES = 40;

/**
 * A packet the fake client received: a plugin's packet, or a server status
 * packet (greeter `nekoconnect-server`, with `status` set).
 */
export class TestPacket {
  /** The plugin's greeter, or `nekoconnect-server` for a status packet. */
  readonly greeter: string;
  readonly op: number;
  readonly data: Buffer;
  /** For a status packet, its code (the op: 100, 200, 404, 500, …); undefined for a plugin's packet. */
  readonly status: number | undefined;

  constructor(greeter: string, op: number, data: Buffer) {
    this.greeter = greeter;
    this.op = op;
    this.data = data;
    this.status = statusOf(greeter, op);
  }

  /** @internal */
  static fromFrame(frame: Frame): TestPacket {
    return new TestPacket(frame.greeter, frame.op, Buffer.from(frame.data));
  }

  /** `data.length`. */
  get len(): number {
    return this.data.length;
  }

  /** The data decoded as UTF-8. */
  text(): string {
    return this.data.toString('utf8');
  }

  /**
   * The data parsed as JSON.
   * @throws NekoTestingError `NEKO_ERR_TESTING_JSON`, showing the packet, when it is not JSON.
   */
  json<T = unknown>(): T {
    try {
      return JSON.parse(this.text()) as T;
    } catch (err) {
      throw new NekoTestingError(
        'NEKO_ERR_TESTING_JSON',
        `the data of ${describePacket(this)} is not valid JSON: ${(err as Error).message}`,
        { cause: err, hint: 'Read it with text() or data, or check what the plugin sends.' },
      );
    }
  }

  /** A one-line description, as failure messages show it. */
  toString(): string {
    return describePacket(this);
  }
}

/**
 * Describes a packet for a failure message: `status 404 (no plugin answers
 * to that greeter)`, or `"echo" op 7 with 5 bytes "hello"` (the first 40
 * bytes of data, as text when they are text, else in hex).
 */
export function describePacket(packet: TestPacket): string {
  if (packet.status !== undefined) return describeStatus(packet.status);
  return `"${packet.greeter}" op ${packet.op} ${describeData(packet.data)}`;
}

/** `status 404 (no plugin answers to that greeter)`. */
export function describeStatus(code: number): string {
  return `status ${code} (${STATUS_TEXT[code] ?? 'unknown status'})`;
}

/** `with no data`, `with 5 bytes "hello"`, `with 3 bytes <00 ff 10>`; long data is cut after 40 bytes with `…`. */
export function describeData(data: Uint8Array): string {
  if (data.length === 0) return 'with no data';
  const shown = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, PREVIEW_BYTES));
  const more = data.length > PREVIEW_BYTES ? '…' : '';
  const count = `${data.length} byte${data.length === 1 ? '' : 's'}`;
  let text = shown.toString('utf8');
  // A multi-byte character cut by the preview decodes as one replacement character: drop it.
  if (more) text = text.replace(/\uFFFD$/, '');
  if (isReadable(text)) return `with ${count} ${JSON.stringify(text)}${more}`;
  return `with ${count} <${shown.toString('hex').replace(/(..)(?!$)/g, '$1 ')}${more}>`;
}

/** True for text without replacement characters and without control characters other than tab and line breaks. */
function isReadable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd || c === 0x7f) return false;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}
