import type { CoordinatorStatus } from '../coord/coordinator.js';
import type { NodeId } from '../transport/transport.js';

/** One member of a committed view: its identity and where this node dials it. */
export interface ViewMember {
  readonly id: NodeId;
  /** Transport address (e.g. `ws://10.0.0.2:7400`); resolved locally, never compared. */
  readonly address: string;
}

/**
 * The committed member list, numbered by the view epoch. It is the only input to
 * placement: two nodes with the same epoch place every partition identically.
 */
export interface ClusterView {
  /** Strictly increases with every committed membership change. */
  readonly epoch: number;
  readonly members: readonly ViewMember[];
}

/** Read access to the cluster-wide config the coordinator agrees on. */
export interface ClusterConfigReader {
  /** The committed value of `key`, or `undefined` when it was never set. */
  get(key: string): unknown;
  /**
   * 0 when unset; +1 per committed set. With `set`, it lets clients read and write the
   * config through a member (the coordinator has both; simulated sources may omit them).
   */
  version?(key: string): number;
  /** Sets `key` through the coordinator, compare-and-set on `ifVersion` when given. */
  set?(key: string, value: unknown, options?: { ifVersion?: number }): Promise<{ version: number }>;
  /**
   * Calls `fn` after every committed set of `key`, in commit order; returns the
   * unsubscribe. Without it, a node reads the cluster settings only when it starts.
   */
  watch?(key: string, fn: (value: unknown, version: number) => void): () => void;
}

/**
 * What the cache cluster needs from the coordinator. The real `Coordinator`
 * satisfies it structurally; tests drive their own implementations.
 *
 * Contract the cluster relies on:
 * - `view()` is the latest committed view this node has applied, or `undefined`
 *   before the first one; epochs only increase.
 * - `onView` listeners run once per applied view, in epoch order (views may be
 *   skipped when the node catches up from a snapshot; the cluster treats a gap as
 *   "my copies may be stale").
 * - `hasQuorum()` is the read/write lease: true only while this node has heard from
 *   a coordinator quorum (through the leader) more recently than a lease that is
 *   shorter than the session timeout, so that a node whose session may have expired
 *   elsewhere has already stopped serving (see docs/architecture.md for the assumed
 *   clock-drift bound). It must also imply that this node has applied (delivered to
 *   `onView` listeners) every view committed before that contact: a node that comes
 *   back from a partition must not hold a fresh lease while it still applies an old
 *   view, or it would serve as a primary it no longer is.
 */
export interface ViewSource {
  view(): ClusterView | undefined;
  onView(listener: (view: ClusterView) => void): () => void;
  hasQuorum(): boolean;
  readonly config: ClusterConfigReader;
  /** The coordinator's own state, for the `status` request (simulated sources omit it). */
  status?(): CoordinatorStatus;
}
