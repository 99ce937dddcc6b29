import type { PartitionTable } from './partition-table.js';
import { PARTITION_COUNT } from './partitioner.js';

/** A partition a node takes on, and whom it can copy the data from. */
export interface PartitionGain {
  readonly partition: number;
  /**
   * The partition's owners in the previous table, primary first: the nodes that hold
   * its data. Some may have left the cluster; the caller skips those it cannot reach.
   */
  readonly previousOwners: readonly string[];
}

/** What one node must do when the table changes from `before` to `after`. */
export interface NodeHandoff {
  readonly node: string;
  /** Partitions it becomes primary of (it may already hold them as a backup). */
  readonly gainedPrimary: readonly PartitionGain[];
  /** Partitions it stops being primary of (it may stay a backup). */
  readonly lostPrimary: readonly number[];
  /** Partitions it owns after and did not own before, in any role: data to pull. */
  readonly gainedOwnership: readonly PartitionGain[];
  /** Partitions it owned before and no longer owns in any role: data to drop. */
  readonly lostOwnership: readonly number[];
}

/** The handoff plan between two tables. */
export interface HandoffPlan {
  /** Every node of either table, in code-unit order of id. Lists ascend by partition. */
  readonly nodes: readonly NodeHandoff[];
  /** Partitions whose primary changed. */
  readonly primaryMoves: number;
  /** (partition, node) ownerships that appeared: copies that must be made. */
  readonly ownershipGains: number;
}

interface MutableHandoff {
  readonly node: string;
  readonly gainedPrimary: PartitionGain[];
  readonly lostPrimary: number[];
  readonly gainedOwnership: PartitionGain[];
  readonly lostOwnership: number[];
}

/**
 * The handoff plan from `before` to `after`: for each node, which partitions it gains
 * and loses, as primary and as any owner, and for each gain the previous owners to
 * pull the data from. Deterministic, like the tables.
 */
export function diffTables(before: PartitionTable, after: PartitionTable): HandoffPlan {
  const ids = [...new Set([...before.members, ...after.members])].sort();
  const byId = new Map<string, MutableHandoff>();
  for (const node of ids) {
    byId.set(node, {
      node,
      gainedPrimary: [],
      lostPrimary: [],
      gainedOwnership: [],
      lostOwnership: [],
    });
  }
  const entry = (node: string): MutableHandoff => byId.get(node)!;
  let primaryMoves = 0;
  let ownershipGains = 0;
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    const previous = before.ownersOf(partition);
    const next = after.ownersOf(partition);
    if (previous[0] !== next[0]) {
      primaryMoves++;
      entry(next[0]!).gainedPrimary.push({ partition, previousOwners: previous });
      entry(previous[0]!).lostPrimary.push(partition);
    }
    for (const node of next) {
      if (!previous.includes(node)) {
        ownershipGains++;
        entry(node).gainedOwnership.push({ partition, previousOwners: previous });
      }
    }
    for (const node of previous) {
      if (!next.includes(node)) entry(node).lostOwnership.push(partition);
    }
  }
  return { nodes: ids.map(entry), primaryMoves, ownershipGains };
}
