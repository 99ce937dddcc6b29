import { PARTITION_COUNT } from '../ring/partitioner.js';
import type { NodeId } from '../transport/transport.js';

/**
 * The primary's record of which backups are in each partition's replication stream,
 * and under which stream id. A backup with a record receives every write of the
 * partition; one without must resync before the write concern can count it. Stream
 * ids tie every batch to the sync session (or adoption) that put the backup in the
 * stream, so a late batch from an abandoned stream is refused instead of applied.
 *
 * Stored per partition as a flat `[backup, sid, backup, sid, ...]` array: a partition
 * has at most RF - 1 backups, so a scan beats a map.
 */
export class BackupStreams {
  private readonly byPartition: (string[] | undefined)[] = new Array(PARTITION_COUNT);
  private total = 0;

  get(partition: number, backup: NodeId): string | undefined {
    const pairs = this.byPartition[partition];
    if (pairs === undefined) return undefined;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] === backup) return pairs[i + 1];
    }
    return undefined;
  }

  set(partition: number, backup: NodeId, sid: string): void {
    let pairs = this.byPartition[partition];
    if (pairs === undefined) {
      pairs = [];
      this.byPartition[partition] = pairs;
    }
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] === backup) {
        pairs[i + 1] = sid;
        return;
      }
    }
    pairs.push(backup, sid);
    this.total++;
  }

  /** Drops `backup`'s stream (only the one with `sid`, when given); returns whether it did. */
  drop(partition: number, backup: NodeId, sid?: string): boolean {
    const pairs = this.byPartition[partition];
    if (pairs === undefined) return false;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] !== backup) continue;
      if (sid !== undefined && pairs[i + 1] !== sid) return false;
      pairs.splice(i, 2);
      this.total--;
      if (pairs.length === 0) this.byPartition[partition] = undefined;
      return true;
    }
    return false;
  }

  /** Forgets every stream of `partition`. */
  clear(partition: number): void {
    const pairs = this.byPartition[partition];
    if (pairs === undefined) return;
    this.total -= pairs.length / 2;
    this.byPartition[partition] = undefined;
  }

  /** Keeps only the streams of `backups`. */
  retain(partition: number, backups: readonly NodeId[]): void {
    const pairs = this.byPartition[partition];
    if (pairs === undefined) return;
    for (let i = pairs.length - 2; i >= 0; i -= 2) {
      if (!backups.includes(pairs[i]!)) {
        pairs.splice(i, 2);
        this.total--;
      }
    }
    if (pairs.length === 0) this.byPartition[partition] = undefined;
  }

  /** Drops every stream of `backup`; returns the partitions affected. */
  dropPeer(backup: NodeId): number[] {
    const affected: number[] = [];
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (this.byPartition[p] !== undefined && this.drop(p, backup)) affected.push(p);
    }
    return affected;
  }

  /** Streams held, over all partitions. */
  count(): number {
    return this.total;
  }
}
