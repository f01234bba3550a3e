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
  const dataLength = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
  const packetLength = HEADER_LENGTH + greeterLength + opText.length + randomLength + dataLength + hashLength;
  if (packetLength > MAX_UINT32) {
    throw new NekoError('NEKO_ERR_FRAME_FIELD_TOO_LONG', `frame of ${packetLength} bytes exceeds 4294967295`);
  }

  const out = Buffer.allocUnsafe(packetLength);
  out.writeUInt32BE(packetLength, 0);
  out[4] = opText.length;
  out[5] = greeterLength;
  out.writeUInt32BE(dataLength, 6);
  out[10] = hashLength;
  out[11] = randomLength;
  let offset = HEADER_LENGTH;
  offset += out.write(greeter, offset, 'latin1');
  offset += out.write(opText, offset, 'latin1');
  offset = put(out, offset, random, 'latin1');
  offset = put(out, offset, data, 'utf8');
  put(out, offset, hash, 'latin1');
  return out;
}

function put(out: Buffer, offset: number, value: string | Uint8Array, encoding: 'latin1' | 'utf8'): number {
  if (typeof value === 'string') return offset + out.write(value, offset, encoding);
  out.set(value, offset);
  return offset + value.byteLength;
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
