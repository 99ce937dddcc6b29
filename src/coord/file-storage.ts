/**
 * `FileStorage`: a coordinator node's durable state in a data directory.
 *
 * Layout of `<dataDir>/` (integers are u32 little-endian, checksums CRC-32/IEEE):
 *
 *   LOCK      "<pid> <hostname>\n". Held while open, so one process owns the directory.
 *   log       "SHOALLG1" (8 bytes), then records back to back:
 *               [u32 payload length][u32 crc32(payload)][payload]
 *             where payload = msgpack { zxid, data }. zxids strictly increase.
 *             Appends write all of a batch's records, then fdatasync, then resolve.
 *   meta      "SHOALMT1"[u32 length][u32 crc32(payload)][payload = msgpack
 *             { acceptedEpoch, currentEpoch }]
 *   snapshot  "SHOALSN1"[u32 length][u32 crc32(payload)][payload = msgpack { zxid, state }]
 *   *.tmp     a replacement being written; removed at open (it was never renamed in).
 *
 * meta and snapshot are replaced atomically: write `<name>.tmp`, fsync it, rename it
 * over `<name>`, fsync the directory. They are never torn, so any damage to them is
 * real corruption and refuses to start (an epoch silently reset could break
 * agreement). After a snapshot, the log is compacted the same way: the records past
 * the snapshot's zxid are copied into `log.tmp`, which replaces `log`.
 *
 * Recovery reads the log in order and stops at the first record that is torn (short
 * header or payload), has a zero length, fails its checksum, does not decode, or whose
 * zxid does not increase. Everything from there on is cut off (the file is truncated
 * and fsynced) with a warning naming the offset, reason and bytes dropped. A record
 * claiming more than `maxRecordBytes` that still fits in the file refuses to start
 * instead: it is either damage or a file written with a larger limit. Records at or
 * below the snapshot's zxid (a crash between saving a snapshot and compacting) are
 * compacted away.
 */
