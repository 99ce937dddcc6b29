import { invariant } from '../util/assert.js';
import { InvalidArgumentError } from '../util/errors.js';
import {
  DuplicateMemberError,
  EmptyMembershipError,
  InvalidMemberIdError,
  InvalidPartitionError,
  InvalidReplicationFactorError,
  InvalidVnodesError,
  TooManyMembersError,
} from './errors.js';
import { murmur3 } from './murmur3.js';
import { PARTITION_COUNT } from './partitioner.js';

/** Most members one table indexes (owner indexes are stored as 16-bit integers). */
export const MAX_MEMBERS = 4096;
/** Longest member id, in UTF-16 code units. */
export const MAX_MEMBER_ID_LENGTH = 256;
/** Largest replication factor accepted. */
export const MAX_REPLICATION_FACTOR = 16;
/** Most virtual nodes per member. */
export const MAX_VNODES = 4096;
/** Most ring points (members x vnodes) one build may hash and sort. */
export const MAX_RING_POINTS = 1 << 22;
/**
 * Virtual nodes per member when the caller does not choose. Two effects bound the
 * balance: a member's share of the ring spreads by about 1/sqrt(vnodes) (4.4% here),
 * and once members x vnodes exceeds the partition count, arcs get shorter than the
 * partition spacing and counts pick up sampling noise of about sqrt(mean). Over 2000
 * random 64-member sets, 512 gave a busiest member of at most 1.242x the mean (median
 * 1.133x); 256 went past 1.25x in 0.9% of sets, and 1024 was no better than 512
 * (the sampling noise dominates) at twice the build cost. A 64-member build costs
 * about 6-16 ms of CPU.
 */
export const DEFAULT_VNODES = 512;

/**
 * Partitions sit at evenly spaced points of the 32-bit ring rather than at hashed
 * points: hashed positions add a sampling spread of about sqrt(mean) partitions per
 * member on top of the ring's own. Measured at 64 members and 512 vnodes, hashed
 * positions put the busiest member past 1.25x the mean in 6% of random member sets
 * (worst 1.34x); evenly spaced ones in none of 2000 (worst 1.24x). It is still a pure
 * consistent-hash ring: a join or leave moves only the arcs the changed member's
 * points cover.
 */
const RING_SPAN = 2 ** 32;
const PARTITION_SPACING = RING_SPAN / PARTITION_COUNT;
/** Ring points are sorted as `hash * MEMBER_SLOT + memberIndex`, exact in a double. */
const MEMBER_SLOT = 2 ** 16;
const VNODE_SEPARATOR = 0x23; // '#'
const MAX_DECIMAL_DIGITS = 10;

/** Options for {@link PartitionTable.build}. */
export interface PartitionTableOptions {
  /** Owners per partition (primary plus backups); capped at the member count. */
  readonly replicationFactor: number;
  /** Virtual nodes per member on the hash ring. Defaults to {@link DEFAULT_VNODES}. */
  readonly vnodes?: number;
}

/**
 * Which ownership {@link PartitionTable.partitionsOwnedBy} asks about: as primary, as
 * backup, or `'owner'` for either.
 */
export type OwnerRole = 'primary' | 'backup' | 'owner';

/**
 * Placement of every partition: for each of the {@link PARTITION_COUNT} partitions,
 * an ordered list of distinct owners, primary first.
 *
 * Built by a consistent-hash ring with virtual nodes: member `id` owns the ring points
 * `murmur3(utf8(id + '#' + v))` for `v` in `[0, vnodes)`; partition `p` sits at
 * `p * 2^32 / 16384`, and its owners are the first `min(replicationFactor, n)`
 * distinct members met clockwise from there. Points with equal hashes are ordered by
 * member id (code-unit order). The result depends only on the set of member ids and
 * the options: the input order, the machine, the locale and the runtime do not matter.
 *
 * Owners are stored as member indexes (into the sorted {@link members}) in one
 * `Uint16Array`, `ownersPerPartition` entries per partition.
 */
export class PartitionTable {
  /** Member ids in code-unit order; owner indexes point into this array. */
  readonly members: readonly string[];
  /** The replication factor asked for. */
  readonly replicationFactor: number;
  /** Owners each partition actually has: `min(replicationFactor, members.length)`. */
  readonly ownersPerPartition: number;
  /** Virtual nodes per member. */
  readonly vnodes: number;

  private readonly ownerIndexes: Uint16Array;
  private readonly indexById: ReadonlyMap<string, number>;
  /** `ownersOf` results, built on first use so a build does not allocate 16384 arrays. */
  private readonly ownerListCache: (readonly string[] | undefined)[];

  private constructor(
    members: readonly string[],
    replicationFactor: number,
    vnodes: number,
    ownerIndexes: Uint16Array,
  ) {
    this.members = members;
    this.replicationFactor = replicationFactor;
    this.ownersPerPartition = Math.min(replicationFactor, members.length);
    this.vnodes = vnodes;
    this.ownerIndexes = ownerIndexes;
    this.indexById = new Map(members.map((id, index) => [id, index]));
    this.ownerListCache = new Array<readonly string[] | undefined>(PARTITION_COUNT);
  }

