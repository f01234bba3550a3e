import { NekoError } from '../errors.js';
import { HEADER_LENGTH, MAX_FIELD_LENGTH, MAX_UINT32 } from './constants.js';
import { isPrintableBytes, isPrintableString, isValidOp, type FrameFields } from './frame.js';

/**
 * Encodes one canonical frame (protocol §2): op without leading zeros,
 * header order op, greeter, data, hash, random; body order greeter, op,
 * random, data, hash.
 *
 * Throws a `NEKO_ERR_FRAME_*` NekoError when a field cannot travel: an empty
 * or over-long greeter, random or hash, a byte outside printable ASCII in
 * them, or an op that is not an integer from 0 to 4294967295.
 */
export function encodeFrame(fields: FrameFields): Buffer {
  const { greeter, op, random, data, hash } = fields;
  if (!isValidOp(op)) {
    throw new NekoError('NEKO_ERR_FRAME_BAD_OP', `op ${String(op)} is not an integer from 0 to 4294967295`);
  }
  const opText = String(op);
  const greeterLength = checkAsciiField('greeter', greeter);
  const randomLength = checkAsciiField('random', random);
  const hashLength = checkAsciiField('hash', hash);
  const dataLength = typeof data === 'string' ? utf8Length(data) : data.byteLength;
  const packetLength = HEADER_LENGTH + greeterLength + opText.length + randomLength + dataLength + hashLength;
  if (packetLength > MAX_UINT32) {
    throw new NekoError('NEKO_ERR_FRAME_FIELD_TOO_LONG', `frame of ${packetLength} bytes exceeds 4294967295`);
  }

  const out = Buffer.allocUnsafe(packetLength);
  out[0] = packetLength >>> 24;
  out[1] = packetLength >>> 16;
  out[2] = packetLength >>> 8;
  out[3] = packetLength;
  out[4] = opText.length;
  out[5] = greeterLength;
  out[6] = dataLength >>> 24;
  out[7] = dataLength >>> 16;
  out[8] = dataLength >>> 8;
  out[9] = dataLength;
  out[10] = hashLength;
  out[11] = randomLength;
  let offset = putAscii(out, HEADER_LENGTH, greeter);
  offset = putAscii(out, offset, opText);
  offset = putAscii(out, offset, random);
  if (typeof data !== 'string') offset = putBytes(out, offset, data);
  else if (dataLength === data.length) offset = putAscii(out, offset, data);
  else offset += out.write(data, offset, 'utf8');
  putAscii(out, offset, hash);
  return out;
}

/** Fields this short are copied byte by byte: cheaper than a native copy call. */
const SHORT_FIELD = 8;

/** UTF-8 length of a string; short ASCII strings (status data like `200`) are measured without a native call. */
function utf8Length(s: string): number {
  const length = s.length;
  if (length > SHORT_FIELD) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return length;
}

/** Writes a string of one byte per character (ASCII), or bytes. */
function putAscii(out: Buffer, offset: number, value: string | Uint8Array): number {
  if (typeof value !== 'string') return putBytes(out, offset, value);
  const length = value.length;
  if (length > SHORT_FIELD) return offset + out.write(value, offset, 'latin1');
  for (let i = 0; i < length; i++) out[offset + i] = value.charCodeAt(i);
  return offset + length;
}

function putBytes(out: Buffer, offset: number, value: Uint8Array): number {
  const length = value.byteLength;
  if (length > SHORT_FIELD) {
    out.set(value, offset);
  } else {
    for (let i = 0; i < length; i++) out[offset + i] = value[i]!;
  }
  return offset + length;
}

function checkAsciiField(name: string, value: string | Uint8Array): number {
  const length = typeof value === 'string' ? value.length : value.byteLength;
  if (length === 0) {
    throw new NekoError('NEKO_ERR_FRAME_EMPTY_FIELD', `${name} must not be empty`);
  }
  if (length > MAX_FIELD_LENGTH) {
    throw new NekoError(
      'NEKO_ERR_FRAME_FIELD_TOO_LONG',
      `${name} has ${length} bytes; its length byte allows at most ${MAX_FIELD_LENGTH}`,
    );
  }
  const printable = typeof value === 'string' ? isPrintableString(value) : isPrintableBytes(value);
  if (!printable) {
    throw new NekoError(
      'NEKO_ERR_FRAME_NOT_PRINTABLE',
      `${name} holds a character outside printable ASCII (0x21-0x7e)`,
    );
  }
  return length;
}