import { type FileHandle, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { invariant } from '../util/assert.js';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { DataDirLock } from './data-dir-lock.js';
import {
  CHECKSUMMED_FILE_HEADER_BYTES,
  decodeChecksummedFile,
  encodeChecksummedFile,
  framedRecordBytes,
  frameRecords,
  LOG_MAGIC,
  META_MAGIC,
  RecordScanner,
  readFully,
  SNAPSHOT_MAGIC,
  writeFully,
} from './record-file.js';
import type {
  CoordStorage,
  PersistedEntry,
  PersistedMeta,
  PersistedSnapshot,
  PersistedState,
} from './storage.js';
import {
  decodeEntry,
  decodeMeta,
  decodeSnapshot,
  encodeEntry,
  encodeMeta,
  encodeSnapshot,
} from './storage-codec.js';
import {
  StorageBusyError,
  StorageClosedError,
  StorageCorruptError,
  StorageFailedError,
  StorageLogFullError,
} from './storage-errors.js';
import { resolveStorageLimits, type StorageLimits } from './storage-limits.js';
import { checkAppendOrder, checkSnapshotOrder, checkTruncateOrder } from './storage-order.js';

const LOG_FILE = 'log';
const META_FILE = 'meta';
const SNAPSHOT_FILE = 'snapshot';
const TEMPORARY_SUFFIX = '.tmp';
/** Meta holds two integers; anything near this size is not a meta file. */
const MAX_META_FILE_BYTES = 64 * 1024;
/** Largest single write of an append batch; a bigger batch is written in several, then synced once. */
const WRITE_CHUNK_BYTES = 8 * 1024 * 1024;
/** Buffer size for copying the log's tail during compaction. */
const COPY_CHUNK_BYTES = 1024 * 1024;
const DEFAULT_MAX_QUEUED_OPERATIONS = 4096;

/** Options of `FileStorage.open`. */
export interface FileStorageOptions extends Partial<StorageLimits> {
  /** Receives recovery warnings (a truncated log tail, a stale lock taken over). */
  readonly logger?: Logger;
  /** Calls allowed to wait behind the one running before `StorageBusyError`; default 4096. */
  readonly maxQueuedOperations?: number;
}

/** Index of the first zxid above `zxid` in an increasing list (its length when none is). */
function firstIndexAbove(zxids: readonly number[], zxid: number): number {
  let low = 0;
  let high = zxids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (zxids[middle]! <= zxid) low = middle + 1;
    else high = middle;
  }
  return low;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/** Makes a rename or creation in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `dataDir` and any missing parents, fsyncing each new directory's parent so
 * a crash right after the first writes cannot make the whole directory vanish.
 */
async function createDirectoryDurably(dataDir: string): Promise<void> {
  const firstCreated = await mkdir(dataDir, { recursive: true });
  if (firstCreated === undefined) return;
  const top = resolve(firstCreated);
  // Walks up from dataDir to the first directory created: bounded by the path's depth.
  for (let dir = resolve(dataDir); ; dir = dirname(dir)) {
    await syncDirectory(dirname(dir));
    if (dir === top || dir === dirname(dir)) return;
  }
}

/** Replaces `dir/name` with `bytes` so that a crash leaves either the old or the new file. */
async function writeFileAtomically(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const temporary = join(dir, name + TEMPORARY_SUFFIX);
  const handle = await open(temporary, 'w');
  try {
    await writeFully(handle, bytes, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, join(dir, name));
  await syncDirectory(dir);
}

/**
 * `CoordStorage` on disk: a checksummed append-only log, an atomically replaced meta
 * file and snapshot, and a lock file (layout at the top of this file). Calls run one
 * at a time in call order, so a driver may issue them concurrently. Arguments are
 * encoded when a method is called, so mutating them afterwards changes nothing.
 *
 * After a disk operation fails, every later call fails with the same error: close it
 * and open it again to recover from what is on disk.
 */
export class FileStorage implements CoordStorage {
  /** The data directory's real path. */
  readonly dataDir: string;
  private readonly limits: StorageLimits;
  private readonly logger: Logger;
  private readonly maxQueuedOperations: number;
  private readonly lock: DataDirLock;
  private logHandle: FileHandle | undefined;
  /** File offset of each record in the log, parallel to `zxids`. */
  private offsets: number[] = [];
  private zxids: number[] = [];
  private endOffset = LOG_MAGIC.length;
  private snapshotZxid: number | undefined;
  /** What `open` recovered, handed out by the first `load` unless a write came first. */
  private recovered: PersistedState | undefined;
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private closing: Promise<void> | undefined;
  private failure: ShoalError | undefined;

  private constructor(
    lock: DataDirLock,
    limits: StorageLimits,
    logger: Logger,
    maxQueuedOperations: number,
  ) {
    this.lock = lock;
    this.dataDir = lock.dataDir;
    this.limits = limits;
    this.logger = logger;
    this.maxQueuedOperations = maxQueuedOperations;
  }

  /**
   * Opens (creating if needed) a data directory: takes its lock, then recovers its
   * state, truncating a torn or corrupt log tail. Throws `StorageLockedError` when
   * another process holds it, `StorageCorruptError` when meta, snapshot or the log
   * header is damaged.
   */
  static async open(dataDir: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    const limits = resolveStorageLimits(options);
    const maxQueuedOperations = options.maxQueuedOperations ?? DEFAULT_MAX_QUEUED_OPERATIONS;
    if (!Number.isSafeInteger(maxQueuedOperations) || maxQueuedOperations <= 0) {
      throw new InvalidArgumentError(
        `maxQueuedOperations must be a positive integer, got ${maxQueuedOperations}`,
      );
    }
    const logger = options.logger ?? silentLogger;
    await createDirectoryDurably(dataDir);
    const lock = await DataDirLock.acquire(dataDir, logger);
    const storage = new FileStorage(lock, limits, logger, maxQueuedOperations);
    try {
      await storage.removeTemporaries();
      storage.recovered = await storage.recover();
    } catch (error) {
      await storage.releaseResources();
      throw error;
    }
    return storage;
  }

  async load(): Promise<PersistedState> {
    return this.run(async () => {
      const recovered = this.recovered;
      this.recovered = undefined;
      return recovered ?? (await this.io('load', () => this.recover()));
    });
  }

  /**
   * Appends entries in one write (several for batches over 8 MiB), then fdatasyncs.
   * Throws `StorageOrderError` unless zxids strictly increase past the last entry and
   * the snapshot, `StorageRecordTooLargeError` past `maxRecordBytes`, and
   * `StorageLogFullError` past `maxLogFileBytes`; then nothing is written.
   */
  async appendEntries(entries: readonly PersistedEntry[]): Promise<void> {
    if (!Array.isArray(entries)) throw new InvalidArgumentError('entries must be an array');
    const payloads = entries.map((entry) => encodeEntry(entry, this.limits.maxRecordBytes));
    const zxids = entries.map((entry) => entry.zxid);
    return this.run(async () => {
      checkAppendOrder(this.lastZxid(), zxids);
      if (payloads.length === 0) return;
      let appendBytes = 0;
      for (const payload of payloads) appendBytes += framedRecordBytes(payload.length);
      if (this.endOffset + appendBytes > this.limits.maxLogFileBytes) {
        throw new StorageLogFullError(this.endOffset, appendBytes, this.limits.maxLogFileBytes);
      }
      this.recovered = undefined;
      await this.io('appendEntries', () => this.writeRecords(payloads));
      let offset = this.endOffset;
      payloads.forEach((payload, index) => {
        this.offsets.push(offset);
        this.zxids.push(zxids[index]!);
        offset += framedRecordBytes(payload.length);
      });
      this.endOffset = offset;
    });
  }

  /**
   * Cuts the log before the first entry above `lastKeptZxid`, then fsyncs. Throws
   * `StorageOrderError` when that would reach below the snapshot.
   */
  async truncateAfter(lastKeptZxid: number): Promise<void> {
    return this.run(async () => {
      checkTruncateOrder(lastKeptZxid, this.snapshotZxid);
      const keep = firstIndexAbove(this.zxids, lastKeptZxid);
      if (keep === this.zxids.length) return;
      const newEnd = this.offsets[keep]!;
      this.recovered = undefined;
      await this.io('truncateAfter', async () => {
        const log = this.log();
        await log.truncate(newEnd);
        await log.sync();
      });
      this.offsets.length = keep;
      this.zxids.length = keep;
      this.endOffset = newEnd;
    });
  }

  async saveMeta(meta: PersistedMeta): Promise<void> {
    const file = encodeChecksummedFile(META_MAGIC, encodeMeta(meta));
    return this.run(async () => {
      this.recovered = undefined;
      await this.io('saveMeta', () => writeFileAtomically(this.dataDir, META_FILE, file));
    });
  }

  /**
   * Replaces the snapshot atomically, then compacts the log to the entries above its
   * zxid. Entries above it stay: a follower syncing from a leader's snapshot that
   * must discard its own later entries calls `truncateAfter(snapshot.zxid)` too.
   * Throws `StorageOrderError` for a snapshot older than the current one.
   */
  async saveSnapshot(snapshot: PersistedSnapshot): Promise<void> {
    const file = encodeChecksummedFile(
      SNAPSHOT_MAGIC,
      encodeSnapshot(snapshot, this.limits.maxSnapshotBytes),
    );
    const zxid = snapshot.zxid;
    return this.run(async () => {
      checkSnapshotOrder(zxid, this.snapshotZxid);
      this.recovered = undefined;
      await this.io('saveSnapshot', async () => {
        await writeFileAtomically(this.dataDir, SNAPSHOT_FILE, file);
        this.snapshotZxid = zxid;
        const keepFrom = firstIndexAbove(this.zxids, zxid);
        if (keepFrom > 0) await this.compactLog(keepFrom);
      });
    });
  }

  /** Waits for queued calls, then closes the log and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.tail.then(() => this.releaseResources());
    return this.closing;
  }

  /** Queues `operation` behind every earlier call, so writes never interleave. */
  private run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) return Promise.reject(new StorageClosedError(this.dataDir));
    if (this.queued >= this.maxQueuedOperations) {
      return Promise.reject(new StorageBusyError(this.maxQueuedOperations));
    }
    this.queued += 1;
    const result = this.tail.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return operation();
    });
    const settled = (): void => {
      this.queued -= 1;
    };
    this.tail = result.then(settled, settled);
    return result;
  }

  /** Runs disk work; a failure leaves the files in an unknown state, so it sticks. */
  private async io<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (cause) {
      this.failure =
        cause instanceof ShoalError
          ? cause
          : new StorageFailedError(this.dataDir, operation, cause);
      throw this.failure;
    }
  }

  private log(): FileHandle {
    invariant(this.logHandle !== undefined, 'the log is open between recovery and close');
    return this.logHandle;
  }

  private lastZxid(): number | undefined {
    return this.zxids.at(-1) ?? this.snapshotZxid;
  }

  private async removeTemporaries(): Promise<void> {
    for (const name of [LOG_FILE, META_FILE, SNAPSHOT_FILE]) {
      await rm(join(this.dataDir, name + TEMPORARY_SUFFIX), { force: true });
    }
  }

  private async releaseResources(): Promise<void> {
    const handle = this.logHandle;
    this.logHandle = undefined;
    try {
      await handle?.close();
    } finally {
      await this.lock.release();
    }
  }

  /** Reads every file back, repairing the log's tail, and rebuilds the record index. */
  private async recover(): Promise<PersistedState> {
    const meta = await this.readChecksummedFile(
      META_FILE,
      META_MAGIC,
      MAX_META_FILE_BYTES,
      decodeMeta,
    );
    const snapshot = await this.readChecksummedFile(
      SNAPSHOT_FILE,
      SNAPSHOT_MAGIC,
      CHECKSUMMED_FILE_HEADER_BYTES + this.limits.maxSnapshotBytes,
      decodeSnapshot,
    );
    this.snapshotZxid = snapshot?.zxid;
    const entries = await this.recoverLog();
    if (snapshot !== undefined) {
      const keepFrom = firstIndexAbove(this.zxids, snapshot.zxid);
      if (keepFrom > 0) {
        await this.compactLog(keepFrom);
        entries.splice(0, keepFrom);
      }
    }
    return { meta, snapshot, entries };
  }

  private async readChecksummedFile<T>(
    name: string,
    magic: Buffer,
    maxFileBytes: number,
    decodePayload: (payload: Buffer) => T | undefined,
  ): Promise<T | undefined> {
    const path = join(this.dataDir, name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
    if (size > maxFileBytes) {
      throw new StorageCorruptError(path, `${size} bytes, above the limit of ${maxFileBytes}`);
    }
    const content = decodeChecksummedFile(magic, await readFile(path));
    if (!content.ok) throw new StorageCorruptError(path, content.problem);
    const value = decodePayload(content.payload);
    if (value === undefined) {
      throw new StorageCorruptError(path, `checksum verified but the payload is not a ${name}`);
    }
    return value;
  }

  /** Opens the log (creating it), scans it, and truncates an invalid tail. */
  private async recoverLog(): Promise<PersistedEntry[]> {
    const path = join(this.dataDir, LOG_FILE);
    await this.logHandle?.close();
    this.logHandle = undefined;
    let handle: FileHandle;
    try {
      handle = await open(path, 'r+');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      await writeFileAtomically(this.dataDir, LOG_FILE, LOG_MAGIC);
      handle = await open(path, 'r+');
    }
    this.logHandle = handle;
    const fileBytes = (await handle.stat()).size;
    if (fileBytes < LOG_MAGIC.length) {
      throw new StorageCorruptError(path, `only ${fileBytes} bytes, shorter than the log header`);
    }
    const header = Buffer.alloc(LOG_MAGIC.length);
    await readFully(handle, header, 0, path);
    if (!header.equals(LOG_MAGIC)) {
      throw new StorageCorruptError(path, `header is not ${LOG_MAGIC.toString('latin1')}`);
    }

    const offsets: number[] = [];
    const zxids: number[] = [];
    const entries: PersistedEntry[] = [];
    const scanner = new RecordScanner(
      handle,
      path,
      LOG_MAGIC.length,
      fileBytes,
      this.limits.maxRecordBytes,
    );
    let invalid: { offset: number; reason: string } | undefined;
    // Each step consumes at least one record header, so the file's size bounds the loop.
    for (;;) {
      const step = await scanner.next();
      if (step.kind === 'end') break;
      if (step.kind === 'oversized') {
        throw new StorageCorruptError(
          path,
          `the record at offset ${step.offset} claims ${step.claimedBytes} bytes, above maxRecordBytes (${this.limits.maxRecordBytes}); it is damaged, or was written with a larger maxRecordBytes`,
        );
      }
      if (step.kind === 'invalid') {
        invalid = step;
        break;
      }
      const entry = decodeEntry(step.payload);
      if (entry === undefined) {
        invalid = { offset: step.offset, reason: 'record payload is not a log entry' };
        break;
      }
      const previous = zxids.at(-1);
      if (previous !== undefined && entry.zxid <= previous) {
        invalid = {
          offset: step.offset,
          reason: `zxid ${entry.zxid} does not increase past ${previous}`,
        };
        break;
      }
      offsets.push(step.offset);
      zxids.push(entry.zxid);
      entries.push(entry);
    }

    let endOffset = fileBytes;
    if (invalid !== undefined) {
      endOffset = invalid.offset;
      this.logger.warn(
        'coordinator log has an invalid tail; truncating it after the last valid record',
        {
          path,
          offset: invalid.offset,
          reason: invalid.reason,
          droppedBytes: fileBytes - invalid.offset,
          keptEntries: entries.length,
          lastKeptZxid: zxids.at(-1) ?? null,
        },
      );
      await handle.truncate(endOffset);
      await handle.sync();
    }
    this.offsets = offsets;
    this.zxids = zxids;
    this.endOffset = endOffset;
    return entries;
  }

  /** Writes framed records at the end of the log, then makes them durable. */
  private async writeRecords(payloads: readonly Buffer[]): Promise<void> {
    const log = this.log();
    let position = this.endOffset;
    let from = 0;
    while (from < payloads.length) {
      let chunkBytes = framedRecordBytes(payloads[from]!.length);
      let to = from + 1;
      while (to < payloads.length) {
        const next = framedRecordBytes(payloads[to]!.length);
        if (chunkBytes + next > WRITE_CHUNK_BYTES) break;
        chunkBytes += next;
        to += 1;
      }
      await writeFully(log, frameRecords(payloads.slice(from, to)), position);
      position += chunkBytes;
      from = to;
    }
    await log.datasync();
  }

  /** Atomically replaces the log with its records from index `keepFrom` on. */
  private async compactLog(keepFrom: number): Promise<void> {
    const path = join(this.dataDir, LOG_FILE);
    const temporary = path + TEMPORARY_SUFFIX;
    const source = this.log();
    const start = this.offsets[keepFrom] ?? this.endOffset;
    const end = this.endOffset;
    const target = await open(temporary, 'w');
    try {
      await writeFully(target, LOG_MAGIC, 0);
      const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(COPY_CHUNK_BYTES, end - start)));
      let from = start;
      while (from < end) {
        const bytes = Math.min(chunk.length, end - from);
        const piece = chunk.subarray(0, bytes);
        await readFully(source, piece, from, path);
        await writeFully(target, piece, LOG_MAGIC.length + from - start);
        from += bytes;
      }
      await target.sync();
    } finally {
      await target.close();
    }
    await rename(temporary, path);
    await syncDirectory(this.dataDir);
    this.logHandle = undefined;
    await source.close();
    this.logHandle = await open(path, 'r+');
    const shift = start - LOG_MAGIC.length;
    this.offsets = this.offsets.slice(keepFrom).map((offset) => offset - shift);
    this.zxids = this.zxids.slice(keepFrom);
    this.endOffset = end - shift;
  }
}
