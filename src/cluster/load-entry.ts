/**
 * The stored forms `getOrLoad` adds beside plain values: a negative entry (the loader
 * found nothing) and a value with a stale-while-revalidate window. Both are marked
 * with the byte 0xC1, which msgpack never uses, so no encoded user value can look like
 * one; everything else (replication, handoff, eviction) carries them as opaque bytes.
 *
 * - negative: `C1 00`
 * - stale-while-revalidate: `C1 01`, the window in ms as u32 little-endian, then the
 *   value's msgpack bytes. The entry's TTL in the store is `ttlMs + window`; it is fresh
 *   while its remaining TTL exceeds the window. Remaining TTLs are what replicas and
 *   handoff carry, so freshness needs no wall clock and survives clock skew.
 */
import { CorruptValueError } from './load-errors.js';

/** msgpack's "never used" byte: the first byte of every marked entry. */
const MARKER = 0xc1;
const KIND_NEGATIVE = 0x00;
const KIND_STALE_WINDOW = 0x01;
const STALE_HEADER_BYTES = 6;

/** Bytes a stale-while-revalidate entry adds to its value (counted in `maxValueBytes`). */
export const STALE_ENVELOPE_BYTES = STALE_HEADER_BYTES;
/** Longest stale-while-revalidate window (the u32 it travels in). */
export const MAX_STALE_WINDOW_MS = 0xffff_ffff;

/** The bytes of a negative entry. Shared: stored bytes are never mutated. */
export const NEGATIVE_ENTRY_BYTES: Uint8Array = Uint8Array.of(MARKER, KIND_NEGATIVE);

/** Wraps a value's msgpack bytes with a stale window of `windowMs` (1..{@link MAX_STALE_WINDOW_MS}). */
export function encodeStaleEntry(valueBytes: Uint8Array, windowMs: number): Uint8Array {
  const bytes = new Uint8Array(STALE_HEADER_BYTES + valueBytes.byteLength);
  bytes[0] = MARKER;
  bytes[1] = KIND_STALE_WINDOW;
  new DataView(bytes.buffer).setUint32(2, windowMs, true);
  bytes.set(valueBytes, STALE_HEADER_BYTES);
  return bytes;
}

/** Whether stored bytes are a negative entry. */
export function isNegativeEntry(bytes: Uint8Array): boolean {
  return bytes.byteLength === 2 && bytes[0] === MARKER && bytes[1] === KIND_NEGATIVE;
}

/**
 * The msgpack bytes of the value stored in `bytes`, or `undefined` for a negative
 * entry. Plain values are returned as they are.
 *
 * @throws CorruptValueError for marked bytes of an unknown or truncated form.
 */
export function storedPayload(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes[0] !== MARKER) return bytes;
  if (isNegativeEntry(bytes)) return undefined;
  if (bytes[1] === KIND_STALE_WINDOW && bytes.byteLength > STALE_HEADER_BYTES) {
    return bytes.subarray(STALE_HEADER_BYTES);
  }
  throw new CorruptValueError(`unknown marked form (${bytes.byteLength} bytes)`);
}

/** The stale-while-revalidate window of stored bytes in ms, 0 when they have none. */
export function staleWindowOf(bytes: Uint8Array): number {
  if (bytes[0] !== MARKER || bytes[1] !== KIND_STALE_WINDOW) return 0;
  if (bytes.byteLength <= STALE_HEADER_BYTES) return 0;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2, true);
}
