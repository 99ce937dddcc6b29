/**
 * Placement: which partition a key belongs to, and which nodes own each partition.
 * Pure and deterministic; no clock, no randomness, no I/O.
 */
export {
  DuplicateMemberError,
  EmptyMembershipError,
  InvalidKeyError,
  InvalidMemberIdError,
  InvalidPartitionError,
  InvalidReplicationFactorError,
  InvalidVnodesError,
  RingError,
  TooManyMembersError,
} from './errors.js';
export {
  diffTables,
  type HandoffPlan,
  type NodeHandoff,
  type PartitionGain,
} from './handoff-plan.js';
export {
  DEFAULT_VNODES,
  MAX_MEMBER_ID_LENGTH,
  MAX_MEMBERS,
  MAX_REPLICATION_FACTOR,
  MAX_RING_POINTS,
  MAX_VNODES,
  type OwnerRole,
  PartitionTable,
  type PartitionTableOptions,
} from './partition-table.js';
export { PARTITION_COUNT, partitionOf } from './partitioner.js';
