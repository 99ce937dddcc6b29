import type { CoordinatorStatus } from '../coord/coordinator.js';
import type { CoordRole } from '../coord/ready.js';
import { InvalidArgumentError } from '../util/errors.js';
import type { CacheNodeStats } from './cache-node.js';

/** Longest node id a status report may carry. */
const MAX_ID_LENGTH = 256;
/** The coordinator roles a report may name. */
const COORD_ROLES: readonly CoordRole[] = ['leader', 'follower', 'learner', 'looking'];

/** What a member's coordinator says about itself (a subset of `CoordinatorStatus`). */
export interface NodeCoordStatus {
  readonly role: CoordRole;
  /** The leader this node knows, or `null` when it knows none. */
  readonly leader: string | null;
  readonly epoch: number;
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly zxid: number;
  readonly committedZxid: number;
  readonly hasQuorum: boolean;
}

/**
 * One member's answer to the cache channel's `status` request: its coordinator state
 * and its cache's counts. Counts and states only: never keys, values or the secret.
 */
export interface NodeStatusReport {
  readonly id: string;
  /** Epoch of the view the cache applies, or -1 before the first one. */
  readonly viewEpoch: number;
  /** `null` when the node's view source is not a coordinator (simulations). */
  readonly coord: NodeCoordStatus | null;
  readonly keys: number;
  readonly bytes: number;
  readonly partitions: {
    readonly primaryActive: number;
    readonly primarySyncing: number;
    readonly backupActive: number;
    readonly backupSyncing: number;
  };
  readonly handoff: {
    readonly partitionsPending: number;
    readonly partitionsSynced: number;
    readonly sessionsActive: number;
  };
}

/** The report a member sends, built from its cache stats and coordinator status. */
export function nodeStatusReport(
  stats: CacheNodeStats,
  coord: CoordinatorStatus | undefined,
): NodeStatusReport {
  return {
    id: stats.nodeId,
    viewEpoch: stats.viewEpoch,
    coord:
      coord === undefined
        ? null
        : {
            role: coord.role,
            leader: coord.leader ?? null,
            epoch: coord.epoch,
            acceptedEpoch: coord.acceptedEpoch,
            currentEpoch: coord.currentEpoch,
            zxid: coord.zxid,
            committedZxid: coord.lastCommittedZxid,
            hasQuorum: coord.hasQuorum,
          },
    keys: stats.keys,
    bytes: stats.bytes,
    partitions: { ...stats.partitions },
    handoff: {
      partitionsPending: stats.handoff.partitionsPending,
      partitionsSynced: stats.handoff.partitionsSynced,
      sessionsActive: stats.handoff.sessionsActive,
    },
  };
}

/** Decodes a status report from the wire; throws `InvalidArgumentError` when malformed. */
export function decodeNodeStatus(raw: unknown): NodeStatusReport {
  const value = record(raw, 'status');
  const id = value.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) bad('id');
  const partitions = record(value.partitions, 'partitions');
  const handoff = record(value.handoff, 'handoff');
  return {
    id,
    viewEpoch: integer(value.viewEpoch, 'viewEpoch', -1),
    coord: value.coord === null ? null : decodeCoord(value.coord),
    keys: integer(value.keys, 'keys'),
    bytes: integer(value.bytes, 'bytes'),
    partitions: {
      primaryActive: integer(partitions.primaryActive, 'primaryActive'),
      primarySyncing: integer(partitions.primarySyncing, 'primarySyncing'),
      backupActive: integer(partitions.backupActive, 'backupActive'),
      backupSyncing: integer(partitions.backupSyncing, 'backupSyncing'),
    },
    handoff: {
      partitionsPending: integer(handoff.partitionsPending, 'partitionsPending'),
      partitionsSynced: integer(handoff.partitionsSynced, 'partitionsSynced'),
      sessionsActive: integer(handoff.sessionsActive, 'sessionsActive'),
    },
  };
}

function decodeCoord(raw: unknown): NodeCoordStatus {
  const value = record(raw, 'coord');
  const role = value.role;
  if (typeof role !== 'string' || !COORD_ROLES.includes(role as CoordRole)) bad('role');
  const leader = value.leader;
  if (
    leader !== null &&
    (typeof leader !== 'string' || leader.length === 0 || leader.length > MAX_ID_LENGTH)
  ) {
    bad('leader');
  }
  if (typeof value.hasQuorum !== 'boolean') bad('hasQuorum');
  return {
    role: role as CoordRole,
    leader,
    epoch: integer(value.epoch, 'epoch'),
    acceptedEpoch: integer(value.acceptedEpoch, 'acceptedEpoch'),
    currentEpoch: integer(value.currentEpoch, 'currentEpoch'),
    zxid: integer(value.zxid, 'zxid'),
    committedZxid: integer(value.committedZxid, 'committedZxid'),
    hasQuorum: value.hasQuorum,
  };
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(what);
  return value as Record<string, unknown>;
}

function integer(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) bad(what);
  return value;
}

function bad(what: string): never {
  throw new InvalidArgumentError(`malformed node status: ${what}`);
}
