import { PartitionTable } from '../ring/partition-table.js';
import type { NodeId } from '../transport/transport.js';
import type { ClusterView, ViewMember } from './view-source.js';

/** Partition tables kept for reuse (each is about 16384 x RF x 2 bytes plus caches). */
const MAX_CACHED_TABLES = 16;
/** Recently built tables by member set and options, least recently used first. */
const tableCache = new Map<string, PartitionTable>();

/** How many owners (primary + backups) a partition has when nobody configured it. */
export const DEFAULT_REPLICATION_FACTOR = 2;

/**
 * A committed view together with the partition table it implies. Shared by the
 * member nodes (forwarding, replication, handoff) and by `ShoalClient` (routing), so
 * both place every key identically for the same epoch.
 */
export class Placement {
  readonly epoch: number;
  readonly members: readonly ViewMember[];
  readonly table: PartitionTable;
  readonly replicationFactor: number;
  private readonly addresses: ReadonlyMap<NodeId, string>;

  private constructor(view: ClusterView, table: PartitionTable, replicationFactor: number) {
    this.epoch = view.epoch;
    this.members = view.members;
    this.table = table;
    this.replicationFactor = replicationFactor;
    this.addresses = new Map(view.members.map((member) => [member.id, member.address]));
  }

  /**
   * Builds the table for `view` (ring errors propagate for a malformed member list).
   * Tables are pure functions of the member set and options, and membership flips
   * back and forth (a node restarts, a partition heals), so recent ones are reused.
   */
  static of(view: ClusterView, replicationFactor: number, vnodes?: number): Placement {
    const ids = view.members.map((member) => member.id);
    const cacheKey = `${replicationFactor}|${vnodes ?? ''}|${[...ids].sort().join('\u0000')}`;
    let table = tableCache.get(cacheKey);
    if (table === undefined) {
      table = PartitionTable.build(ids, {
        replicationFactor,
        ...(vnodes === undefined ? {} : { vnodes }),
      });
      if (tableCache.size >= MAX_CACHED_TABLES) {
        const oldest = tableCache.keys().next().value;
        if (oldest !== undefined) tableCache.delete(oldest);
      }
    } else {
      tableCache.delete(cacheKey);
    }
    tableCache.set(cacheKey, table);
    return new Placement(view, table, replicationFactor);
  }

  /** The primary owner of `partition`. */
  primaryOf(partition: number): NodeId {
    return this.table.primaryOf(partition);
  }

  /** Owners of `partition`, primary first. */
  ownersOf(partition: number): readonly NodeId[] {
    return this.table.ownersOf(partition);
  }

  /** Rank of `id` among the owners of `partition` (0 = primary), or -1. */
  rankOf(id: NodeId, partition: number): number {
    return this.table.rankOf(id, partition);
  }

  isMember(id: NodeId): boolean {
    return this.addresses.has(id);
  }

  addressOf(id: NodeId): string | undefined {
    return this.addresses.get(id);
  }
}