  /**
   * Computes the table for a member set. Pure and deterministic.
   *
   * @throws EmptyMembershipError, TooManyMembersError, InvalidMemberIdError,
   *   DuplicateMemberError, InvalidReplicationFactorError, InvalidVnodesError.
   */
  static build(members: readonly string[], options: PartitionTableOptions): PartitionTable {
    const sorted = validateMembers(members);
    const replicationFactor = validateReplicationFactor(options.replicationFactor);
    const vnodes = validateVnodes(options.vnodes ?? DEFAULT_VNODES, sorted.length);
    const ring = buildRing(sorted, vnodes);
    const owners = placePartitions(ring, sorted.length, Math.min(replicationFactor, sorted.length));
    return new PartitionTable(Object.freeze(sorted), replicationFactor, vnodes, owners);
  }

  /** Owners of `partition`, primary first. The array is frozen and shared. */
  ownersOf(partition: number): readonly string[] {
    checkPartition(partition);
    const cached = this.ownerListCache[partition];
    if (cached !== undefined) return cached;
    const owners: string[] = [];
    const base = partition * this.ownersPerPartition;
    for (let rank = 0; rank < this.ownersPerPartition; rank++) {
      owners.push(this.members[this.ownerIndexes[base + rank]!]!);
    }
    const frozen = Object.freeze(owners);
    this.ownerListCache[partition] = frozen;
    return frozen;
  }

  /** The primary owner of `partition`. */
  primaryOf(partition: number): string {
    checkPartition(partition);
    return this.members[this.ownerIndexes[partition * this.ownersPerPartition]!]!;
  }

  /**
   * Index into {@link members} of the owner of `partition` at `rank` (0 = primary),
   * for hot paths that compare indexes instead of strings.
   */
  ownerIndexAt(partition: number, rank: number): number {
    checkPartition(partition);
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.ownersPerPartition) {
      throw new InvalidArgumentError(
        `owner rank ${rank} is outside [0, ${this.ownersPerPartition})`,
      );
    }
    return this.ownerIndexes[partition * this.ownersPerPartition + rank]!;
  }

  /** Index of `memberId` in {@link members}, or -1 when it is not a member. */
  indexOf(memberId: string): number {
    return this.indexById.get(memberId) ?? -1;
  }

  /** Rank of `memberId` among the owners of `partition` (0 = primary), or -1. */
  rankOf(memberId: string, partition: number): number {
    checkPartition(partition);
    const index = this.indexById.get(memberId);
    if (index === undefined) return -1;
    const base = partition * this.ownersPerPartition;
    for (let rank = 0; rank < this.ownersPerPartition; rank++) {
      if (this.ownerIndexes[base + rank] === index) return rank;
    }
    return -1;
  }

  /**
   * Partitions (ascending) that `memberId` owns in `role`: as primary, as a backup,
   * or either. A non-member owns nothing.
   */
  partitionsOwnedBy(memberId: string, role: OwnerRole = 'owner'): number[] {
    if (role !== 'primary' && role !== 'backup' && role !== 'owner') {
      throw new InvalidArgumentError(
        `role must be 'primary', 'backup' or 'owner', got ${String(role)}`,
      );
    }
    const index = this.indexById.get(memberId);
    if (index === undefined) return [];
    const first = role === 'backup' ? 1 : 0;
    const last = role === 'primary' ? 1 : this.ownersPerPartition;
    const owned: number[] = [];
    for (let partition = 0; partition < PARTITION_COUNT; partition++) {
      const base = partition * this.ownersPerPartition;
      for (let rank = first; rank < last; rank++) {
        if (this.ownerIndexes[base + rank] === index) {
          owned.push(partition);
          break;
        }
      }
    }
    return owned;
  }

  /** True when both tables place every partition on the same owners in the same order. */
  equals(other: PartitionTable): boolean {
    if (this.ownersPerPartition !== other.ownersPerPartition) return false;
    if (this.members.length !== other.members.length) return false;
    for (let i = 0; i < this.members.length; i++) {
      if (this.members[i] !== other.members[i]) return false;
    }
    for (let i = 0; i < this.ownerIndexes.length; i++) {
      if (this.ownerIndexes[i] !== other.ownerIndexes[i]) return false;
    }
    return true;
  }
}

function checkPartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= PARTITION_COUNT) {
    throw new InvalidPartitionError(partition);
  }
}

function validateMembers(members: readonly string[]): string[] {
  if (!Array.isArray(members)) {
    throw new InvalidMemberIdError('members must be an array of member ids');
  }
  if (members.length === 0) throw new EmptyMembershipError();
  if (members.length > MAX_MEMBERS) throw new TooManyMembersError(members.length, MAX_MEMBERS);
  for (const id of members) validateMemberId(id);
  // Default sort compares UTF-16 code units: locale-independent, identical everywhere.
  const sorted = [...members].sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new DuplicateMemberError(sorted[i]!);
  }
  return sorted;
}

