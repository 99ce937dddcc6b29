import { PARTITION_COUNT } from '../ring/partitioner.js';

/** This node is no owner of the partition in its current view. */
export const MODE_NONE = 0;
/** Primary with a complete copy: serves reads and orders writes. */
export const MODE_PRIMARY_ACTIVE = 1;
/** Primary still pulling the partition from a previous owner; operations wait. */
export const MODE_PRIMARY_SYNCING = 2;
/** Backup in its primary's replication stream. */
export const MODE_BACKUP_ACTIVE = 3;
/** Backup (re)copying the partition from its primary. */
export const MODE_BACKUP_SYNCING = 4;

export type PartitionMode =
  | typeof MODE_NONE
  | typeof MODE_PRIMARY_ACTIVE
  | typeof MODE_PRIMARY_SYNCING
  | typeof MODE_BACKUP_ACTIVE
  | typeof MODE_BACKUP_SYNCING;

/**
 * Versions are `epoch * VERSION_EPOCH_SPAN + sequence`: a write ordered in a later
 * view always carries a higher version than one ordered in an earlier view, even by a
 * primary that never saw the earlier writes.
 */
export const VERSION_EPOCH_SPAN = 2 ** 24;

/**
 * Per-partition state of one node, in flat typed arrays (16384 partitions):
 * - `mode`: this node's role and whether its copy is usable (MODE_*).
 * - `complete`: 1 when this node's copy holds every write acknowledged for the
 *   partition so far. A primary is complete once active; a backup stays complete
 *   while every acknowledged write needs its ack (writeConcern `all`); a node that is
 *   no owner, or that missed views, is not. Failover promotes complete copies only.
 * - `maxVersion`: the highest version applied or assigned; the next write's version
 *   is above it, so versions only grow per partition.
 */
export class PartitionStates {
  readonly mode = new Uint8Array(PARTITION_COUNT);
  readonly complete = new Uint8Array(PARTITION_COUNT);
  readonly maxVersion = new Float64Array(PARTITION_COUNT);
  /**
   * The highest version this node has applied to its store as primary. Writes still
   * being replicated carry higher versions, so a removal stamped with this version can
   * never undo a newer write on a backup.
   */
  readonly appliedVersion = new Float64Array(PARTITION_COUNT);

  /** A fresh version for a write ordered now in view `epoch`. */
  nextVersion(partition: number, epoch: number): number {
    const floor = epoch * VERSION_EPOCH_SPAN;
    const current = this.maxVersion[partition]!;
    const version = Math.max(current, floor) + 1;
    this.maxVersion[partition] = version;
    return version;
  }

  /** Records that a version was applied. */
  noteVersion(partition: number, version: number): void {
    if (version > this.maxVersion[partition]!) this.maxVersion[partition] = version;
  }

  /**
   * The version up to which this node's copy is known to hold the partition's writes:
   * what an active primary applied, or for any other copy the highest version it
   * received in stream order or inherited with a handoff.
   */
  watermark(partition: number): number {
    return this.mode[partition] === MODE_PRIMARY_ACTIVE
      ? this.appliedVersion[partition]!
      : this.maxVersion[partition]!;
  }

  /** This node's copy just became the primary's: everything it holds counts as applied. */
  becamePrimary(partition: number): void {
    const held = this.maxVersion[partition]!;
    if (held > this.appliedVersion[partition]!) this.appliedVersion[partition] = held;
  }

  /** Records that the primary applied `version` locally. */
  noteApplied(partition: number, version: number): void {
    this.noteVersion(partition, version);
    if (version > this.appliedVersion[partition]!) this.appliedVersion[partition] = version;
  }

  /** How many partitions are in each mode. */
  countModes(): Record<
    'primaryActive' | 'primarySyncing' | 'backupActive' | 'backupSyncing',
    number
  > {
    const counts = [0, 0, 0, 0, 0];
    for (let p = 0; p < PARTITION_COUNT; p++) counts[this.mode[p]!]!++;
    return {
      primaryActive: counts[MODE_PRIMARY_ACTIVE]!,
      primarySyncing: counts[MODE_PRIMARY_SYNCING]!,
      backupActive: counts[MODE_BACKUP_ACTIVE]!,
      backupSyncing: counts[MODE_BACKUP_SYNCING]!,
    };
  }
}
