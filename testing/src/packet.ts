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
  /**
   * For a status 500 from the test server: what the plugin's handler threw
   * or rejected with, its stack pointing at the plugin's `logic.ts`.
   * Undefined for every other packet.
   */
  readonly error: unknown;

  constructor(greeter: string, op: number, data: Buffer, error?: unknown) {
    this.greeter = greeter;
    this.op = op;
    this.data = data;
    this.status = statusOf(greeter, op);
    this.error = error;
  }

  /** @internal `error`: the handler failure a status 500 answers, when the harness knows it. */
  static fromFrame(frame: Frame, error?: unknown): TestPacket {
    return new TestPacket(frame.greeter, frame.op, Buffer.from(frame.data), error);
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
   * @throws NekoTestingError `NEKO_ERR_TESTING_JSON`, showing the packet, when it is not JSON;
   *   `NEKO_ERR_TESTING_HANDLER_FAILED`, with the handler's error and stack, for a status 500
   *   that carries one (its data is the status, not the plugin's).
   */
  json<T = unknown>(): T {
    if (this.error !== undefined) {
      throw handlerFailedError(
        `json() of ${describePacket(this)}: the plugin sent no data, its handler failed`,
        this.error,
      );
    }
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
  if (packet.status !== undefined) {
    const status = describeStatus(packet.status);
    return packet.error === undefined ? status : `${status}: ${summarizeError(packet.error)}`;
  }
  return `"${packet.greeter}" op ${packet.op} ${describeData(packet.data)}`;
}

/** `status 404 (no plugin answers to that greeter)`. */
export function describeStatus(code: number): string {
  return `status ${code} (${STATUS_TEXT[code] ?? 'unknown status'})`;
}

/**
 * One line for a handler's error: `Error: boom (at /plugins/game/logic.ts:12:11)`,
 * its first line and the first frame of its stack.
 */
export function summarizeError(error: unknown): string {
  if (!(error instanceof Error)) return `${typeof error} thrown: ${String(error)}`;
  const head = `${error.name}: ${error.message}`.split('\n')[0]!;
  const at = firstFrame(error.stack);
  return at === undefined ? head : `${head} (at ${at})`;
}

/**
 * A handler's error as a failure message shows it: `the plugin's handler
 * failed with Error: boom` and its stack, indented.
 */
export function describeHandlerError(error: unknown): string {
  if (!(error instanceof Error)) return `the plugin's handler failed: ${summarizeError(error)}`;
  const frames = stackFrames(error.stack);
  return `the plugin's handler failed with ${error.name}: ${error.message}${frames.length > 0 ? `\n${frames.join('\n')}` : ''}`;
}

/**
 * `NEKO_ERR_TESTING_HANDLER_FAILED` with `message`, caused by the handler's
 * `error`, and with the handler's stack frames as its own: a test report
 * then points at the plugin's line rather than the harness's.
 */
export function handlerFailedError(message: string, error: unknown): NekoTestingError {
  const failure = new NekoTestingError('NEKO_ERR_TESTING_HANDLER_FAILED', message, {
    cause: error,
    hint: "Fix the line of the plugin that the handler's stack points at.",
  });
  const frames = error instanceof Error ? stackFrames(error.stack) : [];
  if (frames.length > 0) failure.stack = `${failure.name}: ${message}\n${frames.join('\n')}`;
  return failure;
}

/** The `    at …` lines of a stack. */
export function stackFrames(stack: string | undefined): string[] {
  return (stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
}

/** `file:line:column` of a stack's first frame. */
function firstFrame(stack: string | undefined): string | undefined {
  const frame = stackFrames(stack)[0];
  if (frame === undefined) return undefined;
  const match = /\(([^()]+:\d+:\d+)\)$/.exec(frame) ?? /at (\S+:\d+:\d+)$/.exec(frame);
  return match?.[1];
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
