import type { NodeId } from '../transport/transport.js';

/**
 * The primary's record of which backups are in each partition's replication stream,
 * and under which stream id. A backup with a record receives every write of the
 * partition; one without must resync before the write concern can count it. Stream
 * ids tie every batch to the sync session (or adoption) that put the backup in the
 * stream, so a late batch from an abandoned stream is refused instead of applied.
 */
export class BackupStreams {
  private readonly byPartition = new Map<number, Map<NodeId, string>>();

  get(partition: number, backup: NodeId): string | undefined {
    return this.byPartition.get(partition)?.get(backup);
  }

  set(partition: number, backup: NodeId, sid: string): void {
    let streams = this.byPartition.get(partition);
    if (streams === undefined) {
      streams = new Map();
      this.byPartition.set(partition, streams);
    }
    streams.set(backup, sid);
  }

  /** Drops `backup`'s stream (only the one with `sid`, when given); returns whether it did. */
  drop(partition: number, backup: NodeId, sid?: string): boolean {
    const streams = this.byPartition.get(partition);
    if (streams === undefined) return false;
    const current = streams.get(backup);
    if (current === undefined || (sid !== undefined && current !== sid)) return false;
    streams.delete(backup);
    if (streams.size === 0) this.byPartition.delete(partition);
    return true;
  }

  /** Forgets every stream of `partition`. */
  clear(partition: number): void {
    this.byPartition.delete(partition);
  }

  /** Keeps only the streams of `backups`. */
  retain(partition: number, backups: readonly NodeId[]): void {
    const streams = this.byPartition.get(partition);
    if (streams === undefined) return;
    for (const backup of [...streams.keys()]) {
      if (!backups.includes(backup)) streams.delete(backup);
    }
    if (streams.size === 0) this.byPartition.delete(partition);
  }

  /** Drops every stream of `backup`; returns the partitions affected. */
  dropPeer(backup: NodeId): number[] {
    const affected: number[] = [];
    for (const [partition, streams] of this.byPartition) {
      if (streams.delete(backup)) {
        affected.push(partition);
        if (streams.size === 0) this.byPartition.delete(partition);
      }
    }
    return affected;
  }

  /** Streams held, over all partitions. */
  count(): number {
    let count = 0;
    for (const streams of this.byPartition.values()) count += streams.size;
    return count;
  }
}
