import type { NodeId } from '../transport/transport.js';
import type { VoterSet } from './voter-set.js';

/**
 * A vote in fast leader election: the candidate and how up to date it is. The
 * candidate with the highest (epoch, zxid, id) wins, so the elected leader holds
 * every entry a quorum committed (ZAB's "the leader has the longest history").
 */
export interface Vote {
  readonly leader: NodeId;
  /** The candidate's currentEpoch (the epoch of the last history it accepted). */
  readonly epoch: number;
  /** The candidate's last logged zxid. */
  readonly zxid: number;
}

/** Whether `a` beats `b`. */
export function isBetterVote(a: Vote, b: Vote): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  if (a.zxid !== b.zxid) return a.zxid > b.zxid;
  return a.leader > b.leader;
}

function sameVote(a: Vote, b: Vote): boolean {
  return a.leader === b.leader && a.epoch === b.epoch && a.zxid === b.zxid;
}

/**
 * The bookkeeping of one voter's fast leader election (ZooKeeper's FLE, reduced to
 * what this protocol needs): a round number that only grows, this voter's current
 * vote, and the latest vote heard from each voter in the current round. The election
 * only proposes a leader; the discovery phase that follows is what makes it safe.
 */
export class LeaderElection {
  private roundValue = 0;
  private voteValue: Vote;
  private readonly received = new Map<NodeId, Vote>();

  constructor(
    private readonly self: NodeId,
    private readonly voters: VoterSet,
  ) {
    this.voteValue = { leader: self, epoch: 0, zxid: 0 };
  }

  get round(): number {
    return this.roundValue;
  }

  get vote(): Vote {
    return this.voteValue;
  }

  /** Starts a new round voting for ourselves. */
  start(own: Vote): void {
    this.roundValue += 1;
    this.reset(own);
  }

  private reset(vote: Vote): void {
    this.voteValue = vote;
    this.received.clear();
    this.received.set(this.self, vote);
  }

  /**
   * Takes a looking voter's notification. Returns whether our vote changed (and so
   * must be announced to everyone), and whether the sender is behind (an older round,
   * or a worse vote) and should hear ours.
   */
  receive(
    from: NodeId,
    round: number,
    vote: Vote,
    own: Vote,
  ): { changed: boolean; senderBehind: boolean } {
    if (round < this.roundValue) return { changed: false, senderBehind: true };
    let changed = false;
    if (round > this.roundValue) {
      this.roundValue = round;
      this.reset(isBetterVote(vote, own) ? vote : own);
      changed = true;
    } else if (isBetterVote(vote, this.voteValue)) {
      this.voteValue = vote;
      this.received.set(this.self, vote);
      changed = true;
    }
    this.received.set(from, vote);
    // A sender voting for someone worse than our choice has not heard it yet: answer
    // at once rather than let it wait for our next retransmission.
    return { changed, senderBehind: !sameVote(vote, this.voteValue) && !changed };
  }

  /**
   * Forgets a voter that is shutting down: its vote, and any vote for it (ours falls
   * back to `own`). Returns whether our vote changed.
   */
  forget(id: NodeId, own: Vote): boolean {
    this.received.delete(id);
    for (const [voter, vote] of this.received) if (vote.leader === id) this.received.delete(voter);
    if (this.voteValue.leader !== id) return false;
    this.voteValue = own;
    this.received.set(this.self, own);
    return true;
  }

  /** Whether every voter's vote in this round is ours (nothing better can still arrive). */
  unanimous(): boolean {
    if (this.received.size !== this.voters.size) return false;
    for (const vote of this.received.values()) if (!sameVote(vote, this.voteValue)) return false;
    return true;
  }

  /** The leader a quorum of this round agrees on with us, if any. */
  decided(): NodeId | undefined {
    const agreeing: NodeId[] = [];
    for (const [id, vote] of this.received) if (sameVote(vote, this.voteValue)) agreeing.push(id);
    return this.voters.isQuorum(agreeing) ? this.voteValue.leader : undefined;
  }
}
