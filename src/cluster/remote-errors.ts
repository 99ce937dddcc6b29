import { ShoalError } from '../util/errors.js';
import {
  NoQuorumError,
  NotAnIntegerError,
  NotPrimaryError,
  OutcomeUnknownError,
  PartitionSyncingError,
  ReplicaNotSyncedError,
  StaleViewError,
  WriteNotAppliedError,
} from './errors.js';
import type { ErrorReply } from './messages.js';

/**
 * Error codes that prove the operation was not applied anywhere, because the node
 * refused it before ordering it: a caller may retry them, even non-idempotent ones,
 * once its view has caught up. `ERR_NO_QUORUM` is one: a primary without its lease
 * refuses before ordering, and may have it back within an election (or once its pause
 * guard after a stall ends).
 */
const NOT_APPLIED_CODES: ReadonlySet<string> = new Set([
  'ERR_NOT_PRIMARY',
  'ERR_STALE_VIEW',
  'ERR_WRITE_NOT_APPLIED',
  'ERR_REPLICA_NOT_SYNCED',
  'ERR_STOPPED',
  'ERR_NO_VIEW',
  'ERR_NO_QUORUM',
]);

/** Whether an error with `code` proves the operation was not applied and may be retried. */
export function isRetryableCode(code: string): boolean {
  return NOT_APPLIED_CODES.has(code);
}

/** What an error reply was about, to rebuild a precise error. */
export interface ReplyContext {
  readonly peer: string;
  readonly partition: number;
  readonly operation: string;
  readonly key: string;
}

/**
 * Rebuilds the typed error a remote node answered with, so a caller sees the same
 * class and `code` as if it had called the primary itself.
 */
export function errorFromReply(reply: ErrorReply, context: ReplyContext): ShoalError {
  const epoch = typeof reply.e === 'number' ? reply.e : 0;
  switch (reply.c) {
    case 'ERR_NOT_PRIMARY':
      return new NotPrimaryError(context.peer, context.partition, epoch);
    case 'ERR_NO_QUORUM':
      return new NoQuorumError(context.peer);
    case 'ERR_OUTCOME_UNKNOWN':
      return new OutcomeUnknownError(context.operation, context.key);
    case 'ERR_NOT_AN_INTEGER':
      return new NotAnIntegerError(context.key);
    case 'ERR_PARTITION_SYNCING':
      return new PartitionSyncingError(context.partition);
    case 'ERR_WRITE_NOT_APPLIED':
      return new WriteNotAppliedError(context.partition, 'refused by the backups');
    case 'ERR_STALE_VIEW':
      return new StaleViewError(0, epoch);
    case 'ERR_REPLICA_NOT_SYNCED':
      return new ReplicaNotSyncedError(context.peer, context.partition);
    default:
      return new ShoalError(reply.c, `${context.peer}: ${reply.m}`);
  }
}