function validateMemberId(id: unknown): void {
  if (typeof id !== 'string') {
    throw new InvalidMemberIdError(`a member id must be a string, got ${typeof id}`);
  }
  if (id.length === 0 || id.length > MAX_MEMBER_ID_LENGTH) {
    throw new InvalidMemberIdError(
      `a member id must have 1 to ${MAX_MEMBER_ID_LENGTH} characters, got ${id.length}`,
    );
  }
  // Ids are hashed as UTF-8: two ids differing only in lone surrogates would encode to
  // the same bytes, share every ring point, and one would silently own nothing.
  for (let i = 0; i < id.length; i++) {
    const unit = id.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = id.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (unit >= 0xd800 && unit <= 0xdfff) {
      throw new InvalidMemberIdError(
        `member id ${JSON.stringify(id)} holds a lone surrogate at ${i}`,
      );
    }
  }
}

function validateReplicationFactor(replicationFactor: number): number {
  if (
    !Number.isInteger(replicationFactor) ||
    replicationFactor < 1 ||
    replicationFactor > MAX_REPLICATION_FACTOR
  ) {
    throw new InvalidReplicationFactorError(
      `replicationFactor must be an integer in [1, ${MAX_REPLICATION_FACTOR}], got ${String(replicationFactor)}`,
    );
  }
  return replicationFactor;
}

function validateVnodes(vnodes: number, memberCount: number): number {
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
    throw new InvalidVnodesError(
      `vnodes must be an integer in [1, ${MAX_VNODES}], got ${String(vnodes)}`,
    );
  }
  if (vnodes * memberCount > MAX_RING_POINTS) {
    throw new InvalidVnodesError(
      `${memberCount} members x ${vnodes} vnodes exceed ${MAX_RING_POINTS} ring points`,
    );
  }
  return vnodes;
}

/** The ring: hashes ascending, each with the member index that owns the point. */
interface Ring {
  readonly hashes: Float64Array;
  readonly memberIndexes: Uint16Array;
}

function buildRing(sortedMembers: readonly string[], vnodes: number): Ring {
  const encoder = new TextEncoder();
  const keys = new Float64Array(sortedMembers.length * vnodes);
  let point = 0;
  for (let index = 0; index < sortedMembers.length; index++) {
    const idBytes = encoder.encode(sortedMembers[index]);
    const buffer = new Uint8Array(idBytes.length + 1 + MAX_DECIMAL_DIGITS);
    buffer.set(idBytes);
    buffer[idBytes.length] = VNODE_SEPARATOR;
    const digitsStart = idBytes.length + 1;
    for (let vnode = 0; vnode < vnodes; vnode++) {
      const length = digitsStart + writeDecimal(buffer, digitsStart, vnode);
      keys[point++] = murmur3(buffer, length) * MEMBER_SLOT + index;
    }
  }
  keys.sort();
  const hashes = new Float64Array(keys.length);
  const memberIndexes = new Uint16Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const memberIndex = key % MEMBER_SLOT;
    hashes[i] = (key - memberIndex) / MEMBER_SLOT;
    memberIndexes[i] = memberIndex;
  }
  return { hashes, memberIndexes };
}

/** Writes `value`'s decimal digits at `offset`; returns how many were written. */
function writeDecimal(buffer: Uint8Array, offset: number, value: number): number {
  const digits = String(value);
  for (let i = 0; i < digits.length; i++) buffer[offset + i] = digits.charCodeAt(i);
  return digits.length;
}

function placePartitions(ring: Ring, memberCount: number, ownersPerPartition: number): Uint16Array {
  const { hashes, memberIndexes } = ring;
  const pointCount = hashes.length;
  const owners = new Uint16Array(PARTITION_COUNT * ownersPerPartition);
  let firstPoint = 0;
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    const position = partition * PARTITION_SPACING;
    // Partitions ascend around the ring, so the first point at or after each one only
    // ever moves forward: one merge pass over the ring for the whole table.
    while (firstPoint < pointCount && hashes[firstPoint]! < position) firstPoint++;
    const base = partition * ownersPerPartition;
    let found = 0;
    // Every member has at least one point, so one lap finds ownersPerPartition <= n.
    for (let step = 0; step < pointCount && found < ownersPerPartition; step++) {
      const candidate = memberIndexes[(firstPoint + step) % pointCount]!;
      let seen = false;
      for (let rank = 0; rank < found; rank++) {
        if (owners[base + rank] === candidate) {
          seen = true;
          break;
        }
      }
      if (!seen) owners[base + found++] = candidate;
    }
    invariant(
      found === ownersPerPartition,
      `partition ${partition} found ${found} of ${ownersPerPartition} owners among ${memberCount} members`,
    );
  }
  return owners;
}
