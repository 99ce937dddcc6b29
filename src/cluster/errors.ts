import { ShoalError } from '../util/errors.js';

/**
 * This node has not been in contact with a coordinator quorum for longer than its
 * session timeout, so it may be on the minority side of a partition. It refuses the
 * operation rather than risk serving stale data or losing a write. The operation was
 * certainly not applied.
 */
export class NoQuorumError extends ShoalError {
  constructor(nodeId: string) {
    super(
      'ERR_NO_QUORUM',
      `node ${nodeId} cannot reach a coordinator quorum; refusing the operation`,
    );
  }
}

/**
 * The connection to the node serving a non-idempotent operation (`incr`, `set` with
 * `nx`/`xx`) was lost after the request was sent: it may or may not have been
 * applied. shoal never re-sends such an operation on its own; the caller decides.
 */
export class OutcomeUnknownError extends ShoalError {
  constructor(operation: string, key: string, options?: { cause?: unknown }) {
    super(
      'ERR_OUTCOME_UNKNOWN',
      `the outcome of ${operation} on "${key}" is unknown (the connection was lost after it was sent)`,
      options,
    );
  }
}

/** An encoded value is larger than `maxValueBytes`. Nothing was stored. */
export class ValueTooLargeError extends ShoalError {
  constructor(sizeBytes: number, maxValueBytes: number) {
    super(
      'ERR_VALUE_TOO_LARGE',
      `value is ${sizeBytes} bytes encoded; the limit is ${maxValueBytes}`,
    );
  }
}

/** A value could not be encoded by msgpackr (for example a function or a symbol). */
export class ValueNotEncodableError extends ShoalError {
  constructor(reason: string) {
    super('ERR_VALUE_NOT_ENCODABLE', `value cannot be encoded: ${reason}`);
  }
}

/**
 * The node that received the operation is not the key's primary in its view. Carries
 * the view epoch it knows so the caller can catch up before retrying. The operation
 * was not applied.
 */
export class NotPrimaryError extends ShoalError {
  readonly viewEpoch: number;

  constructor(nodeId: string, partition: number, viewEpoch: number) {
    super(
      'ERR_NOT_PRIMARY',
      `node ${nodeId} is not the primary of partition ${partition} in view ${viewEpoch}`,
    );
    this.viewEpoch = viewEpoch;
  }
}

/** A replication message carried an older view epoch than the replica's: fenced off. */
export class StaleViewError extends ShoalError {
  readonly viewEpoch: number;

  constructor(messageViewEpoch: number, viewEpoch: number) {
    super(
      'ERR_STALE_VIEW',
      `message from view ${messageViewEpoch} rejected; this node is in view ${viewEpoch}`,
    );
    this.viewEpoch = viewEpoch;
  }
}

/** `incr` met a value that is not a safe integer. Nothing was changed. */
export class NotAnIntegerError extends ShoalError {
  constructor(key: string) {
    super(
      'ERR_NOT_AN_INTEGER',
      `value of "${key}" is not an integer or the result is out of range`,
    );
  }
}

/** The partition is moving to this node and is not yet synced; retry shortly. */
export class PartitionSyncingError extends ShoalError {
  constructor(partition: number) {
    super('ERR_PARTITION_SYNCING', `partition ${partition} is still being handed off to this node`);
  }
}

/** The node or client was stopped; no further operations are accepted. */
export class StoppedError extends ShoalError {
  constructor() {
    super('ERR_STOPPED', 'this shoal node or client has been stopped');
  }
}

/**
 * A write was refused by every backup it was sent to (they were in another view or
 * not in the replication stream), so it is certainly not applied anywhere; callers
 * may retry it, also when it is not idempotent.
 */
export class WriteNotAppliedError extends ShoalError {
  constructor(partition: number, reason: string) {
    super(
      'ERR_WRITE_NOT_APPLIED',
      `the write to partition ${partition} was not applied (${reason}); it is safe to retry`,
    );
  }
}

/**
 * A replication batch reached a backup that is not in the sender's replication
 * stream for that partition (it is resyncing, or the stream was replaced). Nothing
 * was applied.
 */
export class ReplicaNotSyncedError extends ShoalError {
  constructor(nodeId: string, partition: number) {
    super(
      'ERR_REPLICA_NOT_SYNCED',
      `node ${nodeId} is not in the replication stream of partition ${partition}`,
    );
  }
}

/** A handoff session is unknown to the source (expired, replaced, or never opened). */
export class SyncSessionError extends ShoalError {
  constructor(message: string) {
    super('ERR_SYNC_SESSION', message);
  }
}

/** The node has not applied any committed view yet, so it cannot place keys. */
export class NoViewError extends ShoalError {
  constructor(nodeId: string, waitedMs: number) {
    super('ERR_NO_VIEW', `node ${nodeId} has no committed view after waiting ${waitedMs} ms`);
  }
}

/** A bounded queue or table is full; the operation was not applied. */
export class OverloadedError extends ShoalError {
  constructor(what: string, limit: number) {
    super('ERR_OVERLOADED', `${what} is full (limit ${limit}); the operation was not applied`);
  }
}

/** This member's view source cannot read versions or write config (only simulations). */
export class ConfigUnavailableError extends ShoalError {
  constructor() {
    super('ERR_CONFIG_UNAVAILABLE', 'this member cannot serve config requests');
  }
}

/**
 * A value for one of the cluster settings the nodes apply live (`defaultTtlMs`,
 * `ttlJitter`, `maxValueBytes`, `maxMemory`, `writeConcern`, `replicationFactor`) is
 * not valid for that key. Refused before it is proposed, so nothing was committed.
 */
export class InvalidSettingError extends ShoalError {
  readonly key: string;

  constructor(key: string, expected: string, value: unknown) {
    super('ERR_INVALID_SETTING', `config ${key} must be ${expected}, got ${describe(value)}`);
    this.key = key;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null)
    return Array.isArray(value) ? 'a list' : 'an object';
  return String(value);
}
