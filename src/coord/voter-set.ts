import type { NodeId } from '../transport/transport.js';
import { InvalidArgumentError } from '../util/errors.js';
import { isNodeId } from './entries.js';

/** Largest voter set accepted; ZAB ensembles are small (each write waits for a quorum). */
export const MAX_VOTERS = 7;

/**
 * The static set of voters and the quorum arithmetic over it. Every other node is a
 * learner and never counts.
 */
export class VoterSet {
  readonly ids: readonly NodeId[];
  /** A strict majority of the voters. */
  readonly quorum: number;
  private readonly members: ReadonlySet<NodeId>;

  constructor(ids: readonly NodeId[]) {
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_VOTERS) {
      throw new InvalidArgumentError(`there must be 1 to ${MAX_VOTERS} voters, got ${ids.length}`);
    }
    for (const id of ids) {
      if (!isNodeId(id)) throw new InvalidArgumentError(`invalid voter id ${String(id)}`);
    }
    const members = new Set(ids);
    if (members.size !== ids.length) throw new InvalidArgumentError('voter ids must be distinct');
    this.ids = Object.freeze([...ids].sort());
    this.members = members;
    this.quorum = Math.floor(ids.length / 2) + 1;
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: NodeId): boolean {
    return this.members.has(id);
  }

  /** Whether the voters among `ids` form a quorum. */
  isQuorum(ids: Iterable<NodeId>): boolean {
    let count = 0;
    for (const id of new Set(ids)) if (this.members.has(id)) count += 1;
    return count >= this.quorum;
  }

  /** Whether `ids` holds every voter. */
  isAll(ids: Iterable<NodeId>): boolean {
    let count = 0;
    for (const id of new Set(ids)) if (this.members.has(id)) count += 1;
    return count === this.ids.length;
  }

  /**
   * The largest value `v` such that a quorum of voters reports at least `v` (voters
   * missing from `values` report 0). This is what a quorum of acks has reached.
   */
  quorumMin(values: ReadonlyMap<NodeId, number>): number {
    const reported = this.ids.map((id) => values.get(id) ?? 0).sort((a, b) => b - a);
    return reported[this.quorum - 1] ?? 0;
  }
}
