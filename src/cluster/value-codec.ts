import { Packr } from 'msgpackr';
import { InvalidArgumentError } from '../util/errors.js';
import { ValueNotEncodableError, ValueTooLargeError } from './errors.js';
import { storedPayload } from './load-entry.js';

/**
 * How a value lives in a node's store. `set()` encodes a value once: the encoded size
 * is what the byte bounds count, and these bytes are what replicas and handoff carry.
 *
 * Reads must not let a caller change what the cluster holds, nor make a primary
 * differ from its backups. The chosen semantics: primitives come back as they are
 * (they are immutable); objects and arrays come back as one deeply frozen copy decoded
 * from the bytes on the first read and shared by later reads, so the embedded fast
 * path costs a Map lookup and no decode. Values that hold binary data or Dates
 * (whose contents `Object.freeze` cannot protect) are decoded afresh on every read.
 */
export interface StoredValue {
  /** The msgpack encoding of the value; never mutated after creation. */
  readonly bytes: Uint8Array;
  /** The decoded read-only copy, filled on first read; `undefined` until then. */
  frozen: unknown;
  /** Whether `frozen` may be shared between reads (false for values holding binary). */
  shareable: boolean;
}

// Plain msgpack without records: the bytes travel to other nodes and must decode
// there without a shared structure table.
const packr = new Packr({ useRecords: false, moreTypes: false });

const NOT_DECODED = Symbol('not-decoded');

/** Encodes `value`, refusing what cannot be encoded and what is over `maxValueBytes`. */
export function encodeValue(value: unknown, maxValueBytes: number): StoredValue {
  if (value === undefined) {
    throw new InvalidArgumentError('a value cannot be undefined (use delete to remove a key)');
  }
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw new ValueNotEncodableError(`a ${typeof value} has no msgpack encoding`);
  }
  let bytes: Uint8Array;
  try {
    bytes = packr.pack(value);
  } catch (error) {
    throw new ValueNotEncodableError(error instanceof Error ? error.message : String(error));
  }
  if (bytes.length > maxValueBytes) throw new ValueTooLargeError(bytes.length, maxValueBytes);
  return fromBytes(bytes, value);
}

/**
 * Wraps bytes that arrived from another node (replication, handoff). When the original
 * value is at hand and is a primitive, it is kept so the first read needs no decode.
 */
export function fromBytes(bytes: Uint8Array, original?: unknown): StoredValue {
  const isPrimitive = original === null || (typeof original !== 'object' && original !== undefined);
  return { bytes, frozen: isPrimitive ? original : NOT_DECODED, shareable: true };
}

/**
 * Returns the value for a caller to read (see the semantics on `StoredValue`):
 * `undefined` for a negative entry, the value itself for one with a stale window.
 */
export function readValue(stored: StoredValue): unknown {
  if (stored.frozen !== NOT_DECODED) return stored.frozen;
  // getOrLoad's negative and stale-while-revalidate entries (see load-entry.ts).
  const payload = storedPayload(stored.bytes);
  const decoded: unknown = payload === undefined ? undefined : packr.unpack(payload);
  if (!stored.shareable) return decoded;
  if (isPlainData(decoded)) {
    deepFreeze(decoded);
    stored.frozen = decoded;
  } else {
    stored.shareable = false;
  }
  return decoded;
}

/**
 * Whether freezing makes `value` truly read-only: true for primitives and plain
 * objects and arrays of them. Binary views and Dates keep mutable internal state that
 * `Object.freeze` does not protect, so values holding them are never shared.
 */
function isPlainData(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== Array.prototype && prototype !== null) {
    return false;
  }
  for (const child of Object.values(value)) {
    if (!isPlainData(child)) return false;
  }
  return true;
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  for (const child of Object.values(value)) deepFreeze(child);
  Object.freeze(value);
}
