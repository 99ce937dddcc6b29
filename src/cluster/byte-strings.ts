import { ShoalError } from '../util/errors.js';
import { INT64_MAX, INT64_MIN, parseInt64 } from '../util/int64.js';
import { NotAnIntegerError, ValueTooLargeError } from './errors.js';
import { encodeValue, fromBytes, type StoredValue } from './value-codec.js';

/**
 * Stored values seen as Redis strings (byte strings), for the operations Redis
 * clients need (APPEND, INCRBY, GETDEL, ...), decided at the primary.
 *
 * A value is a string when its msgpack encoding is binary (what RESP writes: a
 * `Buffer`), text (a JS string: its UTF-8 bytes) or a number (its decimal text, so
 * counters made by the JS `incr` and by Redis's INCR are the same thing). Anything
 * else (objects, arrays, booleans, null) is not a string: Redis commands on it fail
 * with {@link WrongTypeError}, as Redis answers for a list or a hash.
 *
 * The bytes are read straight out of the msgpack encoding: no decode, no copy.
 */

/** A Redis string command met a value that is not a string. */
export class WrongTypeError extends ShoalError {
  constructor(key: string) {
    super('ERR_WRONG_TYPE', `the value of "${key}" is not a string (bytes, text or a number)`);
  }
}

/** INCRBY would leave the signed 64-bit range; nothing changed. */
export class IncrementOverflowError extends ShoalError {
  constructor(key: string) {
    super('ERR_INCREMENT_OVERFLOW', `incrementing "${key}" would overflow a signed 64-bit integer`);
  }
}

const BIN8 = 0xc4;
const BIN16 = 0xc5;
const BIN32 = 0xc6;
const FLOAT32 = 0xca;
const FLOAT64 = 0xcb;
const UINT8 = 0xcc;
const UINT16 = 0xcd;
const UINT32 = 0xce;
const UINT64 = 0xcf;
const INT8 = 0xd0;
const INT16 = 0xd1;
const INT32 = 0xd2;
const INT64 = 0xd3;
const STR8 = 0xd9;
const STR16 = 0xda;
const STR32 = 0xdb;

/** Where the payload of a binary or text encoding lies in `bytes`, or undefined. */
function payloadRange(bytes: Uint8Array): [number, number] | undefined {
  const lead = bytes[0];
  if (lead === undefined) return undefined;
  let start: number;
  let length: number;
  if (lead >= 0xa0 && lead <= 0xbf) {
    start = 1;
    length = lead & 0x1f;
  } else if (lead === BIN8 || lead === STR8) {
    start = 2;
    length = bytes[1] ?? 0;
  } else if (lead === BIN16 || lead === STR16) {
    start = 3;
    length = ((bytes[1] ?? 0) << 8) | (bytes[2] ?? 0);
  } else if (lead === BIN32 || lead === STR32) {
    start = 5;
    length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  } else {
    return undefined;
  }
  return start + length === bytes.length ? [start, start + length] : undefined;
}

/** The number a numeric encoding holds (bigint for 64-bit integers), or undefined. */
function numberOf(bytes: Uint8Array): number | bigint | undefined {
  const lead = bytes[0];
  if (lead === undefined) return undefined;
  if (lead <= 0x7f) return lead;
  if (lead >= 0xe0) return lead - 0x100;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number): boolean => bytes.length === 1 + n;
  switch (lead) {
    case UINT8:
      return need(1) ? view.getUint8(1) : undefined;
    case UINT16:
      return need(2) ? view.getUint16(1) : undefined;
    case UINT32:
      return need(4) ? view.getUint32(1) : undefined;
    case UINT64:
      return need(8) ? view.getBigUint64(1) : undefined;
    case INT8:
      return need(1) ? view.getInt8(1) : undefined;
    case INT16:
      return need(2) ? view.getInt16(1) : undefined;
    case INT32:
      return need(4) ? view.getInt32(1) : undefined;
    case INT64:
      return need(8) ? view.getBigInt64(1) : undefined;
    case FLOAT32:
      return need(4) ? view.getFloat32(1) : undefined;
    case FLOAT64:
      return need(8) ? view.getFloat64(1) : undefined;
    default:
      return undefined;
  }
}

/**
 * The bytes of `stored` as a Redis string, or `undefined` when it is not one. Binary
 * and text come back as a view of the stored encoding (never modify it); numbers as
 * their decimal text (`String(n)`).
 */
export function stringBytesOf(stored: StoredValue): Uint8Array | undefined {
  const bytes = stored.bytes;
  const range = payloadRange(bytes);
  if (range !== undefined) return bytes.subarray(range[0], range[1]);
  const number = numberOf(bytes);
  if (number === undefined) return undefined;
  return Buffer.from(String(number), 'latin1');
}

/** Whether `stored` is a Redis string (see {@link stringBytesOf}). */
export function isStringValue(stored: StoredValue): boolean {
  return payloadRange(stored.bytes) !== undefined || numberOf(stored.bytes) !== undefined;
}

/**
 * Encodes `bytes` as a binary value (msgpack bin), in one allocation: a JS reader
 * gets a `Buffer` back. Refuses more than `maxValueBytes` encoded.
 */
export function storedFromBytes(bytes: Uint8Array, maxValueBytes: number): StoredValue {
  const length = bytes.length;
  const header = length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
  const total = header + length;
  if (total > maxValueBytes) throw new ValueTooLargeError(total, maxValueBytes);
  const encoded = Buffer.allocUnsafeSlow(total);
  if (header === 2) {
    encoded[0] = BIN8;
    encoded[1] = length;
  } else if (header === 3) {
    encoded[0] = BIN16;
    encoded.writeUInt16BE(length, 1);
  } else {
    encoded[0] = BIN32;
    encoded.writeUInt32BE(length, 1);
  }
  encoded.set(bytes, header);
  return fromBytes(encoded);
}

/**
 * The signed 64-bit integer `stored` holds, by Redis's rules for strings (`-12`, no
 * `+`, no spaces, no leading zeros), or a number that is a safe integer.
 *
 * @throws WrongTypeError when the value is not a string.
 * @throws NotAnIntegerError when it is a string but not such an integer.
 */
export function int64Of(key: string, stored: StoredValue): bigint {
  const bytes = stored.bytes;
  const range = payloadRange(bytes);
  if (range !== undefined) {
    const parsed = parseInt64(bytes, range[0], range[1]);
    if (parsed === undefined) throw new NotAnIntegerError(key);
    return parsed;
  }
  const number = numberOf(bytes);
  if (number === undefined) throw new WrongTypeError(key);
  if (typeof number === 'bigint') {
    if (number > INT64_MAX || number < INT64_MIN) throw new NotAnIntegerError(key);
    return number;
  }
  if (!Number.isSafeInteger(number)) throw new NotAnIntegerError(key);
  return BigInt(number);
}

/**
 * Encodes a counter: a safe integer as a msgpack number (so the JS API reads a
 * `number`, and its `incr` keeps working), anything wider as its decimal text.
 */
export function storedFromInt64(value: bigint, maxValueBytes: number): StoredValue {
  if (value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) {
    return encodeValue(Number(value), maxValueBytes);
  }
  return storedFromBytes(Buffer.from(value.toString(), 'latin1'), maxValueBytes);
}
