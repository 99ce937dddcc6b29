import type { NodeId } from '../transport/transport.js';
import { ShoalError } from '../util/errors.js';

/**
 * This node cannot take the proposal because it does not lead. `leader` names the
 * leader it follows when it knows one, so the caller can forward there.
 */
export class NotLeaderError extends ShoalError {
  readonly leader: NodeId | undefined;

  constructor(leader: NodeId | undefined) {
    super(
      'ERR_COORD_NOT_LEADER',
      leader === undefined
        ? 'no coordinator leader is known'
        : `the coordinator leader is ${leader}`,
    );
    this.leader = leader;
  }
}

/** A compare-and-set config write found another version; nothing was changed. */
export class ConfigVersionConflictError extends ShoalError {
  readonly key: string;
  readonly expectedVersion: number;
  readonly actualVersion: number;

  constructor(key: string, expectedVersion: number, actualVersion: number) {
    super(
      'ERR_COORD_VERSION_CONFLICT',
      `config key "${key}" is at version ${actualVersion}, not ${expectedVersion}`,
    );
    this.key = key;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** No leader with a quorum is reachable, so nothing can be committed now. Nothing was applied. */
export class CoordNoQuorumError extends ShoalError {
  constructor(message = 'the coordinator has no quorum') {
    super('ERR_COORD_NO_QUORUM', message);
  }
}

/**
 * The proposal did not commit in time. It may still commit later (the outcome is
 * unknown), so a caller must read the state before retrying a non-idempotent change.
 */
export class CoordTimeoutError extends ShoalError {
  constructor(timeoutMs: number) {
    super(
      'ERR_COORD_TIMEOUT',
      `the proposal did not commit within ${timeoutMs} ms; it may still commit`,
    );
  }
}

/**
 * The proposal was discarded by a leader change and will never commit: a later
 * entry committed in its place. Safe to retry.
 */
export class ProposalDroppedError extends ShoalError {
  constructor(zxid: string) {
    super('ERR_COORD_PROPOSAL_DROPPED', `proposal ${zxid} was discarded by a leader change`);
  }
}

/** The leader already holds `maxPendingProposals` uncommitted proposals. Nothing was applied. */
export class CoordBusyError extends ShoalError {
  constructor(limit?: number) {
    super(
      'ERR_COORD_BUSY',
      limit === undefined
        ? 'the leader has too many proposals waiting to commit'
        : `the leader already has ${limit} proposals waiting to commit`,
    );
  }
}

/** The coordinator was stopped; nothing more can be proposed through it. */
export class CoordStoppedError extends ShoalError {
  constructor() {
    super('ERR_COORD_STOPPED', 'the coordinator is stopped');
  }
}

/**
 * The connection to the leader dropped after the proposal was sent: it may or may not
 * commit. Read the state before retrying a non-idempotent change.
 */
export class CoordOutcomeUnknownError extends ShoalError {
  constructor(message: string) {
    super('ERR_COORD_OUTCOME_UNKNOWN', message);
  }
}

/** The config already holds its maximum number of keys; a new key committed as a refused no-op. */
export class ConfigFullError extends ShoalError {
  constructor(key: string) {
    super('ERR_COORD_CONFIG_FULL', `config is full: key "${key}" was not added`);
  }
}
