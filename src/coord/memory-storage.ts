import { invariant } from '../util/assert.js';
import { InvalidArgumentError } from '../util/errors.js';
import { framedRecordBytes, LOG_MAGIC } from './record-file.js';
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
import { StorageLogFullError } from './storage-errors.js';
import { resolveStorageLimits, type StorageLimits } from './storage-limits.js';
import { checkAppendOrder, checkSnapshotOrder, checkTruncateOrder } from './storage-order.js';

interface StoredRecord {
  readonly zxid: number;
  readonly payload: Buffer;
}

/**
 * `CoordStorage` in memory, for simulation. The object plays the disk: a simulated
 * crash drops the driver but keeps this object, and the restarted driver `load`s it.
 *
 * Every call takes effect when it is made (the returned promise only reports the
 * outcome), so a crash at any point leaves each call either fully applied or not at
 * all, as fsync guarantees on disk. Values are kept as the same msgpackr bytes
 * `FileStorage` writes and decoded afresh on `load`, so mutating what was passed in or
 * handed out never changes what is stored, and encoding quirks match the real thing.
 * The same ordering rules and limits apply, with the log counted as its file would be.
 */
export class MemoryStorage implements CoordStorage {
  private readonly limits: StorageLimits;
  private meta: Buffer | undefined;
  private snapshot: { readonly zxid: number; readonly payload: Buffer } | undefined;
  private records: StoredRecord[] = [];
  private logBytes = LOG_MAGIC.length;

  constructor(limits: Partial<StorageLimits> = {}) {
    this.limits = resolveStorageLimits(limits);
  }

  async load(): Promise<PersistedState> {
    const entries = this.records.map((record) => {
      const entry = decodeEntry(record.payload);
      invariant(entry !== undefined, 'an entry MemoryStorage encoded must decode');
      return entry;
    });
    const meta = this.meta === undefined ? undefined : decodeMeta(this.meta);
    invariant((meta === undefined) === (this.meta === undefined), 'stored meta must decode');
    const snapshot =
      this.snapshot === undefined ? undefined : decodeSnapshot(this.snapshot.payload);
    invariant(
      (snapshot === undefined) === (this.snapshot === undefined),
      'a stored snapshot must decode',
    );
    return { meta, snapshot, entries };
  }

  async appendEntries(entries: readonly PersistedEntry[]): Promise<void> {
    if (!Array.isArray(entries)) throw new InvalidArgumentError('entries must be an array');
    const payloads = entries.map((entry) => encodeEntry(entry, this.limits.maxRecordBytes));
    const zxids = entries.map((entry) => entry.zxid);
    checkAppendOrder(this.lastZxid(), zxids);
    let appendBytes = 0;
    for (const payload of payloads) appendBytes += framedRecordBytes(payload.length);
    if (this.logBytes + appendBytes > this.limits.maxLogFileBytes) {
      throw new StorageLogFullError(this.logBytes, appendBytes, this.limits.maxLogFileBytes);
    }
    payloads.forEach((payload, index) => {
      this.records.push({ zxid: zxids[index]!, payload });
    });
    this.logBytes += appendBytes;
  }

  async truncateAfter(lastKeptZxid: number): Promise<void> {
    checkTruncateOrder(lastKeptZxid, this.snapshot?.zxid);
    this.keepRecords((zxid) => zxid <= lastKeptZxid);
  }

  async saveMeta(meta: PersistedMeta): Promise<void> {
    this.meta = encodeMeta(meta);
  }

  async saveSnapshot(snapshot: PersistedSnapshot): Promise<void> {
    const payload = encodeSnapshot(snapshot, this.limits.maxSnapshotBytes);
    checkSnapshotOrder(snapshot.zxid, this.snapshot?.zxid);
    this.snapshot = { zxid: snapshot.zxid, payload };
    this.keepRecords((zxid) => zxid > snapshot.zxid);
  }

  /** Nothing to release; the object stays usable, as a disk outlives its process. */
  async close(): Promise<void> {}

  private lastZxid(): number | undefined {
    return this.records.at(-1)?.zxid ?? this.snapshot?.zxid;
  }

  private keepRecords(keep: (zxid: number) => boolean): void {
    this.records = this.records.filter((record) => keep(record.zxid));
    this.logBytes = LOG_MAGIC.length;
    for (const record of this.records) this.logBytes += framedRecordBytes(record.payload.length);
  }
}
