import { Packr } from 'msgpackr';
import { InvalidArgumentError } from '../util/errors.js';
import type { PersistedEntry, PersistedMeta, PersistedSnapshot } from './storage.js';
import { StorageRecordTooLargeError } from './storage-errors.js';

/**
 * How coordinator state becomes bytes, shared by `FileStorage` and `MemoryStorage` so
 * both hand back exactly what a round trip through disk would.
 *
 * Plain MessagePack maps (no record extension) keep the files readable by any
 * MessagePack decoder and independent of msgpackr's structure cache. `copyBuffers`
 * makes every decoded `Buffer` its own copy, so a caller mutating loaded data can
 * never reach bytes storage still holds.
 */
const codec = new Packr({ useRecords: false, copyBuffers: true });

/** Whether `value` can be a zxid: a non-negative safe integer. */
export function isZxid(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function encode(what: string, value: unknown): Buffer {
  let bytes: Buffer;
  try {
    bytes = codec.pack(value);
  } catch (cause) {
    throw new InvalidArgumentError(
      `${what} cannot be encoded with msgpackr: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  // pack() may return a view into a larger shared buffer; own exactly these bytes.
  return Buffer.from(bytes);
}

function decode(payload: Uint8Array): unknown {
  try {
    return codec.unpack(payload);
  } catch {
    return undefined;
  }
}

/** Encodes one log entry, checking its zxid and `maxRecordBytes`. */
export function encodeEntry(entry: PersistedEntry, maxRecordBytes: number): Buffer {
  if (!isObject(entry) || !isZxid(entry.zxid)) {
    throw new InvalidArgumentError(
      `a log entry needs a non-negative integer zxid, got ${isObject(entry) ? String(entry.zxid) : String(entry)}`,
    );
  }
  const payload = encode(`entry ${entry.zxid}`, { zxid: entry.zxid, data: entry.data });
  if (payload.length > maxRecordBytes) {
    throw new StorageRecordTooLargeError(
      `entry ${entry.zxid}`,
      payload.length,
      'maxRecordBytes',
      maxRecordBytes,
    );
  }
  return payload;
}

/** Decodes a log entry payload; `undefined` when it is not one. */
export function decodeEntry(payload: Uint8Array): PersistedEntry | undefined {
  const value = decode(payload);
  if (!isObject(value) || !isZxid(value.zxid)) return undefined;
  return { zxid: value.zxid, data: value.data };
}

/** Encodes the meta, checking that both epochs are non-negative integers. */
export function encodeMeta(meta: PersistedMeta): Buffer {
  if (!isObject(meta) || !isEpoch(meta.acceptedEpoch) || !isEpoch(meta.currentEpoch)) {
    throw new InvalidArgumentError(
      'meta needs non-negative integer acceptedEpoch and currentEpoch',
    );
  }
  return encode('meta', { acceptedEpoch: meta.acceptedEpoch, currentEpoch: meta.currentEpoch });
}

/** Decodes a meta payload; `undefined` when it is not one. */
export function decodeMeta(payload: Uint8Array): PersistedMeta | undefined {
  const value = decode(payload);
  if (!isObject(value) || !isEpoch(value.acceptedEpoch) || !isEpoch(value.currentEpoch)) {
    return undefined;
  }
  return { acceptedEpoch: value.acceptedEpoch, currentEpoch: value.currentEpoch };
}

/** Encodes a snapshot, checking its zxid and `maxSnapshotBytes`. */
export function encodeSnapshot(snapshot: PersistedSnapshot, maxSnapshotBytes: number): Buffer {
  if (!isObject(snapshot) || !isZxid(snapshot.zxid)) {
    throw new InvalidArgumentError('a snapshot needs a non-negative integer zxid');
  }
  const payload = encode(`snapshot at ${snapshot.zxid}`, {
    zxid: snapshot.zxid,
    state: snapshot.state,
  });
  if (payload.length > maxSnapshotBytes) {
    throw new StorageRecordTooLargeError(
      `snapshot at ${snapshot.zxid}`,
      payload.length,
      'maxSnapshotBytes',
      maxSnapshotBytes,
    );
  }
  return payload;
}

/** Decodes a snapshot payload; `undefined` when it is not one. */
export function decodeSnapshot(payload: Uint8Array): PersistedSnapshot | undefined {
  const value = decode(payload);
  if (!isObject(value) || !isZxid(value.zxid)) return undefined;
  return { zxid: value.zxid, state: value.state };
}
