import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { invariant } from '../util/assert.js';
import { StorageCorruptError } from './storage-errors.js';

/**
 * Byte layouts of the coordinator's files (described in full in `file-storage.ts`).
 * All integers are unsigned 32-bit little-endian; checksums are CRC-32 (IEEE, the
 * zlib one, native in Node).
 */

/** First bytes of a log file: names the format and its version. */
export const LOG_MAGIC = Buffer.from('SHOALLG1', 'latin1');
/** First bytes of the meta file. */
export const META_MAGIC = Buffer.from('SHOALMT1', 'latin1');
/** First bytes of the snapshot file. */
export const SNAPSHOT_MAGIC = Buffer.from('SHOALSN1', 'latin1');

/** `[u32 payload length][u32 crc32 of payload]` before every log record's payload. */
export const RECORD_HEADER_BYTES = 8;
/** `[8-byte magic][u32 payload length][u32 crc32 of payload]` before a checksummed file's payload. */
export const CHECKSUMMED_FILE_HEADER_BYTES = 16;
/** How much recovery reads at once; records larger than this are read on their own. */
export const READ_CHUNK_BYTES = 1024 * 1024;

/** CRC-32 of `bytes`, as an unsigned 32-bit integer. */
export function checksum(bytes: Uint8Array): number {
  return crc32(bytes) >>> 0;
}

/** The on-disk size of one record with a payload of `payloadBytes`. */
export function framedRecordBytes(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + payloadBytes;
}

/** Frames payloads as consecutive log records in one buffer, ready for a single write. */
export function frameRecords(payloads: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const payload of payloads) total += framedRecordBytes(payload.length);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const payload of payloads) {
    out.writeUInt32LE(payload.length, at);
    out.writeUInt32LE(checksum(payload), at + 4);
    out.set(payload, at + RECORD_HEADER_BYTES);
    at += framedRecordBytes(payload.length);
  }
  invariant(at === total, 'framed records must fill their buffer exactly');
  return out;
}

/** Wraps a payload as a whole checksummed file (meta, snapshot). */
export function encodeChecksummedFile(magic: Buffer, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(CHECKSUMMED_FILE_HEADER_BYTES + payload.length);
  magic.copy(out, 0);
  out.writeUInt32LE(payload.length, magic.length);
  out.writeUInt32LE(checksum(payload), magic.length + 4);
  out.set(payload, CHECKSUMMED_FILE_HEADER_BYTES);
  return out;
}

/** What `decodeChecksummedFile` found: the verified payload, or why there is none. */
export type ChecksummedFileContent =
  | { readonly ok: true; readonly payload: Buffer }
  | { readonly ok: false; readonly problem: string };

/** Verifies a checksummed file's magic, exact length and checksum. */
export function decodeChecksummedFile(magic: Buffer, bytes: Buffer): ChecksummedFileContent {
  if (bytes.length < CHECKSUMMED_FILE_HEADER_BYTES) {
    return { ok: false, problem: `only ${bytes.length} bytes, shorter than its header` };
  }
  if (!bytes.subarray(0, magic.length).equals(magic)) {
    return { ok: false, problem: `header is not ${magic.toString('latin1')}` };
  }
  const length = bytes.readUInt32LE(magic.length);
  if (CHECKSUMMED_FILE_HEADER_BYTES + length !== bytes.length) {
    return {
      ok: false,
      problem: `header says ${length} payload bytes but the file holds ${bytes.length - CHECKSUMMED_FILE_HEADER_BYTES}`,
    };
  }
  const payload = bytes.subarray(CHECKSUMMED_FILE_HEADER_BYTES);
  if (checksum(payload) !== bytes.readUInt32LE(magic.length + 4)) {
    return { ok: false, problem: 'checksum mismatch' };
  }
  return { ok: true, payload };
}

