import { ShoalError } from '../util/errors.js';

/**
 * The base of every error the placement layer throws, so a caller can catch "bad
 * placement input" as one family and still branch on the stable `code`.
 */
export abstract class RingError extends ShoalError {}

/** A key handed to `partitionOf` was not a string. */
export class InvalidKeyError extends RingError {
  constructor(message: string) {
    super('ERR_RING_INVALID_KEY', message);
  }
}

/** `PartitionTable.build` was given no members: there is nobody to own anything. */
export class EmptyMembershipError extends RingError {
  constructor() {
    super('ERR_RING_EMPTY_MEMBERSHIP', 'a partition table needs at least one member');
  }
}

/** The member list holds more ids than a table can index. */
export class TooManyMembersError extends RingError {
  constructor(count: number, limit: number) {
    super('ERR_RING_TOO_MANY_MEMBERS', `${count} members exceed the limit of ${limit}`);
  }
}

/** The same member id appears twice; placement would silently merge them otherwise. */
export class DuplicateMemberError extends RingError {
  /** The id that appears more than once. */
  readonly memberId: string;

  constructor(memberId: string) {
    super('ERR_RING_DUPLICATE_MEMBER', `member id ${JSON.stringify(memberId)} appears twice`);
    this.memberId = memberId;
  }
}

/** A member id is not a non-empty string within the length limit. */
export class InvalidMemberIdError extends RingError {
  constructor(message: string) {
    super('ERR_RING_INVALID_MEMBER_ID', message);
  }
}

/** The replication factor is not an integer in the supported range. */
export class InvalidReplicationFactorError extends RingError {
  constructor(message: string) {
    super('ERR_RING_INVALID_REPLICATION_FACTOR', message);
  }
}

/** The virtual-node count is not an integer in the supported range. */
export class InvalidVnodesError extends RingError {
  constructor(message: string) {
    super('ERR_RING_INVALID_VNODES', message);
  }
}

/** A partition number is not an integer in `[0, PARTITION_COUNT)`. */
export class InvalidPartitionError extends RingError {
  constructor(partition: unknown) {
    super('ERR_RING_INVALID_PARTITION', `partition ${String(partition)} is out of range`);
  }
}