/** One step of a log scan. */
export type ScanStep =
  /** A record whose checksum verified, starting at `offset`. */
  | { readonly kind: 'record'; readonly offset: number; readonly payload: Buffer }
  /** The file ends exactly after the previous record. */
  | { readonly kind: 'end'; readonly offset: number }
  /** The bytes from `offset` on are not a valid record: a torn or damaged tail. */
  | { readonly kind: 'invalid'; readonly offset: number; readonly reason: string }
  /**
   * A record at `offset` claims more than `maxRecordBytes` yet fits in the file:
   * either damage or a file written with a larger limit, which must not be guessed.
   */
  | { readonly kind: 'oversized'; readonly offset: number; readonly claimedBytes: number };

/**
 * Reads log records sequentially through a bounded buffer (`READ_CHUNK_BYTES`, or
 * one record when larger), checking each one's length and checksum.
 */
export class RecordScanner {
  private readonly handle: FileHandle;
  private readonly path: string;
  private readonly fileBytes: number;
  private readonly maxRecordBytes: number;
  private offset: number;
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;

  constructor(
    handle: FileHandle,
    path: string,
    startOffset: number,
    fileBytes: number,
    maxRecordBytes: number,
  ) {
    this.handle = handle;
    this.path = path;
    this.offset = startOffset;
    this.fileBytes = fileBytes;
    this.maxRecordBytes = maxRecordBytes;
  }

  /** The next record, or where and why the valid records end. Stays put after an end. */
  async next(): Promise<ScanStep> {
    const offset = this.offset;
    if (offset === this.fileBytes) return { kind: 'end', offset };
    const header = await this.bytesAt(offset, RECORD_HEADER_BYTES);
    if (header === undefined) {
      return { kind: 'invalid', offset, reason: 'torn record header' };
    }
    const length = header.readUInt32LE(0);
    const expected = header.readUInt32LE(4);
    // A zero length is how a zero-filled tail (left by some file systems after a crash) looks.
    if (length === 0) return { kind: 'invalid', offset, reason: 'zero record length' };
    const fits = offset + framedRecordBytes(length) <= this.fileBytes;
    if (length > this.maxRecordBytes) {
      return fits
        ? { kind: 'oversized', offset, claimedBytes: length }
        : { kind: 'invalid', offset, reason: `record length ${length} runs past the end of file` };
    }
    const payload = await this.bytesAt(offset + RECORD_HEADER_BYTES, length);
    if (payload === undefined) return { kind: 'invalid', offset, reason: 'torn record payload' };
    if (checksum(payload) !== expected) {
      return { kind: 'invalid', offset, reason: 'record checksum mismatch' };
    }
    this.offset = offset + framedRecordBytes(length);
    return { kind: 'record', offset, payload };
  }

  /** `length` bytes at `offset`, or `undefined` when the file ends first. */
  private async bytesAt(offset: number, length: number): Promise<Buffer | undefined> {
    if (offset + length > this.fileBytes) return undefined;
    const end = this.chunkStart + this.chunk.length;
    if (offset >= this.chunkStart && offset + length <= end) {
      return this.chunk.subarray(offset - this.chunkStart, offset - this.chunkStart + length);
    }
    // A fresh buffer per refill: payloads handed out earlier stay valid.
    const size = Math.min(Math.max(length, READ_CHUNK_BYTES), this.fileBytes - offset);
    const chunk = Buffer.allocUnsafe(size);
    await readFully(this.handle, chunk, offset, this.path);
    this.chunk = chunk;
    this.chunkStart = offset;
    return chunk.subarray(0, length);
  }
}

/**
 * Fills `buffer` from the file at `position`. The caller sized the read from the
 * file's length, so a file that ends first was cut behind storage's back.
 */
export async function readFully(
  handle: FileHandle,
  buffer: Buffer,
  position: number,
  path: string,
): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) {
      throw new StorageCorruptError(
        path,
        `file ended at ${position + done} while reading ${buffer.length} bytes at ${position}`,
      );
    }
    done += bytesRead;
  }
}

/** Writes all of `buffer` at `position`, looping over short writes. */
export async function writeFully(
  handle: FileHandle,
  buffer: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await handle.write(
      buffer,
      done,
      buffer.length - done,
      position + done,
    );
    invariant(bytesWritten > 0, 'a write to a regular file must make progress');
    done += bytesWritten;
  }
}
